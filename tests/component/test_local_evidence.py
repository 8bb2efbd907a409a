"""The local stack's evidence bucket: S3's checks of presigned POST forms in front of moto (which makes none), over
HTTP, and the bucket's uploads delivered to the rules' function targets as EventBridge would."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests
from kanal_local.emulator import moto_server
from kanal_local.post_policy import Refused, check
from kanal_local.template import create_stack
from kanal_local.uploads import Uploads
from moto import mock_aws

REGION = "ap-southeast-3"
#: moto's server keeps its state per process: each test has a bucket of its own.
BUCKETS = (f"kanal-evidence-{n}" for n in itertools.count())
KEY = "p_1/r_1/e_1"

pytestmark = pytest.mark.timeout(120)  # a hang guard: every request takes milliseconds


@pytest.fixture
def s3() -> Iterator[Any]:
    """An S3 client on moto's server (with the local stack's POST checks) on a free port, and a bucket."""
    server = moto_server("127.0.0.1")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = boto3.session.Session(region_name=REGION).client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{server.server_port}",
            config=boto3.session.Config(s3={"addressing_style": "path"}),
        )
        bucket = next(BUCKETS)
        client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield client, bucket
    finally:
        server.shutdown()
        server.server_close()
        thread.join(30)


def form(s3: Any, size: int = 5, key: str = KEY) -> dict[str, Any]:
    """A PNG's form as the intake function signs it (kanal.adapters.s3.S3EvidenceObjects.presign_upload)."""
    from kanal.adapters.s3 import S3EvidenceObjects
    from kanal.models import EvidenceType

    client, bucket = s3
    objects = S3EvidenceObjects(client, bucket)
    url, fields = objects.presign_upload(key, EvidenceType.PNG, size, timedelta(minutes=15))
    return {"url": url, "fields": fields}


def send(made: dict[str, Any], content: bytes, **changed: str) -> requests.Response:
    fields = {**made["fields"], **changed}
    return requests.post(made["url"], data=fields, files={"file": ("bukti", content)}, timeout=10)


def test_an_upload_as_its_form_says_is_stored(s3: Any) -> None:
    client, bucket = s3
    assert send(form(s3), b"\x89PNG!").status_code == 204
    stored = client.get_object(Bucket=bucket, Key=KEY)
    assert (stored["Body"].read(), stored["ContentType"]) == (b"\x89PNG!", "image/png")


@pytest.mark.parametrize(
    ("content", "changed", "status", "code"),
    [
        (b"123456", {}, 400, "EntityTooLarge"),
        (b"1234", {}, 400, "EntityTooSmall"),
        (b"12345", {"Content-Type": "text/html"}, 403, "AccessDenied"),
        (b"12345", {"key": "p_1/r_1/e_2"}, 403, "AccessDenied"),
        (b"12345", {"key": "p_2/r_9/e_1"}, 403, "AccessDenied"),
        (b"12345", {"x-amz-meta-note": "extra"}, 403, "AccessDenied"),
        (b"12345", {"x-amz-signature": "0" * 64}, 403, "SignatureDoesNotMatch"),
        (
            b"12345",
            {"x-amz-credential": "AKIAOTHER/20261201/ap-southeast-3/s3/aws4_request"},
            403,
            "InvalidAccessKeyId",
        ),
    ],
)
def test_an_upload_the_form_does_not_allow_is_refused_and_stores_nothing(
    s3: Any, content: bytes, changed: dict[str, str], status: int, code: str
) -> None:
    refused = send(form(s3), content, **changed)
    assert (refused.status_code, f"<Code>{code}</Code>" in refused.text) == (status, True), refused.text
    client, bucket = s3
    assert client.list_object_versions(Bucket=bucket).get("Versions", []) == []


def test_a_policy_changed_after_signing_or_expired_is_refused(s3: Any) -> None:
    made = form(s3)
    policy = json.loads(base64.b64decode(made["fields"]["policy"]))
    policy["conditions"] = [
        c for c in policy["conditions"] if not (isinstance(c, list) and c[0] == "content-length-range")
    ]
    tampered = base64.b64encode(json.dumps(policy).encode()).decode()
    assert "SignatureDoesNotMatch" in send(made, b"a much larger file", policy=tampered).text
    fields = {k.lower(): v for k, v in made["fields"].items()}
    later = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00")) + timedelta(seconds=1)
    with pytest.raises(Refused, match="Policy expired"):
        check(fields, 5, s3[1], {"testing": "testing"}, later)
    check(fields, 5, s3[1], {"testing": "testing"}, later - timedelta(minutes=1))  # in time: taken


def test_the_buckets_uploads_reach_the_rules_function_once_each_and_failures_go_to_its_dead_letter_queue() -> None:
    with mock_aws():
        stack = create_stack(lambda service: boto3.client(service, region_name=REGION), REGION)
        s3 = boto3.client("s3", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        bucket = stack.refs["EvidenceBucket"]
        invoked: list[tuple[str, dict[str, Any]]] = []
        failing = {"yes": False}

        def invoke(function: str, event: dict[str, Any]) -> None:
            invoked.append((function, event))
            if failing["yes"]:
                raise RuntimeError("down")

        uploads = Uploads(stack, invoke, s3, lambda line: None, sqs=sqs, now=lambda: datetime(2026, 12, 1, tzinfo=UTC))
        (rule,) = uploads.rules
        assert (rule.function, rule.attempts, uploads.buckets) == ("EvidenceFunction", 186, [bucket])
        first = s3.put_object(Bucket=bucket, Key=KEY, Body=b"a")["VersionId"]
        second = s3.put_object(Bucket=bucket, Key=KEY, Body=b"bb")["VersionId"]
        uploads.drain()
        uploads.drain()
        assert [(f, e["detail"]["object"]["version-id"]) for f, e in invoked] == [
            ("EvidenceFunction", first),
            ("EvidenceFunction", second),
        ]
        (_, event) = invoked[1]
        assert (event["source"], event["detail-type"], event["detail"]["bucket"]["name"]) == (
            "aws.s3",
            "Object Created",
            bucket,
        )
        assert (event["detail"]["object"]["key"], event["detail"]["object"]["size"]) == (KEY, 2)
        # Another bucket's objects are not this rule's.
        s3.create_bucket(Bucket="elsewhere", CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket="elsewhere", Key=KEY, Body=b"c")
        invoked.clear()
        failing["yes"] = True
        rule.attempts = 3
        s3.put_object(Bucket=bucket, Key="p_1/r_1/e_2", Body=b"c")
        for _ in range(5):
            uploads.step()
        assert len(invoked) == 3
        dead = sqs.receive_message(QueueUrl=stack.refs["EvidenceCheckDLQ"], MaxNumberOfMessages=10)["Messages"]
        assert [json.loads(m["Body"])["detail"]["object"]["key"] for m in dead] == ["p_1/r_1/e_2"]
