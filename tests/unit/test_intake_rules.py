"""Intake and case-building rules with in-memory fakes."""

from datetime import datetime, timedelta, timezone

import pytest
from kanal.calendar import default_calendar
from kanal.case_builder import CaseBuilder, priority_of, queue_to_send
from kanal.errors import IdempotencyKeyReused, InvalidRequest
from kanal.intake import Intake
from kanal.models import Case, CaseStatus, Decision, NewReport, Priority

from tests.support.fakes import MemoryCases, MemoryQueue, MemoryReports, MemoryTrail

WIB = timezone(timedelta(hours=7))
OUTSIDE = datetime(2026, 11, 23, 10, 0, tzinfo=WIB)
QUIET = datetime(2024, 11, 25, 10, 0, tzinfo=WIB)
CAMPAIGN = datetime(2024, 10, 1, 10, 0, tzinfo=WIB)
VIDEO = "https://www.tiktok.com/@akun/video/7334567890123456789"


def body(**changes: object) -> NewReport:
    values: dict[str, object] = {
        "content_url": VIDEO,
        "category": "misinformation",
        "region_code": "31.71",
        "description": "Video hoaks tentang surat suara tercoblos.",
    }
    values.update(changes)
    return NewReport.model_validate(values)


@pytest.fixture
def world() -> tuple[Intake, CaseBuilder, MemoryReports, MemoryCases, MemoryQueue]:
    reports, cases, queue = MemoryReports(), MemoryCases(), MemoryQueue()
    return (
        Intake(reports, cases, default_calendar()),
        CaseBuilder(cases, queue, MemoryTrail(reports), timedelta(days=730)),
        reports,
        cases,
        queue,
    )


def test_first_report_opens_a_case_queued_once(world) -> None:  # type: ignore[no-untyped-def]
    intake, builder, reports, cases, queue = world
    submitted = intake.submit("p_a", body(), OUTSIDE)
    receipt = submitted.receipt
    assert submitted.stored
    assert not submitted.duplicate
    assert receipt.status is CaseStatus.RECEIVED
    assert receipt.review_due_at == OUTSIDE + timedelta(hours=72)
    assert cases.get(receipt.case_id) is None  # opened after the answer, by the case builder
    builder.attach(reports.items.values(), OUTSIDE)
    builder.attach(reports.items.values(), OUTSIDE)  # a redelivered batch changes nothing
    case = cases.get(receipt.case_id)
    assert case is not None
    assert case.report_count == 1
    assert queue.sent == [(receipt.case_id, Priority.NORMAL)]


def test_later_reports_attach_and_second_partner_escalates_once(world) -> None:  # type: ignore[no-untyped-def]
    intake, builder, reports, cases, queue = world
    first = intake.submit("p_a", body(), OUTSIDE).receipt
    builder.attach(reports.items.values(), OUTSIDE)
    same_partner = intake.submit(
        "p_a", body(content_url="https://m.tiktok.com/v/7334567890123456789.html"), OUTSIDE
    ).receipt
    other = intake.submit("p_b", body(category="hate_speech"), OUTSIDE + timedelta(hours=1)).receipt
    builder.attach(reports.items.values(), OUTSIDE)
    builder.attach(reports.items.values(), OUTSIDE)
    assert first.case_id == same_partner.case_id == other.case_id
    assert other.review_due_at == first.review_due_at  # the case's deadline, set by its first report
    case = cases.get(first.case_id)
    assert case is not None
    assert case.report_count == 3
    assert case.partners == {"p_a", "p_b"}
    assert case.categories == {"misinformation", "hate_speech"}
    assert queue.sent == [(first.case_id, Priority.NORMAL), (first.case_id, Priority.URGENT)]


@pytest.mark.parametrize(
    ("moment", "changes", "hours", "reason"),
    [
        (QUIET, {}, 4, "quiet_period"),
        (datetime(2024, 11, 27, 10, tzinfo=WIB), {}, 4, "voting_day"),
        (OUTSIDE, {"category": "synthetic_media"}, 12, "synthetic_media"),
    ],
)
def test_urgent_from_the_first_report(
    world, moment: datetime, changes: dict[str, str], hours: int, reason: str
) -> None:  # type: ignore[no-untyped-def]
    intake, builder, reports, _, queue = world
    receipt = intake.submit("p_a", body(**changes), moment).receipt
    assert receipt.review_due_at == moment + timedelta(hours=hours)
    (case,) = builder.attach(reports.items.values(), moment)
    assert reason in case.urgent_reasons
    assert queue.sent == [(receipt.case_id, Priority.URGENT)]


def test_campaign_deadline_is_a_day(world) -> None:  # type: ignore[no-untyped-def]
    intake, *_ = world
    receipt = intake.submit("p_a", body(), CAMPAIGN).receipt
    assert receipt.review_due_at == CAMPAIGN + timedelta(hours=24)


def test_report_on_a_decided_case_answers_with_the_decision(world) -> None:  # type: ignore[no-untyped-def]
    intake, builder, reports, cases, queue = world
    first = intake.submit("p_a", body(), OUTSIDE).receipt
    builder.attach(reports.items.values(), OUTSIDE)
    decision = Decision(
        outcome="removed",
        policy="misinformation",
        ground="community_guidelines",
        statement_of_reasons="Klaim palsu tentang surat suara.",
        reviewer="reviewer-7",
        decided_at=OUTSIDE + timedelta(hours=2),
    )
    decided = cases.items[first.case_id].model_copy(update={"status": CaseStatus.DECIDED, "decision": decision})
    cases.items[first.case_id] = decided
    late = intake.submit("p_b", body(), OUTSIDE + timedelta(hours=3)).receipt
    assert late.status is CaseStatus.DECIDED
    assert late.decision is not None
    assert late.decision.outcome == "removed"
    assert "reviewer" not in late.decision.model_dump()
    builder.attach(reports.items.values(), OUTSIDE)
    assert len(queue.sent) == 1  # a decided case is not queued again


def test_idempotency_key_replays_and_refuses_other_bodies(world) -> None:  # type: ignore[no-untyped-def]
    intake, _, reports, *_ = world
    first = intake.submit("p_a", body(), OUTSIDE, "key-1")
    again = intake.submit("p_a", body(), OUTSIDE + timedelta(minutes=1), "key-1")
    assert first.stored
    assert not again.stored
    assert again.receipt == first.receipt
    assert len(reports.items) == 1
    with pytest.raises(IdempotencyKeyReused):
        intake.submit("p_a", body(description="Another report"), OUTSIDE, "key-1")
    other_partner = intake.submit("p_b", body(), OUTSIDE, "key-1")
    assert other_partner.stored
    assert other_partner.receipt.report_id != first.receipt.report_id


def test_observed_in_the_future_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    intake, _, reports, *_ = world
    with pytest.raises(InvalidRequest) as refused:
        intake.submit("p_a", body(observed_at=(OUTSIDE + timedelta(hours=1)).isoformat()), OUTSIDE)
    assert refused.value.field == "observed_at"
    assert reports.items == {}
    receipt = intake.submit("p_a", body(observed_at=(OUTSIDE + timedelta(minutes=2)).isoformat()), OUTSIDE).receipt
    assert receipt.report_id


def test_failed_publish_is_retried_until_queued(world) -> None:  # type: ignore[no-untyped-def]
    intake, builder, reports, cases, queue = world
    receipt = intake.submit("p_a", body(), OUTSIDE).receipt
    queue.failing = True
    with pytest.raises(ConnectionError):
        builder.attach(reports.items.values(), OUTSIDE)
    assert cases.items[receipt.case_id].queued is None
    queue.failing = False
    builder.attach(reports.items.values(), OUTSIDE)
    assert queue.sent == [(receipt.case_id, Priority.NORMAL)]


def _case(**changes: object) -> Case:
    values: dict[str, object] = {
        "case_id": "c_1",
        "content_key": "k",
        "content_url": VIDEO,
        "first_reported_at": OUTSIDE,
        "review_due_at": OUTSIDE + timedelta(hours=72),
        "partners": {"p_a"},
    }
    values.update(changes)
    return Case.model_validate(values)


def test_queue_rules() -> None:
    now = OUTSIDE
    assert priority_of(_case(), now) is Priority.NORMAL
    assert priority_of(_case(partners={"p_a", "p_b"}), now) is Priority.URGENT
    assert priority_of(_case(), now + timedelta(hours=72)) is Priority.URGENT  # overdue
    assert queue_to_send(_case(), now) is Priority.NORMAL
    assert queue_to_send(_case(queued="normal"), now) is None
    assert queue_to_send(_case(queued="normal", urgent_reasons={"synthetic_media"}), now) is Priority.URGENT
    assert queue_to_send(_case(queued="urgent", partners={"p_a", "p_b"}), now) is None
    assert queue_to_send(_case(status="decided"), now) is None
    assert queue_to_send(_case(status="needs_info"), now) is None


def test_same_key_while_the_first_runs_is_in_progress(world) -> None:  # type: ignore[no-untyped-def]
    from kanal.errors import IdempotencyInProgress
    from kanal.intake import IN_FLIGHT, idempotent_report_id

    intake, _, reports, *_ = world
    running = idempotent_report_id("p_a", "key-9")
    assert reports.begin(running, OUTSIDE, OUTSIDE + IN_FLIGHT)  # the first request holds the key...
    with pytest.raises(IdempotencyInProgress):  # ...so a second one is told to come back
        intake.submit("p_a", body(), OUTSIDE + timedelta(seconds=1), "key-9")
    assert reports.items == {}
    later = intake.submit("p_a", body(), OUTSIDE + IN_FLIGHT + timedelta(seconds=1), "key-9")
    assert later.stored  # a first request that died lets go of the key after its hold
    again = intake.submit("p_a", body(), OUTSIDE + IN_FLIGHT + timedelta(seconds=2), "key-9")
    assert not again.stored
    assert again.receipt == later.receipt
