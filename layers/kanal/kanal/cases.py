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

from kanal.models import Case, CaseEvent, CaseEventKind, CaseStatus, Priority, Report
from kanal.ports import CaseRepository, ReviewQueue, Trail
from kanal.reminders import ReminderStore, overdue_timer

#: A second distinct partner reporting the same content is a reason for urgency of its own.
MANY_PARTNERS = 2


def priority_of(case: Case, now: datetime) -> Priority:
    """Which queue a case belongs in now: urgent for its reports' reasons, a second partner, or a passed deadline."""
    if case.urgent_reasons or len(case.partners) >= MANY_PARTNERS or case.review_due_at <= now:
        return Priority.URGENT
    return Priority.NORMAL


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


@dataclass(frozen=True)
class CaseBuilder:
    """Attaches new reports to their cases and queues the cases for review."""

    cases: CaseRepository
    queue: ReviewQueue
    trail: Trail
    retention: timedelta
    timers: ReminderStore | None = None

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
        self.trail.record(
            [
                CaseEvent(
                    case_id=case_id,
                    kind=CaseEventKind.REPORT_ATTACHED,
                    actor=r.partner_id,
                    at=r.received_at,
                    detail={"report_id": r.report_id, "category": str(r.category)},
                )
                for r in reports
            ]
        )
        return self.queue_if_needed(case, now)

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
        self.queue.publish(case, priority, now)
        self.cases.mark_queued(case.case_id, priority, now)
        self.trail.record(
            [CaseEvent(case_id=case.case_id, kind=kind, actor="kanal", at=now, detail={"queue": str(priority)})]
        )
        if self.timers is not None:
            self.timers.add_timers([overdue_timer(case)])  # once per case: an existing timer is kept
        return case.model_copy(update={"queued": priority})
