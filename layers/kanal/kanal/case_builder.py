"""Grouping reports into cases and sending cases to review: the case builder's rules.

Runs after the partner has its answer, on batches of new reports from the
table's stream. Every step is idempotent, so a batch that fails half-way
(SQS down, a throttled write) is simply delivered again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from kanal.models import Case, CaseEvent, CaseEventKind, CaseStatus, Priority, Report
from kanal.ports import CaseRepository, ReviewQueue, Trail
from kanal.reminders import ReminderStore, overdue_timer

if TYPE_CHECKING:
    from kanal.stats import Counters

#: A second distinct partner reporting the same content is a reason for urgency of its own.
MANY_PARTNERS = 2


def urgency(case: Case, now: datetime) -> list[str]:
    """Every reason the case is urgent now: its reports' own (quiet period, voting day, synthetic media), a
    reopening's, a second partner reporting it, a passed review deadline. Empty: it is not urgent."""
    reasons = set(case.urgent_reasons)
    if len(case.partners) >= MANY_PARTNERS:
        reasons.add("reported_by_several_partners")
    if case.review_due_at <= now:
        reasons.add("review_overdue")
    return sorted(reasons)


def priority_of(case: Case, now: datetime) -> Priority:
    """Which queue a case belongs in now: urgent when it has any reason to be (``urgency``)."""
    return Priority.URGENT if urgency(case, now) else Priority.NORMAL


def queue_to_send(case: Case, now: datetime) -> Priority | None:
    """The queue the case must (still) be sent to, or None.

    A case is queued once when it opens, once more if it becomes urgent
    after being queued as normal, and again when it comes back from
    needs_info (which clears its queue mark); a decided case or one waiting
    for a partner's answer is not queued.
    """
    if case.status is not CaseStatus.RECEIVED:
        return None
    wanted = priority_of(case, now)
    if case.queued is None or (case.queued is Priority.NORMAL and wanted is Priority.URGENT):
        return wanted
    return None


def send_to_review(
    case: Case, priority: Priority, queue: ReviewQueue, cases: CaseRepository, now: datetime, delay_seconds: int = 0
) -> int:
    """Send the case's next message (its ticket one above the case's) to ``priority``'s queue, then record it.

    The message goes first: if recording fails, the message is there anyway and its ticket (above the
    recorded one) counts as current; a retry sends one more copy, never none.
    """
    ticket = case.ticket + 1
    queue.publish(case, priority, ticket, now, delay_seconds)
    cases.mark_queued(case.case_id, priority, ticket, now)
    return ticket


@dataclass(frozen=True)
class CaseBuilder:
    """Attaches new reports to their cases and queues the cases for review."""

    cases: CaseRepository
    queue: ReviewQueue
    trail: Trail
    retention: timedelta
    timers: ReminderStore | None = None
    #: The figures' counters (kanal.stats): each report counted once, after its case is queued.
    counters: Counters | None = None

    def attach(self, reports: Iterable[Report], now: datetime) -> list[Case]:
        """Attach reports to their cases (one write per case) and queue what needs queueing."""
        by_case: dict[str, list[Report]] = defaultdict(list)
        for report in reports:
            by_case[report.case_id].append(report)
        return [self.attach_to_case(case_id, batch, now) for case_id, batch in by_case.items()]

    def attach_to_case(self, case_id: str, reports: list[Report], now: datetime) -> Case:
        """Attach one case's reports and queue it if needed; raises if any step fails (the batch is retried)."""
        latest = max(r.received_at for r in reports)
        case = self.cases.attach(case_id, reports, expires_at=latest + self.retention)
        reasons = sorted({reason for r in reports for reason in case.reopen_reasons(r)})
        if reasons:  # a report the decision did not consider: review again, urgently, rather than inherit
            reopened = self.cases.reopen_decided(case_id, reasons, now)
            if reopened is not None:
                detail = {"reasons": ",".join(reasons)}
                event = CaseEvent(case_id=case_id, kind=CaseEventKind.REOPENED, actor="kanal", at=now, detail=detail)
                self.trail.record([event])
                case = reopened
        queued = self.queue_if_needed(case, now)
        if self.counters is not None:  # after queueing: the figures never hold up a report's way to review
            self.counters.count_reports(queued, reports)
        return queued

    def count_decision(self, case: Case) -> int:
        """Count a case's decision in the figures (from the stream: the case's write to decided); how many of
        its notices changed (none when it was counted before)."""
        return self.counters.count_decision(case) if self.counters is not None else 0

    def requeue(self, case_id: str, now: datetime) -> Case | None:
        """Queue a case again after a partner answered its question (None if the case is unknown)."""
        case = self.cases.get(case_id)
        return self.queue_if_needed(case, now) if case else None

    def queue_if_needed(self, case: Case, now: datetime) -> Case:
        """Send the case to the queue it needs, and record that it was sent."""
        priority = queue_to_send(case, now)
        if priority is None:
            return case
        kind = CaseEventKind.ESCALATED if case.queued is Priority.NORMAL else CaseEventKind.RECEIVED
        ticket = send_to_review(case, priority, self.queue, self.cases, now)
        self.trail.record(
            [CaseEvent(case_id=case.case_id, kind=kind, actor="kanal", at=now, detail={"queue": str(priority)})]
        )
        if self.timers is not None:
            self.timers.add_timers([overdue_timer(case)])  # once per case: an existing timer is kept
        return case.model_copy(update={"queued": priority, "ticket": ticket})
