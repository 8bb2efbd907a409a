"""The reconciler: defence in depth for kanal's first promise (``review.in_review``).

The review rules keep every case that awaits review on a queue or under a claim, whatever interleaves
(``tests/unit/test_review_invariant.py`` drives them over every interleaving). The reconciler catches what
they cannot see: a case reopened by a partner's answer (or its deadline) whose stream record never
queued it, and a case whose message the queue dead-lettered. It puts each back on the queue it belongs in,
records ``requeued`` with the reason on its trail, and the function counts it (``CasesRequeued``, alarmed).

Its reads grow with the suspects, never with all cases: the reopenings of the last days not yet checked
(an index entry that the check removes) and the messages in the dead-letter queues.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from kanal.case_builder import priority_of, send_to_review
from kanal.models import Case, CaseEvent, CaseEventKind, Priority
from kanal.ports import CaseRepository, DeadLetters, ReviewMessage, ReviewQueue, Suspects, Trail
from kanal.review import in_review

#: How long a reopened case may wait for its stream record to queue it before the reconciler steps in.
GRACE = timedelta(minutes=10)
#: How long a dead letter naming no case is set aside before it is looked at again (it stays, and alarms).
SET_ASIDE = timedelta(hours=1)


@dataclass(frozen=True)
class Requeued:
    """A case the reconciler put back on a queue, and why."""

    case_id: str
    priority: Priority
    reason: str


@dataclass(frozen=True)
class Reconciler:
    """Finds cases that break the promise and puts them back in review."""

    cases: CaseRepository
    queue: ReviewQueue
    trail: Trail
    suspects: Suspects
    dead_letters: DeadLetters
    grace: timedelta = GRACE
    #: At most this many dead letters per run (the rest wait for the next run).
    max_dead_letters: int = 500

    def run(self, now: datetime) -> list[Requeued]:
        """One pass over the suspects and the dead letters."""
        done: list[Requeued] = []
        for suspect in self.suspects.reopened(now - self.grace):
            case = self.cases.get(suspect.case_id)
            if case is not None and not in_review(case, [case.ticket] if case.queued else [], now):
                done.append(self._requeue(case, "not queued after it was reopened", now))
            self.suspects.checked(suspect)
        seen = 0
        while seen < self.max_dead_letters:
            batch = self.dead_letters.receive()
            if not batch:
                break
            seen += len(batch)
            for delivery in batch:
                requeued = self._dead_letter(delivery, now)
                if requeued is not None:
                    done.append(requeued)
        return done

    def _dead_letter(self, delivery: ReviewMessage, now: datetime) -> Requeued | None:
        case = self.cases.get(delivery.case_id) if delivery.case_id else None
        if case is None:
            self.dead_letters.set_aside(delivery, int(SET_ASIDE.total_seconds()))
            return None
        superseded = delivery.ticket is not None and delivery.ticket < case.ticket and case.queued is not None
        requeued = None
        if not in_review(case, [case.ticket] if superseded else [], now):
            requeued = self._requeue(case, "its review message was dead-lettered", now)
        self.dead_letters.acknowledge(delivery)
        return requeued

    def _requeue(self, case: Case, reason: str, now: datetime) -> Requeued:
        priority = priority_of(case, now)
        send_to_review(case, priority, self.queue, self.cases, now)
        event = CaseEvent(
            case_id=case.case_id,
            kind=CaseEventKind.REQUEUED,
            actor="kanal",
            at=now,
            detail={"reason": reason, "queue": str(priority)},
        )
        self.trail.record([event])
        return Requeued(case.case_id, priority, reason)
