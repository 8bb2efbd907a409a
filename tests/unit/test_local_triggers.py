"""The local stack's triggers: filter patterns (every operator the local stack implements, and a refusal at start
for the others), batching windows, idle polling, and schedules firing on rate, cron (L, W, #, time zones and
daylight saving time, through aws-croniter) and at, at fixed times, with a refusal at start for what cannot be
honoured; the emulator's wrapper that serves moto one request at a time (moto and the gateway on sockets:
tests/component/test_local_emulator.py).
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from kanal_local.emulator import one_at_a_time
from kanal_local.template import SAM_TRANSFORM, Stack, describe, translate
from kanal_local.triggers import (
    CannotEmulate,
    Schedule,
    Schedules,
    Triggers,
    compile_pattern,
    matches,
    schedule_rule,
)

JAKARTA = ZoneInfo("Asia/Jakarta")


def test_filter_patterns() -> None:
    pattern = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"sk": {"S": ["REPORT", {"prefix": "EVENT#"}]}}}}
    record = {"eventName": "INSERT", "dynamodb": {"NewImage": {"sk": {"S": "REPORT"}}}}
    assert matches(pattern, record)
    assert matches(pattern, {"eventName": "INSERT", "dynamodb": {"NewImage": {"sk": {"S": "EVENT#2024"}}}})
    assert not matches(pattern, {**record, "eventName": "MODIFY"})
    assert not matches(pattern, {"eventName": "INSERT", "dynamodb": {"NewImage": {"sk": {"S": "CASE"}}}})
    assert not matches(pattern, {"eventName": "INSERT"})


def image(**attributes: Any) -> dict[str, Any]:
    """A stream record whose new image holds ``attributes`` (DynamoDB-typed values)."""
    return {"eventName": "INSERT", "dynamodb": {"NewImage": attributes}}


def new_image(**fields: Any) -> dict[str, Any]:
    """A pattern on the new image's fields."""
    return {"dynamodb": {"NewImage": fields}}


@pytest.mark.timeout(60)  # a hang guard, not a timing: a backtracking wildcard would take minutes
@pytest.mark.parametrize(
    ("rule", "passes", "fails"),
    [
        # exact values: strings, numbers as written (300 is not 300.0), booleans, null, the empty string
        ({"kind": {"S": ["info_provided"]}}, {"kind": {"S": "info_provided"}}, {"kind": {"S": "info_provided "}}),
        ({"size": [300]}, {"size": 300}, {"size": 300.0}),
        ({"flag": {"BOOL": [True]}}, {"flag": {"BOOL": True}}, {"flag": {"BOOL": 1}}),
        ({"gone": [None]}, {"gone": None}, {"gone": "null"}),
        ({"note": {"S": [""]}}, {"note": {"S": ""}}, {"note": {"S": " "}}),
        ({"sk": {"S": [{"prefix": "CASE#"}]}}, {"sk": {"S": "CASE#1"}}, {"sk": {"S": "case#1"}}),
        ({"sk": {"S": [{"prefix": {"equals-ignore-case": "case#"}}]}}, {"sk": {"S": "CaSe#1"}}, {"sk": {"S": "CAS"}}),
        ({"url": {"S": [{"suffix": ".mp4"}]}}, {"url": {"S": "a/b.mp4"}}, {"url": {"S": "a/b.MP4"}}),
        (
            {"url": {"S": [{"suffix": {"equals-ignore-case": ".mp4"}}]}},
            {"url": {"S": "b.MP4"}},
            {"url": {"S": "b.mp3"}},
        ),
        ({"kind": {"S": [{"equals-ignore-case": "Urgent"}]}}, {"kind": {"S": "URGENT"}}, {"kind": {"S": "urgen"}}),
        ({"path": {"S": [{"wildcard": "*/lib/*.py"}]}}, {"path": {"S": "a/lib/x.py"}}, {"path": {"S": "a/lib/x.pyc"}}),
        ({"path": {"S": [{"wildcard": r"a\*b"}]}}, {"path": {"S": "a*b"}}, {"path": {"S": "axb"}}),
        ({"k": {"S": [{"wildcard": "ab*ba"}]}}, {"k": {"S": "aba-ba"}}, {"k": {"S": "aba"}}),  # parts may not overlap
        ({"k": {"S": [{"wildcard": "*a*a*a*a*a*a*b"}]}}, {"k": {"S": "aaaaaab"}}, {"k": {"S": "a" * 50_000}}),
        ({"kind": {"S": [{"anything-but": "spam"}]}}, {"kind": {"S": "ham"}}, {"kind": {"S": "spam"}}),
        ({"kind": {"S": [{"anything-but": ["a", "b"]}]}}, {"kind": {"S": "c"}}, {"kind": {"S": "b"}}),
        ({"n": [{"anything-but": [1, 2]}]}, {"n": 3}, {"n": 2}),
        ({"sk": {"S": [{"anything-but": {"prefix": "TMP#"}}]}}, {"sk": {"S": "CASE"}}, {"sk": {"S": "TMP#1"}}),
        ({"f": {"S": [{"anything-but": {"suffix": ".png"}}]}}, {"f": {"S": "a.gif"}}, {"f": {"S": "a.png"}}),
        ({"k": {"S": [{"anything-but": {"equals-ignore-case": ["x", "y"]}}]}}, {"k": {"S": "z"}}, {"k": {"S": "Y"}}),
        ({"p": {"S": [{"anything-but": {"wildcard": "*/cache/*"}}]}}, {"p": {"S": "/a/b"}}, {"p": {"S": "/cache/b"}}),
        ({"n": [{"numeric": [">", 0, "<=", 5]}]}, {"n": 5}, {"n": 0}),
        ({"n": [{"numeric": ["<", 10]}]}, {"n": 9.5}, {"n": "9"}),  # DynamoDB's N are strings: numeric never matches
        ({"n": [{"numeric": ["=", 3.018e2]}]}, {"n": 301.8}, {"n": 301.9}),
        ({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.0.33"}, {"ip": "10.0.1.1"}),
        ({"tags": {"SS": ["urgent"]}}, {"tags": {"SS": ["normal", "urgent"]}}, {"tags": {"SS": ["normal"]}}),
        ({"links": {"L": {"S": ["x"]}}}, {"links": {"L": [{"S": "y"}, {"S": "x"}]}}, {"links": {"L": [{"S": "y"}]}}),
        ({"sk": [{"exists": True}]}, {"sk": "CASE"}, {"other": "CASE"}),
        ({"sk": {"S": [{"exists": True}]}}, {"sk": {"S": "CASE"}}, {"sk": {"N": "1"}}),
        ({"sk": [{"exists": False}]}, {"pk": "x"}, {"sk": "CASE"}),
        ({"sk": [{"exists": False}]}, {"sk": {"S": "an object, not a leaf"}}, {"sk": ["a leaf in an array"]}),
        ({"queued": {"S": [{"exists": False}]}}, {"pk": {"S": "queued is missing altogether"}}, {"queued": {"S": "q"}}),
        (
            {"$or": [{"kind": {"S": ["a"]}}, {"size": [{"numeric": [">", 10]}]}]},
            {"kind": {"S": "b"}, "size": 11},
            {"kind": {"S": "b"}, "size": 10},
        ),
    ],
)
def test_each_filter_operator(rule: dict[str, Any], passes: dict[str, Any], fails: dict[str, Any]) -> None:
    test = compile_pattern(new_image(**rule))
    assert test(image(**passes))
    assert not test(image(**fails))
    assert matches(new_image(**rule), image(**passes))


def test_anything_but_needs_the_field() -> None:
    assert not matches({"kind": [{"anything-but": "spam"}]}, {"other": "ham"})
    assert not matches({"n": [{"numeric": [">", 0]}]}, {})


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ({"eventName": "INSERT"}, "a field's values to match are a list"),
        ({"dynamodb": {"NewImage": {"sk": {"S": [{"regex": "^CASE"}]}}}}, "operator 'regex' is not emulated"),
        ({"sk": [{"prefix": "a", "suffix": "b"}]}, "is neither a value nor one operator"),
        ({"sk": [["nested"]]}, "is neither a value nor one operator"),
        ({"sk": [{"prefix": 1}]}, "prefix takes a string"),
        ({"sk": [{"anything-but": {"cidr": "10.0.0.0/8"}}]}, "anything-but with 'cidr' is not emulated"),
        ({"sk": [{"anything-but": ["a", 1]}]}, "anything-but takes strings or numbers"),
        ({"n": [{"numeric": [">", 1, ">", 2]}]}, "numeric takes"),
        ({"n": [{"numeric": ["=", "1"]}]}, "numeric takes"),
        ({"n": [{"numeric": ["~", 1]}]}, "numeric takes"),
        ({"sk": [{"exists": "yes"}]}, "exists takes true or false"),
        ({"sk": [{"wildcard": "a**b"}]}, "consecutive wildcard characters"),
        ({"sk": [{"wildcard": r"a\b"}]}, "escapes something other than"),
        ({"ip": [{"cidr": "10.0.0.300/8"}]}, "is not an IP address range"),
        ({"$or": [{"sk": ["a"]}]}, "$or takes a list of two or more objects"),
        (["not", "an", "object"], "a pattern is a JSON object"),
    ],
)
def test_what_is_not_implemented_is_refused(pattern: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        compile_pattern(pattern)


def test_an_unknown_operator_stops_the_stack_naming_function_and_pattern() -> None:
    text = '{"dynamodb": {"NewImage": {"sk": {"S": [{"regex": "^CASE"}]}}}}'
    stack = stream_stack(batch_size=10, window=0)
    stack.resources["BuilderNewReports"]["Properties"]["FilterCriteria"] = {"Filters": [{"Pattern": text}]}
    with pytest.raises(CannotEmulate) as refused:
        Triggers(stack, lambda *_: None, FakeStream(), print)
    assert str(refused.value) == (
        f"stream trigger NewReports of Builder: cannot honour filter {text}: "
        "dynamodb.NewImage.sk.S: operator 'regex' is not emulated by the local stack"
    )
    stack.resources["BuilderNewReports"]["Properties"]["FilterCriteria"] = {"Filters": [{"Pattern": "{"}]}
    with pytest.raises(CannotEmulate, match=re.escape("stream trigger NewReports of Builder: cannot honour filter {:")):
        Triggers(stack, lambda *_: None, FakeStream(), print)


def template_filters(function: str = "CaseBuilderFunction") -> list[Any]:
    """The filters of ``function``'s stream mapping in the translated template."""
    stack = describe(translate())
    (stream,) = [
        m
        for m in stack.of_type("AWS::Lambda::EventSourceMapping").values()
        if stack.resolve(m["Properties"]["FunctionName"]) == stack.refs[function]
    ]
    return [compile_pattern(json.loads(f["Pattern"])) for f in stream["Properties"]["FilterCriteria"]["Filters"]]


def test_the_templates_filters_are_honoured() -> None:
    filters = template_filters()

    def wanted(record: dict[str, Any]) -> bool:
        return any(test(record) for test in filters)

    ttl = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert wanted(image(sk={"S": "REPORT"}))
    assert wanted(image(sk={"S": "EVENT#1"}, kind={"S": "info_not_provided"}))
    assert wanted({"eventName": "REMOVE", "userIdentity": ttl, "dynamodb": {"OldImage": {"sk": {"S": "CASE"}}}})
    assert not wanted({"eventName": "MODIFY", "dynamodb": {"NewImage": {"sk": {"S": "REPORT"}}}})
    assert not wanted(image(sk={"S": "EVENT#1"}, kind={"S": "info_requested"}))
    assert not wanted({"eventName": "REMOVE", "dynamodb": {"OldImage": {"sk": {"S": "CASE"}}}})  # deleted by a user
    user = {"type": "Service", "principalId": "someone.amazonaws.com"}
    assert not wanted({"eventName": "REMOVE", "userIdentity": user, "dynamodb": {"OldImage": {"sk": {"S": "CASE"}}}})


def test_the_events_functions_filters_let_through_what_partners_are_told_of() -> None:
    filters = template_filters("EventsFunction")

    def wanted(record: dict[str, Any]) -> bool:
        return any(test(record) for test in filters)

    for kind in ("report_attached", "info_requested", "decided", "reopened"):
        assert wanted(image(pk={"S": "CASE#c_1"}, sk={"S": "EVENT#1"}, kind={"S": kind}))
    for kind in ("claimed", "released", "escalated", "received", "info_provided", "requeued"):
        assert not wanted(image(pk={"S": "CASE#c_1"}, sk={"S": "EVENT#1"}, kind={"S": kind}))
    assert wanted(image(pk={"S": "REMINDER#info_due#c_1#-24h#p_1"}, sk={"S": "REMINDER"}))
    assert not wanted(image(pk={"S": "REPORT#r_1"}, sk={"S": "REPORT"}))
    assert not wanted(image(pk={"S": "FEED#p_1"}, sk={"S": "2024#evt_x"}, kind={"S": "decided"}))
    changed = {"eventName": "MODIFY", "dynamodb": {"NewImage": {"pk": {"S": "CASE#c"}, "kind": {"S": "decided"}}}}
    assert not wanted(changed)


def rule_times(expression: str, zone: str, start: datetime, count: int) -> list[datetime]:
    """The first ``count`` firings of a schedule created at ``start``, in its zone's wall-clock time."""
    rule = schedule_rule(expression, zone, start)
    found: list[datetime] = []
    moment = start - timedelta(microseconds=1)
    while len(found) < count:
        nxt = rule.next_after(moment)
        assert nxt is not None
        found.append(nxt.astimezone(ZoneInfo(zone)).replace(tzinfo=None))
        moment = nxt
    return found


START = datetime(2026, 11, 23, 0, 59, 30, tzinfo=UTC)  # a Monday; 07:59:30 in Jakarta


def wall(*days: tuple[int, int, int], at: tuple[int, int] = (10, 0)) -> list[datetime]:
    return [datetime(*day, *at) for day in days]


@pytest.mark.parametrize(
    ("expression", "zone", "expected"),
    [
        ("cron(0 8 * * ? *)", "Asia/Jakarta", wall((2026, 11, 23), (2026, 11, 24), at=(8, 0))),
        ("cron(*/15 * * * ? *)", "UTC", [datetime(2026, 11, 23, 1, m) for m in (0, 15, 30)]),
        ("cron(5/20 1 * * ? *)", "UTC", [datetime(2026, 11, 23, 1, m) for m in (5, 25, 45)]),
        ("cron(0 10 ? * MON-FRI *)", "UTC", wall((2026, 11, 23), (2026, 11, 24), (2026, 11, 25))),
        ("cron(0 10 ? * FRI-MON *)", "UTC", wall((2026, 11, 23), (2026, 11, 27), (2026, 11, 28))),  # wraps
        ("cron(0 10 ? * SAT,SUN *)", "UTC", wall((2026, 11, 28), (2026, 11, 29), (2026, 12, 5))),
        ("cron(0 10 23 NOV ? 2026-2027)", "UTC", wall((2026, 11, 23), (2027, 11, 23))),
        ("cron(0 10 L * ? *)", "UTC", wall((2026, 11, 30), (2026, 12, 31), (2027, 1, 31), (2027, 2, 28))),
        ("cron(0 10 L-2 * ? *)", "UTC", wall((2026, 11, 28), (2026, 12, 29))),
        ("cron(0 10 15W * ? *)", "UTC", wall((2026, 12, 15), (2027, 1, 15), (2027, 5, 14))[:2]),
        ("cron(0 10 1W * ? *)", "UTC", wall((2026, 12, 1), (2027, 1, 1), (2027, 2, 1), (2027, 3, 1), (2027, 4, 1))),
        ("cron(0 10 31W * ? *)", "UTC", wall((2026, 12, 31), (2027, 1, 29), (2027, 3, 31))),  # Jan 31 is a Sunday
        ("cron(0 10 ? * 6L *)", "UTC", wall((2026, 11, 27), (2026, 12, 25), (2027, 1, 29))),  # last Friday
        ("cron(0 10 ? * FRI#3 *)", "UTC", wall((2026, 12, 18), (2027, 1, 15), (2027, 2, 19))),
        ("cron(0 10 ? * 6#5 *)", "UTC", wall((2027, 1, 29), (2027, 4, 30), (2027, 7, 30))),
        # Once in 28 years (aws-croniter alone gives up after a few): a fifth Sunday in February.
        ("cron(0 0 ? FEB 1#5 *)", "UTC", wall((2032, 2, 29), (2060, 2, 29), at=(0, 0))),
        ("cron(0 0 29 2 ? *)", "UTC", wall((2028, 2, 29), (2032, 2, 29), at=(0, 0))),
        ("rate(15 minutes)", "UTC", [datetime(2026, 11, 23, 0, 59, 30) + timedelta(minutes=15 * n) for n in range(3)]),
        ("rate(1 hour)", "Asia/Jakarta", [datetime(2026, 11, 23, 7, 59, 30) + timedelta(hours=n) for n in range(3)]),
        ("rate(2 days)", "UTC", [datetime(2026, 11, 23, 0, 59, 30) + timedelta(days=2 * n) for n in range(3)]),
        ("at(2026-11-23T08:30:00)", "Asia/Jakarta", wall((2026, 11, 23), at=(8, 30))),
    ],
)
def test_schedule_expressions_fire_at_the_right_times(expression: str, zone: str, expected: list[datetime]) -> None:
    assert rule_times(expression, zone, START, len(expected)) == expected


def test_a_rate_fires_at_once_and_days_are_24_hours() -> None:
    """Scheduler starts a rate schedule without StartDate at once; a day is 24 hours across daylight saving time."""
    start = datetime(2027, 3, 13, 17, 0, tzinfo=UTC)  # 12:00 in New York, the day before the clocks go forward
    rule = schedule_rule("rate(1 day)", "America/New_York", start)
    first = rule.next_after(start - timedelta(microseconds=1))
    assert first == start
    second = rule.next_after(start)
    assert second == start + timedelta(hours=24)
    assert second is not None
    assert second.astimezone(ZoneInfo("America/New_York")).hour == 13


def test_cron_over_daylight_saving_time() -> None:
    """As Scheduler: a time the clock skips does not fire; a time it shows twice fires once."""
    spring = rule_times("cron(30 2 * * ? *)", "America/New_York", datetime(2027, 3, 13, 5, tzinfo=UTC), 2)
    assert spring == [datetime(2027, 3, 13, 2, 30), datetime(2027, 3, 15, 2, 30)]  # no 02:30 on the 14th
    autumn = schedule_rule("cron(30 1 * * ? *)", "America/New_York", datetime(2026, 10, 31, 12, tzinfo=UTC))
    first = autumn.next_after(datetime(2026, 10, 31, 12, tzinfo=UTC))
    assert first == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    assert autumn.next_after(first) == datetime(2026, 11, 2, 6, 30, tzinfo=UTC)  # not 01:30 EST an hour later
    hourly = schedule_rule("cron(0 * * * ? *)", "America/New_York", datetime(2026, 11, 1, 4, tzinfo=UTC))
    assert hourly.next_after(datetime(2026, 11, 1, 5, 0, tzinfo=UTC)) == datetime(2026, 11, 1, 7, 0, tzinfo=UTC)


def test_an_at_schedule_fires_once() -> None:
    rule = schedule_rule("at(2026-11-23T01:30:00)", "UTC", START)
    when = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
    assert rule.next_after(START) == when
    assert rule.next_after(when) is None


@pytest.mark.parametrize(
    ("expression", "zone", "reason"),
    [
        ("cron(0 10 LW * ? *)", "UTC", "aws-croniter cannot honour day-of-month 'LW'"),
        ("cron(0 10 ? * L *)", "UTC", "aws-croniter cannot honour day-of-week 'L'"),
        ("cron(0 10 ? * L-3 *)", "UTC", "aws-croniter cannot honour day-of-week 'L-3'"),
        ("cron(0 0 L-30 2 ? *)", "UTC", "it never fires after 2026-11-23 00:59 UTC"),
        ("cron(0 0 1 1 ? 2020)", "UTC", "it never fires after"),
        ("cron(0 8 * * ?)", "UTC", "not a valid cron expression: Incorrect number of values"),
        ("cron(0 8 * * * *)", "UTC", "not a valid cron expression: Invalid combination"),
        ("cron(0 8 * * ? *)", "Asia/Jakartaa", "unknown time zone 'Asia/Jakartaa'"),
        ("rate(0 minutes)", "UTC", "a rate is a positive whole number"),
        ("rate(5 weeks)", "UTC", "a rate is a positive whole number"),
        ("at(2026-11-23 08:00)", "UTC", "at() takes yyyy-mm-ddThh:mm:ss"),
        ("every(5 minutes)", "UTC", "not a rate(...), cron(...) or at(...) expression"),
    ],
)
def test_what_cannot_be_honoured_is_refused(expression: str, zone: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        schedule_rule(expression, zone, START)


def function_stack(name: str, events: dict[str, Any]) -> Stack:
    """A SAM template of one function with ``events``, as the local stack reads it (translated; nothing created)."""
    code = {"CodeUri": "functions/reminder/", "Handler": "app.lambda_handler", "Runtime": "python3.13"}
    function = {"Type": "AWS::Serverless::Function", "Properties": {**code, "Events": events}}
    return describe(translate({"Transform": SAM_TRANSFORM, "Resources": {name: function}}))


def reminder_stack(**events: dict[str, Any]) -> Stack:
    return function_stack("ReminderFunction", events)


def test_an_unhonoured_schedule_stops_the_stack_naming_it() -> None:
    stack = reminder_stack(
        Sweep={"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "rate(15 minutes)"}},
        Monthly={
            "Type": "ScheduleV2",
            "Properties": {"ScheduleExpression": "cron(0 8 LW * ? *)", "ScheduleExpressionTimezone": "Asia/Jakarta"},
        },
    )
    with pytest.raises(CannotEmulate) as refused:
        Schedules(stack, lambda *_: None, print, clock=lambda: START)
    assert str(refused.value) == (
        "schedule Monthly of ReminderFunction: cannot honour cron(0 8 LW * ? *) (Asia/Jakarta): "
        "aws-croniter cannot honour day-of-month 'LW'"
    )
    dated = reminder_stack(
        Sweep={"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "rate(1 hour)", "StartDate": "2027-01-01"}}
    )
    with pytest.raises(
        CannotEmulate, match=r"schedule Sweep of ReminderFunction: .* StartDate and EndDate are not emulated"
    ):
        Schedules(dated, lambda *_: None, print, clock=lambda: START)


def test_the_templates_schedules_are_honoured() -> None:
    schedules = Schedules(describe(translate()), lambda *_: None, print, clock=lambda: START)
    due = {s.name: s.due for s in schedules.schedules}
    assert due == {
        "Sweep": START,
        "Reconcile": START,
        "Digest": datetime(2026, 11, 23, 8, 0, tzinfo=JAKARTA),
        "Weekly": datetime(2026, 11, 30, 1, 0, tzinfo=JAKARTA),
        "Elections": datetime(2026, 11, 24, 1, 30, tzinfo=JAKARTA),
    }


def test_schedules_fire_on_their_expressions() -> None:
    start = START
    stack = reminder_stack(
        Sweep={
            "Type": "ScheduleV2",
            "Properties": {"ScheduleExpression": "rate(15 minutes)", "Input": '{"job": "sweep"}'},
        },
        Digest={
            "Type": "ScheduleV2",
            "Properties": {
                "ScheduleExpression": "cron(0 8 * * ? *)",
                "ScheduleExpressionTimezone": "Asia/Jakarta",
                "Input": '{"job": "digest"}',
            },
        },
        Once={"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "at(2026-11-23T01:30:00)"}},
        Off={"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "rate(1 minute)", "State": "DISABLED"}},
    )
    calls: list[dict[str, Any]] = []
    lines: list[str] = []

    def invoke(_: str, payload: dict[str, Any]) -> dict[str, Any]:
        calls.append(payload)
        return {"sent": [{"kind": "daily_digest", "offset": "0h", "partner_id": "p_1", "case_id": None}]}

    schedules = Schedules(stack, invoke, lines.append, clock=lambda: start)
    assert schedules.tick(start) == 1  # the sweep, at once
    assert schedules.tick(start + timedelta(seconds=29)) == 0
    assert schedules.tick(start + timedelta(seconds=30)) == 1  # 08:00 Jakarta: the digest
    assert schedules.tick(start + timedelta(seconds=45)) == 0  # once
    assert schedules.tick(start + timedelta(minutes=15)) == 1  # the sweep, 15 minutes after start
    assert schedules.tick(start + timedelta(minutes=30, seconds=30)) == 2  # the sweep again, and at(01:30)
    assert schedules.tick(start + timedelta(hours=5)) == 1  # late (a laptop asleep): the sweep fires once
    assert schedules.tick(start + timedelta(hours=5, minutes=1)) == 0
    assert calls == [{"job": "sweep"}, {"job": "digest"}, {"job": "sweep"}, {"job": "sweep"}, {}, {"job": "sweep"}]
    assert "notification daily_digest (0h) -> p_1" in lines


def test_a_failing_schedule_is_logged_and_tried_again() -> None:
    start = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    events = {"Sweep": {"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "rate(1 minute)"}}}
    stack = function_stack("F", events)
    lines: list[str] = []

    def invoke(_: str, __: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    schedules = Schedules(stack, invoke, lines.append, clock=lambda: start)
    assert schedules.tick(start) == 1
    assert schedules.tick(start + timedelta(minutes=1)) == 1
    assert lines == ["schedule Sweep of F failed: boom"] * 2
    assert isinstance(schedules.schedules[0], Schedule)


class FakeStream:
    """A one-shard stream whose records are appended by the test."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.read = 0

    def describe_stream(self, StreamArn: str) -> dict[str, Any]:
        return {"StreamDescription": {"Shards": [{"ShardId": "shard-1"}]}}

    def get_shard_iterator(self, **_: Any) -> dict[str, Any]:
        return {"ShardIterator": "it"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        new, self.read = self.records[self.read :], len(self.records)
        return {"Records": new, "NextShardIterator": ShardIterator}

    def add(self, count: int) -> None:
        for _ in range(count):
            number = str(len(self.records))
            self.records.append({"eventName": "INSERT", "dynamodb": {"SequenceNumber": number}})


STREAM = "arn:aws:dynamodb:ap-southeast-3:123456789012:table/t/stream/1"


def stream_stack(batch_size: int, window: int) -> Stack:
    props = {"Stream": STREAM, "BatchSize": batch_size, "MaximumBatchingWindowInSeconds": window}
    events = {"NewReports": {"Type": "DynamoDB", "Properties": {**props, "StartingPosition": "TRIM_HORIZON"}}}
    return function_stack("Builder", events)


def test_a_batch_waits_out_its_window_unless_full() -> None:
    now = [100.0]
    batches: list[int] = []
    stream = FakeStream()
    triggers = Triggers(
        stream_stack(batch_size=3, window=1),
        lambda _, event: batches.append(len(event["Records"])),
        stream,
        print,
        clock=lambda: now[0],
    )
    trigger = triggers.triggers[0]
    assert trigger.window == 1.0

    stream.add(2)
    assert not triggers.poll(trigger)  # two records, the window just opened
    now[0] += 0.5
    assert not triggers.poll(trigger)
    now[0] += 0.5
    assert triggers.poll(trigger)  # the window has passed: a batch of two
    stream.add(4)
    assert triggers.poll(trigger)  # full at once: three go, one waits...
    assert not triggers.poll(trigger)
    now[0] += 1
    assert triggers.poll(trigger)  # ...until the window since it was read has passed
    stream.add(1)
    triggers.drain()  # tests and benchmarks flush whatever waits
    assert batches == [2, 3, 1, 1]
    assert not trigger.pending
    assert trigger.pending_since is None


def test_idle_polling_slows_down_and_a_write_wakes_it() -> None:
    triggers = Triggers(stream_stack(batch_size=100, window=0), lambda *_: None, FakeStream(), print)
    pauses = [triggers.interval]
    for _ in range(6):
        pauses.append(triggers.next_pause(pauses[-1]))
    assert pauses == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0, 2.0]

    rounds = threading.Semaphore(0)
    triggers.step = lambda: bool(rounds.release())  # type: ignore[method-assign]
    triggers.idle_interval = triggers.interval = 600.0  # idle, it would not poll again within the test
    triggers.start()
    try:
        assert rounds.acquire(timeout=30)  # the first round
        triggers.wake()
        assert rounds.acquire(timeout=30)  # a write wakes the next round at once
    finally:
        triggers.stop()
    assert triggers.thread is not None
    assert not triggers.thread.is_alive()


def test_moto_answers_dynamodb_one_request_at_a_time() -> None:
    inside, most = [0], [0]
    guard = threading.Lock()
    started = threading.Barrier(8)

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with guard:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        threading.Event().wait(0.01)  # long enough for the other threads to arrive, if they could
        with guard:
            inside[0] -= 1
        start_response("200 OK", [])
        return [environ["PATH_INFO"].encode()]

    serial = one_at_a_time(app)
    answers: list[list[bytes]] = []

    def call(path: str) -> None:
        started.wait()
        environ = {"PATH_INFO": path, "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.GetItem"}
        answers.append(serial(environ, lambda *_: None))

    threads = [threading.Thread(target=call, args=(f"/{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 1
    assert sorted(answers) == sorted([[f"/{n}".encode()] for n in range(8)])


def test_an_sqs_long_poll_does_not_hold_dynamodb_up() -> None:
    polling, release = threading.Event(), threading.Event()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["HTTP_X_AMZ_TARGET"] == "AmazonSQS.ReceiveMessage":
            polling.set()
            assert release.wait(30)  # the long poll ends only when DynamoDB has answered meanwhile
        start_response("200 OK", [])
        return [environ["HTTP_X_AMZ_TARGET"].encode()]

    serial = one_at_a_time(app)
    poll = threading.Thread(target=serial, args=({"HTTP_X_AMZ_TARGET": "AmazonSQS.ReceiveMessage"}, lambda *_: None))
    poll.start()
    assert polling.wait(30)
    assert serial({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem"}, lambda *_: None) == [b"DynamoDB_20120810.PutItem"]
    release.set()
    poll.join(30)
    assert not poll.is_alive()
