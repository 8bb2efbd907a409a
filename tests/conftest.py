"""The fixtures: the template's resources on moto, the functions on them, and what every test runs under. The
helpers they use, and that tests share, are in tests.support.

Every test is at one level, by the folder it is in (a marker of that name, so ``pytest -m unit`` runs one):

- ``unit`` (tests/unit): rules and pure code, with in-memory fakes (tests.support.fakes); no moto, no process,
  no socket (refused while a unit test runs);
- ``component`` (tests/component): handlers, adapters and the CLI on moto in-process, and the local stack's
  pieces (gateway, emulator) on sockets of this process;
- ``integration`` (tests/integration): ``kanal dev`` in a subprocess, over HTTP.

Every handler runs as its function: tests.support.iam records the AWS calls it makes, and a test on the moto stack
fails if its functions made a call that their IAM statements in the translated template do not allow.
"""

from __future__ import annotations

import functools
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from kanal import wiring
from kanal.adapters import aws
from kanal_local.template import Stack, create_stack
from moto import mock_aws

from tests.support import ROOT, iam
from tests.support.lambdas import (
    LOCAL_REVIEW_API,
    REGION,
    Invoke,
    LambdaContext,
    ReviewGateway,
    as_function,
    load_function,
)

#: The levels, by folder.
LEVELS = ("unit", "component", "integration")


def level_of(path: Path) -> str | None:
    """The level of a test module: the folder under tests/ it is in (None: in none)."""
    parts = path.resolve().relative_to(ROOT / "tests").parts
    return parts[0] if len(parts) > 1 and parts[0] in LEVELS else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its level; a test outside the levels' folders, or a unit test on the moto stack, is a
    usage error."""
    for item in items:
        level = level_of(item.path)
        if level is None:
            raise pytest.UsageError(
                f"{item.nodeid}: a test module goes in tests/unit, tests/component or tests/integration"
            )
        if level == "unit" and "stack" in getattr(item, "fixturenames", ()):
            raise pytest.UsageError(f"{item.nodeid}: a unit test runs on in-memory fakes, not the moto stack")
        item.add_marker(getattr(pytest.mark, level))


class NotAtThisLevel(AssertionError):
    """A unit test tried to reach outside its process's memory."""


@pytest.fixture(autouse=True)
def _unit_stays_in_memory(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit test opens no socket and starts no process: what needs one is a component or integration test."""
    if request.node.get_closest_marker("unit") is None:
        return

    def refuse(what: str) -> Any:
        def refused(*_: Any, **__: Any) -> Any:
            raise NotAtThisLevel(f"a unit test {what}: move it to tests/component (or tests/integration)")

        return refused

    for name in ("connect", "connect_ex", "bind", "sendto"):
        monkeypatch.setattr(socket.socket, name, refuse("used a socket"))
    monkeypatch.setattr(subprocess.Popen, "__init__", refuse("started a process"))


@pytest.fixture(autouse=True, scope="session")
def _models_parsed_once() -> Iterator[None]:
    """Every botocore session the tests make (moto gives boto3 a new default session for each mock) shares one
    loader per search path, as kanal's own sessions do (``kanal.adapters.loader.shared``): without it each test
    parsed the service models of every client it made again."""
    original = botocore.session.create_loader
    botocore.session.create_loader = functools.cache(original)  # type: ignore[assignment]
    yield
    botocore.session.create_loader = original  # type: ignore[assignment]


@pytest.fixture(autouse=True, scope="session")
def _recorded_sessions() -> Iterator[None]:
    """Every botocore session kanal makes records the calls made for a principal (tests.support.iam)."""
    undo = iam.hook_sessions(aws)
    yield
    undo()


@pytest.fixture(autouse=True)
def _calls_within_policy(request: pytest.FixtureRequest, _isolated_environment: None) -> Iterator[None]:
    """On the moto stack, every AWS call a function made must be one its IAM statements allow (tests.support.iam); the
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


#: The in-process reviewer API of each moto stack, by the stack's id.
GATEWAYS: dict[int, ReviewGateway] = {}


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """template.yaml's resources on moto, with every function's environment set; ``kanal review`` reaches the
    reviewer API in-process (``review_gateway``)."""
    with mock_aws():
        created = create_stack(lambda service: boto3.client(service, region_name=REGION), REGION)
        for function in created.functions.values():
            for name, value in function.environment.items():
                monkeypatch.setenv(name, value)
        # The partners' default usage plan (output UsagePlanId, as `kanal` reads it): partners made in the tests get
        # their usage key in it, as `kanal partners create` gives them.
        monkeypatch.setenv("KANAL_USAGE_PLAN_ID", str(created.refs["PartnerUsagePlan"]))
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


@pytest.fixture
def review_gateway(stack: Stack) -> ReviewGateway:
    """The in-process reviewer API that ``kanal review`` talks to on the moto stack (and the calls it got)."""
    return GATEWAYS[id(stack)]
