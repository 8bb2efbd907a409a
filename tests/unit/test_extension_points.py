"""Extension points that fail loudly: a reminder kind is one registry entry, and the hours its texts promise
come from data/sla.json; a field of NewReport is carried into Report, and the views (ReportView, the reviewer's
case document) derive from the models: a field they gain is shown unless hidden on purpose, with the reason."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import pytest
from kanal import casefile
from kanal.calendar import Phase, default_calendar, load_calendar
from kanal.entrypoints.intake_function import view
from kanal.intake import Intake
from kanal.models import (
    HIDDEN_FROM_PARTNER,
    Case,
    Claim,
    NewReport,
    PartnerKind,
    Priority,
    Question,
    Report,
    ReportReceipt,
    ReportView,
    ReportViewBase,
    shown_fields,
    view_of,
)
from kanal.reminders import (
    RULES,
    ReminderKind,
    Timer,
    default_rules,
    rule_for,
    text_for,
    urgent_review_hours,
)

from tests.support import ROOT
from tests.support.fakes import MemoryCases, MemoryReports

NOW = datetime(2024, 11, 20, 3, 0, tzinfo=UTC)


def data(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((resources.files("kanal") / "data" / name).read_text(encoding="utf-8"))
    return loaded


def sample_timer(kind: ReminderKind) -> Timer:
    """A timer of ``kind`` as kanal makes it (a real milestone for milestones)."""
    subject = {
        ReminderKind.ELECTION_MILESTONE: "pilkada-2024:quiet_period",
        ReminderKind.STATUTORY_WINDOW: "r_one",
        ReminderKind.DAILY_DIGEST: "2024-11-20",
    }.get(kind, "c_one")
    return Timer(kind=kind, subject=subject, case_id="c_one", offset="0h", send_at=NOW, due_at=NOW)


# Reminder kinds --------------------------------------------------------------------------------------------


def test_every_reminder_kind_has_one_entry_and_an_unknown_one_fails() -> None:
    assert set(RULES) == set(ReminderKind)
    with pytest.raises(AssertionError):  # assert_never at run time; mypy refuses the missing case before that
        rule_for("a_kind_without_an_entry")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", list(ReminderKind))
def test_every_kind_says_something_in_both_languages(kind: ReminderKind) -> None:
    text = text_for(sample_timer(kind), default_calendar(), detail="Ringkasan harian\nDaily digest")
    indonesian, english = text.split("\n", 1)
    assert indonesian.strip()
    assert english.strip()


def test_offsets_in_the_data_belong_to_kinds_sent_before_their_deadline() -> None:
    """A kind sent before its deadline has its offsets in data/reminders.json; offsets listed for a kind
    sent at its deadline would be ignored, so they are refused here."""
    listed = set(data("reminders.json")["offsets"])
    assert listed <= {str(kind) for kind in ReminderKind}
    assert listed == {str(kind) for kind, rule in RULES.items() if rule.before}
    for kind, rule in RULES.items():
        offsets = rule.offsets(kind, default_rules())
        assert offsets if rule.before else offsets == [("0h", timedelta())]


def offset_in_words(text: str) -> str:
    number, unit = int(text[:-1]), text[-1]
    return {"h": f"{number} h", "m": f"{number} min", "d": f"{number} day{'s' if number != 1 else ''}"}[unit]


def test_the_readme_table_has_a_row_per_kind_with_its_offsets() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Reminders") : readme.index("## Retention")]
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([a-z_]+)` \| (.*)$", section, re.MULTILINE)}
    assert set(rows) == {str(kind) for kind in ReminderKind}
    for kind, rule in RULES.items():
        for text, _ in rule.offsets(kind, default_rules()) if rule.before else []:
            assert offset_in_words(text) in rows[str(kind)], (kind, text)


# Review hours in texts -------------------------------------------------------------------------------------


def promised_hours(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"(\d+) (?:jam|hours?)\b", text)}


def test_every_hour_a_text_promises_comes_from_sla_json() -> None:
    """No text hard-codes a review deadline: every 'N jam' / 'N hours' is one of data/sla.json's hours."""
    sla = data("sla.json")
    known = set(sla["default"].values()) | {h for hours in sla["overrides"].values() for h in hours.values()}
    for kind in ReminderKind:
        text = text_for(sample_timer(kind), default_calendar(), detail="-")
        assert promised_hours(text) <= known, (kind, text)


def test_the_milestone_text_follows_sla_json() -> None:
    sla = data("sla.json")
    changed = {
        "default": {**sla["default"], "quiet": 3, "voting": 2},
        "overrides": {"synthetic_media": {**sla["overrides"]["synthetic_media"], "quiet": 6, "voting": 2}},
    }
    calendar = load_calendar(data("elections.json"), changed, data("timezones.json"))
    assert urgent_review_hours(calendar) == {Phase.QUIET: 6, Phase.VOTING: 2}  # the longest of any category
    text = text_for(sample_timer(ReminderKind.ELECTION_MILESTONE), calendar)
    assert promised_hours(text) == {6, 2}
    assert "masa tenang ditinjau dalam 6 jam" in text
    assert "on voting day within 2 hours" in text
    shipped = text_for(sample_timer(ReminderKind.ELECTION_MILESTONE), default_calendar())
    assert promised_hours(shipped) == set(urgent_review_hours(default_calendar()).values())


def test_the_readme_states_the_review_hours_of_sla_json() -> None:
    sla = data("sla.json")
    default, synthetic = sla["default"], sla["overrides"]["synthetic_media"]
    assert default["quiet"] == default["voting"]
    assert synthetic["none"] == synthetic["campaign"]
    assert (synthetic["quiet"], synthetic["voting"]) == (default["quiet"], default["voting"])
    stated = (
        f"({default['none']} h outside elections, {default['campaign']} h in a campaign, {default['quiet']} h in "
        f"the quiet period and on voting day; synthetic media {synthetic['none']} h outside the quiet period and "
        f"voting day)"
    )
    assert stated in " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())


# Fields that travel: NewReport -> Report -> the views ------------------------------------------------------

#: Every field of NewReport, set (a field NewReport gains must be added here: then it is checked to travel).
EVERY_FIELD = {
    "content_url": "https://www.tiktok.com/@akun.contoh/video/7318301234567890123",
    "category": "synthetic_media",
    "region_code": "31.71",
    "description": "Video sintetis yang meniru suara calon.",
    "evidence_urls": ["https://www.bawaslu.go.id/bukti/1"],
    "legal_basis": "UU 7/2017 Pasal 280",
    "election": "pilkada-2024",
    "observed_at": "2024-11-20T09:00:00+07:00",
    "partner_reference": "BWSL-2024-0042",
}
RECEIVED = datetime(2024, 11, 21, 2, 0, tzinfo=UTC)


def stored_report() -> tuple[NewReport, Report]:
    reports, cases = MemoryReports(), MemoryCases()
    body = NewReport.model_validate(EVERY_FIELD)
    submitted = Intake(reports, cases, default_calendar()).submit(
        "p_bawaslu", body, RECEIVED, "key-1", PartnerKind.ELECTION_AGENCY, "Bawaslu RI"
    )
    report = reports.get(submitted.receipt.report_id)
    assert report is not None
    return body, report


def test_every_field_of_a_new_report_is_carried_into_the_report() -> None:
    assert set(EVERY_FIELD) == set(NewReport.model_fields), "set every NewReport field in EVERY_FIELD"
    missing = set(NewReport.model_fields) - set(Report.model_fields)
    assert not missing, f"NewReport fields that Report does not keep (they would be dropped): {missing}"
    body, report = stored_report()
    for name in NewReport.model_fields:
        assert getattr(report, name) == getattr(body, name), name


def test_a_partner_reads_back_every_field_it_sent_and_nothing_of_kanals_unless_hidden_on_purpose() -> None:
    """ReportView is Report's fields but HIDDEN_FROM_PARTNER (each with why): what the partner sent and its
    receipt. A field Report gains is shown to partners only if it is one they send; any other must be hidden
    here, with its reason, or this fails."""
    assert all(len(reason) > 20 for reason in HIDDEN_FROM_PARTNER.values())
    shown = shown_fields(Report, ReportView)
    assert shown | set(HIDDEN_FROM_PARTNER) == set(Report.model_fields)
    assert not shown & set(HIDDEN_FROM_PARTNER)
    # ... or one that the view shows its own way (the evidence files, sent through their own route, shown without
    # kanal's bookkeeping: ReportViewBase declares them).
    own_way = (set(ReportViewBase.model_fields) - set(ReportReceipt.model_fields)) & set(Report.model_fields)
    assert own_way == {"evidence"}
    assert shown == set(NewReport.model_fields) | (set(ReportReceipt.model_fields) & set(Report.model_fields)) | own_way
    _, report = stored_report()
    seen = view(report, None).model_dump()
    for name in shown:
        assert seen[name] == getattr(report, name), name


def test_a_field_a_model_gains_is_shown_by_the_views_derived_from_it() -> None:
    grown = type("Grown", (Report,), {"__annotations__": {"gained": str}, "gained": "shown"})
    assert "gained" in view_of(grown, "GrownView", ReportViewBase, HIDDEN_FROM_PARTNER).model_fields
    assert "gained" in view_of(grown, "GrownDocument", casefile.ReportShown, casefile.REPORT_NOT_SHOWN).model_fields
    with pytest.raises(TypeError, match="gone"):
        view_of(Report, "Stale", ReportViewBase, {**HIDDEN_FROM_PARTNER, "gone": "a field Report no longer has"})


def test_a_reviewer_sees_every_report_field_but_those_not_shown_for_a_reason() -> None:
    assert all(len(reason) > 20 for reason in casefile.REPORT_NOT_SHOWN.values())
    _, report = stored_report()
    shown = casefile.report_document(report)
    expected = {casefile.REPORT_RENAMED.get(f, f) for f in Report.model_fields if f not in casefile.REPORT_NOT_SHOWN}
    assert set(shown) == expected | {"region"}
    assert shown["partner"] == "Bawaslu RI"
    assert shown["region"] == "Kota Adm. Jakarta Pusat"
    assert shown["observed_at"] == "2024-11-20T09:00:00+07:00"
    assert shown["received_at"] == "2024-11-21T09:00:00+07:00"  # WIB, to the second
    for name in Report.model_fields:
        value = getattr(report, name)
        if name not in casefile.REPORT_NOT_SHOWN and not isinstance(value, datetime):
            assert shown[casefile.REPORT_RENAMED.get(name, name)] == value, name


def test_the_case_document_is_the_cases_fields_but_those_not_shown_and_its_times_in_wib() -> None:
    assert all(len(reason) > 20 for reason in {**casefile.CASE_NOT_SHOWN, **casefile.CLAIM_NOT_SHOWN}.values())
    _, report = stored_report()
    asked = RECEIVED + timedelta(hours=1)
    case = Case(
        case_id=report.case_id,
        content_key=report.content_key,
        content_url=report.content_url,
        report_count=1,
        partners={report.partner_id},
        categories={str(report.category)},
        first_reported_at=RECEIVED,
        review_due_at=report.review_due_at,
        claim=Claim(reviewer="ana", expires_at=asked, queue=Priority.URGENT, handle="secret-handle"),
        question=Question(text="Di mana?", due_at=asked + timedelta(days=2), asked_at=asked),
    )
    document = casefile.case_document(case, [report], asked)
    own = {f for f in Case.model_fields if f not in casefile.CASE_NOT_SHOWN}
    assert set(document) == own | {"seconds_left", "questions", "reports"}
    assert set(document["claim"]) == set(Claim.model_fields) - set(casefile.CLAIM_NOT_SHOWN)  # a lead's view
    assert "secret-handle" not in json.dumps(document)
    assert document["claim"]["expires_at"] == document["question"]["asked_at"] == "2024-11-21T10:00:00+07:00"
    assert casefile.case_document(case, [report], asked, viewer="budi")["claim"] == {
        "held_by_you": False,
        "expires_at": "2024-11-21T10:00:00+07:00",
    }
