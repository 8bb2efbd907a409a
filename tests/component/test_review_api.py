"""The reviewer API (ReviewFunction): who reviews comes from IAM, every rule holds on the server side."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kanal import wiring
from kanal.models import CaseEventKind, CaseStatus, PartnerKind

from tests.support.lambdas import Invoke, LambdaContext, ReviewGateway, event
from tests.support.reports import REASON, body_of, post, report_body, reported

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
ANA = "arn:aws:sts::123456789012:assumed-role/ReviewerRole/ana"
BUDI = "arn:aws:sts::123456789012:assumed-role/ReviewerRole/budi"
DECISION = {"outcome": "removed", "policy": "misinformation", "reason": REASON}


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kanal.clock.now", lambda: NOW)


def claimed_by(gateway: ReviewGateway, caller: str) -> dict[str, Any]:
    status, answer = gateway.invoke("POST", "/v1/review/next", {"wait_seconds": 0}, caller)
    assert status == 200, answer
    return answer  # type: ignore[no-any-return]


def test_the_recorded_reviewer_is_the_verified_caller_never_a_name_the_client_sends(
    api: Invoke, case_builder: Invoke, dynamodb: Any, review_gateway: ReviewGateway
) -> None:
    """Budi signs the requests; a header or a body naming ana changes nothing: budi claims and decides."""
    (receipt,) = reported(api, case_builder, dynamodb)
    spoof = {"X-Kanal-Local-Reviewer": "ana", "X-Amz-Security-Token": "ana"}
    status, answer = review_gateway.invoke("POST", "/v1/review/next", {"wait_seconds": 0}, BUDI, spoof)
    assert status == 200
    assert answer["case"]["claim"]["held_by_you"] is True
    # The report came with a key that carried no name (as keys issued before names rode on them): the API
    # looks the partner up, so the reviewer still sees who reported.
    (shown,) = answer["case"]["reports"]
    assert (shown["partner"], shown["partner_kind"]) == ("Bawaslu RI", "election_agency")
    case_id = receipt["case_id"]
    status, answer = review_gateway.invoke(
        "POST", f"/v1/review/cases/{case_id}/decision", {**DECISION, "reviewer": ANA}, BUDI, spoof
    )
    assert status == 422  # a field the API does not take is refused, not ignored
    assert [e["field"] for e in answer["errors"]] == ["reviewer"]
    status, _ = review_gateway.invoke("POST", f"/v1/review/cases/{case_id}/decision", DECISION, BUDI, spoof)
    assert status == 200
    case = wiring.services().cases.get(case_id)
    assert case is not None
    assert case.decision is not None
    assert case.decision.reviewer == BUDI
    actors = {e.kind: e.actor for e in wiring.services().trail.history(case_id)}
    assert actors[CaseEventKind.CLAIMED] == actors[CaseEventKind.DECIDED] == BUDI


def test_without_a_verified_caller_nothing_happens(
    api: Invoke, case_builder: Invoke, dynamodb: Any, review_gateway: ReviewGateway
) -> None:
    (receipt,) = reported(api, case_builder, dynamodb)
    for method, path, body in (
        ("POST", "/v1/review/next", {"wait_seconds": 0}),
        ("GET", f"/v1/review/cases/{receipt['case_id']}", None),
        ("POST", f"/v1/review/cases/{receipt['case_id']}/release", None),
    ):
        status, answer = review_gateway.invoke(method, path, body, None, {"X-Kanal-Local-Reviewer": "ana"})
        assert status == 403
        assert answer["type"] == "urn:kanal:problem:forbidden"
    case = wiring.services().cases.get(receipt["case_id"])
    assert case is not None
    assert case.claim is None  # nobody claimed it


def test_a_refusal_says_held_and_until_when_never_by_whom(
    api: Invoke, case_builder: Invoke, dynamodb: Any, review_gateway: ReviewGateway
) -> None:
    (receipt,) = reported(api, case_builder, dynamodb)
    claimed_by(review_gateway, ANA)
    case_id = receipt["case_id"]
    for action, body in (("decision", DECISION), ("release", None), ("keep", None)):
        status, answer = review_gateway.invoke("POST", f"/v1/review/cases/{case_id}/{action}", body, BUDI)
        assert status == 409
        assert "held by another reviewer until" in answer["detail"]
        assert "/ana" not in str(answer)
    status, shown = review_gateway.invoke("GET", f"/v1/review/cases/{case_id}", None, BUDI)
    assert status == 200
    assert shown["claim"] == {"held_by_you": False, "expires_at": "2026-11-23T10:15:00+07:00"}
    assert "/ana" not in str(shown)
    status, mine = review_gateway.invoke("GET", f"/v1/review/cases/{case_id}", None, ANA)
    assert mine["claim"]["held_by_you"] is True
    status, kept = review_gateway.invoke("POST", f"/v1/review/cases/{case_id}/keep", None, ANA)
    assert status == 200
    assert kept == {"case_id": case_id, "claim": {"held_by_you": True, "expires_at": "2026-11-23T10:15:00+07:00"}}


def test_a_decision_on_an_old_view_is_refused_with_the_new_reports_then_goes_through(
    api: Invoke, case_builder: Invoke, dynamodb: Any, review_gateway: ReviewGateway
) -> None:
    (receipt,) = reported(api, case_builder, dynamodb)
    claimed_by(review_gateway, ANA)
    kpu = wiring.services().partners.create("KPU RI", PartnerKind.ELECTION_AGENCY, NOW).partner.partner_id
    late = body_of(api(post(kpu, report_body(category="synthetic_media"))))
    path = f"/v1/review/cases/{receipt['case_id']}/decision"
    status, answer = review_gateway.invoke("POST", path, DECISION, ANA)
    assert status == 409
    assert answer["type"] == "urn:kanal:problem:conflict"
    # The new report (and those from a few seconds before the view, whose clocks may differ), with who sent it.
    shown = {r["report_id"]: r for r in answer["new_reports"]}
    assert shown[late["report_id"]]["partner_id"] == kpu
    assert "1 report(s) arrived" in answer["detail"]
    status, decided = review_gateway.invoke("POST", path, DECISION, ANA)
    assert status == 200
    assert decided["decision"]["report_count"] == 2


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        st.fixed_dictionaries({"wait_seconds": st.integers().filter(lambda n: not 0 <= n <= 20)}),
        st.fixed_dictionaries({"wait_seconds": st.text(max_size=5)}),
        st.dictionaries(
            st.text(min_size=1, max_size=8).filter(lambda k: k != "wait_seconds"), st.integers(), min_size=1
        ),
    )
)
def test_bad_input_is_a_problem_naming_the_field_and_changes_nothing(
    review_gateway: ReviewGateway, body: dict[str, Any]
) -> None:
    status, answer = review_gateway.invoke("POST", "/v1/review/next", body, ANA)
    assert status == 422
    assert answer["errors"]
    assert {e["field"] for e in answer["errors"]} <= {"wait_seconds", *body}


def test_questions_and_decisions_are_checked_on_the_server(
    api: Invoke, case_builder: Invoke, dynamodb: Any, review_gateway: ReviewGateway
) -> None:
    (receipt,) = reported(api, case_builder, dynamodb)
    claimed_by(review_gateway, ANA)
    case_id = receipt["case_id"]
    bad = [
        ("question", {"question": "Kapan?", "due_in_minutes": 60}, "question"),
        ("question", {"question": "Di TPS mana kejadiannya?", "due_in_minutes": 9}, "due_in_minutes"),
        ("question", {"question": "Di TPS mana kejadiannya?", "due_in_minutes": 43201}, "due_in_minutes"),
        ("question", {"question": "Di TPS mana\u202e kejadiannya?"}, "question"),
        ("decision", {**DECISION, "reason": "singkat"}, "reason"),
        ("decision", {**DECISION, "reason": REASON + "\x1b[2J"}, "reason"),
        ("decision", {**DECISION, "outcome": "deleted"}, "outcome"),
    ]
    for action, body, field in bad:
        status, answer = review_gateway.invoke("POST", f"/v1/review/cases/{case_id}/{action}", body, ANA)
        assert status == 422, (action, body)
        assert [e["field"] for e in answer["errors"]] == [field]
    case = wiring.services().cases.get(case_id)
    assert case is not None
    assert case.status is CaseStatus.RECEIVED
    assert case.decision is None
    status, asked = review_gateway.invoke(
        "POST", f"/v1/review/cases/{case_id}/question", {"question": "Di TPS mana kejadiannya?"}, ANA
    )
    assert status == 200
    assert asked["status"] == "needs_info"
    assert asked["question"]["due_at"] == "2026-11-25T03:00:00Z"


def test_an_empty_queue_answers_204_and_unknown_cases_404(review_gateway: ReviewGateway) -> None:
    assert review_gateway.invoke("POST", "/v1/review/next", {"wait_seconds": 0}, ANA) == (204, None)
    assert review_gateway.invoke("POST", "/v1/review/next", {}, ANA)[0] == 204  # the wait is optional
    status, answer = review_gateway.invoke("GET", "/v1/review/cases/c_nothing", None, ANA)
    assert status == 404
    assert answer["type"] == "urn:kanal:problem:not-found"
    status, _ = review_gateway.invoke("POST", "/v1/review/cases/c_nothing/release", None, ANA)
    assert status in (404, 409)


def test_the_sample_events_claim_and_decide_as_their_signer(
    api: Invoke, case_builder: Invoke, dynamodb: Any, review_gateway: ReviewGateway
) -> None:
    """events/review_next.json and review_decide.json, as API Gateway sends them for a reviewer's signed request."""
    (receipt,) = reported(api, case_builder, dynamodb)
    next_event = event("review_next")
    next_event["body"] = json.dumps({"wait_seconds": 0})
    answer = review_gateway.handler(next_event, LambdaContext())
    assert answer["statusCode"] == 200
    signer = next_event["requestContext"]["identity"]["userArn"]
    decide = event("review_decide")
    decide["pathParameters"]["case_id"] = receipt["case_id"]
    decide["path"] = decide["path"].replace("c_exampleexampleexampleexam", receipt["case_id"])
    answer = review_gateway.handler(decide, LambdaContext())
    assert answer["statusCode"] == 200, answer["body"]
    case = wiring.services().cases.get(receipt["case_id"])
    assert case is not None
    assert case.decision is not None
    assert case.decision.reviewer == signer
