"""kanal's first promise over every interleaving: a case that awaits review never leaves review.

A hypothesis state machine drives the real rules (Intake, CaseBuilder, Review, Answers, Reconciler) against
in-memory stores and review queues (tests.support.fakes) that behave as SQS does where it matters: a received
message is hidden for the queue's visibility timeout and comes back unless deleted; a receipt handle is valid only
from its latest receive; a message received more than maxReceiveCount times moves to the dead-letter queue; sends may
be delayed. The table's stream is modelled as an outbox whose records are delivered at least once, late, out
of order, and sometimes fail (SQS down). Reviewers claim, keep, release, ask, decide and vanish; partners
report (escalating cases), answer questions or let them lapse; time passes.

After every step, ``review.in_review`` (the invariant, written once) holds for every case, counting as "on
a queue" the messages in the review queues and in their dead-letter queues (which the reconciler, a rule
here too, drains) and the stream records still to be delivered (the outbox). At the end everything is
delivered, time runs out every lease, and reviewers work the queues empty: every case is then decided or
waiting for a partner — no case was left on no queue.
"""

from __future__ import annotations

import contextlib
import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from kanal.calendar import default_calendar
from kanal.case_builder import CaseBuilder
from kanal.errors import CaseConflict, NewReports, ReviewRefused
from kanal.intake import Intake
from kanal.models import CaseEvent, CaseEventKind, CaseStatus, Category, InfoReply, NewReport, Outcome, Policy
from kanal.reconciler import Reconciler
from kanal.review import Answers, Review, in_review

from tests.support.fakes import (
    MemoryCases,
    MemoryCaseWrites,
    MemoryDeadLetters,
    MemoryReports,
    MemoryReviewQueues,
    MemorySuspects,
    MemoryTrail,
)

START = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
VIDEOS = [f"https://www.tiktok.com/@a/video/73183012345678901{i:02d}" for i in range(3)]
PARTNERS = ["p_bawaslu", "p_kpu", "p_perludem"]
REVIEWERS = ["ana", "budi", "citra"]
REASON = "Ajakan memilih pada masa tenang melanggar aturan kampanye."


class ReviewNeverLosesACase(RuleBasedStateMachine):
    """Reports, escalations, claims, keeps, releases, lapses, questions, answers, decisions, redeliveries."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = [START]
        self.reports = MemoryReports()
        self.cases = MemoryCases()
        self.trail = MemoryTrail(self.reports)
        self.writes = MemoryCaseWrites(self.cases, self.trail)
        self.queues = MemoryReviewQueues(self.clock)
        # Repeatable report ids: hypothesis replays and shrinks a run, which must then take the same path (random
        # ids would order same-moment reports differently from one replay to the next).
        ids = itertools.count()
        self.intake = Intake(self.reports, self.cases, default_calendar(), new_id=lambda: f"r_{next(ids):026d}")
        self.builder = CaseBuilder(self.cases, self.queues, self.trail, timedelta(days=730))  # type: ignore[arg-type]
        self.review = Review(self.cases, self.writes, self.trail, self.queues, self.queues)  # type: ignore[arg-type]
        self.answers = Answers(self.reports, self.cases, self.writes)
        self.reconciler = Reconciler(
            self.cases,
            self.queues,  # type: ignore[arg-type]
            self.trail,
            MemorySuspects(self.trail),
            MemoryDeadLetters(self.queues),
        )
        #: The stream: records not yet delivered for good (report ids, or case ids of answers).
        self.outbox: list[tuple[str, str]] = []
        self.held: dict[str, str] = {}  # reviewer -> case id, as the reviewer's worker believes

    @property
    def now(self) -> datetime:
        return self.clock[0]

    # --- partners ---------------------------------------------------------------------------------------

    @rule(
        partner=st.sampled_from(PARTNERS),
        video=st.sampled_from(VIDEOS),
        category=st.sampled_from([Category.MISINFORMATION, Category.SYNTHETIC_MEDIA, Category.CAMPAIGN_VIOLATION]),
    )
    def report(self, partner: str, video: str, category: Category) -> None:
        body = NewReport(content_url=video, category=category, region_code="31.71", description="Video ini.")
        submitted = self.intake.submit(partner, body, self.now)
        self.outbox.append(("report", submitted.receipt.report_id))

    @rule(data=st.data())
    def answer(self, data: st.DataObject) -> None:
        waiting = [c for c in self.cases.items.values() if c.status is CaseStatus.NEEDS_INFO]
        if not waiting:
            return
        case = data.draw(st.sampled_from(waiting))
        report = next(r for r in self.reports.items.values() if r.case_id == case.case_id)
        self.answers.provide(report.partner_id, report.report_id, InfoReply(message="Di TPS 12."), self.now)
        self.outbox.append(("answer", case.case_id))

    @rule(data=st.data())
    def question_lapses(self, data: st.DataObject) -> None:
        """The reminder sweep finds an unanswered question past its due time and reopens the case."""
        waiting = [c for c in self.cases.items.values() if c.status is CaseStatus.NEEDS_INFO and c.question]
        if not waiting:
            return
        case = data.draw(st.sampled_from(waiting))
        assert case.question is not None
        event = CaseEvent(case_id=case.case_id, kind=CaseEventKind.INFO_NOT_PROVIDED, actor="kanal", at=self.now)
        self.writes.reopen(case.case_id, event, case.question.due_at)
        self.outbox.append(("answer", case.case_id))

    # --- the stream -------------------------------------------------------------------------------------

    @precondition(lambda self: bool(self.outbox))
    @rule(data=st.data(), keep=st.booleans(), sqs_down=st.booleans())
    def deliver(self, data: st.DataObject, keep: bool, sqs_down: bool) -> None:
        """One record reaches the case builder: maybe again later (at least once), maybe while SQS is down."""
        index = data.draw(st.integers(0, len(self.outbox) - 1))
        kind, key = self.outbox[index]
        self.queues.failing = sqs_down
        try:
            if kind == "report":
                report = self.reports.items[key]
                self.builder.attach_to_case(report.case_id, [report], self.now)
            else:
                self.builder.requeue(key, self.now)
        except ConnectionError:
            return  # the record stays in the stream and is delivered again
        finally:
            self.queues.failing = False
        if not keep:
            del self.outbox[index]

    # --- reviewers --------------------------------------------------------------------------------------

    @rule(reviewer=st.sampled_from(REVIEWERS))
    def next_case(self, reviewer: str) -> None:
        claimed = self.review.next(reviewer, 0, self.now)
        if claimed is not None:
            self.held[reviewer] = claimed.case.case_id

    @rule()
    def receive_and_crash(self) -> None:
        """A worker receives a message and dies before doing anything with it."""
        self.queues.receive(0)

    @precondition(lambda self: bool(self.held))
    @rule(data=st.data(), action=st.sampled_from(["keep", "release", "decide", "ask", "vanish"]))
    def act(self, data: st.DataObject, action: str) -> None:
        reviewer = data.draw(st.sampled_from(sorted(self.held)))
        case_id = self.held[reviewer]
        try:
            if action == "keep":
                self.review.keep(case_id, reviewer, self.now)
                return
            if action == "release":
                self.review.release(case_id, reviewer, self.now)
            elif action == "decide":
                self.review.decide(case_id, reviewer, Outcome.REMOVED, Policy.MISINFORMATION, REASON, self.now)
            elif action == "ask":
                self.review.ask(case_id, reviewer, "Di TPS mana kejadian ini?", timedelta(hours=48), self.now)
        except NewReports as new:  # reports arrived since the view: the reviewer reads them and stays on the case
            with contextlib.suppress(ReviewRefused, CaseConflict):
                self.review.saw(case_id, reviewer, new.reports, self.now)
            return
        except (ReviewRefused, CaseConflict):
            pass  # the lease had lapsed and someone else took the case: refused, nothing changed
        del self.held[reviewer]

    @rule()
    def reconcile(self) -> None:
        self.reconciler.run(self.now)

    @rule(seconds=st.sampled_from([1, 30, 300, 899, 900, 901, 1800, 4 * 3600]))
    def time_passes(self, seconds: int) -> None:
        self.clock[0] = self.now + timedelta(seconds=seconds)

    # --- the promise ------------------------------------------------------------------------------------

    def unreviewed(self) -> list[str]:
        pending = {self.reports.items[key].case_id if kind == "report" else key for kind, key in self.outbox}
        live: dict[str, list[int | None]] = {}
        for message in [*self.queues.messages.values(), *self.queues.dead.values()]:
            live.setdefault(message.case_id, []).append(message.ticket)
        return [
            case.case_id
            for case in self.cases.items.values()
            if case.case_id not in pending and not in_review(case, live.get(case.case_id, []), self.now)
        ]

    @invariant()
    def every_case_awaiting_review_is_in_review(self) -> None:
        assert self.unreviewed() == []

    @invariant()
    def reports_are_counted_once(self) -> None:
        for case in self.cases.items.values():
            assert case.report_count == sum(1 for r in self.reports.items.values() if r.case_id == case.case_id) or (
                any(kind == "report" and self.reports.items[k].case_id == case.case_id for kind, k in self.outbox)
            )

    def teardown(self) -> None:
        """Deliver everything, let every lease lapse, and work the queues empty: nothing is left undecided."""
        for kind, key in self.outbox:
            if kind == "report":
                report = self.reports.items[key]
                self.builder.attach_to_case(report.case_id, [report], self.now)
            else:
                self.builder.requeue(key, self.now)
        for _ in range(3):  # the reconciler runs every few minutes between the reviewers' work
            self.clock[0] = self.now + timedelta(hours=1)
            self.reconciler.run(self.now)
            while (claimed := self.review.next("closer", 0, self.now)) is not None:
                case_id = claimed.case.case_id
                self.review.decide(case_id, "closer", Outcome.LABELLED, Policy.MISINFORMATION, REASON, self.now)
        left = [c.case_id for c in self.cases.items.values() if c.awaiting_review]
        assert left == [], f"cases left on no queue: {left}"


ReviewNeverLosesACase.TestCase.settings = settings(
    max_examples=1000, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_review_never_loses_a_case = ReviewNeverLosesACase.TestCase
