"""Input shaped by an attacker, through the intake function on moto: no date or cursor answers 5xx, and the API
takes only the bodies it documents (application/json in UTF-8, identity coding, each member once; the validators
themselves: tests/unit/test_partner_input.py).

Time is never asserted: ``pytest.mark.timeout`` only turns a regression (a backtracking pattern, a
quadratic loop) into a failure instead of a hang.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from kanal.intake import OBSERVED_AT_MAX_AGE

from tests.support.lambdas import Invoke, count_items
from tests.support.reports import (
    ANY_AWARE,
    EDGES,
    MOMENTS,
    NOW,
    body_of,
    get,
    header,
    new_partner,
    post,
    report_body,
    within_bounds,
)

# Each case takes milliseconds and a regression minutes; the moto stack's setup counts too, and this machine is shared.
HANG = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kanal.clock.now", lambda: NOW)


# Evidence URLs ----------------------------------------------------------------------------------------


@HANG
def test_ten_dotted_2kb_evidence_urls_are_refused_by_the_api(api: Invoke) -> None:
    partner = new_partner()
    dotted = "https://" + "." * 2040
    for route in ("/v1/reports", "/v1/reports/{report_id}/info"):
        e = post(partner, report_body(evidence_urls=[dotted] * 10))
        if route != "/v1/reports":  # the info route validates the body before it looks at the report
            e.update(resource=route, pathParameters={"report_id": "r_anything"})
            e["body"] = json.dumps({"message": "Bukti tambahan.", "evidence_urls": [dotted] * 10})
        answer = api(e)
        assert answer["statusCode"] == 422, answer["body"]
        assert [f["field"] for f in body_of(answer)["errors"]] == [f"evidence_urls[{i}]" for i in range(10)]


# Dates -------------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moment=st.one_of(MOMENTS, st.sampled_from(EDGES)))
def test_the_api_answers_observed_at_with_202_or_422_never_5xx(api: Invoke, moment: datetime) -> None:
    answer = api(post(new_partner(), report_body(observed_at=moment.isoformat())))
    event(f"within bounds: {within_bounds(moment, NOW)}")
    if within_bounds(moment, NOW):
        assert answer["statusCode"] == 202, answer["body"]
    else:
        assert answer["statusCode"] == 422, answer["body"]
        assert [e["field"] for e in body_of(answer)["errors"]] == ["observed_at"]


@pytest.mark.parametrize(
    ("observed_at", "status"),
    [
        ("0001-01-01T00:00:00+14:00", 422),  # before year 1 in UTC
        ("9999-12-31T23:59:59-14:00", 422),  # after year 9999 in UTC
        ("0001-01-01T00:00:00Z", 422),
        ((NOW - OBSERVED_AT_MAX_AGE - timedelta(seconds=1)).isoformat(), 422),
        ((NOW - OBSERVED_AT_MAX_AGE).isoformat(), 202),
        ((NOW - timedelta(days=9 * 365)).astimezone(timezone(timedelta(hours=9))).isoformat(), 202),
    ],
)
def test_observed_at_bounds(api: Invoke, dynamodb: Any, observed_at: str, status: int) -> None:
    answer = api(post(new_partner(), report_body(observed_at=observed_at)))
    assert answer["statusCode"] == status, answer["body"]
    if status == 422:
        assert [e["field"] for e in body_of(answer)["errors"]] == ["observed_at"]
        assert count_items(dynamodb, "REPORT#") == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moment=st.one_of(ANY_AWARE, st.sampled_from(EDGES), st.datetimes()))
def test_the_api_answers_any_cursor_with_200_or_422_never_5xx(api: Invoke, moment: datetime) -> None:
    cursor = base64.urlsafe_b64encode(f"{moment.isoformat()}|r_x".encode()).decode().rstrip("=")
    answer = api(get(new_partner(), "/v1/reports", {"cursor": cursor}))
    try:
        representable = moment.tzinfo is not None and bool(moment.astimezone(UTC))
    except OverflowError:
        representable = False
    event(f"representable: {representable}")
    if representable:
        assert answer["statusCode"] == 200, answer["body"]
    else:
        assert answer["statusCode"] == 422, answer["body"]
        assert [e["field"] for e in body_of(answer)["errors"]] == ["cursor"]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=latin-1",
        "application/json; charset=utf-16",
        "application/evil+json",
        "application/problem+json",
        "application/json; charset=utf-8; charset=latin-1",
        "application/json, text/plain",
        "text/plain",
    ],
)
# Content types and codings ------------------------------------------------------------------------------


def test_other_content_types_are_415(api: Invoke, dynamodb: Any, content_type: str) -> None:
    answer = api(post(new_partner(), **{"Content-Type": content_type}))
    assert answer["statusCode"] == 415, answer["body"]
    assert header(answer, "Accept") == "application/json"
    assert "application/json" in body_of(answer)["detail"]
    assert [e["field"] for e in body_of(answer)["errors"]] == ["Content-Type"]
    assert count_items(dynamodb, "REPORT#") == 0


@pytest.mark.parametrize(
    "content_type", ["application/json", 'Application/JSON ; Charset="UTF-8"', "application/json;charset=utf-8"]
)
def test_application_json_in_utf_8_is_taken(api: Invoke, content_type: str) -> None:
    assert api(post(new_partner(), **{"Content-Type": content_type}))["statusCode"] == 202


@pytest.mark.parametrize(
    ("coding", "status"),
    [("gzip", 415), ("br", 415), ("identity, gzip", 415), ("x-gzip", 415), ("identity", 202), ("IDENTITY", 202)],
)
def test_content_codings_other_than_identity_are_415(api: Invoke, coding: str, status: int) -> None:
    answer = api(post(new_partner(), **{"Content-Encoding": coding}))
    assert answer["statusCode"] == status, answer["body"]
    if status == 415:
        assert header(answer, "Accept-Encoding") == "identity"
        assert [e["field"] for e in body_of(answer)["errors"]] == ["Content-Encoding"]


def test_a_coding_in_any_repeated_header_counts(api: Invoke) -> None:
    # API Gateway's headers hold only the last of repeated headers; multiValueHeaders holds them all.
    e = post(new_partner(), **{"Content-Encoding": "identity"})
    e["multiValueHeaders"] = {"Content-Encoding": ["gzip", "identity"]}
    assert api(e)["statusCode"] == 415


def test_non_utf_8_bytes_declared_utf_8_stay_422(api: Invoke) -> None:
    e = post(new_partner())
    latin_1 = json.dumps(report_body(description="caf\xe9"), ensure_ascii=False).encode("latin-1")
    e["body"] = base64.b64encode(latin_1).decode()
    e["isBase64Encoded"] = True
    answer = api(e)
    assert answer["statusCode"] == 422
    assert [f["field"] for f in body_of(answer)["errors"]] == ["body"]


# Repeated members ---------------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**6), max_value=10**6) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), again=JSON_VALUES, escaped=st.booleans())
def test_a_member_named_twice_is_422_naming_it(api: Invoke, data: st.DataObject, again: Any, escaped: bool) -> None:
    body = report_body(evidence_urls=["https://a.example.org/1"], observed_at="2026-11-23T09:00:00+07:00")
    members = [json.dumps(k) + ":" + json.dumps(v) for k, v in body.items()]
    name = data.draw(st.sampled_from(sorted(body)))
    spelled = json.dumps(name) if not escaped else '"' + "".join(f"\\u{ord(c):04x}" for c in name) + '"'
    at = data.draw(st.integers(min_value=0, max_value=len(members)))
    members.insert(at, f"{spelled}:{json.dumps(again)}")
    answer = api(post(new_partner(), raw="{" + ",".join(members) + "}"))
    assert answer["statusCode"] == 422, answer["body"]
    assert body_of(answer)["errors"] == [{"field": name, "message": "appears more than once"}]


@pytest.mark.parametrize(
    ("raw", "fields"),
    [
        ('{"message": "a", "evidence_urls": [{"u": 1, "u": 2}]}', ["evidence_urls[0].u"]),
        ('{"message": "a", "message": "b", "x": {"y": 1, "y": 1}}', ["message", "x.y"]),
    ],
)
def test_repeated_members_are_named_at_any_depth(api: Invoke, raw: str, fields: list[str]) -> None:
    e = post(new_partner(), raw=raw)
    e.update(resource="/v1/reports/{report_id}/info", pathParameters={"report_id": "r_anything"})
    answer = api(e)
    assert answer["statusCode"] == 422, answer["body"]
    assert [f["field"] for f in body_of(answer)["errors"]] == fields


def test_a_body_that_is_not_json_is_still_named_body(api: Invoke) -> None:
    for raw in ('{"category": "other", "category": ', '{"\\ud800": 1, "\\ud800": 2}'):
        answer = api(post(new_partner(), raw=raw))
        assert answer["statusCode"] == 422
        assert [f["field"] for f in body_of(answer)["errors"]] == ["body"]
