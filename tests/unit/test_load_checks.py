"""`make load`'s checks (bench/load.py), on made-up answers, cases and queue messages: no stack, no network."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kanal.models import Case, Priority

from tests.support import ROOT

sys.path.insert(0, str(ROOT / "bench"))

from load import Read, Sent, check, summary

URL = "https://www.tiktok.com/@a/video/{}"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def sent(partner: int, video: int, n: int, status: int = 202, case: str | None = None) -> Sent:
    if status != 202:
        return Sent(partner, video, status, 0.1)
    return Sent(partner, video, status, 0.1, f"r_{n}", case or f"c_{video}", URL.format(video))


def read_of(s: Sent) -> Read:
    return Read(200, s.report_id, s.case_id, s.content_url)


def case(reports: set[str], partners: set[str], queued: Priority | None) -> Case:
    return Case(
        case_id="c",
        content_key="k",
        content_url=URL.format(0),
        report_count=len(reports),
        partners=partners,
        queued=queued,
        first_reported_at=NOW - timedelta(minutes=5),
        review_due_at=NOW + timedelta(hours=24),
    )


@pytest.fixture
def good() -> tuple[list[Sent], dict[str, Read], dict[str, Case], dict[str, list[dict[str, Any]]]]:
    answers = [sent(0, 1, 1), sent(1, 1, 2), sent(0, 2, 3)]
    cases = {
        "c_1": case({"r_1", "r_2"}, {"p0", "p1"}, Priority.URGENT),
        "c_2": case({"r_3"}, {"p0"}, Priority.NORMAL),
    }
    # c_1 was queued normal first, then escalated: a message in each queue is fine.
    messages = {"urgent": [{"case_id": "c_1"}], "normal": [{"case_id": "c_2"}, {"case_id": "c_1"}]}
    return answers, {str(s.report_id): read_of(s) for s in answers}, cases, messages


def test_everything_in_order_passes(good: Any) -> None:
    answers, reads, cases, messages = good
    out = check(answers, 3, reads, cases, messages, NOW)
    assert out.ok, out.failures
    assert (out.accepted, out.readable, out.videos, out.cases, out.queued, out.server_errors) == (3, 3, 2, 2, 2, 0)
    line = summary(out, 2, 1.5)
    assert line.startswith("load: 3 reports from 2 partners in 1.5 s (2/s), 0 5xx, 3/3 readable, 2 cases all queued")
    assert line.endswith("videos→one case each: ok")


def test_5xx_refusals_and_unsent_reports_fail(good: Any) -> None:
    answers, reads, cases, messages = good
    out = check(
        [*answers, sent(2, 3, 4, status=502), sent(2, 3, 5, status=0), sent(2, 4, 6, status=422)],
        8,
        reads,
        cases,
        messages,
        NOW,
    )
    assert out.server_errors == 2
    assert out.refused == {422: 1}
    assert set(out.failures) == {"sent", "5xx", "accepted"}
    assert "FAILED: sent, 5xx, accepted" in summary(out, 3, 1.0)


def test_unreadable_or_different_report_fails(good: Any) -> None:
    answers, reads, cases, messages = good
    reads["r_1"] = Read(404)
    reads["r_2"] = Read(200, "r_2", "c_other", URL.format(1))
    del reads["r_3"]
    out = check(answers, 3, reads, cases, messages, NOW)
    assert out.readable == 0
    assert len(out.failures["readable"]) == 3


def test_a_video_in_two_cases_or_two_videos_in_one_case_fail(good: Any) -> None:
    answers, reads, cases, messages = good
    split = [*answers, sent(2, 1, 7, case="c_1b")]
    out = check(split, 4, {**reads, "r_7": read_of(split[-1])}, cases, messages, NOW)
    assert any("video 1 in 2 cases" in e for e in out.failures["one case per video"])
    merged = [*answers, sent(2, 9, 8, case="c_2")]
    out = check(merged, 4, {**reads, "r_8": read_of(merged[-1])}, cases, messages, NOW)
    assert any("case c_2 holds 2 videos" in e for e in out.failures["one case per video"])
    assert "videos→one case each: FAILED" in summary(out, 3, 1.0)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda cases, messages: cases.pop("c_2"), "never built"),
        (lambda cases, messages: setattr(cases["c_1"], "report_count", 1), "lacks 1 of its 2 reports"),
        (lambda cases, messages: setattr(cases["c_2"], "queued", None), "not marked queued"),
        (lambda cases, messages: messages.update(normal=[{"case_id": "c_1"}]), "marked normal but no normal message"),
        (
            lambda cases, messages: setattr(cases["c_1"], "queued", Priority.NORMAL),
            "(2 partners) is in the normal queue",
        ),
        (
            lambda cases, messages: setattr(cases["c_2"], "urgent_reasons", {"synthetic_media"}),
            "(1 partners) is in the normal queue",
        ),
    ],
)
def test_cases_not_built_not_queued_or_in_the_wrong_queue_fail(good: Any, change: Any, expected: str) -> None:
    answers, reads, cases, messages = good
    change(cases, messages)
    out = check(answers, 3, reads, cases, messages, NOW)
    assert any(expected in e for e in out.failures["queued"]), out.failures
    assert out.queued == 1
    assert "1 queued" in summary(out, 2, 1.0)


def test_examples_are_capped(good: Any) -> None:
    messages = good[3]
    out = check([sent(0, v, v, status=500) for v in range(20)], 20, {}, {}, messages, NOW)
    assert out.server_errors == 20
    assert len(out.failures["5xx"]) == 5
    assert out.failures["5xx"][-1] == "..."
