"""The reminders' rules on in-memory fakes (tests.support.fakes), in milliseconds, as of chosen moments: timers come
due at their offsets, each reminder is recorded once before it goes (a second or retried run sends nothing new),
nothing for decided or answered cases, escalations to the leads, statutory windows for the reporting agency only,
milestones for everyone in their own zone, digests once for the partners with activity, and nothing from a timer
kanal did not make. The same through DynamoDB, SNS and the reminder function on moto: tests/component/test_reminders.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from kanal.models import CaseEventKind, CaseStatus, InfoReply, Outcome, PartnerKind, Policy
from kanal.reminders import LEADS, ReminderKind, Timer, default_rules, parse_offset

from tests.support.fakes import Desk
from tests.support.reports import REASON, report_body

WIB = timezone(timedelta(hours=7))
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=WIB)
QUESTION = "Di TPS mana kejadian ini terjadi?"


@pytest.fixture
def desk() -> Desk:
    return Desk(T0)


def remind(desk: Desk, now: datetime, **options: Any) -> list[tuple[str, str, str]]:
    """What one run at ``now`` sent: (kind, partner, offset), sorted."""
    options.setdefault("digest", False)
    run = desk.reminders().run(now, **options)
    return sorted((str(r.kind), r.partner_id, r.offset) for r in run.sent)


def asked(desk: Desk, partner: str, **body: Any) -> tuple[str, str, datetime]:
    """A case ``partner`` reported, claimed and asked about (due in 48 hours): its case, report and due time."""
    report = desk.report(partner, report_body(**body))
    assert desk.review.next("ana", 0, desk.now) is not None
    case = desk.review.ask(report.case_id, "ana", QUESTION, timedelta(hours=48), desk.now)
    assert case.question is not None
    return report.case_id, report.report_id, case.question.due_at


def test_offsets_and_windows() -> None:
    rules = default_rules()
    assert parse_offset("24h") == timedelta(hours=24)
    assert [o for o, _ in rules.offsets_for(ReminderKind.INFO_DUE)] == ["24h", "2h"]
    friday = datetime(2024, 2, 9, 10, tzinfo=WIB)
    assert rules.window_end(friday, "pemilu") == datetime(2024, 2, 16, 23, 59, tzinfo=WIB)
    working = type(rules)(rules.offsets, {"default": {"days": 7, "working_days": True}}, 8)
    assert working.window_end(friday, None) == datetime(2024, 2, 20, 23, 59, tzinfo=WIB)
    with pytest.raises(ValueError, match="offset"):
        parse_offset("soon")


def test_question_reminders_at_their_offsets_then_the_case_returns(desk: Desk) -> None:
    bawaslu = desk.partner("Bawaslu RI")
    case_id, _, due = asked(desk, bawaslu)
    assert remind(desk, due - timedelta(hours=25)) == []
    assert remind(desk, due - timedelta(hours=24)) == [("info_due", bawaslu, "24h")]
    assert remind(desk, due - timedelta(hours=24)) == []  # a second run at the same moment sends nothing new
    assert remind(desk, due - timedelta(hours=2)) == [("info_due", bawaslu, "2h")]
    assert remind(desk, due) == [("info_not_provided", bawaslu, "0h")]
    case = desk.cases.get(case_id)
    assert case is not None
    assert case.status is CaseStatus.RECEIVED  # back in review, without the information
    assert case.question is None
    assert CaseEventKind.INFO_NOT_PROVIDED in [e.kind for e in desk.trail.history(case_id)]
    assert remind(desk, due + timedelta(hours=1)) == []
    assert [(str(r.kind), r.offset) for r in desk.notifier.delivered] == [
        ("info_due", "24h"),
        ("info_due", "2h"),
        ("info_not_provided", "0h"),
    ]
    text = desk.timers.sent(bawaslu)[-1].text  # the oldest: 24 hours before
    assert "WIB" in text
    assert text.index("Pengingat") < text.index("Reminder")  # Bahasa Indonesia first


def test_answered_or_decided_cases_get_nothing(desk: Desk) -> None:
    bawaslu = desk.partner("Bawaslu RI")
    case_id, report_id, due = asked(desk, bawaslu)
    desk.answers.provide(bawaslu, report_id, InfoReply(message="TPS 012."), desk.now)
    assert remind(desk, due - timedelta(hours=24)) == []
    assert remind(desk, due) == []
    desk.builder.requeue(case_id, desk.now)
    assert desk.review.next("ana", 0, desk.now) is not None
    decided = desk.review.decide(case_id, "ana", Outcome.LABELLED, Policy.MISINFORMATION, REASON, desk.now)
    assert remind(desk, decided.review_due_at) == []  # decided before its deadline: no overdue notice
    assert desk.notifier.delivered == []


def test_an_overdue_review_escalates_to_the_leads_and_tells_the_partners(desk: Desk) -> None:
    bawaslu, perludem = desk.partner("Bawaslu RI"), desk.partner("Perludem", PartnerKind.CIVIL_SOCIETY)
    report = desk.report(bawaslu, report_body())
    desk.report(perludem, report_body())
    overdue = report.review_due_at
    assert overdue == T0 + timedelta(hours=72)
    assert remind(desk, overdue - timedelta(minutes=1)) == []
    assert remind(desk, overdue) == sorted(
        [("review_overdue", LEADS, "0h"), ("review_overdue", bawaslu, "0h"), ("review_overdue", perludem, "0h")]
    )
    assert remind(desk, overdue + timedelta(minutes=15)) == []
    assert all("terlambat" in r.text for r in desk.notifier.delivered)


def test_each_reminder_is_recorded_before_it_goes_so_a_retried_run_sends_it_no_more(desk: Desk) -> None:
    """A sweep that failed half-way is retried: what it recorded is not sent again. The record comes first (kanal's
    rule: at most once), so the reminder whose delivery failed is recorded and not retried; the rest go, once."""
    bawaslu = desk.partner("Bawaslu RI")
    overdue = desk.report(bawaslu, report_body()).review_due_at
    desk.notifier.failing = True
    with pytest.raises(ConnectionError):
        desk.reminders().run(overdue, digest=False)
    desk.notifier.failing = False
    assert remind(desk, overdue) == [("review_overdue", bawaslu, "0h")]  # the leads' was recorded, then failed
    assert remind(desk, overdue) == []
    assert sorted(r.partner_id for r in desk.notifier.delivered) == [bawaslu]
    assert sorted(r.partner_id for r in desk.timers.sent()) == sorted([LEADS, bawaslu])
    assert desk.timers.due_timers(overdue + timedelta(days=1)) == []  # the timer is finished


def test_a_dry_run_says_what_is_due_and_sends_and_records_nothing(desk: Desk) -> None:
    bawaslu = desk.partner("Bawaslu RI")
    overdue = desk.report(bawaslu, report_body()).review_due_at
    due = sorted([("review_overdue", LEADS, "0h"), ("review_overdue", bawaslu, "0h")])
    assert remind(desk, overdue, dry_run=True) == due
    assert desk.notifier.delivered == []
    assert desk.timers.sent() == []
    assert len(desk.timers.due_timers(overdue)) == 1  # still due
    assert remind(desk, overdue) == due


def test_election_milestones_reach_every_partner_once_in_their_own_zone(desk: Desk) -> None:
    bawaslu, kpu = desk.partner("Bawaslu RI"), desk.partner("KPU RI")
    makassar = desk.partner("Bawaslu Sulsel", region_code="73.71")
    moment = datetime(2024, 11, 21, 0, 0, tzinfo=WIB)  # 3 days before the Pilkada quiet period
    sent = remind(desk, moment)
    assert sent == sorted([("election_milestone", p, "3d") for p in (bawaslu, kpu, makassar)] * 2)
    assert remind(desk, moment + timedelta(minutes=15)) == []
    assert any("masa tenang mulai 24-11-2024 00:00 WIB" in r.text for r in desk.timers.sent(kpu))
    assert all("WITA" in r.text for r in desk.timers.sent(makassar))


def test_a_statutory_window_is_reminded_to_the_reporting_agency_only(desk: Desk) -> None:
    bawaslu, perludem = desk.partner("Bawaslu RI"), desk.partner("Perludem", PartnerKind.CIVIL_SOCIETY)
    observed = (T0 - timedelta(days=1)).isoformat()
    first = desk.report(bawaslu, report_body(observed_at=observed, election="pilkada-2024"))
    desk.report(perludem, report_body())
    assert desk.review.next("ana", 0, desk.now) is not None
    desk.review.decide(first.case_id, "ana", Outcome.REMOVED, Policy.CIVIC_ELECTION_INTEGRITY, REASON, desk.now)
    closes = datetime(2026, 11, 29, 23, 59, tzinfo=WIB)  # 7 days from the day it was observed
    assert remind(desk, closes - timedelta(days=2, minutes=1)) == []
    assert remind(desk, closes - timedelta(days=2)) == [("statutory_window", bawaslu, "2d")]
    assert remind(desk, closes - timedelta(days=1)) == [("statutory_window", bawaslu, "1d")]
    assert perludem not in {r.partner_id for r in desk.notifier.delivered}


def test_the_daily_digest_goes_once_to_the_partners_with_activity(desk: Desk) -> None:
    active, quiet = desk.partner("Bawaslu RI"), desk.partner("KPU RI")
    desk.report(active, report_body())
    morning = datetime(2026, 11, 24, 8, 0, tzinfo=WIB)
    assert remind(desk, morning - timedelta(minutes=1), timers=False, digest=True) == []
    assert remind(desk, morning, timers=False, digest=True) == [("daily_digest", active, "0h")]
    assert remind(desk, morning + timedelta(hours=3), timers=False, digest=True) == []
    (digest,) = desk.timers.sent(active)
    assert "1 laporan dikirim" in digest.text
    assert quiet not in [r.partner_id for r in desk.timers.sent()]


def test_a_digest_counts_decisions_and_questions_waiting(desk: Desk) -> None:
    bawaslu = desk.partner("Bawaslu RI")
    decided = desk.report(bawaslu, report_body())
    assert desk.review.next("ana", 0, desk.now) is not None
    desk.review.decide(decided.case_id, "ana", Outcome.REMOVED, Policy.MISINFORMATION, REASON, desk.now)
    kpu = desk.partner("KPU RI")
    case_id, _, due = asked(desk, kpu, content_url="https://www.tiktok.com/@lain/video/7300000000000000009")
    morning = datetime(2026, 11, 24, 8, 0, tzinfo=WIB)
    texts = {r.partner_id: r.text for r in desk.reminders().run(morning, timers=False).sent}
    assert "1 laporan dikirim; keputusan: removed: 1; pertanyaan yang menunggu jawaban Anda: -." in texts[bawaslu]
    assert f"keputusan: -; pertanyaan yang menunggu jawaban Anda: {case_id} (25-11-2026 09:00 WIB)." in texts[kpu]
    assert due == datetime(2026, 11, 25, 9, 0, tzinfo=WIB)


PHISHING = "PENTING: akun kanal Anda dibekukan, verifikasi di https://kanal-verifikasi.example/login"


def test_a_forged_or_stale_timer_sends_nothing(desk: Desk) -> None:
    """Timers kanal did not make (or no longer would) send nothing: recipients, deadlines and subjects come from the
    case and its reports, never from the timer."""
    bawaslu, kpu = desk.partner("Bawaslu RI"), desk.partner("KPU RI")
    perludem = desk.partner("Perludem", PartnerKind.CIVIL_SOCIETY)
    first = desk.report(bawaslu, report_body())
    everyone = sorted([bawaslu, kpu, perludem])
    at = T0 + timedelta(minutes=5)

    def forged(kind: ReminderKind, subject: str, offset: str = "1d", case_id: str | None = first.case_id) -> Timer:
        return Timer(
            kind=kind, subject=subject, case_id=case_id, offset=offset, send_at=at, due_at=at, partner_ids=everyone
        )

    desk.timers.add_timers(
        [
            forged(ReminderKind.STATUTORY_WINDOW, PHISHING),  # for a report that does not exist, to every partner
            forged(ReminderKind.STATUTORY_WINDOW, first.report_id),  # a real but undecided report, to everyone
            forged(ReminderKind.ELECTION_MILESTONE, f"{PHISHING}:x", case_id=None),  # not the calendar's, never read
            forged(ReminderKind.REVIEW_OVERDUE, PHISHING, "0h"),  # a deadline that is not the case's
            forged(ReminderKind.INFO_DUE, PHISHING, "2h"),  # a case that has no question
        ]
    )
    assert remind(desk, at + timedelta(minutes=1)) == []
    overdue = first.review_due_at
    stale = {"kind": ReminderKind.REVIEW_OVERDUE, "case_id": first.case_id, "send_at": overdue, "due_at": overdue}
    desk.timers.add_timers(
        [
            Timer(subject=first.case_id, offset="9h", **stale),  # an offset kanal never uses: sent again and again
            Timer(subject=PHISHING, offset="0h", partner_ids=everyone, **stale),  # a copy under another subject
        ]
    )
    sent = desk.reminders().run(overdue + timedelta(minutes=1), digest=False).sent
    assert sorted((r.partner_id, r.offset) for r in sent) == sorted([(LEADS, "0h"), (bawaslu, "0h")])
    assert all(PHISHING not in r.text and PHISHING not in r.subject for r in desk.notifier.delivered)
