"""Events derive from the trail: each partner is told about its own reports only, with stable ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from kanal.events import (
    _HIDDEN,
    _OWN,
    _PROGRESS,
    FEED_TYPES,
    Event,
    EventType,
    event_id,
    from_reminder,
    from_trail,
    partner_history,
    seen_by,
)
from kanal.models import CaseEvent, CaseEventKind, Category, Report
from kanal.reminders import LEADS, Reminder, ReminderKind

T0 = datetime(2024, 1, 20, 3, 0, tzinfo=UTC)
DUE = T0 + timedelta(hours=24)


def report(report_id: str, partner: str, at: datetime) -> Report:
    return Report(
        report_id=report_id,
        partner_id=partner,
        case_id="c_1",
        content_key="tiktok:1",
        content_url="https://www.tiktok.com/@a/video/1",
        category=Category.MISINFORMATION,
        region_code="31",
        description="Video hoaks tentang TPS.",
        received_at=at,
        review_due_at=DUE,
        body_hash="h",
    )


def entry(kind: CaseEventKind, at: datetime, actor: str = "kanal", **detail: str) -> CaseEvent:
    return CaseEvent(case_id="c_1", kind=kind, actor=actor, at=at, detail=detail)


# Bawaslu reports first, Perludem ten minutes later, then Bawaslu again.
REPORTS = [
    report("r_b1", "p_bawaslu", T0),
    report("r_p1", "p_perludem", T0 + timedelta(minutes=10)),
    report("r_b2", "p_bawaslu", T0 + timedelta(minutes=20)),
]


def test_a_decision_is_one_event_per_partner_naming_its_own_reports_only() -> None:
    decided = entry(
        CaseEventKind.DECIDED,
        T0 + timedelta(hours=1),
        actor="arn:aws:sts::1:assumed-role/ReviewerRole/ana",
        outcome="removed",
        policy="misinformation",
        ground="platform_policy",
        statement_of_reasons="Klaim palsu tentang pemungutan suara.",
    )
    events = from_trail("CASE#c_1|TRAIL#5", decided, REPORTS, DUE)
    assert [(a.partner_id, a.event.data["report_ids"]) for a in events] == [
        ("p_bawaslu", ["r_b1", "r_b2"]),
        ("p_perludem", ["r_p1"]),
    ]
    for addressed in events:
        data = addressed.event.data
        assert addressed.event.type is EventType.REPORT_DECIDED
        assert data["outcome"] == "removed"
        assert data["ground"] == "platform_policy"
        assert data["statement_of_reasons"].startswith("Klaim")
        assert data["decided_at"] == decided.at.isoformat()
        assert "ana" not in str(addressed.event.model_dump())  # never the reviewer
    assert len({a.event.id for a in events}) == 2


def test_a_report_received_goes_to_its_partner_with_the_deadline() -> None:
    attached = entry(CaseEventKind.REPORT_ATTACHED, T0 + timedelta(minutes=10), actor="p_perludem", report_id="r_p1")
    (addressed,) = from_trail("CASE#c_1|TRAIL#2", attached, REPORTS, DUE)
    assert addressed.partner_id == "p_perludem"
    assert addressed.event.type is EventType.REPORT_RECEIVED
    assert addressed.event.data == {"report_id": "r_p1", "case_id": "c_1", "review_due_at": DUE.isoformat()}


def test_questions_and_reopenings_reach_the_partners_who_had_reported_by_then() -> None:
    asked = entry(
        CaseEventKind.INFO_REQUESTED, T0 + timedelta(minutes=15), question="Di TPS mana?", due_at=DUE.isoformat()
    )
    events = from_trail("k", asked, REPORTS, DUE)
    assert {a.partner_id: a.event.data["report_ids"] for a in events} == {
        "p_bawaslu": ["r_b1"],
        "p_perludem": ["r_p1"],
    }
    assert all(a.event.data["question"] == "Di TPS mana?" for a in events)
    reopened = entry(CaseEventKind.REOPENED, T0 + timedelta(minutes=5), reasons="new_category,new_evidence")
    (only,) = from_trail("k2", reopened, REPORTS, DUE)
    assert only.partner_id == "p_bawaslu"
    assert only.event.data["reasons"] == ["new_category", "new_evidence"]


def test_entries_partners_are_not_told_of_give_no_event() -> None:
    told = {CaseEventKind.REPORT_ATTACHED, CaseEventKind.INFO_REQUESTED, CaseEventKind.DECIDED, CaseEventKind.REOPENED}
    for kind in set(CaseEventKind) - told:
        assert from_trail("k", entry(kind, T0 + timedelta(hours=2)), REPORTS, DUE) == []


def test_reminders_to_partners_are_events_and_those_to_the_leads_are_not() -> None:
    sent = Reminder(
        kind=ReminderKind.INFO_DUE,
        partner_id="p_bawaslu",
        subject="c_1",
        case_id="c_1",
        offset="-PT6H",
        due_at=DUE,
        sent_at=T0,
        text="Pertanyaan menunggu jawaban.",
    )
    (addressed,) = from_reminder("REMINDER#x", sent)
    assert addressed.event.type is EventType.REMINDER_SENT
    assert addressed.event.data == {"kind": str(sent.kind), "text": sent.text, "case_id": "c_1"}
    assert from_reminder("REMINDER#y", sent.model_copy(update={"partner_id": LEADS})) == []


@given(st.text(min_size=1), st.text(min_size=1), st.text(min_size=1))
def test_event_ids_are_stable_and_distinct_per_source_and_partner(source: str, partner: str, other: str) -> None:
    assert event_id(source, partner) == event_id(source, partner)
    Event(id=event_id(source, partner), type=EventType.WEBHOOK_TEST, created_at=T0, data={})
    if other != partner:
        assert event_id(source, partner) != event_id(source, other)
    if other != source:
        assert event_id(other, partner) != event_id(source, partner)


def test_every_trail_kind_has_a_visibility_rule_and_the_test_event_is_not_in_the_feed() -> None:
    assert _OWN | _PROGRESS | _HIDDEN | {CaseEventKind.DECIDED} == set(CaseEventKind)
    assert EventType.WEBHOOK_TEST not in FEED_TYPES


def test_a_partner_sees_its_own_reports_and_the_decision_not_others_involvement() -> None:
    trail = [
        entry(CaseEventKind.REPORT_ATTACHED, T0, actor="p_perludem", report_id="r_p0"),
        entry(CaseEventKind.RECEIVED, T0 + timedelta(minutes=1), queue="normal"),
        entry(CaseEventKind.CLAIMED, T0 + timedelta(minutes=2), actor="ana"),
        entry(CaseEventKind.RELEASED, T0 + timedelta(minutes=3), actor="ana"),
        entry(CaseEventKind.REPORT_ATTACHED, T0 + timedelta(minutes=4), actor="p_kpu", report_id="r_k1"),
        entry(CaseEventKind.ESCALATED, T0 + timedelta(minutes=5), queue="urgent"),
        entry(CaseEventKind.CLAIMED, T0 + timedelta(minutes=6), actor="budi"),
        entry(CaseEventKind.INFO_REQUESTED, T0 + timedelta(minutes=7), actor="budi", question="?", due_at="x"),
        entry(CaseEventKind.INFO_PROVIDED, T0 + timedelta(minutes=8), actor="p_perludem", report_id="r_p0"),
        entry(CaseEventKind.DECIDED, T0 + timedelta(minutes=9), actor="budi", outcome="removed", policy="x"),
    ]
    kpu = [e.kind for e in seen_by(trail, "p_kpu")]
    assert kpu == [
        CaseEventKind.REPORT_ATTACHED,
        CaseEventKind.CLAIMED,
        CaseEventKind.INFO_REQUESTED,
        CaseEventKind.DECIDED,
    ]  # no claim/release from before its report, no escalation, not Perludem's answer
    perludem = [e.kind for e in seen_by(trail, "p_perludem")]
    assert CaseEventKind.ESCALATED not in perludem
    attached = [e for e in seen_by(trail, "p_perludem") if e.kind is CaseEventKind.REPORT_ATTACHED]
    assert [e.actor for e in attached] == ["p_perludem"]
    later = entry(CaseEventKind.REPORT_ATTACHED, T0 + timedelta(hours=1), "p_x")
    late = [e.kind for e in seen_by([*trail, later], "p_x")]
    assert late == [CaseEventKind.DECIDED, CaseEventKind.REPORT_ATTACHED]  # the decision that answers it
    shown = partner_history(trail, "p_kpu")
    assert [p.kind for p in shown] == kpu
    assert "actor" not in shown[0].model_dump()
