"""The case builder on moto: stream batches become cases on the review queues, whatever fails on the way."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from kanal import wiring
from kanal.adapters import aws
from kanal.models import PartnerKind
from kanal_cli.cli import main

from tests.support.lambdas import Invoke, env, event, failing, stream_event
from tests.support.reports import VIDEO, body_of, post, report_body

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kanal.clock.now", lambda: NOW)


def partners(count: int) -> list[str]:
    create = wiring.services().partners.create
    return [create(f"Bawaslu {i}", PartnerKind.ELECTION_AGENCY, NOW).partner.partner_id for i in range(count)]


def messages(sqs: Any, queue_variable: str) -> list[dict[str, Any]]:
    answer = sqs.receive_message(QueueUrl=env(queue_variable), MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def case_item(dynamodb: Any, case_id: str) -> dict[str, Any]:
    item: dict[str, Any] = dynamodb.get_item(
        TableName=env("TABLE_NAME"), Key={"pk": {"S": f"CASE#{case_id}"}, "sk": {"S": "CASE"}}
    )["Item"]
    return item


def test_event_file_builds_one_urgent_case(case_builder: Invoke, sqs: Any, dynamodb: Any) -> None:
    answer = case_builder(event("stream_new_reports"))
    assert answer == {"batchItemFailures": []}
    (message,) = messages(sqs, "URGENT_QUEUE_URL")
    assert messages(sqs, "NORMAL_QUEUE_URL") == []
    case = case_item(dynamodb, message["case_id"])
    assert case["report_count"]["N"] == "2"
    assert set(case["partners"]["SS"]) == {"p_3f9a1c2b4d5e6f70", "p_8e7d6c5b4a392817"}


def test_many_concurrent_reports_of_one_video_make_one_case(
    api: Invoke, case_builder: Invoke, sqs: Any, dynamodb: Any
) -> None:
    offices = partners(4)
    opening = api(post(offices[0]))
    assert case_builder(stream_event(dynamodb, env("TABLE_NAME"))) == {"batchItemFailures": []}
    # Partners send at once; each Lambda environment runs one request at a time (the api fixture), so
    # the concurrency that matters is in the table and the stream: no request writes the case.
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = [opening, *pool.map(lambda i: api(post(offices[i % 4])), range(1, 40))]
    assert {a["statusCode"] for a in answers} == {202}
    assert len({body_of(a)["case_id"] for a in answers}) == 1
    batch = stream_event(dynamodb, env("TABLE_NAME"))
    assert len(batch["Records"]) == 40
    for start in range(0, 40, 7):  # the whole stream again, in batches as Lambda may cut them
        assert case_builder({"Records": batch["Records"][start : start + 7]}) == {"batchItemFailures": []}
    case_id = body_of(answers[0])["case_id"]
    case = case_item(dynamodb, case_id)
    assert case["report_count"]["N"] == "40"
    assert len(case["partners"]["SS"]) == 4
    assert [m["case_id"] for m in messages(sqs, "NORMAL_QUEUE_URL")] == [case_id]
    assert [m["case_id"] for m in messages(sqs, "URGENT_QUEUE_URL")] == [case_id]


@pytest.mark.parametrize(
    ("service", "operation", "code"),
    [
        ("sqs", "SendMessage", "ServiceUnavailable"),
        ("dynamodb", "TransactWriteItems", "TransactionConflictException"),
        ("dynamodb", "TransactWriteItems", "ThrottlingException"),
        ("dynamodb", "UpdateItem", "ThrottlingException"),  # recording the queue mark, after the message went
    ],
)
def test_failures_after_the_answer_are_retried_not_lost(
    api: Invoke, case_builder: Invoke, sqs: Any, dynamodb: Any, service: str, operation: str, code: str
) -> None:
    (partner,) = partners(1)
    receipts = [body_of(api(post(partner, report_body(content_url=f"{VIDEO[:-1]}{i}")))) for i in range(3)]
    batch = stream_event(dynamodb, env("TABLE_NAME"))
    builder_client = aws.client(service, None)
    with failing(builder_client, operation, code):
        failed = case_builder(batch)
    assert len(failed["batchItemFailures"]) == 3
    if operation != "UpdateItem":
        assert messages(sqs, "NORMAL_QUEUE_URL") == []
    assert case_builder(batch) == {"batchItemFailures": []}  # Lambda's redelivery
    queued = {m["case_id"] for m in messages(sqs, "NORMAL_QUEUE_URL")}
    assert queued == {r["case_id"] for r in receipts}
    for receipt in receipts:  # counted once, however often delivered
        assert case_item(dynamodb, receipt["case_id"])["report_count"]["N"] == "1"


def failure_queue(sqs: Any) -> list[dict[str, Any]]:
    answer = sqs.receive_message(
        QueueUrl=env("CASE_BUILDER_FAILURE_QUEUE_URL"), MaxNumberOfMessages=10, VisibilityTimeout=0
    )
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def test_a_poison_record_is_parked_and_never_holds_the_good_ones(
    api: Invoke, case_builder: Invoke, sqs: Any, dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    (partner,) = partners(1)
    receipts = [body_of(api(post(partner, report_body(content_url=f"{VIDEO[:-1]}{i}")))) for i in range(4)]
    batch = stream_event(dynamodb, env("TABLE_NAME"))
    unreadable = {"dynamodb": {"SequenceNumber": "999", "NewImage": {"pk": {"S": "REPORT#x"}, "sk": {"S": "REPORT"}}}}
    batch["Records"].insert(1, unreadable)
    capsys.readouterr()
    builder_client = aws.client("dynamodb", None)
    poisoned = receipts[2]["case_id"]

    def refuse(**kwargs: Any) -> None:  # DynamoDB refusing one case's write as invalid (as for a too-large item)
        if poisoned in json.dumps(kwargs.get("params", {}), default=str):
            raise ClientError({"Error": {"Code": "ValidationException", "Message": "Item size too large"}}, "Tx")

    builder_client.meta.events.register("before-call.dynamodb.TransactWriteItems", refuse)
    try:
        answer = case_builder(batch)
    finally:
        builder_client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", refuse)
    assert answer == {"batchItemFailures": []}  # nothing holds the shard
    queued = {m["case_id"] for m in messages(sqs, "NORMAL_QUEUE_URL")}
    assert queued == {r["case_id"] for r in receipts} - {poisoned}  # every good one reached its queue, this run
    parked = failure_queue(sqs)
    assert sorted(p["reason"] for p in parked) == ["refused", "unreadable"]
    assert {p["record"]["dynamodb"]["SequenceNumber"] for p in parked} >= {"999"}
    assert "RecordsParked" in capsys.readouterr().out  # counted (the alarm's metric)
    # After the fix, `kanal cases replay` attaches what can be attached; the unreadable record stays, said so.
    assert main(["--table-name", env("TABLE_NAME"), "cases", "replay"]) == 1
    assert poisoned in {m["case_id"] for m in messages(sqs, "NORMAL_QUEUE_URL")}
    left = sqs.get_queue_attributes(QueueUrl=env("CASE_BUILDER_FAILURE_QUEUE_URL"), AttributeNames=["All"])
    assert left["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"  # kept, hidden a minute


def test_twenty_thousand_reports_of_one_video_keep_the_case_small_and_right(sqs: Any, dynamodb: Any) -> None:
    """The case item no longer grows with its reports (it used to keep every id and broke DynamoDB's 400 KB
    after ~14,500): counts and bounded sets on the case, the ids on the by_case index."""
    from kanal.content import case_id_for, content_key
    from kanal.models import Category, Report

    builder = wiring.services().case_builder()
    key = content_key(VIDEO)
    case_id = case_id_for(key)
    offices = [f"p_{i:016x}" for i in range(6)]

    def report(n: int) -> Report:
        return Report(
            report_id=f"r_{n:026d}",
            partner_id=offices[n % len(offices)],
            case_id=case_id,
            content_key=key,
            content_url=VIDEO,
            category=[Category.MISINFORMATION, Category.HATE_SPEECH][n % 2],
            region_code="31.71",
            description="Laporan otomatis dari skrip yang mengulang.",
            received_at=NOW,
            review_due_at=NOW,
            body_hash="0" * 64,
        )

    sizes = {}
    for start in range(0, 20_000, 100):
        builder.attach_to_case(case_id, [report(n) for n in range(start, start + 100)], NOW)
        if start + 100 in (1_000, 20_000):
            sizes[start + 100] = len(json.dumps(case_item(dynamodb, case_id)))
    builder.attach_to_case(case_id, [report(n) for n in range(5_000, 5_150)], NOW)  # a late redelivery
    item = case_item(dynamodb, case_id)
    assert item["report_count"]["N"] == "20000"
    assert set(item["partners"]["SS"]) == set(offices)
    assert set(item["categories"]["SS"]) == {"misinformation", "hate_speech"}
    assert sizes[20_000] - sizes[1_000] <= 2  # bytes of the whole item, as JSON: one more digit of its count
    assert sizes[20_000] < 2_000
    assert len(json.dumps(item)) == sizes[20_000]
    assert [m["case_id"] for m in messages(sqs, "URGENT_QUEUE_URL")] == [case_id]  # six partners: urgent, once
