"""Reminders on moto, as of chosen moments: each kind, exactly once, nothing for decided or answered cases,
delivery filtered per partner, and a sweep that reads only what is due, through DynamoDB, SNS and the reminder
function (the rules alone, on in-memory fakes: tests/unit/test_reminders.py)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from kanal import wiring
from kanal.models import Outcome, PartnerKind, Policy
from kanal.reminders import LEADS, ReminderKind, Timer
from kanal_cli.cli import main

from tests.support.lambdas import REGION, Invoke, LambdaContext, as_function, env, event, load_function, stream_event
from tests.support.reports import REASON, body_of, post, report_body

WIB = timezone(timedelta(hours=7))
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=WIB)


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kanal.clock.now", lambda: T0)


def partner(name: str, kind: PartnerKind = PartnerKind.ELECTION_AGENCY) -> str:
    return wiring.services().partners.create(name, kind, T0).partner.partner_id


def report(api: Invoke, case_builder: Invoke, dynamodb: Any, who: str, **changes: Any) -> dict[str, Any]:
    e = post(who, report_body(**changes))
    e["requestContext"]["authorizer"]["partner_kind"] = str(
        wiring.services().partners.directory.get_partner(who).kind  # type: ignore[union-attr]
    )
    receipt: dict[str, Any] = body_of(api(e))
    case_builder(stream_event(dynamodb, env("TABLE_NAME")))
    return receipt


def remind(now: datetime, **options: Any) -> list[tuple[str, str, str]]:
    options.setdefault("digest", False)
    run = wiring.services().reminders().run(now, **options)
    return sorted((str(r.kind), r.partner_id, r.offset) for r in run.sent)


def test_question_reminders_then_the_case_returns(api: Invoke, case_builder: Invoke, dynamodb: Any, sqs: Any) -> None:
    bawaslu = partner("Bawaslu RI")
    receipt = report(api, case_builder, dynamodb, bawaslu)
    review = wiring.services().review()
    assert review.next("ana", 0, T0) is not None
    review.ask(receipt["case_id"], "ana", "Di TPS mana kejadian ini terjadi?", timedelta(hours=48), T0)
    due = T0 + timedelta(hours=48)
    assert remind(due - timedelta(hours=25)) == []
    assert remind(due - timedelta(hours=24)) == [("info_due", bawaslu, "24h")]
    assert remind(due - timedelta(hours=24)) == []  # a second run at the same moment sends nothing new
    assert remind(due - timedelta(hours=2)) == [("info_due", bawaslu, "2h")]
    assert remind(due) == [("info_not_provided", bawaslu, "0h")]
    case = wiring.services().cases.get(receipt["case_id"])
    assert case is not None
    assert case.status == "received"
    case_builder(stream_event(dynamodb, env("TABLE_NAME")))  # the trail entry puts it back in its queue
    history = [e.kind for e in wiring.services().trail.history(receipt["case_id"])]
    assert "info_not_provided" in history
    assert remind(due + timedelta(hours=1)) == []
    sent = wiring.services().timers.sent(bawaslu)
    assert "Pengingat" in sent[-1].text
    assert "WIB" in sent[-1].text
    assert sent[-1].text.index("Pengingat") < sent[-1].text.index("Reminder")


def test_answered_or_decided_cases_get_nothing(api: Invoke, case_builder: Invoke, dynamodb: Any) -> None:
    bawaslu = partner("Bawaslu RI")
    receipt = report(api, case_builder, dynamodb, bawaslu)
    review = wiring.services().review()
    assert review.next("ana", 0, T0) is not None
    review.ask(receipt["case_id"], "ana", "Di TPS mana kejadian ini terjadi?", timedelta(hours=48), T0)
    from kanal.models import InfoReply

    wiring.services().answers.provide(bawaslu, receipt["report_id"], InfoReply(message="TPS 012."), T0)
    due = T0 + timedelta(hours=48)
    assert remind(due - timedelta(hours=24)) == []
    assert remind(due) == []
    case_builder(stream_event(dynamodb, env("TABLE_NAME")))
    assert review.next("ana", 0, T0) is not None
    review.decide(receipt["case_id"], "ana", Outcome.LABELLED, Policy.MISINFORMATION, REASON, T0)
    assert remind(T0 + timedelta(hours=72)) == []  # decided before its deadline: no overdue notice


def test_overdue_review_escalates_to_leads_and_tells_partners(api: Invoke, case_builder: Invoke, dynamodb: Any) -> None:
    bawaslu, perludem = partner("Bawaslu RI"), partner("Perludem", PartnerKind.CIVIL_SOCIETY)
    report(api, case_builder, dynamodb, bawaslu)
    report(api, case_builder, dynamodb, perludem)
    overdue = T0 + timedelta(hours=72)
    assert remind(overdue - timedelta(minutes=1)) == []
    assert remind(overdue) == sorted(
        [("review_overdue", LEADS, "0h"), ("review_overdue", bawaslu, "0h"), ("review_overdue", perludem, "0h")]
    )
    assert remind(overdue + timedelta(minutes=15)) == []


def test_election_milestones_reach_every_partner_once(stack: Any) -> None:
    bawaslu, kpu = partner("Bawaslu RI"), partner("KPU RI")
    moment = datetime(2024, 11, 21, 0, 0, tzinfo=WIB)  # 3 days before the Pilkada quiet period
    sent = remind(moment, digest=False)
    assert sorted(sent) == sorted(
        [("election_milestone", p, "3d") for p in (bawaslu, kpu)] * 2  # quiet period, accounts closing
    )
    assert remind(moment + timedelta(minutes=15), digest=False) == []
    texts = [r.text for r in wiring.services().timers.sent(kpu)]
    assert any("masa tenang mulai 24-11-2024 00:00 WIB" in t for t in texts)


def test_statutory_window_for_the_reporting_agency_only(api: Invoke, case_builder: Invoke, dynamodb: Any) -> None:
    bawaslu, perludem = partner("Bawaslu RI"), partner("Perludem", PartnerKind.CIVIL_SOCIETY)
    observed = (T0 - timedelta(days=1)).isoformat()
    first = report(api, case_builder, dynamodb, bawaslu, observed_at=observed, election="pilkada-2024")
    report(api, case_builder, dynamodb, perludem)
    review = wiring.services().review()
    assert review.next("ana", 0, T0) is not None
    review.decide(first["case_id"], "ana", Outcome.REMOVED, Policy.CIVIC_ELECTION_INTEGRITY, REASON, T0)
    closes = datetime(2026, 11, 29, 23, 59, tzinfo=WIB)  # 7 days from the day it was observed
    assert remind(closes - timedelta(days=2, minutes=1), digest=False) == []
    assert remind(closes - timedelta(days=2), digest=False) == [("statutory_window", bawaslu, "2d")]
    assert remind(closes - timedelta(days=1), digest=False) == [("statutory_window", bawaslu, "1d")]


def test_daily_digest_once_for_active_partners(api: Invoke, case_builder: Invoke, dynamodb: Any) -> None:
    active, quiet = partner("Bawaslu RI"), partner("KPU RI")
    report(api, case_builder, dynamodb, active)
    morning = datetime(2026, 11, 24, 8, 0, tzinfo=WIB)
    assert remind(morning - timedelta(minutes=1), timers=False, digest=True) == []
    assert remind(morning, timers=False, digest=True) == [("daily_digest", active, "0h")]
    assert remind(morning + timedelta(hours=3), timers=False, digest=True) == []
    (digest,) = wiring.services().timers.sent(active)
    assert "1 laporan dikirim" in digest.text
    assert quiet not in [r.partner_id for r in wiring.services().timers.sent()]


def test_each_partner_receives_only_its_own(api: Invoke, case_builder: Invoke, dynamodb: Any, sqs: Any) -> None:
    bawaslu, kpu = partner("Bawaslu RI"), partner("KPU RI")
    inboxes = {}
    for who in (bawaslu, kpu):
        url = sqs.create_queue(QueueName=f"inbox-{who}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        main(["--table-name", env("TABLE_NAME"), "partners", "subscribe", "--partner-id", who,
              "--protocol", "sqs", "--endpoint", arn])  # fmt: skip
        inboxes[who] = url
    report(api, case_builder, dynamodb, bawaslu)
    remind(T0 + timedelta(hours=72))
    received = {
        who: [
            json.loads(json.loads(m["Body"])["Message"])
            for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        ]
        for who, url in inboxes.items()
    }
    assert [m["partner_id"] for m in received[bawaslu]] == [bawaslu]
    assert received[kpu] == []


def test_a_sweep_reads_only_what_is_due(stack: Any) -> None:
    store = wiring.services().timers
    later = T0 + timedelta(days=30)
    open_cases = [
        Timer(kind=ReminderKind.REVIEW_OVERDUE, subject=f"c_open{i}", case_id=f"c_open{i}", offset="0h",
              send_at=later, due_at=later)
        for i in range(2000)
    ]  # fmt: skip
    due = [
        Timer(kind=ReminderKind.REVIEW_OVERDUE, subject=f"c_due{i}", case_id=f"c_due{i}", offset="0h",
              send_at=T0, due_at=T0)
        for i in range(50)
    ]  # fmt: skip
    store.add_timers(open_cases + due)
    counted = {"items": 0, "calls": 0}

    def count(parsed: dict[str, Any], **_: Any) -> None:
        counted["calls"] += 1
        counted["items"] += int(parsed.get("Count", 1 if "Item" in parsed else 0))

    client = wiring.services().timers._client
    client.meta.events.register("after-call.dynamodb.*", count)
    sent = remind(T0, digest=False)
    client.meta.events.unregister("after-call.dynamodb.*", count)
    assert sent == []  # the 50 due cases do not exist: nothing to tell, each read once
    assert counted["items"] <= 50 * 2 + 10  # due timers + their cases + the partner list, never the 2,000


def test_api_and_cli_list_own_reminders(
    api: Invoke, case_builder: Invoke, dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    bawaslu, kpu = partner("Bawaslu RI"), partner("KPU RI")
    report(api, case_builder, dynamodb, bawaslu)
    capsys.readouterr()
    table = ["--table-name", env("TABLE_NAME")]
    assert main([*table, "remind", "--now", "2026-11-26T09:00:00+07:00", "--dry-run"]) == 0
    assert [r["kind"] for r in json.loads(capsys.readouterr().out)] == ["review_overdue"] * 2
    assert wiring.services().timers.sent() == []  # a dry run records nothing
    assert main([*table, "remind", "--now", "2026-11-26T09:00:00"]) == 2
    assert main([*table, "remind", "--now", "2026-11-26T09:00:00+07:00"]) == 0
    capsys.readouterr()
    assert main([*table, "reminders", "list", "--partner", bawaslu, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["kind"], r["partner_id"]) for r in listed] == [("review_overdue", bawaslu)]

    def reminders_of(who: str) -> list[dict[str, Any]]:
        e = event("list_reminders")
        e["requestContext"]["authorizer"] = {"principalId": who, "partner_id": who}
        answer: list[dict[str, Any]] = body_of(api(e))
        return answer

    mine = reminders_of(bawaslu)
    assert [r["kind"] for r in mine] == ["review_overdue"]
    assert "terlambat" in mine[0]["text"]
    assert reminders_of(kpu) == []


def test_boto3_topic_exists(stack: Any) -> None:
    topics = boto3.client("sns", region_name=REGION).list_topics()["Topics"]
    assert {t["TopicArn"] for t in topics} == {env("PARTNER_TOPIC_ARN"), env("LEADS_TOPIC_ARN")}


def test_scheduled_events_run_the_jobs(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    makassar = wiring.services().partners.create("Bawaslu Sulsel", PartnerKind.ELECTION_AGENCY, T0, "73.71")
    monkeypatch.setattr("kanal.clock.now", lambda: datetime(2024, 11, 21, 0, 0, tzinfo=WIB))
    handler = as_function(stack, "ReminderFunction", load_function("reminder").lambda_handler)
    swept = handler(event("schedule_sweep"), LambdaContext())
    assert swept["job"] == "sweep"
    assert {(r["kind"], r["partner_id"]) for r in swept["sent"]} == {
        ("election_milestone", makassar.partner.partner_id)
    }
    assert handler(event("schedule_sweep"), LambdaContext())["sent"] == []  # fired twice: sent once
    texts = [r.text for r in wiring.services().timers.sent(makassar.partner.partner_id)]
    assert all("WITA" in t for t in texts)  # the partner's own zone
    digest = handler(event("schedule_digest"), LambdaContext())
    assert digest == {"job": "digest", "sent": [], "skipped": 0}  # no activity, no digest


PHISHING = "PENTING: akun kanal Anda dibekukan, verifikasi di https://kanal-verifikasi.example/login"


def test_a_forged_or_stale_timer_sends_nothing(api: Invoke, case_builder: Invoke, dynamodb: Any) -> None:
    """Timer items written by someone other than kanal (a reviewer's role could write TIMER# items) send
    nothing: recipients, deadlines and subjects come from the case and its reports, never from the item."""
    bawaslu, kpu, perludem = partner("Bawaslu RI"), partner("KPU RI"), partner("Perludem", PartnerKind.CIVIL_SOCIETY)
    first = report(api, case_builder, dynamodb, bawaslu)
    everyone = sorted([bawaslu, kpu, perludem])
    at = T0 + timedelta(minutes=5)

    def forged(kind: ReminderKind, subject: str, offset: str = "1d", case_id: str | None = first["case_id"]) -> Timer:
        return Timer(kind=kind, subject=subject, case_id=case_id, offset=offset, send_at=at, due_at=at,
                     partner_ids=everyone)  # fmt: skip

    forged_timers = [
        forged(ReminderKind.STATUTORY_WINDOW, PHISHING),  # for a report that does not exist, to every partner
        forged(ReminderKind.STATUTORY_WINDOW, first["report_id"]),  # a real but undecided report, to everyone
        forged(ReminderKind.ELECTION_MILESTONE, f"{PHISHING}:x", case_id=None),  # not the calendar's, never read
        forged(ReminderKind.REVIEW_OVERDUE, PHISHING, "0h"),  # a deadline that is not the case's
        forged(ReminderKind.INFO_DUE, PHISHING, "2h"),  # a case that has no question
    ]
    wiring.services().timers.add_timers(forged_timers)
    assert remind(at + timedelta(minutes=1)) == []
    # At the case's real deadline: kanal's own overdue timer fires, once, with kanal's text, to the case's
    # partner and the leads; a copy under a phishing subject adds nothing, one at an offset kanal never uses
    # (to send the same reminder again and again) sends nothing.
    overdue = wiring.services().cases.get(first["case_id"]).review_due_at  # type: ignore[union-attr]
    wiring.services().timers.add_timers(
        [
            Timer(
                kind=ReminderKind.REVIEW_OVERDUE,
                subject=first["case_id"],
                case_id=first["case_id"],
                offset="9h",
                send_at=overdue,
                due_at=overdue,
            ),
            Timer(
                kind=ReminderKind.REVIEW_OVERDUE,
                subject=PHISHING,
                case_id=first["case_id"],
                offset="0h",
                send_at=overdue,
                due_at=overdue,
                partner_ids=everyone,
            ),
        ]
    )
    sent = wiring.services().reminders().run(overdue + timedelta(minutes=1), digest=False).sent
    assert sorted((r.partner_id, r.offset) for r in sent) == sorted([(LEADS, "0h"), (bawaslu, "0h")])
    assert all(PHISHING not in r.text and PHISHING not in r.subject for r in sent)
    for who in everyone:
        assert PHISHING not in json.dumps([r.model_dump(mode="json") for r in wiring.services().timers.sent(who)])
