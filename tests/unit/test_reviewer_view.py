"""What a reviewer sees: every reason a case is urgent, names as people write them, one key per choice with the
suggested policy first (questions with their answers, on moto: tests/component/test_reviewer_view.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kanal import regions
from kanal.case_builder import urgency
from kanal.models import Case
from kanal_cli.reviewer import _choose, policies_for

from tests.support.reports import NOW

ALL_CODES = sorted(regions._names())


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kanal.clock.now", lambda: NOW)


def case(**changes: Any) -> Case:
    values: dict[str, Any] = {
        "case_id": "c",
        "content_key": "k",
        "content_url": "https://www.tiktok.com/@a/video/1",
        "first_reported_at": NOW,
        "review_due_at": NOW + timedelta(hours=72),
    }
    return Case(**{**values, **changes})


def test_every_reason_a_case_is_urgent_is_named() -> None:
    assert urgency(case(), NOW) == []
    assert urgency(case(partners={"p_1", "p_2"}), NOW) == ["reported_by_several_partners"]
    assert urgency(case(urgent_reasons={"synthetic_media"}), NOW + timedelta(hours=73)) == [
        "review_overdue",
        "synthetic_media",
    ]


@given(st.sampled_from(ALL_CODES))
def test_region_names_as_people_write_them(code: str) -> None:
    shown = regions.display_name(code)
    assert shown != regions.name(code) or not any(c.isalpha() for c in shown)
    assert all(not word.isupper() or word in ("DKI",) or len(word) == 1 for word in shown.replace(".", "").split())


def test_known_region_names() -> None:
    assert regions.display_name("31.71") == "Kota Adm. Jakarta Pusat"
    assert regions.display_name("31") == "DKI Jakarta"
    assert regions.display_name("73.71") == "Kota Makassar"
    assert regions.display_name("99.99") == "99.99"


def test_one_key_per_choice_and_the_suggested_policy_first() -> None:
    policies = policies_for({"synthetic_media", "misinformation"})
    assert policies[0] in ("synthetic_media", "misinformation")
    assert set(policies[:2]) == {"synthetic_media", "misinformation"}
    assert policies_for({"campaign_violation"})[0] == "civic_election_integrity"
    outcomes = ["removed", "restricted", "labelled", "no_violation"]
    for typed, chosen in (("1", "removed"), ("4", "no_violation"), ("l", "labelled"), ("no_violation", "no_violation")):
        assert _choose("outcome", outcomes, lambda _, typed=typed: typed, print) == chosen
    answers = iter(["r", "2"])  # r is ambiguous (removed, restricted): asked again
    said: list[str] = []
    assert _choose("outcome", outcomes, lambda _: next(answers), said.append) == "restricted"
    assert "1 removed" in said[0]
