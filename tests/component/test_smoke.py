"""`kanal smoke` on the moto stack: the partner API over HTTP (the local gateway in front of the real handlers), the
reviewer API as `kanal review` reaches it, the stream delivered to the case builder while the smoke waits. Its
operator steps run as OperatorRole (tests/support/iam.py checks every call after each test)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kanal import wiring
from kanal.models import CaseStatus, PartnerKind
from kanal_cli import smoke
from kanal_local.emulator import free_port
from kanal_local.template import Stack

from tests.support.lambdas import Invoke, ReviewGateway, env
from tests.support.operator_flows import StreamPump, partner_api, reviewer_sends, run_cli, scan_keys, signed_as
from tests.support.reports import body_of, post, report_body

SMOKE_ARN = "arn:aws:sts::123456789012:assumed-role/ReviewerRole/smoke"
ON_AWS = {"KANAL_REVIEW_API_URL": "https://ReviewApi.execute-api.ap-southeast-3.amazonaws.com/prod"}


@pytest.fixture
def pump(stack: Stack, case_builder: Invoke, monkeypatch: pytest.MonkeyPatch) -> StreamPump:
    """The stream delivered to the case builder whenever the smoke pauses (as Lambda would, meanwhile)."""
    delivered = StreamPump(case_builder, stack=stack)
    monkeypatch.setattr(smoke, "pause", delivered)
    return delivered


@pytest.fixture
def partner_url(stack: Stack, pump: StreamPump, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with partner_api(stack) as url:
        monkeypatch.setenv("KANAL_API_URL", url)
        yield url


def run_smoke(*argv: str) -> tuple[int, list[str], str]:
    """`kanal smoke --wait 0 ARGV` as an operator runs it: exit status, the lines it printed (not the in-process
    handlers' log lines, which are JSON), stderr."""
    code, out, err = run_cli("smoke", "--wait", "0", "--timeout", "5", *argv)
    return code, [line for line in out.splitlines() if not line.startswith("{")], err


def real_cases(api: Invoke, pump: StreamPump, *categories: str) -> list[str]:
    """Reports of a real partner, one per category (synthetic_media goes to the urgent queue), in their cases."""
    partner = wiring.services().partners.create("Bawaslu RI", PartnerKind.ELECTION_AGENCY, _now()).partner.partner_id
    cases = []
    for n, category in enumerate(categories):
        url = f"https://www.tiktok.com/@nyata/video/73000000000000001{n:02d}"
        cases.append(body_of(api(post(partner, report_body(content_url=url, category=category))))["case_id"])
    pump()  # the reports to the case builder
    pump()  # the trail entries it wrote to EventsFunction: the real partner's feed is written before the smoke runs
    return cases


def _now() -> Any:
    from kanal import clock

    return clock.now()


def marks(lines: list[str]) -> list[str]:
    """Each step's mark and name, in order ("✓ partner", "✗ claim", "- read")."""
    return [" ".join(line.split()[:2]) for line in lines if line[:1] in "✓✗-"]


def test_a_smoke_run_goes_every_way_a_report_goes_and_leaves_nothing(
    partner_url: str, review_gateway: ReviewGateway
) -> None:
    before = scan_keys()
    code, lines, err = run_smoke()
    assert code == 0, (lines, err)
    assert marks(lines) == [
        "✓ partner",
        "✓ report",
        "✓ queue",
        "✓ claim",
        "✓ decide",
        "✓ read",
        "✓ cleanup",
    ]
    assert lines[-1].startswith("smoke passed in ")
    assert "on the urgent queue" in next(line for line in lines if line.startswith("✓ queue"))
    cleanup = next(line for line in lines if line.startswith("✓ cleanup"))
    assert "revoked" in cleanup
    assert "1 report(s)" in cleanup
    assert "deleted" in cleanup
    assert scan_keys() == before  # nothing of the run is left
    # The reviewer steps went through the reviewer API, as the named local reviewer.
    paths = [(c["path"].rsplit("/", 1)[-1], c["caller"]) for c in review_gateway.calls]
    assert paths == [("next", SMOKE_ARN), ("decision", SMOKE_ARN)]


def test_real_cases_that_come_first_are_released_at_once_never_decided(
    api: Invoke, pump: StreamPump, partner_url: str, dynamodb: Any
) -> None:
    """A live queue: two real urgent cases ahead of the smoke's, one normal. The smoke gives each back as it comes,
    says so, and decides only its own; the real ones wait for a reviewer as before."""
    real = real_cases(api, pump, "synthetic_media", "synthetic_media", "misinformation")
    before = scan_keys()
    code, lines, err = run_smoke()
    assert code == 0, (lines, err)
    released = [line.split()[1].rstrip(":") for line in lines if line.strip().startswith("released ")]
    assert released == real[:2]
    assert "released 2 real case(s) first" in next(line for line in lines if line.startswith("✓ claim"))
    services = wiring.services()
    for case_id in real:
        case = services.cases.get(case_id)
        assert case is not None
        assert case.status is CaseStatus.RECEIVED
        assert case.claim is None
        assert case.decision is None
    trail = [(e.kind, e.actor) for e in services.trail.history(real[0])]
    assert ("claimed", SMOKE_ARN) in trail
    assert ("released", SMOKE_ARN) in trail  # the smoke's part is on the real case's trail, by name
    added = scan_keys() - before
    assert {pk for pk, _ in added} == {f"CASE#{real[0]}", f"CASE#{real[1]}"}  # their claimed/released entries only
    # A reviewer gets the real cases next, urgent first.
    review = services.review()
    assert [review.next("ana", 0, _now()).case.case_id for _ in range(3)] == real  # type: ignore[union-attr]


def test_when_the_claims_run_out_the_smoke_fails_there_and_leaves_an_inert_tombstone(
    api: Invoke, pump: StreamPump, partner_url: str, sqs: Any
) -> None:
    """One claim only, and a real urgent case ahead: the claim step fails (the real case released), the decision and
    the read are skipped, and the cleanup removes everything but the case item, which it leaves waiting for no one
    (its message is still on the queue: a worker drops it, where a deleted case would make it a dead letter)."""
    (real,) = real_cases(api, pump, "synthetic_media")
    before = scan_keys()
    code, lines, err = run_smoke("--claims", "1")
    assert code == 1
    assert marks(lines) == [
        "✓ partner",
        "✓ report",
        "✓ queue",
        "✗ claim",
        "- decide",
        "- read",
        "✗ cleanup",
    ]
    assert "did not come in 1 claim(s) (1 real case(s) released)" in next(line for line in lines if line[:1] == "✗")
    assert "left as a tombstone" in next(line for line in lines if line.startswith("✗ cleanup"))
    assert lines[-1].startswith("smoke failed at claim")
    assert err.strip() == "kanal: the smoke test failed; see the lines above"
    added = scan_keys() - before
    (left,) = {key for key in added if key[0] != f"CASE#{real}"}  # the smoke's case item, nothing else
    tombstone = wiring.services().cases.get(left[0].removeprefix("CASE#"))
    assert tombstone is not None
    assert tombstone.status is CaseStatus.NEEDS_INFO
    assert tombstone.claim is None
    assert tombstone.report_count == 1
    assert tombstone.expires_at is not None
    # A reviewer's worker drops the tombstone's message and gets the real case; nothing is left to dead-letter.
    claimed = wiring.services().review().next("ana", 0, _now())
    assert claimed is not None
    assert claimed.case.case_id == real
    for queue in ("URGENT_QUEUE_URL", "NORMAL_QUEUE_URL"):
        attributes = sqs.get_queue_attributes(QueueUrl=env(queue), AttributeNames=["ApproximateNumberOfMessages"])
        assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_a_failing_step_is_named_and_the_cleanup_still_runs(partner_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The partner API unreachable: the report step fails with why; the partner and its key are removed anyway."""
    monkeypatch.setenv("KANAL_API_URL", f"http://127.0.0.1:{free_port()}")
    before = scan_keys()
    code, lines, _ = run_smoke()
    assert code == 1
    assert marks(lines)[:3] == ["✓ partner", "✗ report", "- queue"]
    assert "the partner API at http://127.0.0.1:" in next(line for line in lines if line.startswith("✗ report"))
    assert marks(lines)[-1] == "✓ cleanup"
    assert scan_keys() == before


def test_a_real_case_that_cannot_be_given_back_stops_the_claims_and_the_cleanup_tries_again(
    api: Invoke, pump: StreamPump, partner_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (real,) = real_cases(api, pump, "synthetic_media")
    release = smoke.ReviewDesk.release
    refused: list[str] = []

    def release_once_refused(desk: smoke.ReviewDesk, case_id: str) -> dict[str, Any]:
        if not refused:
            refused.append(case_id)
            raise smoke.StepFailed("the reviewer API is busy")
        return release(desk, case_id)

    monkeypatch.setattr(smoke.ReviewDesk, "release", release_once_refused)
    code, lines, _ = run_smoke()
    assert code == 1
    assert refused == [real]
    assert marks(lines)[3] == "✗ claim"
    assert f"claimed real case {real} and could not release it" in lines[4]
    assert any(line.strip().startswith(f"released {real}") for line in lines)  # by the cleanup
    case = wiring.services().cases.get(real)
    assert case is not None
    assert case.claim is None


@pytest.mark.parametrize(
    ("argv", "environment", "said"),
    [
        (["--reviewer-profile", "ops"], {}, "--reviewer-profile is for a deployed stack"),
        (["--claims", "0"], {}, "--claims: must be a whole number from 1 to 50"),
        (["--reviewer", "x"], {}, "--reviewer: must be 2-64"),
        ([], ON_AWS, "need --reviewer-profile"),
        (["--reviewer", "ana"], ON_AWS, "--reviewer is for the local stack only"),
        (["--reviewer-profile", "no-such-profile"], ON_AWS, "--reviewer-profile 'no-such-profile': "),
        ([], {"KANAL_API_URL": ""}, "the partner API's URL is unknown"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2_and_makes_nothing(
    partner_url: str, monkeypatch: pytest.MonkeyPatch, argv: list[str], environment: dict[str, str], said: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    before = scan_keys()
    code, lines, err = run_smoke(*argv)
    assert code == 2
    assert lines == []
    assert said in err
    assert len(err.strip().splitlines()) == 1
    assert scan_keys() == before


def test_on_aws_the_reviewer_steps_are_signed_with_the_reviewer_profile(
    partner_url: str, review_gateway: ReviewGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KANAL_REVIEW_API_URL", ON_AWS["KANAL_REVIEW_API_URL"])
    monkeypatch.setattr(smoke, "profile_credentials", signed_as("kanal-smoke"))
    reviewer_sends(monkeypatch)  # the reviewer steps are the reviewer profile's calls (ReviewerRole), not operator's
    code, lines, _ = run_smoke("--reviewer-profile", "kanal-smoke")
    assert code == 0, lines
    assert "reviewing as the identity of profile kanal-smoke" in lines[0]
    callers = {c["caller"] for c in review_gateway.calls}
    assert callers == {"arn:aws:sts::123456789012:assumed-role/ReviewerRole/kanal-smoke"}
