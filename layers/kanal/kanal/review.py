"""Reviewing cases: claiming from the queues, deciding with reasons, asking partners, releasing.

A claim is a lease: the queue message stays hidden while the reviewer works
(its visibility), and the case records who holds it until when. A decision is
written once with a conditional write, and only then is the message deleted,
so a crash at any point leaves the case either decided or back in its queue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from kanal.calendar import Calendar
from kanal.errors import CaseConflict, CaseNotFound, ReportNotFound, ReviewRefused
from kanal.models import (
    Case,
    CaseEvent,
    CaseEventKind,
    CaseStatus,
    Claim,
    Decision,
    Ground,
    InfoReply,
    Outcome,
    PartnerEvent,
    Policy,
    Question,
    Report,
)
from kanal.ports import CaseRepository, CaseWrite, Delivery, ReportRepository, ReviewInbox, Trail
from kanal.reminders import ReminderStore, default_rules, question_timers, statutory_timers

LEASE = timedelta(minutes=15)
MIN_REASON = 10


@dataclass(frozen=True)
class ClaimedCase:
    """A case held by a reviewer, with everything needed to decide it."""

    case: Case
    reports: list[Report]
    delivery: Delivery


def ground_for(policy: Policy) -> Ground:
    """A decision under national law rests on national law; every other policy on the community guidelines."""
    return Ground.NATIONAL_LAW if policy is Policy.NATIONAL_LAW else Ground.COMMUNITY_GUIDELINES


def is_stale(case: Case | None, delivery: Delivery, reviewer: str, now: datetime) -> bool:
    """Whether a message no longer asks for review: decided, waiting for a partner, or held by someone else."""
    if case is None:
        return False  # unknown case: a poison message, left to the redrive policy
    if case.status is not CaseStatus.RECEIVED or case.held_by_other(reviewer, now):
        return True
    # Escalation queues a case twice; the normal message is stale once the urgent one was sent.
    return case.queued is not None and case.queued is not delivery.queue


@dataclass(frozen=True)
class Review:
    """The moderation team's side of kanal."""

    cases: CaseRepository
    writes: CaseWrite
    trail: Trail
    inbox: ReviewInbox
    lease: timedelta = LEASE
    #: How long a message naming no known case stays hidden per receive; after the queue's
    #: maxReceiveCount it moves to the dead-letter queue instead of blocking reviewers.
    poison_backoff: timedelta = timedelta(seconds=10)
    #: Where deadline reminders are scheduled (questions' answers, agencies' statutory windows).
    timers: ReminderStore | None = None
    calendar: Calendar | None = None

    def next(self, reviewer: str, wait_seconds: int, now: datetime) -> ClaimedCase | None:
        """Claim the next case that needs review, acknowledging stale messages on the way; None if none came."""
        while True:
            delivery = self.inbox.receive(wait_seconds)
            if delivery is None:
                return None
            case = self.cases.get(delivery.case_id) if delivery.case_id else None
            if case is None:
                backoff = self.poison_backoff * delivery.receive_count
                self.inbox.extend(delivery.queue, delivery.receipt, int(backoff.total_seconds()))
                continue
            if is_stale(case, delivery, reviewer, now):
                self.inbox.acknowledge(delivery.queue, delivery.receipt)
                continue
            claim = Claim(
                reviewer=reviewer, expires_at=now + self.lease, queue=delivery.queue, receipt=delivery.receipt
            )
            try:
                held = self.writes.claim(case.case_id, claim, now)
            except CaseConflict:
                self.inbox.acknowledge(delivery.queue, delivery.receipt)
                continue
            self.inbox.extend(delivery.queue, delivery.receipt, int(self.lease.total_seconds()))
            self.trail.record([CaseEvent(case_id=case.case_id, kind=CaseEventKind.CLAIMED, actor=reviewer, at=now)])
            return ClaimedCase(held, self.trail.reports_of(case.case_id), delivery)

    def keep(self, case_id: str, reviewer: str, now: datetime) -> Case:
        """Extend the lease of a case the reviewer is still working on."""
        case = self._held(case_id, reviewer, now)
        assert case.claim is not None
        claim = case.claim.model_copy(update={"expires_at": now + self.lease})
        held = self.writes.claim(case_id, claim, now)
        self.inbox.extend(claim.queue, claim.receipt, int(self.lease.total_seconds()))
        return held

    def decide(self, case_id: str, reviewer: str, outcome: Outcome, policy: Policy, reason: str, now: datetime) -> Case:
        """Decide a held case once; the queue message goes only after the decision is stored."""
        if len(reason.strip()) < MIN_REASON:
            raise ReviewRefused(f"the statement of reasons needs at least {MIN_REASON} characters")
        case = self._held(case_id, reviewer, now)
        decision = Decision(
            outcome=outcome,
            policy=policy,
            ground=ground_for(policy),
            statement_of_reasons=reason.strip(),
            reviewer=reviewer,
            decided_at=now,
        )
        event = CaseEvent(
            case_id=case_id,
            kind=CaseEventKind.DECIDED,
            actor=reviewer,
            at=now,
            detail={"outcome": str(outcome), "policy": str(policy)},
        )
        decided = self._leave_queue(case, reviewer, now, event, lambda: self.writes.decide(case_id, decision))
        if self.timers is not None and self.calendar is not None:
            reports = self.trail.reports_of(case_id)
            self.timers.add_timers(statutory_timers(decided, reports, self.calendar, default_rules()))
        return decided

    def ask(self, case_id: str, reviewer: str, question: str, due_in: timedelta, now: datetime) -> Case:
        """Ask the reporting partners for information; the case leaves the queue until they answer."""
        if len(question.strip()) < MIN_REASON:
            raise ReviewRefused(f"the question needs at least {MIN_REASON} characters")
        case = self._held(case_id, reviewer, now)
        asked = Question(text=question.strip(), due_at=now + due_in, asked_at=now)
        event = CaseEvent(
            case_id=case_id,
            kind=CaseEventKind.INFO_REQUESTED,
            actor=reviewer,
            at=now,
            detail={"due_at": asked.due_at.isoformat()},
        )
        waiting = self._leave_queue(case, reviewer, now, event, lambda: self.writes.ask(case_id, reviewer, asked))
        if self.timers is not None:
            self.timers.add_timers(question_timers(waiting, default_rules()))
        return waiting

    def release(self, case_id: str, reviewer: str, now: datetime) -> Case:
        """Give a held case back to its queue at once."""
        case = self._held(case_id, reviewer, now)
        try:
            released = self.writes.release(case_id, reviewer)
        except CaseConflict as conflict:
            raise self._refusal(case_id, reviewer, now) from conflict
        self.trail.record([CaseEvent(case_id=case_id, kind=CaseEventKind.RELEASED, actor=reviewer, at=now)])
        if case.claim is not None:
            self.inbox.extend(case.claim.queue, case.claim.receipt, 0)
        return released

    def _leave_queue(
        self, case: Case, reviewer: str, now: datetime, event: CaseEvent, write: Callable[[], Case]
    ) -> Case:
        """Store the change (refused if its condition fails), record it, and only then delete the queue message."""
        try:
            changed = write()
        except CaseConflict as conflict:
            raise self._refusal(case.case_id, reviewer, now) from conflict
        self.trail.record([event])
        if case.claim is not None:
            self.inbox.acknowledge(case.claim.queue, case.claim.receipt)
        return changed

    def _held(self, case_id: str, reviewer: str, now: datetime) -> Case:
        case = self.cases.get(case_id)
        if case is None:
            raise CaseNotFound(case_id)
        if case.status is not CaseStatus.RECEIVED or case.claim is None or case.claim.reviewer != reviewer:
            raise self._refusal(case_id, reviewer, now, case)
        return case

    def _refusal(self, case_id: str, reviewer: str, now: datetime, case: Case | None = None) -> ReviewRefused:
        case = case or self.cases.get(case_id)
        if case is None:
            return ReviewRefused(f"case {case_id} does not exist")
        if case.status is CaseStatus.DECIDED:
            return ReviewRefused(f"case {case_id} is already decided")
        if case.status is CaseStatus.NEEDS_INFO:
            return ReviewRefused(f"case {case_id} is waiting for the partners' information")
        if case.held_by_other(reviewer, now) and case.claim is not None:
            return ReviewRefused(
                f"case {case_id} is held by {case.claim.reviewer} until {case.claim.expires_at:%H:%M} UTC"
            )
        return ReviewRefused(f"case {case_id} is not held by {reviewer}: claim it with `kanal review next` first")


def partner_history(events: list[CaseEvent], partner_id: str) -> list[PartnerEvent]:
    """A case's trail as one of its partners sees it: no reviewers' names, nothing another partner did."""
    return [
        PartnerEvent(kind=e.kind, at=e.at) for e in events if not (e.actor.startswith("p_") and e.actor != partner_id)
    ]


@dataclass(frozen=True)
class Answers:
    """A partner's answers to the reviewers' questions."""

    reports: ReportRepository
    cases: CaseRepository
    writes: CaseWrite

    def provide(self, partner_id: str, report_id: str, reply: InfoReply, now: datetime) -> Case:
        """Record the answer and return the case to review (the stream puts it back in its queue)."""
        report = self.reports.get(report_id)
        if report is None or report.partner_id != partner_id:
            raise ReportNotFound(report_id)
        case = self.cases.get(report.case_id)
        if case is None or case.status is not CaseStatus.NEEDS_INFO:
            raise CaseConflict("no question is waiting for an answer on this report")
        detail = {"report_id": report_id, "message": reply.message}
        if reply.evidence_urls:
            detail["evidence_urls"] = "\n".join(reply.evidence_urls)
        event = CaseEvent(
            case_id=case.case_id, kind=CaseEventKind.INFO_PROVIDED, actor=partner_id, at=now, detail=detail
        )
        return self.writes.reopen(case.case_id, event)
