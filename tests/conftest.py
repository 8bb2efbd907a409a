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
from kanal.local.template import Stack, create_stack
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
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Kanal")
    wiring.services.cache_clear()
    aws.reset()
    yield
    wiring.services.cache_clear()
    aws.reset()


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """template.yaml's resources on moto, with every function's environment set."""
    with mock_aws():
        created = create_stack(lambda service: boto3.client(service, region_name=REGION), REGION)
        for function in created.functions.values():
            for name, value in function.environment.items():
                monkeypatch.setenv(name, value)
        yield created


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
    handler = load_function("intake").lambda_handler
    one_at_a_time = threading.Lock()  # one Lambda execution environment: Powertools' resolver is per process

    def invoke(e: dict[str, Any]) -> dict[str, Any]:
        with one_at_a_time:
            answer: dict[str, Any] = handler(e, LambdaContext())
            return answer

    return invoke


@pytest.fixture
def authorizer(stack: Stack) -> Invoke:
    """Invoke the authorizer function."""
    handler = load_function("authorizer").lambda_handler
    return lambda e: handler(e, LambdaContext())


@pytest.fixture
def case_builder(stack: Stack) -> Invoke:
    """Invoke the case builder with a stream event."""
    handler = load_function("cases").lambda_handler
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
