"""Reviewing on moto: claims, races, lapsed leases, stale and poison messages, needs_info, what partners see, through
the handlers, SQS and DynamoDB (the rules alone, on in-memory fakes: tests/unit/test_review.py)."""

from __future__ import annotations

import dataclasses
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from kanal import wiring
from kanal.adapters import aws
from kanal.adapters.sqs import SqsReviewInbox
from kanal.errors import ReviewRefused
from kanal.models import CaseEventKind, InfoReply, Outcome, PartnerKind, Policy
from kanal.review import Review
from kanal_cli.cli import main
from kanal_local.gateway import local_principal

from tests.support.lambdas import Invoke, env, event, stream_event
from tests.support.reports import NOW, REASON, VIDEO, body_of, get, post, report_body, reported


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kanal.clock.now", lambda: NOW)


@pytest.fixture
def review(stack: Any) -> Review:
    return dataclasses.replace(wiring.services().review(), poison_backoff=timedelta(0))


def queue_depth(sqs: Any, variable: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=env(variable), AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_claim_decide_and_the_partner_sees_the_decision(
    api: Invoke, case_builder: Invoke, dynamodb: Any, sqs: Any, review: Review
) -> None:
    (receipt,) = reported(api, case_builder, dynamodb)
    claimed = review.next("reviewer-a", 0, NOW + timedelta(minutes=1))
    assert claimed is not None
    assert claimed.case.case_id == receipt["case_id"]
    assert [r.report_id for r in claimed.reports] == [receipt["report_id"]]
    decided = review.decide(
        receipt["case_id"], "reviewer-a", Outcome.REMOVED, Policy.MISINFORMATION, REASON, NOW + timedelta(minutes=2)
    )
    assert decided.decision is not None
    assert decided.decision.ground == "community_guidelines"
    assert queue_depth(sqs, "NORMAL_QUEUE_URL") == 0  # deleted only after the decision was stored
    shown = body_of(api(get(receipt["partner_id"], f"/v1/reports/{receipt['report_id']}")))
    assert shown["status"] == "decided"
    assert shown["decision"]["outcome"] == "removed"
    assert shown["decision"]["statement_of_reasons"] == REASON
    assert "reviewer-a" not in json.dumps(shown)
    assert [e["kind"] for e in shown["history"]] == ["received", "report_attached", "claimed", "decided"]
    with pytest.raises(ReviewRefused, match="already decided"):
        review.decide(receipt["case_id"], "reviewer-a", Outcome.LABELLED, Policy.MISINFORMATION, REASON, NOW)


def test_two_reviewers_race_for_one_case(api: Invoke, case_builder: Invoke, dynamodb: Any, review: Review) -> None:
    (receipt,) = reported(api, case_builder, dynamodb)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda who: review.next(who, 0, NOW), ["reviewer-a", "reviewer-b"]))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    holder = winners[0].case.claim
    assert holder is not None
    other = "reviewer-b" if holder.reviewer == "reviewer-a" else "reviewer-a"
    with pytest.raises(ReviewRefused, match="held by another reviewer until") as refused:
        review.decide(receipt["case_id"], other, Outcome.REMOVED, Policy.MISINFORMATION, REASON, NOW)
    assert holder.reviewer not in str(refused.value)  # the refusal does not tell an impersonator whom to type


def test_a_vanished_reviewers_case_comes_back(api: Invoke, case_builder: Invoke, dynamodb: Any, review: Review) -> None:
    (receipt,) = reported(api, case_builder, dynamodb)
    short = dataclasses.replace(review, lease=timedelta(seconds=1))
    assert short.next("reviewer-a", 0, NOW) is not None
    assert review.next("reviewer-b", 0, NOW) is None  # hidden while the lease runs
    time.sleep(1.5)  # reviewer-a never comes back; the message's visibility lapses
    later = NOW + timedelta(seconds=2)
    claimed = review.next("reviewer-b", 1, later)
    assert claimed is not None
    assert claimed.case.case_id == receipt["case_id"]
    review.decide(receipt["case_id"], "reviewer-b", Outcome.NO_VIOLATION, Policy.MISINFORMATION, REASON, later)
    with pytest.raises(ReviewRefused, match="already decided"):
        review.decide(receipt["case_id"], "reviewer-a", Outcome.REMOVED, Policy.MISINFORMATION, REASON, later)


def test_escalated_duplicate_message_is_stale(
    api: Invoke, case_builder: Invoke, dynamodb: Any, sqs: Any, review: Review
) -> None:
    receipts = reported(api, case_builder, dynamodb, "Bawaslu RI", "Perludem")
    assert queue_depth(sqs, "NORMAL_QUEUE_URL") == queue_depth(sqs, "URGENT_QUEUE_URL") == 1
    claimed = review.next("reviewer-a", 0, NOW)
    assert claimed is not None
    assert claimed.delivery.queue == "urgent"
    review.decide(receipts[0]["case_id"], "reviewer-a", Outcome.REMOVED, Policy.MISINFORMATION, REASON, NOW)
    assert review.next("reviewer-b", 0, NOW) is None  # the normal copy is acknowledged, not shown
    assert queue_depth(sqs, "NORMAL_QUEUE_URL") == 0
    history = wiring.services().trail.history(receipts[0]["case_id"])
    assert CaseEventKind.ESCALATED in [e.kind for e in history]


def test_poison_message_reaches_the_dlq_without_blocking(
    api: Invoke, case_builder: Invoke, dynamodb: Any, sqs: Any, review: Review
) -> None:
    sqs.send_message(QueueUrl=env("URGENT_QUEUE_URL"), MessageBody="not json")
    sqs.send_message(QueueUrl=env("URGENT_QUEUE_URL"), MessageBody=json.dumps({"case_id": "c_unknown"}))
    (receipt,) = reported(api, case_builder, dynamodb)
    claimed = review.next("reviewer-a", 0, NOW)
    assert claimed is not None
    assert claimed.case.case_id == receipt["case_id"]
    dlq_url = sqs.get_queue_url(QueueName="kanal-UrgentReviewDLQ")["QueueUrl"]
    dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in dead) == sorted(["not json", json.dumps({"case_id": "c_unknown"})])


def test_release_returns_the_case(api: Invoke, case_builder: Invoke, dynamodb: Any, review: Review) -> None:
    reported(api, case_builder, dynamodb)
    claimed = review.next("reviewer-a", 0, NOW)
    assert claimed is not None
    review.release(claimed.case.case_id, "reviewer-a", NOW)
    again = review.next("reviewer-b", 0, NOW)
    assert again is not None
    assert again.case.case_id == claimed.case.case_id


def test_needs_info_round_trip(
    api: Invoke, case_builder: Invoke, dynamodb: Any, sqs: Any, review: Review, monkeypatch: pytest.MonkeyPatch
) -> None:
    (receipt,) = reported(api, case_builder, dynamodb)
    case_id, report_id, partner = receipt["case_id"], receipt["report_id"], receipt["partner_id"]
    minute = timedelta(minutes=1)
    assert review.next("reviewer-a", 0, NOW + minute) is not None
    with pytest.raises(ReviewRefused, match="at least 10"):
        review.ask(case_id, "reviewer-a", "why?", timedelta(hours=48), NOW)
    review.ask(case_id, "reviewer-a", "Di TPS mana kejadian ini terjadi?", timedelta(hours=48), NOW + 2 * minute)
    assert queue_depth(sqs, "NORMAL_QUEUE_URL") == 0
    waiting = body_of(api(get(partner, f"/v1/reports/{report_id}")))
    assert waiting["status"] == "needs_info"
    assert waiting["question"]["question"] == "Di TPS mana kejadian ini terjadi?"

    def answer(who: str) -> dict[str, Any]:
        e = event("post_info")
        e["requestContext"]["authorizer"] = {"principalId": who, "partner_id": who}
        e["path"] = f"/v1/reports/{report_id}/info"
        e["requestContext"]["path"] = f"/prod/v1/reports/{report_id}/info"
        e["pathParameters"] = {"report_id": report_id}
        return api(e)

    stranger = wiring.services().partners.create("KPU RI", PartnerKind.ELECTION_AGENCY, NOW).partner.partner_id
    assert answer(stranger)["statusCode"] == 404
    late = NOW + timedelta(hours=80)  # past the case's 72-hour review deadline
    monkeypatch.setattr("kanal.clock.now", lambda: late)
    answered = answer(partner)
    assert answered["statusCode"] == 202, answered["body"]
    assert body_of(answered)["status"] == "received"
    assert answer(partner)["statusCode"] == 409  # nothing is waiting any more
    monkeypatch.setattr("kanal.clock.now", lambda: late + minute)
    case_builder(stream_event(dynamodb, env("TABLE_NAME")))
    assert queue_depth(sqs, "URGENT_QUEUE_URL") == 1  # overdue: back to the urgent queue
    claimed = review.next("reviewer-b", 0, late + 2 * minute)
    assert claimed is not None
    assert claimed.case.case_id == case_id
    history = [e["kind"] for e in body_of(api(get(partner, f"/v1/reports/{report_id}")))["history"]]
    assert history[-4:] == ["info_requested", "info_provided", "received", "claimed"]


def test_cli_next_decide_show(
    api: Invoke, case_builder: Invoke, dynamodb: Any, capsys: pytest.CaptureFixture[str], review_gateway: Any
) -> None:
    (receipt,) = reported(api, case_builder, dynamodb)
    capsys.readouterr()  # the handlers' logs
    table = ["--table-name", env("TABLE_NAME")]
    assert main([*table, "review", "next", "--json", "--wait", "0", "--reviewer", "reviewer-a"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["case_id"] == receipt["case_id"]
    assert shown["reports"][0]["region"] == "Kota Adm. Jakarta Pusat"
    assert shown["reports"][0]["received_at"].endswith("+07:00")  # WIB, to the second
    decide = ["review", "decide", receipt["case_id"], "--outcome", "removed", "--policy", "national_law"]
    assert main([*table, *decide, "--reason", REASON, "--reviewer", "reviewer-b"]) == 1
    refusal = capsys.readouterr().err
    assert "held by another reviewer until" in refusal
    assert "reviewer-a" not in refusal
    assert main([*table, *decide, "--reason", REASON, "--reviewer", "reviewer-a"]) == 0
    out = capsys.readouterr().out
    emf = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    assert json.loads(out[out.rindex("\n{\n") :])["decision"]["ground"] == "national_law"
    # The reviewer API counts the decision in embedded-metric log lines (no CloudWatch call, no permission).
    emitted = {m["Name"]: line for line in emf for d in line["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"Decisions", "TimeToDecision"} <= set(emitted)
    assert (emitted["Decisions"]["outcome"], emitted["Decisions"]["policy"]) == ("removed", "national_law")
    assert main([*table, "review", "next", "--wait", "0", "--reviewer", "reviewer-a"]) == 0
    assert capsys.readouterr().out == ""
    assert main([*table, "cases", "show", receipt["case_id"]]) == 0
    history = json.loads(capsys.readouterr().out)["history"]
    # The trail records the principal the (local) gateway put on the request, not a name from the body.
    assert [e["actor"] for e in history if e["kind"] == "decided"] == [local_principal("reviewer-a")]
    assert main([*table, "cases", "show", "c_nothing"]) == 1


def test_a_held_case_escalated_meanwhile_comes_back_when_released_or_lapsed(
    api: Invoke, case_builder: Invoke, dynamodb: Any, sqs: Any, review: Review
) -> None:
    """The reproduction: a second partner escalates a held case; the next reviewer's worker meets the urgent copy;
    the holder releases (or vanishes). The case must reach a reviewer, not sit on no queue."""
    for ending in ("release", "lapse"):
        url = f"{VIDEO[:-2]}{'1' if ending == 'release' else '2'}0"
        short = dataclasses.replace(review, lease=timedelta(seconds=2))
        (first,) = reported(api, case_builder, dynamodb, "Bawaslu RI", url=url)
        held = short.next("ana", 0, NOW)
        assert held is not None
        assert held.delivery.queue == "normal"
        reported(api, case_builder, dynamodb, "Perludem", url=url)  # escalated: an urgent copy is queued
        assert short.next("budi", 0, NOW) is None  # held by ana: the copy is kept hidden, not deleted
        if ending == "release":
            short.release(first["case_id"], "ana", NOW)
            later = NOW
        else:
            time.sleep(3)  # ana's worker is gone; her lease and the copies' hiding lapse
            later = NOW + timedelta(seconds=3)
        claimed = short.next("budi", 2, later)
        assert claimed is not None, f"after {ending}, the case was on no queue"
        assert claimed.case.case_id == first["case_id"]
        assert claimed.delivery.queue == "urgent"
        short.decide(first["case_id"], "budi", Outcome.REMOVED, Policy.MISINFORMATION, REASON, later)
        assert short.next("citra", 0, later) is None  # every other copy is settled without reaching anyone


def test_a_waiting_worker_gets_the_urgent_case_first(
    api: Invoke, case_builder: Invoke, dynamodb: Any, review: Review, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kanal review next --wait 20` already waiting when an ordinary and a synthetic_media report arrive."""
    # One long slice of the urgent queue's poll: the worker asks the normal queue only after it, so the order the
    # case builder sends the two in (normal first) and this machine's load cannot decide which one it gets.
    monkeypatch.setattr(SqsReviewInbox, "SLICE_SECONDS", 20)  # the most SQS waits
    create = wiring.services().partners.create
    partner = create("Bawaslu RI", PartnerKind.ELECTION_AGENCY, NOW).partner.partner_id
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(review.next, "ana", 20, NOW)
        time.sleep(0.5)  # the worker is now in its long poll
        ordinary = body_of(api(post(partner, report_body(content_url=f"{VIDEO[:-1]}5"))))
        synthetic = body_of(api(post(partner, report_body(content_url=f"{VIDEO[:-1]}6", category="synthetic_media"))))
        case_builder(stream_event(dynamodb, env("TABLE_NAME")))  # both queued in one batch, normal first
        claimed = waiting.result()
    assert claimed is not None
    assert claimed.case.case_id == synthetic["case_id"] != ordinary["case_id"]
    assert claimed.delivery.queue == "urgent"


def test_the_reconciler_puts_back_what_fell_off_and_reads_only_suspects(
    api: Invoke, case_builder: Invoke, dynamodb: Any, sqs: Any, review: Review, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The invariant broken on purpose, twice: a reopened case whose stream record never queued it, and a case
    whose message was dead-lettered. Many healthy cases around them are never read."""
    services = wiring.services()
    for i in range(30):  # healthy cases: queued, decided, held
        reported(api, case_builder, dynamodb, url=f"{VIDEO[:-2]}{i + 10}")
    (asked,) = reported(api, case_builder, dynamodb, "KPU RI", url=f"{VIDEO[:-2]}70")
    (dead,) = reported(api, case_builder, dynamodb, "Perludem", url=f"{VIDEO[:-2]}71")
    while (claimed := review.next("ana", 0, NOW)) is not None and claimed.case.case_id != asked["case_id"]:
        pass
    review.ask(asked["case_id"], "ana", "Di TPS mana kejadian ini terjadi?", timedelta(hours=48), NOW)
    answer = InfoReply(message="TPS 12, Menteng.")
    services.answers.provide(asked["partner_id"], asked["report_id"], answer, NOW)  # its stream record: lost
    queue_of = {"normal": env("NORMAL_QUEUE_URL"), "urgent": env("URGENT_QUEUE_URL")}
    for url in queue_of.values():  # the dead case's message is received again and again until SQS dead-letters it
        for _ in range(7):
            for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
                "Messages", []
            ):
                if json.loads(message["Body"])["case_id"] != dead["case_id"]:
                    sqs.change_message_visibility(
                        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=600
                    )
    reads: list[str] = []
    counted = aws.client("dynamodb", None)
    counted.meta.events.register("before-call.dynamodb.*", lambda model, **_: reads.append(model.name))
    requeued = services.reconciler().run(NOW + timedelta(minutes=15))
    assert {(r.case_id, r.reason) for r in requeued} == {
        (asked["case_id"], "not queued after it was reopened"),
        (dead["case_id"], "its review message was dead-lettered"),
    }
    reading = [r for r in reads if r in ("GetItem", "Query", "BatchGetItem", "Scan")]
    assert len(reading) <= 2 + 9  # the two suspects' cases, and one index query per day of the lookback
    assert "Scan" not in reads
    for case_id in (asked["case_id"], dead["case_id"]):
        kinds = [e.kind for e in services.trail.history(case_id)]
        assert kinds[-2:] == [CaseEventKind.REQUEUED, CaseEventKind.RECEIVED] or kinds[-1] is CaseEventKind.REQUEUED
    found = set()
    while (claimed := review.next("budi", 0, NOW + timedelta(hours=1))) is not None:
        found.add(claimed.case.case_id)
    assert {asked["case_id"], dead["case_id"]} <= found
    assert services.reconciler().run(NOW + timedelta(hours=2)) == []  # checked once; nothing left to do


def test_a_decision_covers_what_the_reviewer_saw(
    api: Invoke,
    case_builder: Invoke,
    dynamodb: Any,
    review: Review,
    capsys: pytest.CaptureFixture[str],
    review_gateway: Any,
) -> None:
    """The reproduction: a reviewer holds a case with one report; KPU then reports it as synthetic media with an
    analysis; deciding no_violation on the old view is refused with what is new, and goes through once seen."""
    (first,) = reported(api, case_builder, dynamodb, "Bawaslu RI")
    assert review.next(local_principal("reviewer-a"), 0, NOW) is not None  # as the CLI below
    kpu = wiring.services().partners.create("KPU RI", PartnerKind.ELECTION_AGENCY, NOW).partner.partner_id
    newer = report_body(category="synthetic_media", evidence_urls=["https://kpu.go.id/analisis/deepfake.pdf"])
    late = body_of(api(post(kpu, newer)))
    capsys.readouterr()
    table = ["--table-name", env("TABLE_NAME")]
    decide = ["review", "decide", first["case_id"], "--outcome", "no_violation", "--policy", "misinformation"]
    assert main([*table, *decide, "--reason", REASON, "--reviewer", "reviewer-a"]) == 1
    shown = capsys.readouterr()
    assert late["report_id"] in [r["report_id"] for r in json.loads(shown.out)["new_reports"]]
    assert "1 report(s) arrived" in shown.err
    assert main([*table, *decide, "--reason", REASON, "--reviewer", "reviewer-a"]) == 0  # now seen
    decision = wiring.services().cases.get(first["case_id"]).decision  # type: ignore[union-attr]
    assert decision is not None
    assert decision.report_count == 2


def test_the_interactive_loop_shows_new_reports_and_asks_again(
    api: Invoke, case_builder: Invoke, dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kanal_cli import reviewer as commands

    (first,) = reported(api, case_builder, dynamodb, "Bawaslu RI")
    kpu = wiring.services().partners.create("KPU RI", PartnerKind.ELECTION_AGENCY, NOW).partner.partner_id
    answers = iter(["d", "no_violation", "misinformation", REASON, "d", "removed", "synthetic_media", REASON, "q"])
    posted: list[str] = []

    def ask(prompt: str) -> str:
        if not posted:  # while the reviewer reads the case, KPU reports it again
            posted.append(body_of(api(post(kpu, report_body(description="Analisis forensik: video sintetis.")))))
        return next(answers)

    lines: list[str] = []

    class QueueEmpty(Exception):
        pass

    def out(line: str) -> None:
        lines.append(line)
        if line.startswith("no case in the last"):
            raise QueueEmpty  # the reviewer stops the loop once the queue is empty

    args = main.__globals__["parser"]().parse_args(["--table-name", env("TABLE_NAME"), "review", "--wait", "0"])
    args.reviewer = "reviewer-a"
    with pytest.raises(QueueEmpty):
        commands.cmd_interactive(args, wiring.services(), ask=ask, out=out)
    text = "\n".join(lines)
    assert "1 report(s) arrived on case" in text
    assert "Analisis forensik: video sintetis." in text
    decided = wiring.services().cases.get(first["case_id"])
    assert decided is not None
    assert decided.decision is not None
    assert decided.decision.outcome == "removed"


def test_a_report_the_decision_did_not_consider_reopens_review(
    api: Invoke, case_builder: Invoke, dynamodb: Any, sqs: Any, review: Review, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A decided case gets a report of another category with evidence: review again on the urgent queue; the old
    reports keep their decision, the new one reads received. A report bringing nothing new inherits."""
    (first,) = reported(api, case_builder, dynamodb, "Bawaslu RI")
    assert review.next("reviewer-a", 0, NOW) is not None
    review.decide(first["case_id"], "reviewer-a", Outcome.NO_VIOLATION, Policy.MISINFORMATION, REASON, NOW)
    monkeypatch.setattr("kanal.clock.now", lambda: NOW + timedelta(minutes=5))
    create = wiring.services().partners.create
    same = create("Mafindo", PartnerKind.CIVIL_SOCIETY, NOW).partner.partner_id
    inherited = body_of(api(post(same, report_body())))  # same category, no evidence
    assert inherited["status"] == "decided"
    assert inherited["decision"]["outcome"] == "no_violation"
    case_builder(stream_event(dynamodb, env("TABLE_NAME")))
    assert wiring.services().cases.get(first["case_id"]).status == "decided"  # type: ignore[union-attr]
    kpu = create("KPU RI", PartnerKind.ELECTION_AGENCY, NOW).partner.partner_id
    body = report_body(category="synthetic_media", evidence_urls=["https://kpu.go.id/analisis/deepfake.pdf"])
    fresh = body_of(api(post(kpu, body)))
    assert fresh["status"] == "received"  # not answered with a decision that never considered it
    assert fresh.get("decision") is None
    case_builder(stream_event(dynamodb, env("TABLE_NAME")))
    case = wiring.services().cases.get(first["case_id"])
    assert case is not None
    assert case.status == "received"
    assert {"new_category", "new_evidence"} <= case.urgent_reasons
    assert body_of(api(get(first["partner_id"], f"/v1/reports/{first['report_id']}")))["status"] == "decided"
    assert body_of(api(get(kpu, f"/v1/reports/{fresh['report_id']}")))["status"] == "received"
    later = NOW + timedelta(minutes=10)
    claimed = review.next("reviewer-b", 0, later)
    assert claimed is not None
    assert claimed.delivery.queue == "urgent"
    kinds = [e.kind for e in wiring.services().trail.history(first["case_id"])]
    assert CaseEventKind.REOPENED in kinds
    review.decide(first["case_id"], "reviewer-b", Outcome.REMOVED, Policy.SYNTHETIC_MEDIA, REASON, later)
    assert body_of(api(get(kpu, f"/v1/reports/{fresh['report_id']}")))["decision"]["outcome"] == "removed"
    assert body_of(api(get(first["partner_id"], f"/v1/reports/{first['report_id']}")))["decision"]["outcome"] == (
        "removed"
    )
