"""The local stack's triggers: filter patterns, batching windows, idle polling, and schedules firing on rate,
cron (with time zone) and at; the emulator serving moto one request at a time.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kanal.local.emulator import one_at_a_time
from kanal.local.gateway import make_server
from kanal.local.template import Function, Stack
from kanal.local.triggers import Schedule, Schedules, Triggers, cron_matches, matches, rate_of

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


def stream_stack(batch_size: int, window: int) -> Stack:
    stack = Stack({"Resources": {}}, "ap-southeast-3", {})
    props = {"Stream": "arn:stream", "BatchSize": batch_size, "MaximumBatchingWindowInSeconds": window}
    events = {"NewReports": {"Type": "DynamoDB", "Properties": props}}
    stack.functions["Builder"] = Function("Builder", "f/", "app.lambda_handler", {}, events, 30)
    return stack


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


def test_the_gateway_queues_many_connections() -> None:
    server = make_server(None, lambda *_: None, "127.0.0.1", 0, print)  # type: ignore[arg-type]
    try:
        assert server.request_queue_size >= 128
    finally:
        server.server_close()
