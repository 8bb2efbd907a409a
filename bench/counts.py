"""Counts that do not depend on the machine: AWS requests per report, duplicate, decision and reminder,
and the DynamoDB items a reminder sweep reads among many open cases. Counted with botocore's events on
moto, in this process; nothing is timed.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto import mock_aws

REGION = "ap-southeast-3"
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


@contextmanager
def aws_stack() -> Iterator[Any]:
    """The template's resources on moto, the functions' environment set, the handlers loaded."""
    from kanal import clock, wiring
    from kanal.adapters import aws
    from kanal.local.emulator import LambdaContext, load_handler
    from kanal.local.template import create_stack, default_template_path

    os.environ.update(
        {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    clock.now = lambda: NOW  # type: ignore[assignment]
    with mock_aws():
        stack = create_stack(lambda service: boto3.client(service, region_name=REGION), REGION)
        for function in stack.functions.values():
            os.environ.update(function.environment)
        os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
        wiring.services.cache_clear()
        aws.reset()
        root = default_template_path().parent
        handlers = {name: load_handler(root, f) for name, f in stack.functions.items()}
        yield lambda name, event: handlers[name](event, LambdaContext(function_name=name))


class Requests:
    """Counts AWS requests (by service and operation) made through the shared clients."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.items_read = 0

    def __call__(self, event_name: str, parsed: dict[str, Any], **_: Any) -> None:
        _, service, operation = event_name.split(".", 2)
        self.calls[f"{service}.{operation}"] += 1
        if service == "dynamodb":
            self.items_read += int(parsed.get("Count", 1 if "Item" in parsed else 0))
            self.items_read += sum(len(v) for v in parsed.get("Responses", {}).values())

    @contextmanager
    def counting(self) -> Iterator[Requests]:
        from kanal.adapters.aws import client

        clients = [client("dynamodb", None), client("sqs", None), client("sns", None), client("cloudwatch", None)]
        for c in clients:
            c.meta.events.register("after-call.*.*", self)
        try:
            yield self
        finally:
            for c in clients:
                c.meta.events.unregister("after-call.*.*", self)


def api_event(partner_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """A POST /v1/reports event from events/."""
    from kanal.local.template import default_template_path

    event: dict[str, Any] = json.loads((default_template_path().parent / "events" / "post_report.json").read_text())
    event["headers"].pop("Idempotency-Key", None)
    event["requestContext"]["authorizer"] = {"principalId": partner_id, "partner_id": partner_id}
    event["body"] = json.dumps(body)
    return event


def stream_batch() -> dict[str, Any]:
    """Every report INSERT on the table's stream, as the case builder gets it."""
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    table = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=os.environ["TABLE_NAME"])
    arn = table["Table"]["LatestStreamArn"]
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        for record in streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]:
            if record["eventName"] == "INSERT" and record["dynamodb"]["NewImage"]["sk"]["S"] == "REPORT":
                records.append(json.loads(json.dumps(record, default=str)))
    return {"Records": records}


def request_counts() -> dict[str, Any]:
    """AWS requests on the request path and after it, per kind of work."""
    from kanal import wiring
    from kanal.models import Outcome, PartnerKind, Policy

    body = {
        "content_url": "https://www.tiktok.com/@akun/video/7318301234567890123",
        "category": "misinformation",
        "region_code": "31.71",
        "description": "Klaim palsu tentang TPS.",
    }
    results: dict[str, Any] = {}
    with aws_stack() as invoke:
        services = wiring.services()
        first, second = (services.partners.create(n, PartnerKind.ELECTION_AGENCY, NOW).partner.partner_id for n in "AB")
        with Requests().counting() as new:
            invoke("IntakeFunction", api_event(first, body))
        results["new_report_request_path"] = dict(new.calls)
        with Requests().counting() as built:
            invoke("CaseBuilderFunction", stream_batch())
        results["new_report_after_answer"] = dict(built.calls)
        with Requests().counting() as duplicate:
            invoke("IntakeFunction", api_event(second, body))
        results["duplicate_request_path"] = dict(duplicate.calls)
        invoke("CaseBuilderFunction", stream_batch())
        with Requests().counting() as reminded:
            sent = services.reminders().run(NOW + timedelta(hours=72), digest=False)
        results["reminder_run_one_overdue_case"] = {**dict(reminded.calls), "reminders_sent": len(sent.sent)}
        review = services.review()
        claimed = review.next("ana", 0, NOW)
        assert claimed is not None
        with Requests().counting() as decided:
            review.decide(claimed.case.case_id, "ana", Outcome.REMOVED, Policy.MISINFORMATION, "Klaim palsu TPS.", NOW)
        results["decision"] = dict(decided.calls)
    for name in ("new_report_request_path", "duplicate_request_path"):
        results[name]["total"] = sum(v for k, v in results[name].items() if k != "total")
    return results


def sweep_reads(open_cases: int = 100_000, due: int = 1_000) -> dict[str, Any]:
    """Items a reminder sweep reads when ``due`` of ``open_cases`` timers have come due."""
    from kanal import wiring
    from kanal.adapters.dynamodb import stamp, to_item
    from kanal.reminders import ReminderKind

    with aws_stack():
        client = boto3.client("dynamodb", region_name=REGION)
        table = os.environ["TABLE_NAME"]
        later, now = NOW + timedelta(days=3), NOW

        def timer(i: int, send_at: datetime) -> dict[str, Any]:
            at = stamp(send_at)
            values = {
                "pk": f"TIMER#{ReminderKind.REVIEW_OVERDUE}#c_{i}", "sk": "0h", "kind": "review_overdue",
                "subject": f"c_{i}", "case_id": f"c_{i}", "offset": "0h", "send_at": at, "due_at": at,
                "gsi1pk": f"DUE#{at[:10]}", "gsi1sk": f"{at}#review_overdue#c_{i}#0h",
            }  # fmt: skip
            return {"PutRequest": {"Item": to_item(values)}}

        items = [timer(i, later) for i in range(open_cases - due)] + [
            timer(i, now) for i in range(open_cases - due, open_cases)
        ]
        for start in range(0, len(items), 25):
            client.batch_write_item(RequestItems={table: items[start : start + 25]})
        with Requests().counting() as counted:
            wiring.services().reminders().run(now, digest=False)
    return {
        "open_cases": open_cases,
        "due": due,
        "dynamodb_items_read": counted.items_read,
        "dynamodb_requests": sum(v for k, v in counted.calls.items() if k.startswith("dynamodb.")),
    }


if __name__ == "__main__":
    print(json.dumps({"aws_requests": request_counts(), "reminder_sweep": sweep_reads()}, indent=2))
