"""POST /v1/reports/batch through the intake function on moto: each report answered as POST /v1/reports would
answer it alone, in order; the batch refused only as a whole body; at most 10 AWS requests for 100 new reports;
each stored report reaching review through the case builder, as a single report does."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError
from kanal import wiring
from kanal.adapters import aws
from kanal.adapters.dynamodb import DynamoReports
from kanal.entrypoints.batches import MAX_BATCH_BYTES, MAX_REPORTS
from kanal.intake import IN_FLIGHT, idempotent_report_id
from kanal.models import PartnerKind

from tests.support import iam
from tests.support.lambdas import Invoke, count_items, env, event, failing, stream_event
from tests.support.reports import NOW, VIDEO, as_partner, body_of, new_partner, post, post_batch, report_body


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kanal.clock.now", lambda: NOW)


def video(n: int) -> str:
    return f"{VIDEO[:-4]}{n:04d}"


def results(answer: dict[str, Any]) -> list[dict[str, Any]]:
    assert answer["statusCode"] == 200, answer["body"]
    found: list[dict[str, Any]] = body_of(answer)["results"]
    return found


def test_the_event_file_is_stored_report_by_report(api: Invoke, dynamodb: Any) -> None:
    answered = results(api(as_partner(event("post_report_batch"), new_partner())))
    assert [(r["index"], r["status"]) for r in answered] == [(0, 202), (1, 202)]
    assert count_items(dynamodb, "REPORT#") == 2


def metrics(text: str) -> Counter[str]:
    """The metrics the handler wrote to stdout (Embedded Metric Format), summed by name (and category)."""
    found: Counter[str] = Counter()
    for line in text.splitlines():
        if line.startswith('{"_aws"'):
            record = json.loads(line)
            for metric in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                name = metric["Name"] + (f"/{record['category']}" if "category" in record else "")
                values = record[metric["Name"]]
                found[name] += int(sum(values) if isinstance(values, list) else values)
    return found


def test_a_mixed_batch_answers_each_report_in_order_and_stores_only_the_valid_new_ones(
    api: Invoke, dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    partner = new_partner()
    earlier = body_of(api(post(partner, report_body(content_url=video(1)), key="bws-1")))
    reports = wiring.services().reports
    assert reports.begin(idempotent_report_id(partner, "bws-running"), NOW, NOW + IN_FLIGHT)
    batch = [
        report_body(content_url=video(2)),  # 0: new
        report_body(category="spam"),  # 1: invalid
        report_body(content_url=video(1), idempotency_key="bws-1"),  # 2: the earlier report again: replayed
        report_body(content_url=video(3), idempotency_key="bws-1"),  # 3: its key with another body
        report_body(observed_at="2026-11-24T12:00:00+07:00"),  # 4: in the future (a rule, not the schema)
        report_body(content_url=video(4), idempotency_key="bws-running"),  # 5: its key in flight
        report_body(content_url=video(5), idempotency_key="bws-5"),  # 6: new, keyed
        report_body(content_url=video(5), idempotency_key="bws-5"),  # 7: the same again in the batch: one report
        report_body(content_url=video(6), idempotency_key="bws-5"),  # 8: that key with another body
        "not a report",  # 9
        report_body(colour="red", idempotency_key=""),  # 10: two invalid fields
    ]
    capsys.readouterr()
    answered = results(api(post_batch(partner, batch)))
    counted = metrics(capsys.readouterr().out)
    assert [r["index"] for r in answered] == list(range(len(batch)))
    statuses = [r["status"] for r in answered]
    assert statuses == [202, 422, 202, 422, 422, 409, 202, 202, 422, 422, 422]
    fields = {r["index"]: [e["field"] for e in r["problem"].get("errors", [])] for r in answered if r["status"] != 202}
    assert fields == {
        1: ["category"],
        3: ["idempotency_key"],
        4: ["observed_at"],
        5: [],
        8: ["idempotency_key"],
        9: ["body"],
        10: ["colour", "idempotency_key"],
    }
    assert answered[2]["report"] == earlier
    assert answered[6]["report"] == answered[7]["report"]
    assert count_items(dynamodb, "REPORT#") == 3  # the earlier one, 0 and 6
    # Counted as single reports are: two stored (by category), two replays (2 and 7).
    assert counted["ReportsReceived"] == 2
    assert counted["ReportsByCategory/misinformation"] == 2
    assert counted["IdempotentReplays"] == 2


@pytest.mark.parametrize(
    "changes",
    [
        {"category": "spam"},
        {"content_url": "https://example.com/video/1"},
        {"region_code": "00"},
        {"evidence_urls": ["http://a.example/x"]},
        {"observed_at": "2026-11-24T12:00:00+07:00"},
        {"observed_at": "2026-11-23T12:00:00"},
        {"description": ""},
        {"colour": "red", "description": None},
    ],
)
def test_a_refused_report_gets_the_problem_post_v1_reports_gives(api: Invoke, changes: dict[str, Any]) -> None:
    body = {k: v for k, v in report_body(**changes).items() if v is not None}
    partner = new_partner()
    (entry,) = results(api(post_batch(partner, [body])))
    alone = api(post(partner, body))
    assert entry["status"] == alone["statusCode"] == 422
    assert entry["problem"] == body_of(alone)


def test_a_member_named_twice_in_a_report_is_that_reports_422(api: Invoke, dynamodb: Any) -> None:
    good = json.dumps(report_body())
    twice = good[:-1] + ', "category": "hate_speech"}'
    answered = results(api(post_batch(new_partner(), raw=f'{{"reports": [{good}, {twice}, {good}]}}')))
    assert [r["status"] for r in answered] == [202, 422, 202]
    assert answered[1]["problem"]["errors"] == [{"field": "category", "message": "appears more than once"}]
    assert count_items(dynamodb, "REPORT#") == 2


def test_a_replayed_batch_answers_the_same_and_stores_nothing(api: Invoke, dynamodb: Any) -> None:
    partner = new_partner()
    batch = [report_body(content_url=video(i), idempotency_key=f"bws-{i}") for i in range(20)]
    batch[7] = report_body(category="spam", idempotency_key="bws-7")
    first = results(api(post_batch(partner, batch)))
    stored = count_items(dynamodb, "REPORT#")
    assert stored == 19
    again = results(api(post_batch(partner, batch)))
    assert again == first
    assert count_items(dynamodb, "REPORT#") == stored
    # Each report's key is the key of POST /v1/reports: the same report sent alone replays too.
    alone = api(post(partner, report_body(content_url=video(3)), key="bws-3"))
    assert body_of(alone) == first[3]["report"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reports": []}, "reports"),
        ({"reports": [report_body()] * (MAX_REPORTS + 1)}, "reports"),
        ({}, "reports"),
        ({"reports": report_body()}, "reports"),
        ({"reports": [report_body()], "partner_id": "p_other"}, "partner_id"),
    ],
)
def test_a_batch_refused_as_a_whole_names_the_field_and_stores_nothing(
    api: Invoke, dynamodb: Any, body: dict[str, Any], field: str
) -> None:
    answer = api(post_batch(new_partner(), raw=json.dumps(body)))
    assert answer["statusCode"] == 422, answer["body"]
    assert [e["field"] for e in body_of(answer)["errors"]] == [field]
    assert count_items(dynamodb, "REPORT#") == 0


def test_over_1_mb_is_413_and_an_idempotency_key_header_is_refused(api: Invoke, dynamodb: Any) -> None:
    partner = new_partner()
    big = [report_body(content_url=video(i), description="x" * 5000, evidence_urls=[]) for i in range(MAX_REPORTS)]
    big = [{**b, "legal_basis": "y" * 500, "partner_reference": "z" * 128} for b in big]
    raw = json.dumps({"reports": big * 2})
    assert len(raw.encode()) > MAX_BATCH_BYTES
    too_big = api(post_batch(partner, raw=raw))
    assert too_big["statusCode"] == 413
    assert body_of(too_big)["type"] == "urn:kanal:problem:content-too-large"
    under = results(api(post_batch(partner, big)))  # 100 reports of 5,000 characters each: under 1 MB
    assert {r["status"] for r in under} == {202}
    keyed = api(post_batch(partner, [report_body()], **{"Idempotency-Key": "batch-1"}))
    assert keyed["statusCode"] == 422
    assert body_of(keyed)["errors"][0]["field"] == "Idempotency-Key"
    twice = api(post_batch(partner, raw=f'{{"reports": [], "reports": [{json.dumps(report_body())}]}}'))
    assert twice["statusCode"] == 422
    assert body_of(twice)["errors"] == [{"field": "reports", "message": "appears more than once"}]
    assert count_items(dynamodb, "REPORT#") == MAX_REPORTS


def intake_requests(api: Invoke, e: dict[str, Any]) -> tuple[dict[str, Any], Counter[str]]:
    """The answer, and the AWS requests the intake function made for it (tests.support.iam records them)."""
    before = len(iam.RECORDER.calls)
    answer = api(e)
    made = Counter(c.operation for c in iam.RECORDER.calls[before:] if c.principal == "IntakeFunction")
    return answer, made


@pytest.mark.parametrize("keyed", [False, True])
def test_100_new_reports_make_at_most_10_aws_requests(api: Invoke, dynamodb: Any, keyed: bool) -> None:
    partner = new_partner()
    batch = [
        report_body(content_url=video(i), **({"idempotency_key": f"k-{i}"} if keyed else {}))
        for i in range(MAX_REPORTS)
    ]
    answer, made = intake_requests(api, post_batch(partner, batch))
    assert {r["status"] for r in results(answer)} == {202}
    assert count_items(dynamodb, "REPORT#") == MAX_REPORTS
    assert sum(made.values()) <= 10, made
    assert made["TransactWriteItems"] == 1
    assert made["BatchGetItem"] == (3 if keyed else 1)  # the cases; and each key's report and hold, 50 a request
    if keyed:
        again, replayed = intake_requests(api, post_batch(partner, batch))
        assert results(again) == results(answer)
        assert replayed == Counter({"BatchGetItem": 3}), replayed  # nothing written


def test_a_report_stored_by_another_request_meanwhile_is_replayed_from_the_cancelled_transaction(
    api: Invoke, dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the batch's read and its write, another request stores a report under one of its keys: the
    transaction is cancelled, that report answered from the cancellation reasons, the others put again."""
    partner = new_partner()
    raced = body_of(api(post(partner, report_body(content_url=video(1)), key="k-1")))
    # The batch read before the other request stored.
    monkeypatch.setattr(DynamoReports, "lookup", lambda self, ids, now: ({}, set()))
    batch = [
        report_body(content_url=video(0), idempotency_key="k-0"),
        report_body(content_url=video(1), idempotency_key="k-1"),
        report_body(content_url=video(9), idempotency_key="k-1", description="Lain"),
        report_body(content_url=video(2)),
    ]
    answer, made = intake_requests(api, post_batch(partner, batch))
    answered = results(answer)
    assert [r["status"] for r in answered] == [202, 202, 422, 202]
    assert answered[1]["report"] == raced
    assert made["TransactWriteItems"] == 2, made
    assert count_items(dynamodb, "REPORT#") == 3


def cancelled(*codes: str) -> ClientError:
    reasons = [{"Code": code} for code in codes]
    return ClientError(
        {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}, "CancellationReasons": reasons},  # type: ignore[typeddict-unknown-key]
        "TransactWriteItems",
    )


def test_a_conflict_with_another_transaction_is_tried_again_and_persistent_trouble_is_503(
    api: Invoke, dynamodb: Any
) -> None:
    partner = new_partner()
    client = aws.client("dynamodb", None)
    failures = [cancelled("None", "TransactionConflict")]

    def conflict(**_: Any) -> None:
        if failures:
            raise failures.pop()

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", conflict)
    try:
        answered = results(api(post_batch(partner, [report_body(content_url=video(i)) for i in range(2)])))
    finally:
        client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", conflict)
    assert [r["status"] for r in answered] == [202, 202]
    assert count_items(dynamodb, "REPORT#") == 2
    with failing(client, "TransactWriteItems", "ProvisionedThroughputExceededException"):
        throttled = api(post_batch(partner, [report_body(content_url=video(3))]))
    assert throttled["statusCode"] == 503
    failures[:] = [cancelled("TransactionConflict")] * 5
    client.meta.events.register("before-call.dynamodb.TransactWriteItems", conflict)
    try:
        conflicting = api(post_batch(partner, [report_body(content_url=video(4))]))
    finally:
        client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", conflict)
    assert conflicting["statusCode"] == 503
    assert count_items(dynamodb, "REPORT#") == 2


def messages(sqs: Any, queue_variable: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        answer = sqs.receive_message(QueueUrl=env(queue_variable), MaxNumberOfMessages=10, VisibilityTimeout=30)
        if not answer.get("Messages"):
            return found
        found += [json.loads(m["Body"]) for m in answer["Messages"]]


def test_each_valid_report_of_a_mixed_batch_reaches_review_through_the_case_builder(
    api: Invoke, case_builder: Invoke, dynamodb: Any, sqs: Any
) -> None:
    """Each stored report has its own stream record: the case builder opens, attaches and escalates as for single
    reports (a second partner on a video makes its case urgent; synthetic media is urgent on its own)."""
    create = wiring.services().partners.create
    bawaslu = create("Bawaslu RI", PartnerKind.ELECTION_AGENCY, NOW).partner.partner_id
    kpu = create("KPU RI", PartnerKind.ELECTION_AGENCY, NOW).partner.partner_id
    alone = body_of(api(post(kpu, report_body(content_url=video(1)))))
    batch = [
        report_body(content_url=video(1)),  # a second partner on the video: urgent
        report_body(category="spam"),
        report_body(content_url=video(2), category="synthetic_media"),  # urgent on its own
        report_body(content_url=video(3)),
        report_body(content_url=video(3) + "?lang=id"),  # the same video: attached to the same case
        report_body(observed_at="1999-01-01T00:00:00+07:00"),
    ]
    answered = results(api(post_batch(bawaslu, batch)))
    stored = [r["report"] for r in answered if r["status"] == 202]
    assert len(stored) == 4
    records = stream_event(dynamodb, env("TABLE_NAME"))
    assert len(records["Records"]) == 5  # the single report, and one record per stored report of the batch
    assert case_builder(records) == {"batchItemFailures": []}
    urgent = {m["case_id"] for m in messages(sqs, "URGENT_QUEUE_URL")}
    normal = {m["case_id"] for m in messages(sqs, "NORMAL_QUEUE_URL")}
    assert urgent == {alone["case_id"], stored[1]["case_id"]}
    assert normal == {stored[2]["case_id"]}
    assert stored[2]["case_id"] == stored[3]["case_id"]
    counts = {
        r["case_id"]: dynamodb.get_item(
            TableName=env("TABLE_NAME"), Key={"pk": {"S": f"CASE#{r['case_id']}"}, "sk": {"S": "CASE"}}
        )["Item"]["report_count"]["N"]
        for r in [alone, *stored]
    }
    assert counts == {alone["case_id"]: "2", stored[1]["case_id"]: "1", stored[2]["case_id"]: "2"}
