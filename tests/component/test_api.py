"""The intake function through events/ on moto: validation, isolation, idempotency, faults."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from kanal import wiring
from kanal.adapters import aws
from kanal.entrypoints import intake_function as api_module

from tests.support.lambdas import Invoke, count_items, event, failing
from tests.support.reports import NOW, VIDEO, as_partner, body_of, get, header, new_partner, post, report_body


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kanal.clock.now", lambda: NOW)


def test_event_file_is_accepted(api: Invoke) -> None:
    partner = new_partner()
    answer = api(as_partner(event("post_report"), partner))
    assert answer["statusCode"] == 202, answer["body"]
    receipt = body_of(answer)
    assert header(answer, "Location") == f"/prod/v1/reports/{receipt['report_id']}"
    assert receipt["status"] == "received"
    assert set(receipt) >= {"report_id", "case_id", "status", "received_at", "review_due_at"}


def test_report_round_trip_and_isolation(api: Invoke) -> None:
    bawaslu, perludem = new_partner(), new_partner("Perludem")
    receipt = body_of(api(post(bawaslu)))
    mine = api(get(bawaslu, f"/v1/reports/{receipt['report_id']}"))
    assert mine["statusCode"] == 200
    shown = body_of(mine)
    assert shown["description"] == report_body()["description"]
    assert shown["case_id"] == receipt["case_id"]
    theirs = api(get(perludem, f"/v1/reports/{receipt['report_id']}"))
    unknown = api(get(perludem, "/v1/reports/r_doesnotexist"))
    assert theirs["statusCode"] == unknown["statusCode"] == 404
    assert body_of(theirs) == body_of(unknown)
    assert header(theirs, "Content-Type") == "application/problem+json"
    assert body_of(api(get(perludem, "/v1/reports")))["items"] == []


def test_listing_pages_newest_first_with_status_filter(api: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    partner, other = new_partner(), new_partner("KPU RI")
    ids = []
    for minute in range(5):
        monkeypatch.setattr("kanal.clock.now", lambda m=minute: NOW + timedelta(minutes=m))
        ids.append(body_of(api(post(partner, report_body(content_url=f"{VIDEO[:-1]}{minute}"))))["report_id"])
    api(post(other))
    first = body_of(api(get(partner, "/v1/reports", {"limit": "2"})))
    assert [i["report_id"] for i in first["items"]] == ids[::-1][:2]
    second = body_of(api(get(partner, "/v1/reports", {"limit": "2", "cursor": first["next_cursor"]})))
    third = body_of(api(get(partner, "/v1/reports", {"limit": "2", "cursor": second["next_cursor"]})))
    assert [i["report_id"] for i in second["items"] + third["items"]] == ids[::-1][2:]
    assert third["next_cursor"] is None
    received = body_of(api(get(partner, "/v1/reports", {"status": "received"})))
    assert len(received["items"]) == 5
    assert body_of(api(get(partner, "/v1/reports", {"status": "decided"})))["items"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"cursor": "%%%"}, "cursor"),
        ({"status": "lost"}, "status"),
    ],
)
def test_bad_list_parameters(api: Invoke, query: dict[str, str], field: str) -> None:
    answer = api(get(new_partner(), "/v1/reports", query))
    assert answer["statusCode"] == 422
    assert [e["field"] for e in body_of(answer)["errors"]] == [field]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"content_url": "https://www.youtube.com/watch?v=1"}, "content_url"),
        ({"content_url": "http://www.tiktok.com/@a/video/1"}, "content_url"),
        ({"content_url": None}, "content_url"),
        ({"category": "spam"}, "category"),
        ({"region_code": "99.99"}, "region_code"),
        ({"region_code": "31.7"}, "region_code"),
        ({"description": ""}, "description"),
        ({"description": "x" * 5001}, "description"),
        ({"evidence_urls": ["https://a.example/1"] * 11}, "evidence_urls"),
        ({"evidence_urls": ["ftp://a.example/1"]}, "evidence_urls[0]"),
        ({"legal_basis": "x" * 501}, "legal_basis"),
        ({"election": "pemilu-2099"}, "election"),
        ({"observed_at": "2026-11-23T12:00:00"}, "observed_at"),
        ({"observed_at": "2026-11-24T12:00:00+07:00"}, "observed_at"),
        ({"partner_reference": "x" * 129}, "partner_reference"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_each_invalid_field_is_named_and_nothing_is_stored(
    api: Invoke, dynamodb: Any, changes: dict[str, Any], field: str
) -> None:
    body = report_body(**changes)
    body = {k: v for k, v in body.items() if v is not None}
    answer = api(post(new_partner(), body))
    assert answer["statusCode"] == 422, answer["body"]
    problem = body_of(answer)
    assert problem["status"] == 422
    assert problem["type"].startswith("urn:kanal:problem:")
    assert [e["field"] for e in problem["errors"]] == [field]
    assert all(e["message"] for e in problem["errors"])
    assert count_items(dynamodb, "REPORT#") == 0


def test_several_invalid_fields_get_one_entry_each(api: Invoke) -> None:
    answer = api(post(new_partner(), {"category": "spam", "region_code": "00", "extra": 1}))
    fields = sorted(e["field"] for e in body_of(answer)["errors"])
    assert fields == ["category", "content_url", "description", "extra", "region_code"]


def test_unknown_query_parameters_are_refused(api: Invoke) -> None:
    answer = api(get(new_partner(), "/v1/reports", {"limit": "5", "colour": "red", "": "x"}))
    assert answer["statusCode"] == 422
    assert [e["field"] for e in body_of(answer)["errors"]] == ["", "colour"]
    one = api(get(new_partner(), "/v1/reports/r_x", {"limit": "5"}))
    assert one["statusCode"] == 422


def test_body_limits(api: Invoke, dynamodb: Any) -> None:
    partner = new_partner()
    too_big = api(post(partner, raw=json.dumps(report_body(description="x" * 70_000))))
    assert too_big["statusCode"] == 413
    assert header(too_big, "Content-Type") == "application/problem+json"
    assert body_of(too_big)["type"] == "urn:kanal:problem:content-too-large"  # as the gateway's own 413
    not_json = api(post(partner, raw="content_url=x", **{"Content-Type": "application/x-www-form-urlencoded"}))
    assert not_json["statusCode"] == 415
    broken = api(post(partner, raw="{not json"))
    assert broken["statusCode"] == 422
    assert body_of(broken)["errors"][0]["field"] == "body"
    assert count_items(dynamodb, "REPORT#") == 0


def test_idempotency_key(api: Invoke, dynamodb: Any) -> None:
    partner = new_partner()
    first = api(post(partner, key="bws-0001"))
    again = api(post(partner, key="bws-0001"))
    assert first["statusCode"] == again["statusCode"] == 202
    assert body_of(first) == body_of(again)
    assert count_items(dynamodb, "REPORT#") == 1
    other_body = api(post(partner, report_body(description="Laporan lain"), key="bws-0001"))
    assert other_body["statusCode"] == 422
    assert body_of(other_body)["errors"][0]["field"] == "Idempotency-Key"
    too_long = api(post(partner, key="k" * 256))
    assert too_long["statusCode"] == 422
    assert count_items(dynamodb, "REPORT#") == 1


def test_same_key_while_the_first_request_runs_is_409(api: Invoke, dynamodb: Any) -> None:
    from kanal.intake import IN_FLIGHT, idempotent_report_id

    partner = new_partner()
    reports = wiring.services().reports
    assert reports.begin(idempotent_report_id(partner, "bws-0009"), NOW, NOW + IN_FLIGHT)  # a request in flight
    answer = api(post(partner, key="bws-0009"))
    assert answer["statusCode"] == 409
    assert header(answer, "Retry-After") == str(api_module.RETRY_AFTER_SECONDS)
    assert body_of(answer)["status"] == 409
    assert count_items(dynamodb, "REPORT#") == 0


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "InternalServerError"])
@pytest.mark.parametrize("operation", ["PutItem", "GetItem"])
def test_database_failure_is_503_and_stores_nothing(api: Invoke, dynamodb: Any, code: str, operation: str) -> None:
    partner = new_partner()
    client = aws.client("dynamodb", None)
    with failing(client, operation, code):
        answer = api(post(partner, key="k-1"))
    assert answer["statusCode"] == 503
    assert header(answer, "Retry-After") == str(api_module.RETRY_AFTER_SECONDS)
    assert count_items(dynamodb, "REPORT#") == 0
    assert api(post(partner, key="k-1"))["statusCode"] == 202  # the retry then succeeds


def test_unexpected_error_is_a_problem_500(api: Invoke) -> None:
    partner = new_partner()
    with failing(aws.client("dynamodb", None), "GetItem", "AccessDeniedException"):
        answer = api(post(partner))
    assert answer["statusCode"] == 500
    assert body_of(answer)["title"] == "Internal Server Error"


def test_no_partner_identity_is_401(api: Invoke) -> None:
    e = post("p_x")
    e["requestContext"]["authorizer"] = None
    assert api(e)["statusCode"] == 401


def test_unknown_route_is_a_problem_404(api: Invoke) -> None:
    e = get(new_partner(), "/v1/nothing")
    e["resource"] = "/v1/nothing"  # API Gateway names the resource it matched; the function routes by it
    answer = api(e)
    assert answer["statusCode"] == 404
    assert body_of(answer)["status"] == 404


def test_openapi_document_is_served_without_auth(api: Invoke) -> None:
    answer = api(event("openapi"))
    assert answer["statusCode"] == 200
    document = body_of(answer)
    assert document["openapi"].startswith("3.")
    assert {"/v1/reports", "/v1/reports/{report_id}"} <= set(document["paths"])
    assert "NewReport" in document["components"]["schemas"]
