"""The reviewer's interactive loop and helpers, scripted."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kanal import wiring
from kanal.adapters import aws as aws_module
from kanal.errors import ReviewRefused
from kanal_cli.reviewer import cmd_interactive, desk_for, reviewer_name

from tests.support.console import Script, args
from tests.support.lambdas import SIGNED_CALLER, Invoke, ReviewGateway
from tests.support.reports import REASON, reported

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kanal.clock.now", lambda: NOW)


def test_interactive_decides_then_asks_then_quits(
    api: Invoke, case_builder: Invoke, dynamodb: Any, review_gateway: ReviewGateway
) -> None:
    first = reported(api, case_builder, dynamodb)[0]
    second = reported(api, case_builder, dynamodb, url="https://www.tiktok.com/@lain/video/7300000000000000009")[0]
    third = reported(api, case_builder, dynamodb, url="https://www.tiktok.com/@lain/video/7300000000000000010")[0]
    script = Script(
        "x",
        "d",
        "removed",
        "civic_election_integrity",
        REASON,  # a wrong key, then a decision
        "a",
        "Kapan video ini pertama kali diunggah?",
        "24h",  # a question
        "q",  # release and stop
    )
    cmd_interactive(args(), wiring.services(), script.ask, script.out)
    text = "\n".join(script.shown)
    assert "choose one of" in text
    assert "decided: removed under civic_election_integrity" in text
    assert "asked;" in text
    assert "released" in text
    cases = wiring.services().cases
    states = {r["case_id"]: cases.get(r["case_id"]).status for r in (first, second, third)}  # type: ignore[union-attr]
    assert sorted(states.values()) == ["decided", "needs_info", "received"]


def test_interactive_reports_refusals(
    api: Invoke, case_builder: Invoke, dynamodb: Any, review_gateway: ReviewGateway
) -> None:
    (receipt,) = reported(api, case_builder, dynamodb)
    script = Script("d", "removed", "misinformation", "too short", "a", "Kapan diunggah pertama kali?", "soon")
    cmd_interactive(args(), wiring.services(), script.ask, script.out)  # ends at the end of input
    shown = "\n".join(script.shown)
    assert "refused: reason: the statement of reasons needs at least 10 characters" in shown
    assert "refused: use a number with m, h or d" in shown
    assert shown.endswith("released")
    case = wiring.services().cases.get(receipt["case_id"])
    assert case is not None
    assert case.claim is None


def test_who_reviews_comes_from_the_platform_on_aws_and_from_the_name_only_locally(
    api: Invoke, case_builder: Invoke, dynamodb: Any, review_gateway: ReviewGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the local stack the name is the reviewer (and is required); on AWS the request is signed with the
    caller's credentials and the API records the signer: a name given there is refused, not trusted."""
    services = wiring.services()
    desk, who = desk_for(args(reviewer="ana"), services)
    assert who == "ana"
    monkeypatch.setenv("KANAL_REVIEWER", "budi")
    assert desk_for(args(reviewer=None), services)[1] == "budi"
    monkeypatch.delenv("KANAL_REVIEWER")
    with pytest.raises(ReviewRefused, match="--reviewer"):
        desk_for(args(reviewer=None), services)
    with pytest.raises(argparse.ArgumentTypeError, match="IAM role session name"):
        reviewer_name("ana\x1b]0;x")

    aws = services.settings.model_copy(
        update={"review_api_url": "https://abc123.execute-api.ap-southeast-3.amazonaws.com/prod"}
    )
    on_aws = wiring.build(aws)
    with pytest.raises(argparse.ArgumentTypeError, match="local stack only"):
        desk_for(args(reviewer="ana"), on_aws)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ana.signed")
    aws_module.reset()
    desk, who = desk_for(args(reviewer=None), on_aws)
    assert who == "your IAM identity"
    (receipt,) = reported(api, case_builder, dynamodb)
    claimed = desk.next(0)
    assert claimed is not None
    assert claimed["case"]["claim"] == {"held_by_you": True, "expires_at": claimed["case"]["claim"]["expires_at"]}
    held = wiring.services().cases.get(receipt["case_id"])
    assert held is not None
    assert held.claim is not None
    assert held.claim.reviewer == SIGNED_CALLER.format("ana.signed")  # the signer, as API Gateway verified it


def test_keep_extends_the_lease(api: Invoke, case_builder: Invoke, dynamodb: Any) -> None:
    (receipt,) = reported(api, case_builder, dynamodb)
    review = wiring.services().review()
    assert review.next("reviewer-a", 0, NOW) is not None
    kept = review.keep(receipt["case_id"], "reviewer-a", NOW + timedelta(minutes=10))
    assert kept.claim is not None
    assert kept.claim.expires_at == NOW + timedelta(minutes=25)
    with pytest.raises(ReviewRefused, match="held by another reviewer until"):
        review.keep(receipt["case_id"], "reviewer-b", NOW)
