"""What a reviewer sees: every reason a case is urgent, questions with their answers, names and times as people
write them, one key per choice with the suggested policy first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kanal import regions, wiring
from kanal.case_builder import urgency
from kanal.models import Case, InfoReply, PartnerKind
from kanal_cli.cli import main
from kanal_cli.reviewer import _choose, policies_for

from tests.conftest import Invoke, env, stream_event
from tests.test_api import post, report_body
from tests.test_review import NOW, reported

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


def test_after_an_answer_the_reviewer_sees_question_and_answer(
    api: Invoke, case_builder: Invoke, dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = reported(api, case_builder, dynamodb, "Bawaslu RI", "Perludem")
    kpu = wiring.services().partners.create("KPU RI", PartnerKind.ELECTION_AGENCY, NOW).partner.partner_id
    named = post(kpu, report_body())
    named["requestContext"]["authorizer"].update(partner_kind="election_agency", partner_name="KPU RI")
    api(named)
    case_builder(stream_event(dynamodb, env("TABLE_NAME")))
    services = wiring.services()
    review = services.review()
    assert review.next("ana", 0, NOW) is not None
    review.ask(first["case_id"], "ana", "Di TPS mana kejadian ini terjadi?", timedelta(hours=48), NOW)
    answered = NOW + timedelta(hours=1)
    services.answers.provide(first["partner_id"], first["report_id"], InfoReply(message="TPS 12, Menteng."), answered)
    case_builder(stream_event(dynamodb, env("TABLE_NAME"), kinds=("info_provided",)))
    capsys.readouterr()
    assert (
        main(["--table-name", env("TABLE_NAME"), "review", "next", "--json", "--wait", "0", "--reviewer", "budi"]) == 0
    )
    shown = json.loads(capsys.readouterr().out)
    assert shown["questions"] == [
        {
            "question": "Di TPS mana kejadian ini terjadi?",
            "asked_at": "2026-11-23T10:00:00+07:00",
            "due_at": "2026-11-25T10:00:00+07:00",
            "answer": "TPS 12, Menteng.",
            "answered_by_report": first["report_id"],
            "evidence_urls": None,
            "answered_at": "2026-11-23T11:00:00+07:00",
        }
    ]
    assert "reported_by_several_partners" in shown["urgent_reasons"]
    assert datetime.fromisoformat(shown["review_due_at"]).utcoffset() == timedelta(hours=7)
    assert second["partner_id"] in {r["partner_id"] for r in shown["reports"]}
    assert {(r["partner"], r["partner_kind"]) for r in shown["reports"] if r["partner_id"] == kpu} == {
        ("KPU RI", "election_agency")
    }
    assert datetime.fromisoformat(shown["first_reported_at"]).astimezone(UTC) == NOW
