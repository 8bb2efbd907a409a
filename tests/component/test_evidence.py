"""Evidence files on the moto stack: the partner's declaration and its upload form, the evidence function's check
(a file that matches, one whose bytes lie about its type, one of another size or hash), redelivered events and
second uploads, another partner's attempt, the limits, what the partner and the reviewers read back, and the files
going with their case."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from kanal.evidence import MAX_EVIDENCE_BYTES, MAX_EVIDENCE_PER_REPORT, object_key
from kanal_local.template import Stack

from tests.support.evidence import (
    REVIEWER,
    SIGNATURES,
    declared,
    evidence_function,
    evidence_request,
    file_of,
    put_upload,
    upload_and_check,
    uploaded,
    versions,
)
from tests.support.lambdas import REGION, Invoke, ReviewGateway, as_function, env, load_function, stream_event
from tests.support.reports import NOW, VIDEO, body_of, get, new_partner, post, report_body

TYPES = sorted(SIGNATURES)


@pytest.fixture(autouse=True)
def _now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kanal.clock.now", lambda: NOW)


@pytest.fixture
def report(api: Invoke) -> tuple[str, str]:
    """A partner and one of its reports."""
    partner = new_partner()
    return partner, body_of(api(post(partner)))["report_id"]


def evidence_of(api: Invoke, partner: str, report_id: str) -> list[dict[str, Any]]:
    """The report's evidence as GET /v1/reports/{id} lists it."""
    answer = api(get(partner, f"/v1/reports/{report_id}"))
    assert answer["statusCode"] == 200
    files: list[dict[str, Any]] = body_of(answer)["evidence"]
    return files


@pytest.mark.parametrize("content_type", TYPES)
def test_a_file_that_matches_is_verified_and_listed_with_its_type_size_and_hash(
    stack: Stack, api: Invoke, report: tuple[str, str], content_type: str
) -> None:
    partner, report_id = report
    content = file_of(content_type, size=10_000)
    body = declared(content, content_type, filename="tangkapan layar 1.bin")
    checked = upload_and_check(stack, api, partner, report_id, content, body)
    assert (checked["status"], checked["deleted"]) == ("verified", False)
    (listed,) = evidence_of(api, partner, report_id)
    assert listed == {
        "evidence_id": checked["declared"]["evidence_id"],
        "filename": "tangkapan layar 1.bin",
        "content_type": content_type,
        "size": 10_000,
        "sha256": hashlib.sha256(content).hexdigest(),
        "status": "verified",
        "reason": None,
        "created_at": "2026-11-23T03:00:00Z",
        "checked_at": "2026-11-23T03:00:00Z",
    }
    key = checked["declared"]["upload"]["fields"]["key"]
    assert key == object_key(partner, report_id, listed["evidence_id"])
    assert versions(key) == [(key, checked["version"])]


@pytest.mark.parametrize(("actual", "claimed"), [(a, c) for a in TYPES for c in TYPES if a != c])
def test_a_file_whose_bytes_lie_about_its_type_is_rejected_and_deleted(
    stack: Stack, api: Invoke, report: tuple[str, str], actual: str, claimed: str
) -> None:
    partner, report_id = report
    content = file_of(actual)
    checked = upload_and_check(stack, api, partner, report_id, content, declared(content, claimed))
    assert (checked["status"], checked["deleted"]) == ("rejected", True)
    (listed,) = evidence_of(api, partner, report_id)
    assert (listed["status"], listed["reason"]) == ("rejected", f"its first bytes are not those of {claimed}")
    assert versions(f"{partner}/{report_id}/") == []


@pytest.mark.parametrize(
    ("lie", "reason"),
    [
        ({"size": 4095}, "size is 4096 bytes, not the 4095 declared"),
        ({"size": 4097}, "size is 4096 bytes, not the 4097 declared"),
        ({"sha256": "0" * 64}, "SHA-256 differs from the one declared"),
    ],
)
def test_a_file_of_another_size_or_hash_than_declared_is_rejected_and_deleted(
    stack: Stack, api: Invoke, report: tuple[str, str], lie: dict[str, Any], reason: str
) -> None:
    """What S3 refuses at the form (another size) and what only the check sees (another hash) end the same way if
    the bytes get there: the moto stack in-process stores what it is given."""
    partner, report_id = report
    content = file_of("image/png")
    checked = upload_and_check(stack, api, partner, report_id, content, declared(content, "image/png", **lie))
    assert (checked["status"], checked["reason"]) == ("rejected", reason)
    assert versions(f"{partner}/{report_id}/") == []


def test_the_upload_form_pins_the_key_the_type_and_the_exact_size_for_15_minutes(
    stack: Stack, api: Invoke, report: tuple[str, str]
) -> None:
    partner, report_id = report
    content = file_of("application/pdf", size=123_456)
    answer = api(evidence_request(partner, report_id, declared(content, "application/pdf")))
    assert answer["statusCode"] == 201
    made = body_of(answer)
    fields = made["upload"]["fields"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    key = object_key(partner, report_id, made["evidence_id"])
    assert {"key": key} in policy["conditions"]
    assert {"Content-Type": "application/pdf"} in policy["conditions"]
    assert ["content-length-range", 123_456, 123_456] in policy["conditions"]
    assert {"bucket": env("EVIDENCE_BUCKET")} in policy["conditions"]
    assert (fields["key"], fields["Content-Type"]) == (key, "application/pdf")
    assert made["upload"]["expires_at"] == (NOW + timedelta(minutes=15)).isoformat().replace("+00:00", "Z")
    # The regional endpoint, virtual-hosted (the global one does not serve buckets of opt-in regions).
    assert made["upload"]["url"] == f"https://{env('EVIDENCE_BUCKET')}.s3.{REGION}.amazonaws.com/"
    (pending,) = evidence_of(api, partner, report_id)
    assert (pending["status"], pending["checked_at"]) == ("pending", None)


def test_a_redelivered_event_changes_nothing_and_a_second_upload_is_deleted_keeping_the_checked_one(
    stack: Stack, api: Invoke, report: tuple[str, str]
) -> None:
    partner, report_id = report
    content = file_of("image/jpeg")
    checked = upload_and_check(stack, api, partner, report_id, content, declared(content, "image/jpeg"))
    key, first = checked["declared"]["upload"]["fields"]["key"], checked["version"]
    check = evidence_function(stack)
    again = check(uploaded(key, first))
    assert (again["status"], again["deleted"]) == ("verified", False)
    # Within the form's 15 minutes the same form uploads other bytes: a new version, which is not the evidence.
    second = put_upload(checked["declared"], file_of("image/jpeg", salt=b"other"))
    later = check(uploaded(key, second))
    assert (later["status"], later["deleted"]) == ("verified", True)
    assert versions(key) == [(key, first)]
    (listed,) = evidence_of(api, partner, report_id)
    assert (listed["status"], listed["sha256"]) == ("verified", hashlib.sha256(content).hexdigest())
    # A rejected file's redelivered event: still rejected, nothing left.
    liar = file_of("image/png")
    rejected = upload_and_check(stack, api, partner, report_id, liar, declared(liar, "video/mp4"))
    assert check(uploaded(rejected["declared"]["upload"]["fields"]["key"], rejected["version"]))["status"] == "rejected"


def test_an_object_that_no_declaration_names_is_deleted(stack: Stack, report: tuple[str, str]) -> None:
    partner, report_id = report
    s3 = boto3.client("s3", region_name=REGION)
    for key in (f"{partner}/{report_id}/e_{'0' * 32}", "elsewhere.png", f"p_other/{report_id}/e_{'1' * 32}"):
        version = s3.put_object(Bucket=env("EVIDENCE_BUCKET"), Key=key, Body=b"\x89PNG")["VersionId"]
        outcome = evidence_function(stack)(uploaded(key, version))
        assert (outcome["status"], outcome["deleted"]) == (None, True)
        assert versions(key) == []


def test_another_partners_report_answers_404_and_records_nothing(api: Invoke, report: tuple[str, str]) -> None:
    owner, report_id = report
    other = new_partner("Perludem")
    content = file_of("image/png")
    for who, report_ in ((other, report_id), (owner, "r_nosuchreport")):
        answer = api(evidence_request(who, report_, declared(content, "image/png")))
        assert answer["statusCode"] == 404
        assert body_of(answer)["detail"] == "No report with this id among your reports."
    assert evidence_of(api, owner, report_id) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"content_type": "image/gif"}, "content_type"),
        ({"content_type": "image/svg+xml"}, "content_type"),
        ({"content_type": "text/html"}, "content_type"),
        ({"content_type": "IMAGE/PNG"}, "content_type"),
        ({"size": 0}, "size"),
        ({"size": MAX_EVIDENCE_BYTES + 1}, "size"),
        ({"size": "12"}, "size"),
        ({"sha256": "A" * 64}, "sha256"),
        ({"sha256": "0" * 63}, "sha256"),
        ({"filename": "../../etc/passwd"}, "filename"),
        ({"filename": "bukti\x1b[2J.png"}, "filename"),
        ({"filename": ""}, "filename"),
        ({"owner": "p_other"}, "owner"),
    ],
)
def test_a_declaration_outside_the_rules_is_refused_naming_the_field(
    api: Invoke, report: tuple[str, str], change: dict[str, Any], field: str
) -> None:
    partner, report_id = report
    answer = api(evidence_request(partner, report_id, declared(file_of("image/png"), "image/png") | change))
    assert answer["statusCode"] == 422
    assert [e["field"] for e in body_of(answer)["errors"]] == [field]
    assert evidence_of(api, partner, report_id) == []


def test_the_largest_file_is_declared_and_an_eleventh_is_refused(api: Invoke, report: tuple[str, str]) -> None:
    partner, report_id = report
    body = declared(b"", "video/mp4", size=MAX_EVIDENCE_BYTES, sha256="a" * 64)
    for _ in range(MAX_EVIDENCE_PER_REPORT):
        assert api(evidence_request(partner, report_id, body))["statusCode"] == 201
    refused = api(evidence_request(partner, report_id, body))
    assert refused["statusCode"] == 409
    assert body_of(refused)["detail"] == "A report takes at most 10 evidence files; this one has them already."
    assert len(evidence_of(api, partner, report_id)) == MAX_EVIDENCE_PER_REPORT


def test_reviewers_see_each_verified_file_with_its_hash_and_a_5_minute_link_to_the_checked_version(
    stack: Stack, api: Invoke, case_builder: Invoke, dynamodb: Any
) -> None:
    partner = new_partner()
    receipt = body_of(api(post(partner, report_body(content_url=VIDEO))))
    case_builder(stream_event(dynamodb, env("TABLE_NAME")))
    content = file_of("image/webp")
    checked = upload_and_check(stack, api, partner, receipt["report_id"], content, declared(content, "image/webp"))
    review = ReviewGateway(stack, as_function(stack, "ReviewFunction", load_function("review").lambda_handler), [])
    status, shown = review.invoke("GET", f"/v1/review/cases/{receipt['case_id']}", None, REVIEWER)
    assert status == 200
    (file,) = shown["reports"][0]["evidence"]
    assert (file["status"], file["sha256"]) == ("verified", hashlib.sha256(content).hexdigest())
    assert "version_id" not in file
    link = urlsplit(file["link"])
    query = parse_qs(link.query)
    assert link.path == "/" + checked["declared"]["upload"]["fields"]["key"]
    assert query["versionId"] == [checked["version"]]
    assert query["X-Amz-Expires"] == ["300"]
    assert query["response-content-type"] == ["image/webp"]
    # The link opens the checked bytes (moto in-process answers the signed request botocore makes).
    s3 = boto3.client("s3", region_name=REGION)
    fields = checked["declared"]["upload"]["fields"]
    got = s3.get_object(Bucket=env("EVIDENCE_BUCKET"), Key=fields["key"], VersionId=query["versionId"][0])
    assert got["Body"].read() == content


def test_the_files_go_with_their_case_and_with_a_report_that_expired_on_its_own(
    stack: Stack, api: Invoke, case_builder: Invoke, dynamodb: Any
) -> None:
    from tests.support.evidence import ttl_removal

    table = env("TABLE_NAME")
    partner = new_partner()
    kept = body_of(api(post(partner, report_body(content_url=VIDEO[:-2] + "11"))))
    gone = body_of(api(post(partner, report_body(content_url=VIDEO[:-2] + "12"))))
    case_builder(stream_event(dynamodb, table))
    for receipt in (kept, gone):
        for content_type in ("image/png", "application/pdf"):
            content = file_of(content_type)
            upload_and_check(stack, api, partner, receipt["report_id"], content, declared(content, content_type))
        put_upload(body_of(api(evidence_request(partner, receipt["report_id"], declared(b"x", "image/png")))), b"y")
    key = {"pk": {"S": f"CASE#{gone['case_id']}"}, "sk": {"S": "CASE"}}
    case = dynamodb.get_item(TableName=table, Key=key)["Item"]
    dynamodb.delete_item(TableName=table, Key=key)
    assert case_builder(json.loads(json.dumps({"Records": [ttl_removal("1", key, case)]}))) == {"batchItemFailures": []}
    assert versions(f"{partner}/{gone['report_id']}/") == []
    # The other report's files stay: the verified png and pdf, and an upload not yet checked (pending).
    assert len(versions(f"{partner}/{kept['report_id']}/")) == 3
    report_key = {"pk": {"S": f"REPORT#{kept['report_id']}"}, "sk": {"S": "REPORT"}}
    item = dynamodb.get_item(TableName=table, Key=report_key)["Item"]
    dynamodb.delete_item(TableName=table, Key=report_key)
    removal = ttl_removal("2", report_key, item)
    assert case_builder(json.loads(json.dumps({"Records": [removal]}))) == {"batchItemFailures": []}
    assert versions(f"{partner}/{kept['report_id']}/") == []
