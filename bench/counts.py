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
    from kanal_local.emulator import LambdaContext, load_handler
    from kanal_local.template import create_stack, default_template_path

    os.environ.update(
        {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            # moto's in-process mock and botocore 1.44's account-based endpoints: see pyproject.toml.
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    clock.now = lambda: NOW  # type: ignore[assignment]
    with mock_aws():
        stack = create_stack(lambda service: boto3.client(service, region_name=REGION), REGION)
        for function in stack.functions.values():
            os.environ.update(function.environment)
        os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        wiring.reset()
        aws.reset()
        root = default_template_path().parent
        handlers = {name: load_handler(root, f) for name, f in stack.functions.items()}
        yield lambda name, event: handlers[name](event, LambdaContext(function_name=name))


#: Both indexes project every attribute, so an item written with an index's keys is written there too.
INDEX_KEYS = {"by_owner": "gsi1pk", "by_case": "gsi2pk"}
WRITE_UNIT, READ_UNIT = 1024, 4096


def attribute_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value, by DynamoDB's item size rules."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return len(inner.lstrip("-").replace(".", "").lstrip("0")) // 2 + 2
    if kind == "B":
        return len(inner)
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_size({kind[0]: member}) for member in inner)
    if kind == "L":
        return 3 + sum(1 + attribute_size(member) for member in inner)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + attribute_size(member) for name, member in inner.items())
    return 1  # BOOL, NULL


def item_size(item: dict[str, Any] | None) -> int:
    """Bytes of an item: attribute names plus values."""
    return sum(len(name.encode()) + attribute_size(value) for name, value in (item or {}).items())


def units(size: int, unit: int) -> int:
    """Capacity units for an item of ``size`` bytes (at least one)."""
    return max(1, -(-size // unit))


class Requests:
    """Counts AWS requests (by service and operation) made through the shared clients, and the DynamoDB
    write and read units they consume, computed from item sizes as DynamoDB bills them (moto reports no
    real capacity): a write costs one unit per KB in the table and in each index the item is in
    (doubled in a transaction); a read one unit per 4 KB (half for an eventually consistent read).
    """

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.items_read = 0
        self.write_units = 0
        self.read_units = 0.0
        self._consistency = 0.5
        self._writes: list[tuple[str, dict[str, Any], dict[str, Any] | None, int]] = []
        self._raw = boto3.client("dynamodb", region_name=REGION)  # looks at items without being counted

    def __call__(self, event_name: str, parsed: dict[str, Any], **_: Any) -> None:
        _, service, operation = event_name.split(".", 2)
        self.calls[f"{service}.{operation}"] += 1
        if service == "dynamodb":
            self.items_read += int(parsed.get("Count", 1 if "Item" in parsed else 0))
            self.items_read += sum(len(v) for v in parsed.get("Responses", {}).values())
            self._count_reads(operation, parsed)
            for table, key, before, factor in self._writes:
                after = self._item(table, key)
                self.write_units += factor * self._write_units(before, after)
            self._writes.clear()

    def _item(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._raw.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return found

    def _write_units(self, before: dict[str, Any] | None, after: dict[str, Any] | None) -> int:
        size = max(item_size(before), item_size(after))
        written = units(size, WRITE_UNIT)
        for key in INDEX_KEYS.values():
            if any(image and key in image for image in (before, after)):
                written += units(size, WRITE_UNIT)
        return written

    def _count_reads(self, operation: str, parsed: dict[str, Any]) -> None:
        if operation == "GetItem":
            self.read_units += units(item_size(parsed.get("Item")), READ_UNIT) * self._consistency
        elif operation in ("Query", "Scan"):
            total = sum(item_size(item) for item in parsed.get("Items", []))
            self.read_units += units(total, READ_UNIT) * self._consistency
        elif operation == "BatchGetItem":
            for items in parsed.get("Responses", {}).values():
                self.read_units += sum(units(item_size(i), READ_UNIT) for i in items) * self._consistency

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        """Note each item a write will touch, with its image before."""
        self._consistency = 1.0 if params.get("ConsistentRead") else 0.5
        operation = model.name
        key_names = ("pk", "sk")

        def note(table: str, key_or_item: dict[str, Any], factor: int) -> None:
            key = {k: key_or_item[k] for k in key_names}
            self._writes.append((table, key, self._item(table, key), factor))

        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            note(params["TableName"], params.get("Item") or params["Key"], 1)
        elif operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    put, delete = request.get("PutRequest"), request.get("DeleteRequest")
                    note(table, put["Item"] if put else delete["Key"], 1)
        elif operation == "TransactWriteItems":
            for entry in params["TransactItems"]:
                ((kind, action),) = entry.items()
                if kind != "ConditionCheck":
                    note(action["TableName"], action.get("Item") or action["Key"], 2)

    @contextmanager
    def counting(self) -> Iterator[Requests]:
        from kanal.adapters.aws import client

        clients = [client("dynamodb", None), client("sqs", None), client("sns", None), client("cloudwatch", None)]
        for c in clients:
            c.meta.events.register("after-call.*.*", self)
            c.meta.events.register("before-parameter-build.dynamodb.*", self._before)
        try:
            yield self
        finally:
            for c in clients:
                c.meta.events.unregister("after-call.*.*", self)
                c.meta.events.unregister("before-parameter-build.dynamodb.*", self._before)

    def totals(self) -> dict[str, Any]:
        """Calls by operation, with the total and the capacity units."""
        return {
            **dict(self.calls),
            "total": sum(self.calls.values()),
            "dynamodb_write_units": self.write_units,
            "dynamodb_read_units": self.read_units,
        }


def api_event(partner_id: str, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    """A POST /v1/reports event from events/ (with an Idempotency-Key if ``key``)."""
    from kanal_local.template import default_template_path

    event: dict[str, Any] = json.loads((default_template_path().parent / "events" / "post_report.json").read_text())
    event["headers"].pop("Idempotency-Key", None)
    if key:
        event["headers"]["Idempotency-Key"] = key
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

    def counted(name: str, work: Any) -> Any:
        with Requests().counting() as requests:
            answer = work()
        results[name] = requests.totals()
        return answer

    with aws_stack() as invoke:
        services = wiring.services()
        first, second, third = (
            services.partners.create(n, PartnerKind.ELECTION_AGENCY, NOW).partner.partner_id for n in "ABC"
        )
        counted("new_report_request_path", lambda: invoke("IntakeFunction", api_event(first, body)))
        counted("new_report_after_answer", lambda: invoke("CaseBuilderFunction", stream_batch()))
        counted("duplicate_request_path", lambda: invoke("IntakeFunction", api_event(second, body)))
        invoke("CaseBuilderFunction", stream_batch())
        keyed = {**body, "content_url": "https://www.tiktok.com/@akun/video/7318309999999999999"}
        counted("keyed_new_report_request_path", lambda: invoke("IntakeFunction", api_event(first, keyed, "k-1")))
        counted("keyed_retry_request_path", lambda: invoke("IntakeFunction", api_event(first, keyed, "k-1")))
        sent = counted(
            "reminder_run_one_overdue_case", lambda: services.reminders().run(NOW + timedelta(hours=72), digest=False)
        )
        results["reminder_run_one_overdue_case"]["reminders_sent"] = len(sent.sent)
        review = services.review()
        claimed = review.next("ana", 0, NOW)
        assert claimed is not None
        case_id = claimed.case.case_id
        counted(
            "decision",
            lambda: review.decide(case_id, "ana", Outcome.REMOVED, Policy.MISINFORMATION, "Klaim palsu TPS.", NOW),
        )
        counted("report_on_decided_case_request_path", lambda: invoke("IntakeFunction", api_event(third, body)))
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
