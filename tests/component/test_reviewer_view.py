"""What a reviewer sees of a case on the moto stack: questions with their answers, who reported, times in WIB."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kanal import wiring
from kanal.models import InfoReply, PartnerKind
from kanal_cli.cli import main

from tests.support.lambdas import Invoke, env, stream_event
from tests.support.reports import NOW, post, report_body, reported


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kanal.clock.now", lambda: NOW)


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
