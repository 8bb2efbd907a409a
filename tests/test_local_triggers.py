"""The local stack's triggers: filter patterns, and schedules firing on rate, cron (with time zone) and at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kanal.local.template import Function, Stack
from kanal.local.triggers import Schedule, Schedules, cron_matches, matches, rate_of

JAKARTA = ZoneInfo("Asia/Jakarta")


def test_filter_patterns() -> None:
    pattern = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"sk": {"S": ["REPORT", {"prefix": "EVENT#"}]}}}}
    record = {"eventName": "INSERT", "dynamodb": {"NewImage": {"sk": {"S": "REPORT"}}}}
    assert matches(pattern, record)
    assert matches(pattern, {"eventName": "INSERT", "dynamodb": {"NewImage": {"sk": {"S": "EVENT#2024"}}}})
    assert not matches(pattern, {**record, "eventName": "MODIFY"})
    assert not matches(pattern, {"eventName": "INSERT", "dynamodb": {"NewImage": {"sk": {"S": "CASE"}}}})
    assert not matches(pattern, {"eventName": "INSERT"})


def test_cron_fields() -> None:
    eight = datetime(2026, 11, 23, 8, 0, tzinfo=JAKARTA)  # a Monday
    assert cron_matches("0 8 * * ? *", eight)
    assert not cron_matches("0 8 * * ? *", eight + timedelta(minutes=1))
    assert cron_matches("*/15 * * * ? *", eight + timedelta(minutes=45))
    assert cron_matches("0 8 ? * MON-FRI *", eight)
    assert not cron_matches("0 8 ? * SAT,SUN *", eight)
    assert cron_matches("0 8 23 NOV ? 2026", eight)
    assert rate_of("15 minutes") == timedelta(minutes=15)
    assert rate_of("1 hour") == timedelta(hours=1)


def test_schedules_fire_on_their_expressions() -> None:
    start = datetime(2026, 11, 23, 0, 59, 30, tzinfo=UTC)  # 07:59:30 in Jakarta
    events = {
        "Sweep": {
            "Type": "ScheduleV2",
            "Properties": {"ScheduleExpression": "rate(15 minutes)", "Input": '{"job": "sweep"}'},
        },
        "Digest": {
            "Type": "ScheduleV2",
            "Properties": {
                "ScheduleExpression": "cron(0 8 * * ? *)",
                "ScheduleExpressionTimezone": "Asia/Jakarta",
                "Input": '{"job": "digest"}',
            },
        },
        "Once": {"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "at(2026-11-23T01:30:00)"}},
    }
    stack = Stack({"Resources": {}}, "ap-southeast-3", {})
    stack.functions["ReminderFunction"] = Function(
        "ReminderFunction", "functions/reminders/", "app.lambda_handler", {}, events, 30
    )
    calls: list[dict[str, Any]] = []
    lines: list[str] = []

    def invoke(_: str, payload: dict[str, Any]) -> dict[str, Any]:
        calls.append(payload)
        return {"sent": [{"kind": "daily_digest", "offset": "0h", "partner_id": "p_1", "case_id": None}]}

    schedules = Schedules(stack, invoke, lines.append, clock=lambda: start)
    assert schedules.tick(start) == 0
    assert schedules.tick(start + timedelta(seconds=30)) == 1  # 08:00 Jakarta: the digest
    assert schedules.tick(start + timedelta(seconds=45)) == 0  # once per minute
    assert schedules.tick(start + timedelta(minutes=15)) == 1  # the sweep, 15 minutes after start
    assert schedules.tick(start + timedelta(minutes=30, seconds=30)) == 2  # the sweep again, and at(01:30)
    assert calls == [{"job": "digest"}, {"job": "sweep"}, {"job": "sweep"}, {}]
    assert "notification daily_digest (0h) -> p_1" in lines


def test_a_failing_schedule_is_logged_and_tried_again() -> None:
    start = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    stack = Stack({"Resources": {}}, "ap-southeast-3", {})
    events = {"Sweep": {"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "rate(1 minute)"}}}
    stack.functions["F"] = Function("F", "f/", "app.lambda_handler", {}, events, 30)
    lines: list[str] = []

    def invoke(_: str, __: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    schedules = Schedules(stack, invoke, lines.append, clock=lambda: start)
    assert schedules.tick(start + timedelta(minutes=1)) == 1
    assert lines == ["schedule Sweep of F failed: boom"]
    assert isinstance(schedules.schedules[0], Schedule)
