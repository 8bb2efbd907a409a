"""What the tests of evidence files share: files of each type (and files that lie about theirs), the partner's
declaration and its API event, the upload the presigned form makes, the bucket's "Object Created" event, and the
flow that drives every AWS call of evidence for the IAM checks (tests/component/test_iam.py)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import boto3
from kanal_local.template import Stack

from tests.support import iam
from tests.support.lambdas import REGION, Invoke, LambdaContext, ReviewGateway, as_function, env, event, load_function
from tests.support.reports import VIDEO, as_partner, body_of, new_partner, post, report_body

#: The first bytes of each accepted type, as its format defines them.
SIGNATURES = {
    "image/png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "image/webp": b"RIFF\x24\x00\x00\x00WEBPVP8 ",
    "video/mp4": b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00",
    "application/pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
}
#: A reviewer's principal, as API Gateway puts it on the request.
REVIEWER = "arn:aws:sts::123456789012:assumed-role/ReviewerRole/ana"


def file_of(content_type: str, size: int = 4096, salt: bytes = b"") -> bytes:
    """A file of ``size`` bytes that starts as ``content_type`` does."""
    head = SIGNATURES[content_type] + salt
    return (head + bytes(range(256)) * (size // 256 + 1))[:size]


def declared(content: bytes, content_type: str, filename: str = "bukti.png", **changes: Any) -> dict[str, Any]:
    """The body declaring ``content`` (its true size and hash unless ``changes`` say otherwise)."""
    body = {
        "filename": filename,
        "content_type": content_type,
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    return {**body, **changes}


def evidence_request(partner_id: str, report_id: str, body: Any, raw: str | None = None) -> dict[str, Any]:
    """POST /v1/reports/{report_id}/evidence from ``partner_id`` (events/post_evidence.json)."""
    e = as_partner(event("post_evidence"), partner_id)
    e["pathParameters"] = {"report_id": report_id}
    e["path"] = f"/v1/reports/{report_id}/evidence"
    e["requestContext"]["path"] = f"/prod{e['path']}"
    e["body"] = raw if raw is not None else json.dumps(body)
    return e


def put_upload(answer: dict[str, Any], content: bytes) -> str:
    """What the presigned form uploads once S3 has checked it against its policy (moto in-process takes no
    forms): the object at the form's key, with its Content-Type; the new version's id. Recorded as the
    signer's call (IntakeFunction), which is what S3 authorizes it as."""
    fields = answer["upload"]["fields"]
    s3 = boto3.client("s3", region_name=REGION)
    bucket = env("EVIDENCE_BUCKET")
    put = s3.put_object(Bucket=bucket, Key=fields["key"], Body=content, ContentType=fields["Content-Type"])
    with iam.acting_as("IntakeFunction"):
        iam.record("s3", "PutObject", {"Bucket": bucket, "Key": fields["key"]})
    return str(put["VersionId"])


def uploaded(key: str, version_id: str, size: int = 0) -> dict[str, Any]:
    """The bucket's "Object Created" event for one version, as EventBridge hands it to the evidence function."""
    e = event("evidence_uploaded")
    bucket = env("EVIDENCE_BUCKET")
    e["resources"] = [f"arn:aws:s3:::{bucket}"]
    e["detail"]["bucket"]["name"] = bucket
    e["detail"]["object"].update({"key": key, "version-id": version_id, "size": size})
    return e


def evidence_function(stack: Stack) -> Invoke:
    """The evidence function as Lambda runs it."""
    handler = as_function(stack, "EvidenceFunction", load_function("evidence").lambda_handler)
    return lambda e: handler(e, LambdaContext())


def versions(prefix: str = "") -> list[tuple[str, str]]:
    """Every (key, version id) in the evidence bucket under ``prefix``, delete markers included."""
    s3 = boto3.client("s3", region_name=REGION)
    page = s3.list_object_versions(Bucket=env("EVIDENCE_BUCKET"), Prefix=prefix)
    return [(v["Key"], v["VersionId"]) for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]]


def upload_and_check(
    stack: Stack, api: Invoke, partner_id: str, report_id: str, content: bytes, body: dict[str, Any]
) -> dict[str, Any]:
    """Declare a file, upload ``content`` through its form, and let the evidence function check it; what the
    function answered, with the declaration's answer under "declared"."""
    answer = body_of(api(evidence_request(partner_id, report_id, body)))
    version = put_upload(answer, content)
    checked: dict[str, Any] = evidence_function(stack)(uploaded(answer["upload"]["fields"]["key"], version))
    return {**checked, "declared": answer, "version": version}


def drive_evidence(stack: Stack, api: Invoke, case_builder: Invoke, dynamodb: Any) -> None:
    """Every AWS call of evidence files, as each principal makes it: a partner declares files (IntakeFunction) and
    uploads them through the forms it signed; the evidence function verifies one and rejects and deletes one; a
    reviewer reads the case (ReviewFunction signs the link) and a lead shows it (`kanal cases show` as OperatorRole
    signs it); the case expires and the purge deletes the files (CaseBuilderFunction), as it does a report's
    whose own backstop expiry came first."""
    from tests.support.lambdas import stream_event
    from tests.support.operator_flows import run_cli

    table = env("TABLE_NAME")
    partner = new_partner("Bawaslu Jawa Barat")
    receipts = [body_of(api(post(partner, report_body(content_url=VIDEO[:-2] + n)))) for n in ("55", "56")]
    assert case_builder(stream_event(dynamodb, table)) == {"batchItemFailures": []}
    good = file_of("image/png")
    assert (
        upload_and_check(stack, api, partner, receipts[0]["report_id"], good, declared(good, "image/png"))["status"]
        == "verified"
    )
    liar = file_of("image/png", salt=b"x")
    lied = declared(liar, "application/pdf", filename="surat.pdf")
    assert upload_and_check(stack, api, partner, receipts[0]["report_id"], liar, lied)["status"] == "rejected"
    case_id = receipts[0]["case_id"]
    review = ReviewGateway(stack, as_function(stack, "ReviewFunction", load_function("review").lambda_handler), [])
    status, shown = review.invoke("GET", f"/v1/review/cases/{case_id}", None, REVIEWER)
    assert status == 200, shown
    linked = {f["status"]: f["link"] is not None for r in shown["reports"] for f in r["evidence"]}
    assert linked == {"verified": True, "rejected": False}, shown["reports"]
    code, out, err = run_cli("cases", "show", case_id)
    assert code == 0, err
    assert "X-Amz-Signature" in out
    # The case expires: its report and the report's files go.
    key = {"pk": {"S": f"CASE#{case_id}"}, "sk": {"S": "CASE"}}
    case = dynamodb.get_item(TableName=table, Key=key)["Item"]
    dynamodb.delete_item(TableName=table, Key=key)
    assert case_builder(json.loads(json.dumps({"Records": [ttl_removal("20", key, case)]}))) == {
        "batchItemFailures": []
    }
    assert versions(f"{partner}/{receipts[0]['report_id']}/") == []
    # A report deleted by its own backstop expiry first: its files go with it.
    other = receipts[1]["report_id"]
    upload_and_check(stack, api, partner, other, good, declared(good, "image/png"))
    report_key = {"pk": {"S": f"REPORT#{other}"}, "sk": {"S": "REPORT"}}
    item = dynamodb.get_item(TableName=table, Key=report_key)["Item"]
    dynamodb.delete_item(TableName=table, Key=report_key)
    assert case_builder(json.loads(json.dumps({"Records": [ttl_removal("21", report_key, item)]}))) == {
        "batchItemFailures": []
    }
    assert versions(f"{partner}/{other}/") == []


def ttl_removal(sequence: str, key: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """The stream record of TTL deleting an item (as the case builder's filter lets it through)."""
    return {
        "eventName": "REMOVE",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        "dynamodb": {"SequenceNumber": sequence, "Keys": key, "OldImage": old},
    }
