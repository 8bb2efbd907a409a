"""Partners' webhooks on the moto stack: the API's webhook requests, the stream as EventsFunction's mapping filters
it, and the delivery queue as DeliveryFunction's mapping delivers it; and the flow that drives both functions
through every AWS call they make (tests/component/test_iam.py records it)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from kanal_local.template import Stack
from kanal_local.triggers import compile_pattern

from tests.support.lambdas import LambdaContext, as_function, env, event, load_function, stream_records
from tests.support.reports import as_partner

Invoke = Callable[[dict[str, Any]], dict[str, Any]]
HOOK = "https://hooks.example.org/kanal"


def webhook_request(
    partner_id: str,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway event for one of the partner's webhook or feed routes (``body`` as JSON, or none)."""
    e = as_partner(event("post_report"), partner_id)
    e["headers"].pop("Idempotency-Key")
    parts = path.strip("/").split("/")
    resource, params = path, None
    if len(parts) >= 3 and parts[1] == "webhooks":
        params = {"webhook_id": parts[2]}
        resource = "/v1/webhooks/{webhook_id}" + "".join(f"/{part}" for part in parts[3:])
    e.update(
        httpMethod=method,
        path=path,
        resource=resource,
        pathParameters=params,
        queryStringParameters=query,
        multiValueQueryStringParameters={k: [v] for k, v in query.items()} if query else None,
    )
    e["requestContext"].update(path=f"/prod{path}", resourcePath=resource, httpMethod=method)
    if body is None:
        e["body"] = None
        e["headers"].pop("Content-Type", None)
    else:
        e["body"] = json.dumps(body)
    return e


def told(stack: Stack, dynamodb: Any) -> list[dict[str, Any]]:
    """Every record of the table's stream that EventsFunction's event source mapping lets through (its filter
    criteria, as the translated template has them), in Lambda's shape."""
    lets_through = events_filter(stack)
    return [record for record in stream_records(dynamodb, env("TABLE_NAME")) if lets_through(record)]


def events_filter(stack: Stack) -> Callable[[dict[str, Any]], bool]:
    """Whether EventsFunction's event source mapping lets a stream record (in Lambda's shape) through: its filter
    criteria, as the translated template has them."""
    patterns = [
        compile_pattern(json.loads(f["Pattern"]))
        for mapping in stack.of_type("AWS::Lambda::EventSourceMapping").values()
        if stack.resolve(mapping["Properties"]["FunctionName"]) == stack.refs["EventsFunction"]
        for f in mapping["Properties"].get("FilterCriteria", {}).get("Filters", [])
    ]
    return lambda record: any(test(record) for test in patterns)


def deliveries(sqs: Any, visibility: int = 30) -> list[dict[str, Any]]:
    """The visible messages of the delivery queue as DeliveryFunction's mapping hands them over (hidden meanwhile)."""
    url = env("DELIVERY_QUEUE_URL")
    found = []
    while True:
        answer = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=visibility
        ).get("Messages", [])
        if not answer:
            return found
        found.extend(
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "eventSource": "aws:sqs",
            }
            for m in answer
        )


def settle(sqs: Any, records: list[dict[str, Any]], answer: dict[str, Any]) -> None:
    """What the SQS mapping does after DeliveryFunction answers: delete the messages it did not report failed."""
    failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
    for record in records:
        if record["messageId"] not in failed:
            sqs.delete_message(QueueUrl=env("DELIVERY_QUEUE_URL"), ReceiptHandle=record["receiptHandle"])


class Receiver(BaseHTTPRequestHandler):
    """A partner's endpoint on 127.0.0.1: answers the statuses queued in ``answers`` (then 204), records each."""

    answers: ClassVar[list[int]] = []
    got: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(Receiver.answers.pop(0) if Receiver.answers else 204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def receiver() -> Iterator[str]:
    """A local endpoint (its URL) for the duration."""
    Receiver.answers.clear()
    Receiver.got.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def events_function(stack: Stack) -> Invoke:
    handler = as_function(stack, "EventsFunction", load_function("events").lambda_handler)
    return lambda e: handler(e, LambdaContext())


def delivery_function(stack: Stack) -> Invoke:
    handler = as_function(stack, "DeliveryFunction", load_function("delivery").lambda_handler)
    return lambda e: handler(e, LambdaContext())


def drive_webhooks(stack: Stack, api: Invoke, dynamodb: Any, sqs: Any, clock: Any) -> None:
    """Every call of the webhook routes, EventsFunction and DeliveryFunction: a partner that reported in the flows
    before this one registers, lists, rotates, tests, re-enables and removes webhooks and reads its feed; the
    stream's events go to its feed and its webhook; deliveries fail (no network here) until three days of failures
    disable the webhook and its partner is told."""
    records = told(stack, dynamodb)
    attached = [r for r in records if r["dynamodb"]["NewImage"].get("kind", {}).get("S") == "report_attached"]
    assert attached, "the flows before this one attached reports"
    partner = attached[0]["dynamodb"]["NewImage"]["actor"]["S"]
    made = json.loads(api(webhook_request(partner, "POST", "/v1/webhooks", {"url": HOOK}))["body"])
    spare = json.loads(api(webhook_request(partner, "POST", "/v1/webhooks", {"url": HOOK}))["body"])
    assert len(json.loads(api(webhook_request(partner, "GET", "/v1/webhooks"))["body"])) == 2
    rotated = api(webhook_request(partner, "POST", f"/v1/webhooks/{made['webhook_id']}/rotate"))
    assert rotated["statusCode"] == 200
    assert api(webhook_request(partner, "POST", f"/v1/webhooks/{made['webhook_id']}/test"))["statusCode"] == 202
    assert api(webhook_request(partner, "POST", f"/v1/webhooks/{spare['webhook_id']}/enable"))["statusCode"] == 200
    assert api(webhook_request(partner, "DELETE", f"/v1/webhooks/{spare['webhook_id']}"))["statusCode"] == 204

    records = told(stack, dynamodb)
    assert records, "the flows before this one leave trail entries partners are told of"
    answer = events_function(stack)({"Records": records})
    assert answer == {"batchItemFailures": []}
    clock.now = clock.now + timedelta(minutes=1)
    feed = json.loads(api(webhook_request(partner, "GET", "/v1/events"))["body"])
    assert feed["items"], "the partner's own events are in its feed"

    deliver = delivery_function(stack)
    start: datetime = clock.now
    for day in range(4):  # failing every time: on the third day the webhook is disabled
        clock.now = start + timedelta(days=day)
        batch = deliveries(sqs)
        if not batch:
            break
        settle(sqs, batch, deliver({"Records": batch}))
        for record in batch:  # each comes back at once, for the next day's attempt
            with suppress(sqs.exceptions.ClientError):  # a delivered one is gone
                sqs.change_message_visibility(
                    QueueUrl=env("DELIVERY_QUEUE_URL"), ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
                )
    hooks = json.loads(api(webhook_request(partner, "GET", "/v1/webhooks"))["body"])
    assert hooks[0]["disabled_at"] is not None
