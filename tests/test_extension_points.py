"""Extension points that fail loudly: a reminder kind is one registry entry, and the hours its texts promise
come from data/sla.json."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from kanal.calendar import Phase, default_calendar, load_calendar
from kanal.reminders import (
    RULES,
    ReminderKind,
    Timer,
    default_rules,
    rule_for,
    text_for,
    urgent_review_hours,
)

ROOT = Path(__file__).resolve().parents[1]
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
