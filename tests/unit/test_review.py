"""Review's rules on in-memory fakes (tests.support.fakes), in milliseconds: claim, keep, release, decide and ask,
what is refused and how, urgent before normal, stale and poison messages, what a decision covers, the deadlines
that deciding and asking set. The same flows through the handlers, SQS and DynamoDB on moto:
tests/component/test_review.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from kanal.errors import CaseConflict, CaseNotFound, NewReports, ReportNotFound, ReviewRefused
from kanal.models import CaseEventKind, CaseStatus, InfoReply, Outcome, PartnerKind, Policy, Priority
from kanal.reminders import ReminderKind, default_rules, statutory_timers
from kanal.review import LEASE

from tests.support.fakes import Desk
from tests.support.reports import NOW, REASON, VIDEO, report_body

QUESTION = "Di TPS mana kejadian ini terjadi?"


@pytest.fixture
def desk() -> Desk:
    return Desk(NOW)


def kinds(desk: Desk, case_id: str) -> list[CaseEventKind]:
    return [e.kind for e in desk.trail.history(case_id)]


def test_claim_then_decide_and_only_then_the_message_goes(desk: Desk) -> None:
    partner = desk.partner("Bawaslu RI")
    report = desk.report(partner, report_body())
    claimed = desk.review.next("ana", 0, desk.later(minutes=1))
    assert claimed is not None
    assert claimed.case.case_id == report.case_id
    assert [r.report_id for r in claimed.reports] == [report.report_id]
    assert claimed.delivery.queue == Priority.NORMAL
    assert claimed.case.claim is not None
    assert (claimed.case.claim.reviewer, claimed.case.claim.expires_at) == ("ana", desk.now + LEASE)
    (held,) = desk.queues.on("normal")
    assert held.visible_at == desk.now + LEASE  # hidden for the lease
    decided = desk.review.decide(report.case_id, "ana", Outcome.REMOVED, Policy.MISINFORMATION, REASON, desk.now)
    assert decided.status is CaseStatus.DECIDED
    assert decided.claim is None
    assert decided.decision is not None
    assert decided.decision.ground == "community_guidelines"
    assert decided.decision.statement_of_reasons == REASON
    assert decided.decision.report_count == 1
    assert desk.queues.messages == {}  # deleted after the decision was stored
    assert [k for k in kinds(desk, report.case_id) if k is not CaseEventKind.REPORT_ATTACHED] == [
        CaseEventKind.RECEIVED,
        CaseEventKind.CLAIMED,
        CaseEventKind.DECIDED,
    ]
    with pytest.raises(ReviewRefused, match="already decided"):
        desk.review.decide(report.case_id, "ana", Outcome.LABELLED, Policy.MISINFORMATION, REASON, desk.now)


def test_reasons_and_questions_need_ten_characters_and_nothing_changes(desk: Desk) -> None:
    report = desk.report(desk.partner("Bawaslu RI"), report_body())
    claimed = desk.review.next("ana", 0, desk.now)
    assert claimed is not None
    with pytest.raises(ReviewRefused, match="at least 10"):
        desk.review.decide(report.case_id, "ana", Outcome.REMOVED, Policy.MISINFORMATION, "  too short ", desk.now)
    with pytest.raises(ReviewRefused, match="at least 10"):
        desk.review.ask(report.case_id, "ana", "why?", timedelta(hours=48), desk.now)
    assert desk.cases.get(report.case_id) == claimed.case  # still held by ana, undecided, unasked
    assert len(desk.queues.on("normal")) == 1


def test_a_held_case_is_refused_to_others_without_naming_the_holder(desk: Desk) -> None:
    report = desk.report(desk.partner("Bawaslu RI"), report_body())
    assert desk.review.next("ana", 0, desk.now) is not None
    assert desk.review.next("budi", 0, desk.now) is None  # hidden while ana holds it
    for act in (
        lambda: desk.review.decide(report.case_id, "budi", Outcome.REMOVED, Policy.MISINFORMATION, REASON, desk.now),
        lambda: desk.review.keep(report.case_id, "budi", desk.now),
        lambda: desk.review.release(report.case_id, "budi", desk.now),
        lambda: desk.review.ask(report.case_id, "budi", QUESTION, timedelta(hours=48), desk.now),
    ):
        with pytest.raises(ReviewRefused, match="held by another reviewer until") as refused:
            act()
        assert "ana" not in str(refused.value)  # nothing tells an impersonator whom to type
    case = desk.cases.get(report.case_id)
    assert case is not None
    assert case.claim is not None
    assert case.claim.reviewer == "ana"


def test_a_vanished_reviewers_case_comes_back_when_the_lease_lapses(desk: Desk) -> None:
    report = desk.report(desk.partner("Bawaslu RI"), report_body())
    assert desk.review.next("ana", 0, desk.now) is not None
    assert desk.review.next("budi", 0, desk.later(minutes=14)) is None
    claimed = desk.review.next("budi", 0, desk.later(minutes=2))  # ana never came back
    assert claimed is not None
    assert claimed.case.case_id == report.case_id
    with pytest.raises(ReviewRefused, match="held by another reviewer until"):
        desk.review.decide(report.case_id, "ana", Outcome.REMOVED, Policy.MISINFORMATION, REASON, desk.now)
    desk.review.decide(report.case_id, "budi", Outcome.NO_VIOLATION, Policy.MISINFORMATION, REASON, desk.now)
    with pytest.raises(ReviewRefused, match="already decided"):
        desk.review.decide(report.case_id, "ana", Outcome.REMOVED, Policy.MISINFORMATION, REASON, desk.now)


def test_keep_extends_the_lease_and_keeps_the_message_hidden(desk: Desk) -> None:
    report = desk.report(desk.partner("Bawaslu RI"), report_body())
    assert desk.review.next("ana", 0, desk.now) is not None
    kept = desk.review.keep(report.case_id, "ana", desk.later(minutes=10))
    assert kept.claim is not None
    assert kept.claim.expires_at == desk.now + LEASE
    (held,) = desk.queues.on("normal")
    assert held.visible_at == desk.now + LEASE
    assert desk.review.next("budi", 0, desk.later(minutes=10)) is None  # past the first lease, within the kept one
    decided = desk.review.decide(report.case_id, "ana", Outcome.LABELLED, Policy.MISINFORMATION, REASON, desk.now)
    assert decided.status is CaseStatus.DECIDED


def test_release_requeues_on_the_queue_the_case_belongs_in_now(desk: Desk) -> None:
    """Escalated while held: another partner reports the video; the release sends the case to the urgent queue with
    a ticket that supersedes every older copy, which are then settled without reaching a reviewer."""
    first = desk.report(desk.partner("Bawaslu RI"), report_body())
    held = desk.review.next("ana", 0, desk.now)
    assert held is not None
    assert held.delivery.queue == Priority.NORMAL
    desk.report(desk.partner("Perludem", PartnerKind.CIVIL_SOCIETY), report_body())  # an urgent copy is queued
    assert desk.review.next("budi", 0, desk.now) is None  # held by ana: the copy is kept hidden, not deleted
    assert len(desk.queues.on("urgent")) == 1
    assert desk.review.release(first.case_id, "ana", desk.now).claim is None
    released = desk.cases.get(first.case_id)
    assert released is not None
    assert (released.queued, released.ticket) == (Priority.URGENT, 3)
    assert desk.queues.on("normal") == []  # the held message went after the fresh one was sent
    assert [m.ticket for m in desk.queues.on("urgent")] == [2, 3]
    claimed = desk.review.next("budi", 0, desk.later(minutes=16))
    assert claimed is not None
    assert claimed.case.case_id == first.case_id
    assert claimed.delivery.ticket == released.ticket  # the old copy was dropped as superseded
    assert CaseEventKind.RELEASED in kinds(desk, first.case_id)
    desk.review.decide(first.case_id, "budi", Outcome.REMOVED, Policy.MISINFORMATION, REASON, desk.now)
    assert desk.review.next("citra", 0, desk.later(hours=1)) is None
    assert desk.queues.messages == {}


def test_an_escalated_case_comes_from_urgent_and_its_normal_copy_is_dropped(desk: Desk) -> None:
    first = desk.report(desk.partner("Bawaslu RI"), report_body())
    desk.report(desk.partner("Perludem", PartnerKind.CIVIL_SOCIETY), report_body(content_url=VIDEO + "?lang=id"))
    assert [len(desk.queues.on(q)) for q in ("urgent", "normal")] == [1, 1]
    claimed = desk.review.next("ana", 0, desk.now)
    assert claimed is not None
    assert claimed.delivery.queue == Priority.URGENT
    assert claimed.case.partners == {"p_01", "p_02"}
    desk.review.decide(first.case_id, "ana", Outcome.REMOVED, Policy.MISINFORMATION, REASON, desk.now)
    assert desk.review.next("budi", 0, desk.now) is None  # the normal copy is deleted, not shown
    assert desk.queues.messages == {}
    assert CaseEventKind.ESCALATED in kinds(desk, first.case_id)


def test_urgent_cases_come_before_normal_ones(desk: Desk) -> None:
    partner = desk.partner("Bawaslu RI")
    ordinary = desk.report(partner, report_body(content_url=f"{VIDEO[:-1]}5"))
    synthetic = desk.report(partner, report_body(content_url=f"{VIDEO[:-1]}6", category="synthetic_media"))
    first, second = desk.review.next("ana", 0, desk.now), desk.review.next("budi", 0, desk.now)
    assert first is not None
    assert second is not None
    assert (first.case.case_id, first.delivery.queue) == (synthetic.case_id, Priority.URGENT)
    assert (second.case.case_id, second.delivery.queue) == (ordinary.case_id, Priority.NORMAL)
    assert desk.review.next("citra", 0, desk.now) is None


def test_messages_naming_no_case_reach_the_dead_letters_without_blocking(desk: Desk) -> None:
    desk.queues.send(None, "urgent")  # a body that is not a review message
    desk.queues.send("c_unknown", "urgent")
    report = desk.report(desk.partner("Bawaslu RI"), report_body())
    claimed = desk.review.next("ana", 0, desk.now)
    assert claimed is not None
    assert claimed.case.case_id == report.case_id
    assert sorted(str(m.case_id) for m in desk.queues.dead.values()) == ["None", "c_unknown"]


def test_a_question_takes_the_case_off_the_queues_until_the_partner_answers(desk: Desk) -> None:
    partner = desk.partner("Bawaslu RI")
    report = desk.report(partner, report_body())
    assert desk.review.next("ana", 0, desk.now) is not None
    asked = desk.review.ask(report.case_id, "ana", QUESTION, timedelta(hours=48), desk.later(minutes=2))
    assert asked.status is CaseStatus.NEEDS_INFO
    assert asked.claim is None
    assert asked.question is not None
    assert (asked.question.text, asked.question.due_at) == (QUESTION, desk.now + timedelta(hours=48))
    assert desk.queues.messages == {}
    question_timers = sorted(
        (str(t.kind), t.offset, t.send_at) for t in desk.timers.timers.values() if t.subject == report.case_id
    )
    due = asked.question.due_at
    assert [t for t in question_timers if t[0] != ReminderKind.REVIEW_OVERDUE] == [
        ("info_due", "24h", due - timedelta(hours=24)),
        ("info_due", "2h", due - timedelta(hours=2)),
        ("info_not_provided", "0h", due),
    ]
    with pytest.raises(ReviewRefused, match="waiting for the partners' information"):
        desk.review.decide(report.case_id, "ana", Outcome.REMOVED, Policy.MISINFORMATION, REASON, desk.now)
    assert desk.review.next("budi", 0, desk.now) is None
    stranger = desk.partner("KPU RI")
    with pytest.raises(ReportNotFound):
        desk.answers.provide(stranger, report.report_id, InfoReply(message="TPS 12, Menteng."), desk.now)
    answered = desk.answers.provide(
        partner, report.report_id, InfoReply(message="TPS 12, Menteng."), desk.later(hours=1)
    )
    assert answered.status is CaseStatus.RECEIVED
    assert answered.question is None
    with pytest.raises(CaseConflict):  # nothing is waiting any more
        desk.answers.provide(partner, report.report_id, InfoReply(message="TPS 12, Menteng."), desk.now)
    desk.builder.requeue(report.case_id, desk.now)  # the answer's stream record puts it back in its queue
    claimed = desk.review.next("budi", 0, desk.now)
    assert claimed is not None
    assert claimed.case.case_id == report.case_id
    assert kinds(desk, report.case_id)[-4:] == [
        CaseEventKind.INFO_REQUESTED,
        CaseEventKind.INFO_PROVIDED,
        CaseEventKind.RECEIVED,
        CaseEventKind.CLAIMED,
    ]


def test_a_decision_covers_what_the_reviewer_saw(desk: Desk) -> None:
    first = desk.report(desk.partner("Bawaslu RI"), report_body())
    claimed = desk.review.next("ana", 0, desk.now)
    assert claimed is not None
    kpu = desk.partner("KPU RI")
    late = desk.report(kpu, report_body(category="synthetic_media"), delivered=False)
    desk.later(minutes=1)
    desk.deliver(late)
    with pytest.raises(NewReports, match="1 report") as refused:
        desk.review.decide(first.case_id, "ana", Outcome.NO_VIOLATION, Policy.MISINFORMATION, REASON, desk.now)
    assert late.report_id in [r.report_id for r in refused.value.reports]
    desk.review.saw(first.case_id, "ana", refused.value.reports, desk.now)
    decided = desk.review.decide(first.case_id, "ana", Outcome.REMOVED, Policy.SYNTHETIC_MEDIA, REASON, desk.now)
    assert decided.decision is not None
    assert decided.decision.report_count == 2
    assert decided.decision.categories == ["misinformation", "synthetic_media"]


def test_a_decision_on_national_law_sets_each_reporting_agencys_statutory_window(desk: Desk) -> None:
    agency = desk.report(desk.partner("Bawaslu RI"), report_body())
    desk.report(desk.partner("Perludem", PartnerKind.CIVIL_SOCIETY), report_body())
    assert desk.review.next("ana", 0, desk.now) is not None
    decided = desk.review.decide(agency.case_id, "ana", Outcome.LABELLED, Policy.NATIONAL_LAW, REASON, desk.now)
    assert decided.decision is not None
    assert decided.decision.ground == "national_law"
    windows = [t for t in desk.timers.timers.values() if t.kind is ReminderKind.STATUTORY_WINDOW]
    expected = statutory_timers(decided, desk.trail.reports_of(agency.case_id), desk.calendar, default_rules())
    assert sorted(windows, key=lambda t: t.offset) == sorted(expected, key=lambda t: t.offset)
    assert {t.subject for t in windows} == {agency.report_id}  # the civil-society group has no statutory window
    assert {tuple(t.partner_ids) for t in windows} == {(agency.partner_id,)}


def test_what_no_one_holds_is_refused_with_what_to_do(desk: Desk) -> None:
    report = desk.report(desk.partner("Bawaslu RI"), report_body())
    with pytest.raises(ReviewRefused, match="is not held by ana: claim it with `kanal review next` first"):
        desk.review.decide(report.case_id, "ana", Outcome.REMOVED, Policy.MISINFORMATION, REASON, desk.now)
    with pytest.raises(CaseNotFound):
        desk.review.keep("c_nothing", "ana", desk.now)
    with pytest.raises(CaseNotFound):
        desk.review.release("c_nothing", "ana", desk.now)
