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

from kanal.models import Case, CaseStatus, Priority, Report
from kanal.ports import CaseRepository, ReviewQueue

#: A second distinct partner reporting the same content is a reason for urgency of its own.
MANY_PARTNERS = 2


def priority_of(case: Case) -> Priority:
    """Which queue a case belongs in now."""
    if case.urgent_reasons or len(case.partners) >= MANY_PARTNERS:
        return Priority.URGENT
    return Priority.NORMAL


def queue_to_send(case: Case) -> Priority | None:
    """The queue the case must (still) be sent to, or None.

    A case is queued once when it opens and once more if it becomes urgent
    after being queued as normal; a decided case or one waiting for a
    partner's answer is not queued.
    """
    if case.status is not CaseStatus.RECEIVED:
        return None
    wanted = priority_of(case)
    if case.queued is None or (case.queued is Priority.NORMAL and wanted is Priority.URGENT):
        return wanted
    return None


@dataclass(frozen=True)
class CaseBuilder:
    """Attaches new reports to their cases and queues the cases for review."""

    cases: CaseRepository
    queue: ReviewQueue
    retention: timedelta

    def attach(self, reports: Iterable[Report], now: datetime) -> list[Case]:
        """Attach reports to their cases (one write per case) and queue what needs queueing."""
        by_case: dict[str, list[Report]] = defaultdict(list)
        for report in reports:
            by_case[report.case_id].append(report)
        return [self.attach_to_case(case_id, batch, now) for case_id, batch in by_case.items()]

    def attach_to_case(self, case_id: str, reports: list[Report], now: datetime) -> Case:
        """Attach one case's reports and queue it if needed; raises if any step fails."""
        latest = max(r.received_at for r in reports)
        case = self.cases.attach(case_id, reports, expires_at=latest + self.retention)
        priority = queue_to_send(case)
        if priority is not None:
            self.queue.publish(case, priority, now)
            self.cases.mark_queued(case_id, priority, now)
            case = case.model_copy(update={"queued": priority})
        return case
