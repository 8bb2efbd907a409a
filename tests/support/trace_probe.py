"""Run every handler once, as Lambda would with active tracing on, in a process of its own.

tests/component/test_no_content_in_telemetry.py starts this module (``python -m tests.support.trace_probe``)
in a fresh interpreter (tracing libraries keep process-wide state, decided at their first import) with Lambda's
environment, a sampled trace id, and ``AWS_XRAY_DAEMON_ADDRESS`` pointing at a UDP socket that the test reads.
The partner content comes from ``KANAL_PROBE_MARKERS`` (JSON: name -> distinctive text); the test looks for each
text in every datagram and in this process's output (the functions' logs).

``--old-tracer`` wraps the traced handlers with Powertools' Tracer as kanal used it before (X-Ray SDK,
botocore patched, ``capture_response`` at its default): the test uses it to show that it catches a leak.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from kanal import wiring
from kanal.models import Outcome, PartnerKind, Policy
from kanal_local.template import create_stack
from moto import mock_aws

from tests.support.lambdas import REGION, LambdaContext, event, load_function, stream_event

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 08:00 in Jakarta: the digest's hour
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def handlers(old_tracer: bool) -> dict[str, Handler]:
    """The four functions' handlers, loaded as SAM loads them."""
    loaded = {name: load_function(name).lambda_handler for name in ("authorizer", "intake", "case_builder", "reminder")}
    if old_tracer:
        from aws_lambda_powertools import Tracer

        tracer = Tracer(service="kanal", patch_modules=["botocore"])
        for name in ("intake", "case_builder"):  # the two functions that had @tracer.capture_lambda_handler
            loaded[name] = tracer.capture_lambda_handler(loaded[name])
    return loaded


def api_event(name: str, partner_id: str, key: str, *, path: str | None = None, body: Any = None) -> dict[str, Any]:
    """An API Gateway event of events/<name>.json from this partner, with its key and, if given, path and body."""
    e = event(name)
    e["headers"]["Authorization"] = f"Bearer {key}"
    e["requestContext"]["authorizer"] = {"principalId": partner_id, "partner_id": partner_id, "key_id": "k_probe"}
    if path is not None:
        e["path"] = path
        e["requestContext"]["path"] = f"/prod{path}"
        e["pathParameters"] = {"report_id": path.split("/")[3]}
    if body is not None:
        e["body"] = json.dumps(body)
    return e


def run(markers: dict[str, str], old_tracer: bool) -> None:
    now = [T0]
    import kanal.clock

    kanal.clock.now = lambda: now[0]  # the handlers read the clock through this module
    with mock_aws():
        created = create_stack(lambda service: boto3.client(service, region_name=REGION), REGION)
        for function in created.functions.values():
            os.environ.update(function.environment)
        fn = handlers(old_tracer)
        services = wiring.services()
        issued = services.partners.create("Bawaslu RI", PartnerKind.ELECTION_AGENCY, T0)
        partner, key = issued.partner.partner_id, issued.api_key
        markers = {**markers, "api_key": key}
        print("PROBE-MARKERS " + json.dumps(markers), flush=True)

        authorize = event("authorizer")
        authorize["headers"]["Authorization"] = f"Bearer {key}"
        assert "policyDocument" in fn["authorizer"](authorize, LambdaContext())
        wrong = event("authorizer")
        wrong["headers"]["Authorization"] = f"Bearer {markers['wrong_key']}"
        refused = None
        try:
            fn["authorizer"](wrong, LambdaContext())
        except Exception as error:  # the authorizer's Unauthorized
            refused = str(error)
        assert refused == "Unauthorized", refused

        report = {
            "content_url": f"https://www.tiktok.com/@{markers['account']}/video/7334567890123456789",
            "category": "campaign_violation",
            "region_code": "31.71",
            "description": markers["description"],
            "evidence_urls": [markers["evidence_url"]],
            "legal_basis": markers["legal_basis"],
            "partner_reference": markers["partner_reference"],
        }
        answer = fn["intake"](api_event("post_report", partner, key, body=report), LambdaContext())
        assert answer["statusCode"] == 202, answer["body"]
        receipt = json.loads(answer["body"])
        report_id, case_id = receipt["report_id"], receipt["case_id"]
        invalid = {**report, "evidence_urls": [markers["invalid_evidence_url"]]}
        assert fn["intake"](api_event("post_report", partner, key, body=invalid), LambdaContext())["statusCode"] == 422

        table = os.environ["TABLE_NAME"]
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        batch = stream_event(dynamodb, table)
        broken = json.loads(json.dumps(batch["Records"][0]))
        broken["dynamodb"]["SequenceNumber"] = "999"
        # A description stored in a shape the model does not accept (schema drift): parked, logged by sequence.
        broken["dynamodb"]["NewImage"]["description"] = {"L": [{"S": markers["stored_description"]}]}
        batch["Records"].append(broken)
        failed = fn["case_builder"](batch, LambdaContext())["batchItemFailures"]
        assert failed == [], failed  # parked on the failure queue (not retried), never logged with its values

        review = services.review()
        assert review.next("reviewer-a", 0, T0) is not None
        review.ask(case_id, "reviewer-a", markers["question"], timedelta(hours=48), T0)
        shown = fn["intake"](api_event("get_report", partner, key, path=f"/v1/reports/{report_id}"), LambdaContext())
        assert markers["question"] in shown["body"]  # the partner sees it: the content is in the response

        now[0] = T0 + timedelta(hours=24)  # the question's first reminder is due
        assert fn["reminder"]({"job": "sweep"}, LambdaContext())["sent"]

        info = {"message": markers["info_message"], "evidence_urls": [markers["info_evidence_url"]]}
        path = f"/v1/reports/{report_id}/info"
        answered = fn["intake"](api_event("post_info", partner, key, path=path, body=info), LambdaContext())
        assert answered["statusCode"] == 202, answered["body"]
        fn["case_builder"](stream_event(dynamodb, table), LambdaContext())  # delivered again: attached once only

        assert review.next("reviewer-a", 0, now[0]) is not None
        review.decide(case_id, "reviewer-a", Outcome.REMOVED, Policy.MISINFORMATION, markers["reason"], now[0])
        shown = fn["intake"](api_event("get_report", partner, key, path=f"/v1/reports/{report_id}"), LambdaContext())
        assert markers["reason"] in shown["body"]
        listing = api_event("list_reports", partner, key)
        listing["queryStringParameters"] = listing["multiValueQueryStringParameters"] = None
        listed = fn["intake"](listing, LambdaContext())
        assert markers["description"] in listed["body"]

        now[0] = T0 + timedelta(days=1)
        fn["reminder"]({"job": "digest"}, LambdaContext())
    print("PROBE-DONE", flush=True)


if __name__ == "__main__":
    run(json.loads(os.environ["KANAL_PROBE_MARKERS"]), "--old-tracer" in sys.argv[1:])
