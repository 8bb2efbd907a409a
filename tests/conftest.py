"""Shared fixtures: the template's resources on moto, handlers loaded as SAM loads them, events from events/.

Every handler runs as its function: tests/iam.py records the AWS calls it makes, and a test on the moto stack
fails if its functions made a call that their IAM statements in the translated template do not allow.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from kanal import wiring
from kanal.adapters import aws
from kanal_local.template import Stack, create_stack
from moto import mock_aws

from tests import iam

ROOT = Path(__file__).resolve().parents[1]
REGION = "ap-southeast-3"


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


@pytest.fixture(autouse=True, scope="session")
def _recorded_sessions() -> Iterator[None]:
    """Every botocore session kanal makes records the calls made for a principal (tests/iam.py)."""
    undo = iam.hook_sessions(aws)
    yield
    undo()


@pytest.fixture(autouse=True)
def _calls_within_policy(request: pytest.FixtureRequest, _isolated_environment: None) -> Iterator[None]:
    """On the moto stack, every AWS call a function made must be one its IAM statements allow (tests/iam.py); the
    stack is set up first, so that the statements resolve to its names."""
    iam.RECORDER.clear()
    created: Stack | None = request.getfixturevalue("stack") if "stack" in request.fixturenames else None
    yield
    if created is not None and iam.RECORDER.calls:
        denied = iam.Conformance.of(created).denial_report(iam.RECORDER.calls)
        if denied:
            pytest.fail(denied, pytrace=False)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reaches real AWS, and cached clients and services never leak between tests."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "KANAL_TABLE_NAME", "KANAL_STACK_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    # botocore 1.44 sends DynamoDB Streams calls to account-based endpoints, which moto's in-process mock does
    # not route to its streams backend (pyproject.toml says more).
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Kanal")
    wiring.reset()
    aws.reset()
    yield
    wiring.reset()
    aws.reset()


@pytest.fixture(autouse=True)
def _answers_as_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every answer either API gives in any test is one its OpenAPI document declares, body and all
    (``routing.Router.strict``): a route that answers what its document does not say fails the test."""
    from kanal.entrypoints import intake_function as api
    from kanal.entrypoints import review_function as review_api

    for router in (api.app, review_api.app):
        monkeypatch.setattr(router, "strict", True)


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """template.yaml's resources on moto, with every function's environment set; ``kanal review`` reaches the
    reviewer API in-process (``review_gateway``)."""
    with mock_aws():
        created = create_stack(lambda service: boto3.client(service, region_name=REGION), REGION)
        for function in created.functions.values():
            for name, value in function.environment.items():
                monkeypatch.setenv(name, value)
        review = as_function(created, "ReviewFunction", load_function("review").lambda_handler)
        gateway = ReviewGateway(created, review, [])
        monkeypatch.setattr("kanal_cli.reviewer.http_send", lambda url, headers, timeout=30: gateway.send(url, headers))
        monkeypatch.setenv("KANAL_REVIEW_API_URL", LOCAL_REVIEW_API)
        GATEWAYS[id(created)] = gateway
        yield created
        GATEWAYS.pop(id(created), None)


@pytest.fixture
def dynamodb(stack: Stack) -> Any:
    """A DynamoDB client on the moto stack."""
    return boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def sqs(stack: Stack) -> Any:
    """An SQS client on the moto stack."""
    return boto3.client("sqs", region_name=REGION)


Invoke = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def api(stack: Stack) -> Invoke:
    """Invoke the intake function with an API Gateway event."""
    handler = as_function(stack, "IntakeFunction", load_function("intake").lambda_handler)
    one_at_a_time = threading.Lock()  # one Lambda execution environment: Powertools' resolver is per process

    def invoke(e: dict[str, Any]) -> dict[str, Any]:
        with one_at_a_time:
            answer: dict[str, Any] = handler(e, LambdaContext())
            return answer

    return invoke


@pytest.fixture
def authorizer(stack: Stack) -> Invoke:
    """Invoke the authorizer function."""
    handler = as_function(stack, "AuthorizerFunction", load_function("authorizer").lambda_handler)
    return lambda e: handler(e, LambdaContext())


@pytest.fixture
def case_builder(stack: Stack) -> Invoke:
    """Invoke the case builder with a stream event."""
    handler = as_function(stack, "CaseBuilderFunction", load_function("case_builder").lambda_handler)
    return lambda e: handler(e, LambdaContext())


def stream_event(dynamodb: Any, table: str, kinds: tuple[str, ...] = ()) -> dict[str, Any]:
    """The INSERT records of report items (and of trail entries of ``kinds``), as the table's stream would
    deliver them to the case builder."""
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in streams.get_records(ShardIterator=iterator)["Records"]:
            image = record["dynamodb"].get("NewImage", {})
            wanted = image.get("sk", {}).get("S") == "REPORT" or image.get("kind", {}).get("S") in kinds
            if record["eventName"] == "INSERT" and wanted:
                records.append(json.loads(json.dumps(record, default=str)))
    return {"Records": records}


def env(name: str) -> str:
    """An environment variable that the stack fixture set."""
    return os.environ[name]


#: Where the tests' reviewer API "is": the local stack's kind of URL, served in-process by ``review_gateway``.
LOCAL_REVIEW_API = "http://127.0.0.1:9"
#: What the in-process gateway takes a signed caller to be (the access key id is the session's name).
SIGNED_CALLER = "arn:aws:sts::123456789012:assumed-role/ReviewerRole/{}"


GATEWAYS: dict[int, ReviewGateway] = {}


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


@pytest.fixture
def review_gateway(stack: Stack) -> ReviewGateway:
    """The in-process reviewer API that ``kanal review`` talks to on the moto stack (and the calls it got)."""
    return GATEWAYS[id(stack)]
