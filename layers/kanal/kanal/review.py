"""Reviewing cases: claiming from the queues, deciding with reasons, asking partners, releasing.

A claim is a lease: the queue message stays hidden while the reviewer works
(its visibility), and the case records who holds it until when. A decision is
written once with a conditional write, and only then is the message deleted,
so a crash at any point leaves the case either decided or back in its queue.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kanal.calendar import Calendar
from kanal.case_builder import priority_of, send_to_review
from kanal.errors import CaseConflict, CaseNotFound, NewReports, ReportNotFound, ReviewRefused
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
    Policy,
    Question,
    Report,
    report_position,
)
from kanal.ports import CaseRepository, CaseWrite, ReportRepository, ReviewInbox, ReviewMessage, ReviewQueue, Trail
from kanal.reminders import ReminderStore, default_rules, local_time, question_timers, statutory_timers

LEASE = timedelta(minutes=15)
MIN_REASON = 10
#: How many messages one ``Review.next`` settles at most before it answers "none yet".
MAX_SETTLED = 20


@dataclass(frozen=True)
class ClaimedCase:
    """A case held by a reviewer, with everything needed to decide it."""

    case: Case
    reports: list[Report]
    delivery: ReviewMessage


def ground_for(policy: Policy) -> Ground:
    """A decision under national law rests on national law; every other policy on the community guidelines."""
    return Ground.NATIONAL_LAW if policy is Policy.NATIONAL_LAW else Ground.COMMUNITY_GUIDELINES


def in_review(case: Case, live_tickets: Iterable[int | None], now: datetime) -> bool:
    """kanal's first promise, for one case: an undecided case whose status is ``received`` is held by an
    unexpired claim or has a message on a review queue that a worker will not drop as superseded.

    ``live_tickets`` are the tickets of the case's messages that are still on a review queue (visible or in
    flight); None is a message from before tickets, taken as current. Used by the stateful tests over every
    interleaving, and by the reconciler, which knows the queues only through what the case records.
    """
    if not case.awaiting_review or case.held(now):
        return True
    return any(ticket is None or ticket >= case.ticket for ticket in live_tickets)


class Verdict(StrEnum):
    """What a worker does with a message it received."""

    CLAIM = "claim"
    #: Delete: the case needs no review (decided, or waiting for a partner), or the message is a superseded copy.
    DROP = "drop"
    #: Keep it hidden until the holder's claim ends: it is what brings the case back if the holder goes.
    HIDE = "hide"
    #: As HIDE, but as a fresh copy: the message was received often and would reach the dead-letter queue.
    REFRESH = "refresh"
    #: No such case: hidden longer at each receive, then dead-lettered by the queue's redrive policy.
    POISON = "poison"


@dataclass(frozen=True)
class Judgement:
    """A verdict on a message, why, and for how long to hide it."""

    verdict: Verdict
    reason: str
    hide_seconds: int = 0


#: A message kept hidden (or claimed) this many times is replaced by a fresh copy before the queue's
#: maxReceiveCount (5) could dead-letter it.
REFRESH_AT = 3


def judge(case: Case | None, delivery: ReviewMessage, reviewer: str, now: datetime) -> Judgement:
    """What to do with a delivered message. A message is deleted only when that cannot take the case out of
    review: the case is decided or waits for a partner (whose answer, or its deadline, queues it again), the
    message's ticket is older than the case's newest, or it is another copy of the message the holder holds.
    """
    if case is None:
        return Judgement(Verdict.POISON, "no such case")
    if case.status is CaseStatus.DECIDED:
        return Judgement(Verdict.DROP, "decided")
    if case.status is CaseStatus.NEEDS_INFO:
        return Judgement(Verdict.DROP, "waiting for the partners' information")
    ticket = case.ticket if delivery.ticket is None else delivery.ticket
    if ticket < case.ticket:
        return Judgement(Verdict.DROP, "superseded by a newer message")
    claim = case.claim
    if claim is None or claim.expires_at <= now or claim.reviewer == reviewer:
        return Judgement(Verdict.CLAIM, "needs review")
    remaining = max(1, math.ceil((claim.expires_at - now).total_seconds()) + 1)
    same = bool(claim.message_id) and delivery.message_id == claim.message_id
    if not same and claim.message_id and claim.ticket >= ticket:
        return Judgement(Verdict.DROP, "another copy of the held message")
    if not same and delivery.receive_count >= REFRESH_AT:
        return Judgement(Verdict.REFRESH, "held by another reviewer", min(remaining, MAX_DELAY_SECONDS))
    return Judgement(Verdict.HIDE, "held by another reviewer", remaining)


#: SQS's longest DelaySeconds, and so the longest a fresh copy can wait to become visible.
MAX_DELAY_SECONDS = 900


@dataclass(frozen=True)
class Review:
    """The moderation team's side of kanal."""

    cases: CaseRepository
    writes: CaseWrite
    trail: Trail
    inbox: ReviewInbox
    #: Where a released case's fresh message goes.
    queue: ReviewQueue
    lease: timedelta = LEASE
    #: How long a message naming no known case stays hidden per receive; after the queue's
    #: maxReceiveCount it moves to the dead-letter queue instead of blocking reviewers.
    poison_backoff: timedelta = timedelta(seconds=10)
    #: Where deadline reminders are scheduled (questions' answers, agencies' statutory windows).
    timers: ReminderStore | None = None
    calendar: Calendar | None = None

    def next(self, reviewer: str, wait_seconds: int, now: datetime | Callable[[], datetime]) -> ClaimedCase | None:
        """Claim the next case that needs review, settling other messages on the way; None if none came.

        ``now`` is the time, or a clock read after each receive (a long poll takes up to ``wait_seconds``). Only
        the first receive waits, and at most MAX_SETTLED messages are settled in one call: a call returns in
        about ``wait_seconds`` however many superseded copies the queues hold, and the caller asks again."""
        clock = now if callable(now) else (lambda: now)
        wait = wait_seconds
        for _ in range(MAX_SETTLED):
            delivery = self.inbox.receive(wait)
            if delivery is None:
                return None
            claimed = self._settle(delivery, reviewer, clock())
            if claimed is not None:
                return claimed
            wait = 0
        return None

    def _settle(self, delivery: ReviewMessage, reviewer: str, now: datetime) -> ClaimedCase | None:
        """Claim the delivered case, or do what its verdict says with the message."""
        case = self.cases.get(delivery.case_id) if delivery.case_id else None
        for _ in range(3):  # a claim lost to a racing reviewer is judged again on the case as it is now
            judgement = judge(case, delivery, reviewer, now)
            if judgement.verdict is not Verdict.CLAIM:
                break
            assert case is not None
            claimed = self._claim(case, delivery, reviewer, now)
            if claimed is not None:
                return claimed
            case = self.cases.get(case.case_id)
        else:
            judgement = Judgement(Verdict.HIDE, "claim contended", int(self.poison_backoff.total_seconds()) or 1)
        if judgement.verdict is Verdict.POISON:
            backoff = self.poison_backoff * delivery.receive_count
            self.inbox.extend(delivery.queue, delivery.handle, int(backoff.total_seconds()))
        elif judgement.verdict is Verdict.DROP:
            self.inbox.acknowledge(delivery.queue, delivery.handle)
        elif judgement.verdict is Verdict.HIDE:
            self.inbox.extend(delivery.queue, delivery.handle, judgement.hide_seconds)
        elif judgement.verdict is Verdict.REFRESH:
            assert case is not None
            ticket = case.ticket if delivery.ticket is None else delivery.ticket
            self.queue.publish(case, delivery.queue, ticket, now, judgement.hide_seconds)
            self.inbox.acknowledge(delivery.queue, delivery.handle)
        return None

    def _claim(self, case: Case, delivery: ReviewMessage, reviewer: str, now: datetime) -> ClaimedCase | None:
        """Hold the case for the lease, recording which reports the reviewer is shown; None if another
        reviewer's claim won the race."""
        ticket = case.ticket if delivery.ticket is None else delivery.ticket
        reports = self.trail.reports_of(case.case_id)
        fresh = delivery.receive_count >= REFRESH_AT
        message_id, handle = delivery.message_id, delivery.handle
        if fresh:
            # Often received (lapsed claims): hold a fresh copy that shows up when the lease would lapse, so
            # the queue never dead-letters the case's message. The claim holds the copy, not this handle.
            message_id, handle = self.queue.publish(case, delivery.queue, ticket, now, MAX_DELAY_SECONDS), ""
        claim = Claim(
            reviewer=reviewer,
            expires_at=now + self.lease,
            queue=delivery.queue,
            handle=handle,
            ticket=ticket,
            message_id=message_id,
            seen_until=position_of(reports),
            seen_count=len(reports),
        )
        try:
            held = self.writes.claim(case.case_id, claim, now)
        except CaseConflict:
            return None
        if fresh:
            self.inbox.acknowledge(delivery.queue, delivery.handle)
        else:
            self.inbox.extend(delivery.queue, delivery.handle, int(self.lease.total_seconds()))
        self.trail.record([CaseEvent(case_id=case.case_id, kind=CaseEventKind.CLAIMED, actor=reviewer, at=now)])
        return ClaimedCase(held, reports, delivery)

    def keep(self, case_id: str, reviewer: str, now: datetime) -> Case:
        """Extend the lease of a case the reviewer is still working on."""
        case = self._held(case_id, reviewer, now)
        assert case.claim is not None
        claim = case.claim.model_copy(update={"expires_at": now + self.lease})
        held = self.writes.claim(case_id, claim, now)
        if claim.handle:
            self.inbox.extend(claim.queue, claim.handle, int(self.lease.total_seconds()))
        return held

    def decide(self, case_id: str, reviewer: str, outcome: Outcome, policy: Policy, reason: str, now: datetime) -> Case:
        """Decide a held case once; the queue message goes only after the decision is stored."""
        if len(reason.strip()) < MIN_REASON:
            raise ReviewRefused(f"the statement of reasons needs at least {MIN_REASON} characters")
        case = self._held(case_id, reviewer, now)
        assert case.claim is not None
        seen = case.claim.seen_until
        count = self.trail.count_reports(case_id) if seen is not None else 0
        if seen is not None and count > case.claim.seen_count:
            # Decide what you saw: what arrived since the view is shown, then the reviewer decides again. The
            # reports from a little before the view's last one are shown too: clocks of two intake instances
            # may differ, so a report stored after the view can carry a slightly earlier time.
            recent = self.trail.reports_after(case_id, shifted(seen, -CLOCK_SKEW))
            raise NewReports(case_id, recent, count - case.claim.seen_count)
        decision = Decision(
            outcome=outcome,
            policy=policy,
            ground=ground_for(policy),
            statement_of_reasons=reason.strip(),
            reviewer=reviewer,
            decided_at=now,
            covers_until=seen,
            report_count=case.claim.seen_count if seen is not None else None,
            categories=sorted(case.categories),
        )
        event = CaseEvent(
            case_id=case_id,
            kind=CaseEventKind.DECIDED,
            actor=reviewer,
            at=now,
            # Everything partners are told of the decision, so that their events derive from this entry alone
            # (the case may be reopened and decided again before the stream delivers it).
            detail={
                "outcome": str(outcome),
                "policy": str(policy),
                "ground": str(decision.ground),
                "statement_of_reasons": decision.statement_of_reasons,
            },
        )
        decided = self._leave_queue(case, reviewer, now, event, lambda: self.writes.decide(case_id, decision))
        if self.timers is not None and self.calendar is not None:
            reports = self.trail.reports_of(case_id)
            self.timers.add_timers(statutory_timers(decided, reports, self.calendar, default_rules()))
        return decided

    def saw(self, case_id: str, reviewer: str, reports: list[Report], now: datetime) -> Case:
        """Record that the holder has now been shown every report up to the latest of ``reports``."""
        case = self._held(case_id, reviewer, now)
        assert case.claim is not None
        position = max(filter(None, [position_of(reports), case.claim.seen_until]))
        seen = case.claim.model_copy(update={"seen_until": position, "seen_count": self.trail.count_reports(case_id)})
        return self.writes.claim(case_id, seen, now)

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
            detail={"due_at": asked.due_at.isoformat(), "question": asked.text},
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
        # A fresh message on the queue the case belongs in now (it may have become urgent while held), with a
        # new ticket that supersedes every older copy; only then does the held message go.
        send_to_review(released, priority_of(released, now), self.queue, self.cases, now)
        if case.claim is not None and case.claim.handle:
            self.inbox.acknowledge(case.claim.queue, case.claim.handle)
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
        if case.claim is not None and case.claim.handle:
            self.inbox.acknowledge(case.claim.queue, case.claim.handle)
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
                f"case {case_id} is held by another reviewer until {local_time(case.claim.expires_at)}"
            )
        return ReviewRefused(f"case {case_id} is not held by {reviewer}: claim it with `kanal review next` first")


#: How far apart two intake instances' clocks may be (a report's received time comes from its instance).
CLOCK_SKEW = timedelta(seconds=5)


def shifted(position: str, by: timedelta) -> str:
    """A report position moved in time (the id part dropped: it sorts before every report at that moment)."""
    moment = datetime.fromisoformat(position.split("#", 1)[0]) + by
    return report_position(moment, "")


def questions_asked(events: list[CaseEvent]) -> list[dict[str, str | None]]:
    """Every question reviewers asked about a case, with the partner's answer (or that none came), oldest first."""
    asked: list[dict[str, str | None]] = []
    for event in events:
        if event.kind is CaseEventKind.INFO_REQUESTED:
            asked.append(
                {
                    "question": event.detail.get("question"),
                    "asked_at": event.at.isoformat(),
                    "due_at": event.detail.get("due_at"),
                    "answer": None,
                    "answered_by_report": None,
                    "evidence_urls": None,
                    "answered_at": None,
                }
            )
        elif event.kind in (CaseEventKind.INFO_PROVIDED, CaseEventKind.INFO_NOT_PROVIDED) and asked:
            last = asked[-1]
            if last["answered_at"] is None:
                last["answered_at"] = event.at.isoformat()
                last["answer"] = event.detail.get("message")
                last["answered_by_report"] = event.detail.get("report_id")
                last["evidence_urls"] = event.detail.get("evidence_urls")
    return asked


def position_of(reports: list[Report]) -> str | None:
    """The position of the latest of ``reports`` (None for none)."""
    return max((report_position(r.received_at, r.report_id) for r in reports), default=None)


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
