"""The functions as Lambda runs them, on the template's stack on moto: handlers loaded as SAM loads them (their AWS
calls recorded as their principal's, ``tests.support.iam``), the context Powertools reads, the events in events/,
the table's stream, injected AWS faults, and the reviewer API in-process (``ReviewGateway``)."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
from botocore.exceptions import ClientError
from kanal import wiring
from kanal_local.template import Stack

from tests.support import ROOT, iam

REGION = "ap-southeast-3"

Invoke = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class LambdaContext:
    """The attributes of a Lambda context that Powertools reads."""

    function_name: str = "kanal-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:kanal-test"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def as_function(stack: Stack, logical_id: str, handler: Callable[..., Any]) -> Callable[..., Any]:
    """``handler`` run as ``logical_id`` runs in Lambda: with the settings of its own environment only."""

    def run(event: dict[str, Any], context: Any) -> Any:
        with wiring.function_environment(stack.functions[logical_id].environment):
            return handler(event, context)

    return run


def load_function(name: str) -> ModuleType:
    """functions/<name>/app.py, imported under a unique name (every function's module is called app)."""
    spec = importlib.util.spec_from_file_location(f"function_{name}", ROOT / "functions" / name / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # The handler runs as the template's function with this CodeUri: the AWS calls it makes are recorded as its.
    module.lambda_handler = iam.as_principal(iam.principal_of_code(name), module.lambda_handler)
    return module


def event(name: str) -> dict[str, Any]:
    """A fresh copy of events/<name>.json."""
    loaded: dict[str, Any] = json.loads((ROOT / "events" / f"{name}.json").read_text(encoding="utf-8"))
    return copy.deepcopy(loaded)


def stream_records(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """Every record on the table's stream, oldest first, page after page, in Lambda's shape (plain JSON)."""
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            answer = streams.get_records(ShardIterator=iterator)
            if not answer["Records"]:
                break
            records += [json.loads(json.dumps(record, default=str)) for record in answer["Records"]]
            iterator = answer.get("NextShardIterator")
    return records


def stream_event(
    dynamodb: Any, table: str, kinds: tuple[str, ...] = (), reports: Collection[str] | None = None
) -> dict[str, Any]:
    """The INSERT records of report items (and of trail entries of ``kinds``), as the table's stream would
    deliver them to the case builder; only those of ``reports`` (report ids) when given."""
    records: list[dict[str, Any]] = []
    for record in stream_records(dynamodb, table):
        image = record["dynamodb"].get("NewImage", {})
        wanted = image.get("sk", {}).get("S") == "REPORT" or image.get("kind", {}).get("S") in kinds
        if reports is not None:
            wanted = wanted and image.get("pk", {}).get("S", "").removeprefix("REPORT#") in reports
        if record["eventName"] == "INSERT" and wanted:
            records.append(record)
    return {"Records": records}


def env(name: str) -> str:
    """An environment variable that the stack fixture set."""
    return os.environ[name]


def count_items(dynamodb: Any, prefix: str) -> int:
    """How many items of the table have a partition key starting with ``prefix``."""
    items = dynamodb.scan(TableName=env("TABLE_NAME"))["Items"]
    return sum(1 for i in items if i["pk"]["S"].startswith(prefix))


@contextmanager
def failing(client: Any, operation: str, code: str) -> Iterator[None]:
    """Make every call of ``operation`` on ``client`` fail with ``code``, as AWS would after its retries."""

    def fail(**_: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": f"injected {code}"}}, operation)

    client.meta.events.register(f"before-call.*.{operation}", fail)
    try:
        yield
    finally:
        client.meta.events.unregister(f"before-call.*.{operation}", fail)


#: Where the tests' reviewer API "is": the local stack's kind of URL, served in-process by ``ReviewGateway``.
LOCAL_REVIEW_API = "http://127.0.0.1:9"
#: What the in-process gateway takes a signed caller to be (the access key id is the session's name).
SIGNED_CALLER = "arn:aws:sts::123456789012:assumed-role/ReviewerRole/{}"


@dataclass
class ReviewGateway:
    """The reviewer API in-process: API Gateway's part (routes from the template, the caller's identity put on
    the request context) in front of the ReviewFunction handler. The CLI's HTTP transport is replaced by it."""

    stack: Stack
    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    calls: list[dict[str, Any]]

    def send(self, base_url: str, headers: Callable[[str, str, bytes, dict[str, str]], dict[str, str]]) -> Any:
        from kanal_local.gateway import LOCAL_CALLER_HEADER, local_principal

        def send(method: str, path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
            data = json.dumps(body).encode() if body is not None else b""
            sent = {"Content-Type": "application/json"} if body is not None else {}
            sent.update(headers(method, base_url + path, data, dict(sent)))
            lowered = {k.lower(): v for k, v in sent.items()}
            if base_url.startswith("http://127.0.0.1") and LOCAL_CALLER_HEADER.lower() in lowered:
                caller = local_principal(lowered[LOCAL_CALLER_HEADER.lower()])
            elif lowered.get("authorization", "").startswith("AWS4-HMAC-SHA256 Credential="):
                # Signed for API Gateway in the API's region, over every header sent (API Gateway would check
                # the signature itself; here its scope and coverage are what the test can see).
                scope, signed = lowered["authorization"].split("Credential=", 1)[1].split(", SignedHeaders=")
                access_key, _, region, service, _ = scope.split("/")
                assert (region, service) == (REGION, "execute-api")
                assert set(signed.split(",", 1)[0].split(";")) >= {"host", "x-amz-date"} | (
                    {"content-type"} if body is not None else set()
                )
                caller = SIGNED_CALLER.format(access_key)
                api_id, stage = base_url.split("//", 1)[1].split(".", 1)[0], base_url.rstrip("/").rsplit("/", 1)[1]
                iam.record("execute-api", "Invoke", {"api_id": api_id, "stage": stage, "method": method, "path": path})
            else:
                return 403, {"detail": "Missing Authentication Token"}
            return self.invoke(method, path, body, caller, sent)

        return send

    def invoke(
        self,
        method: str,
        path: str,
        body: Any,
        caller: str | None,
        headers: dict[str, str] | None = None,
        raw: str | None = None,
    ) -> tuple[int, Any]:
        """One request as API Gateway passes it on: ``caller`` is the verified principal (None: IAM bypassed)."""
        from kanal_local.gateway import Api

        api = Api.from_stack(self.stack, "ReviewApi")
        route, params = next(((r, p) for r in api.routes if (p := r.match(method, path)) is not None), (None, None))
        if route is None:
            return 403, {"detail": "Missing Authentication Token"}
        sent = {"Content-Type": "application/json", **(headers or {})}
        text = raw if raw is not None else (json.dumps(body) if body is not None else None)
        event = {
            "resource": route.resource,
            "path": path,
            "httpMethod": method,
            "headers": sent,
            "multiValueHeaders": {k: [v] for k, v in sent.items()},
            "queryStringParameters": None,
            "multiValueQueryStringParameters": None,
            "pathParameters": params or None,
            "requestContext": {
                "resourcePath": route.resource,
                "httpMethod": method,
                "path": f"/prod{path}",
                "stage": "prod",
                "requestId": "test",
                "identity": {"userArn": caller, "caller": caller} if caller else {"sourceIp": "127.0.0.1"},
            },
            "body": text,
            "isBase64Encoded": False,
        }
        self.calls.append({"method": method, "path": path, "caller": caller})
        answer = self.handler(event, LambdaContext())
        reply = answer.get("body") or ""
        return int(answer["statusCode"]), json.loads(reply) if reply else None
