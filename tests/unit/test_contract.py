"""The APIs' documents tell the whole truth: every status a route can answer is in its OpenAPI document (the
router's own answers, the registered error answers, each handler's own, API Gateway's), the documents are valid
OpenAPI 3.1, and a strict router refuses an answer its document does not declare (the whole suite runs strict:
``tests/conftest.py``)."""

from __future__ import annotations

import ast
import base64
import dataclasses
import inspect
import json
import textwrap
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import pytest
from kanal.entrypoints import intake_function as api
from kanal.entrypoints import review_function as review_api
from kanal.entrypoints.routing import (
    Documented,
    Reply,
    Request,
    Route,
    Router,
    UndocumentedAnswer,
    problem,
)
from kanal.errors import IdempotencyKeyReused, InvalidRequest, NewReports
from kanal.models import Model
from kanal.observability import metrics
from kanal_local.template import load
from openapi_spec_validator import validate

from tests.support import ROOT

ROUTERS = {"partner API": api.app, "reviewer API": review_api.app}
#: Each router, the template's API resource in front of it, and the function behind it.
DEPLOYED = {"partner API": ("Api", "IntakeFunction"), "reviewer API": ("ReviewApi", "ReviewFunction")}
#: API Gateway's answers (template.yaml's GatewayResponses) that no documented operation can get, and why.
NOT_AN_OPERATIONS_ANSWER = {
    "partner API": {
        400: "DEFAULT_4XX catches the types the template says cannot occur (no IAM auth or validators)",
        404: "MISSING_AUTHENTICATION_TOKEN and RESOURCE_NOT_FOUND: a path or method that is no operation",
    },
    "reviewer API": {},
}


def routes(router: Router) -> list[Route]:
    return [route for route in router.routes.values() if route.documented]


def document(router: Router) -> dict[str, Any]:
    return router.openapi


def operation(router: Router, route: Route) -> dict[str, Any]:
    found: dict[str, Any] = document(router)["paths"][route.resource][route.method.lower()]
    return found


def each_route() -> list[Any]:
    return [
        pytest.param(router, route, id=f"{name}: {route.method} {route.resource}")
        for name, router in ROUTERS.items()
        for route in routes(router)
    ]


def proxy_event(route: Route, **changes: Any) -> dict[str, Any]:
    """A request for ``route`` as API Gateway passes it on, with a valid body and path for it."""
    path = dict.fromkeys(route.path.model_fields if route.path else {}, "r_x")
    event: dict[str, Any] = {
        "resource": route.resource,
        "path": route.resource,
        "httpMethod": route.method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path or None,
        "requestContext": {
            "path": f"/prod{route.resource}",
            "authorizer": {"partner_id": "p_walk"},
            "identity": {"userArn": "arn:aws:sts::123456789012:assumed-role/ReviewerRole/walk"},
        },
        "body": "{}" if route.body else None,
        "isBase64Encoded": False,
    }
    event.update(changes)
    return event


def answered(router: Router, event: dict[str, Any]) -> int:
    """The status a strict router answers ``event`` with (UndocumentedAnswer if its document lacks it)."""
    assert router.strict  # set for every test by tests/conftest.py
    return int(router.resolve(event)["statusCode"])


# The documents -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ROUTERS))
def test_each_document_is_valid_openapi_3_1(name: str) -> None:
    generated = document(ROUTERS[name])
    assert generated["openapi"] == "3.1.0"
    validate(generated)  # openapi-spec-validator: raises on any invalid part
    json.dumps(generated)  # and it is JSON


@pytest.mark.parametrize(("router", "route"), each_route())
def test_every_route_documents_every_answer_the_router_gives(router: Router, route: Route) -> None:
    """The router's own answers, the registered answers to what every route may meet and to what the route
    raises, its handler's own and API Gateway's: all in the route's document (derived here on its own)."""
    expected = {route.status, *route.responses, HTTPStatus.UNPROCESSABLE_ENTITY}  # unknown query parameters
    if route.body is not None:
        expected |= {HTTPStatus.REQUEST_ENTITY_TOO_LARGE, HTTPStatus.UNSUPPORTED_MEDIA_TYPE}
    expected |= {answer.status for answer in router.errors.values() if answer.everywhere}
    for raised in route.raises:
        nearest = next(router.errors[kind] for kind in raised.__mro__ if kind in router.errors)
        expected.add(nearest.status)
    expected |= set(router.gateway)
    documented = {int(status) for status in operation(router, route)["responses"]}
    assert {int(status) for status in expected} <= documented
    assert documented == set(router.answers(route))


@pytest.mark.parametrize(("router", "route"), each_route())
def test_every_answer_with_a_body_has_a_model(router: Router, route: Route) -> None:
    for status, answer in operation(router, route)["responses"].items():
        if status != "204":
            assert "content" in answer, (route.resource, status)
            ((media, content),) = answer["content"].items()
            assert media in ("application/json", "application/problem+json")
            assert "$ref" in content["schema"] or content["schema"].get("items", {}).get("$ref")


@pytest.mark.parametrize("name", list(ROUTERS))
def test_the_routers_routes_are_the_templates(name: str) -> None:
    """API Gateway passes on only the template's routes: the router's own 404 (no such route) is no documented
    operation's answer, and a route the template adds cannot go undocumented."""
    api_resource, function = DEPLOYED[name]
    template = load(ROOT / "template.yaml")
    events = template["Resources"][function]["Properties"]["Events"].values()
    deployed = {
        (e["Properties"]["Method"].upper(), e["Properties"]["Path"])
        for e in events
        if e["Type"] == "Api" and e["Properties"]["RestApiId"] == {"Ref": api_resource}
    }
    assert deployed == set(ROUTERS[name].routes)


@pytest.mark.parametrize("name", list(ROUTERS))
def test_api_gateways_own_answers_are_documented(name: str) -> None:
    api_resource, _ = DEPLOYED[name]
    responses = load(ROOT / "template.yaml")["Resources"][api_resource]["Properties"]["GatewayResponses"]
    statuses = {int(response["StatusCode"]) for response in responses.values()}
    excluded = NOT_AN_OPERATIONS_ANSWER[name]
    assert statuses == set(ROUTERS[name].gateway) | set(excluded)
    assert not set(ROUTERS[name].gateway) & set(excluded)


# What the router answers, walked -------------------------------------------------------------------------


@pytest.mark.parametrize(("router", "route"), each_route())
def test_the_routers_own_refusals_are_documented(router: Router, route: Route) -> None:
    """Each refusal the router makes before a handler runs, made on every route, answers a documented status
    (a strict router raises UndocumentedAnswer otherwise)."""
    unknown = proxy_event(route, multiValueQueryStringParameters={"nonsense": ["1"]})
    assert answered(router, unknown) == 422
    if route.path is not None:
        assert answered(router, proxy_event(route, pathParameters={"x": "y"})) == 422
    if route.body is None:
        return
    assert answered(router, proxy_event(route, body="{" + " " * route.max_body_bytes + "}")) == 413
    text_plain = {"Content-Type": ["text/plain"]}
    assert answered(router, proxy_event(route, multiValueHeaders=text_plain, headers={})) == 415
    gzip = {"Content-Type": ["application/json"], "Content-Encoding": ["gzip"]}
    assert answered(router, proxy_event(route, multiValueHeaders=gzip)) == 415
    latin1 = base64.b64encode('{"a": "é"}'.encode("latin-1")).decode()
    assert answered(router, proxy_event(route, body=latin1, isBase64Encoded=True)) == 422
    assert answered(router, proxy_event(route, body="[1, 2")) == 422


def sample(kind: type[BaseException]) -> BaseException:
    """An exception of ``kind`` as the code raises it."""
    made: dict[type[BaseException], Callable[[], BaseException]] = {
        InvalidRequest: lambda: InvalidRequest("cursor", "is not a cursor this API gave out"),
        IdempotencyKeyReused: IdempotencyKeyReused,
        NewReports: lambda: NewReports("c_x", [], 1),
    }
    return made.get(kind, lambda: kind("walked"))()


@pytest.mark.parametrize(("router", "route"), each_route())
def test_each_exception_a_route_may_meet_is_answered_as_documented(
    router: Router, route: Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    kinds = [kind for kind, answer in router.errors.items() if answer.everywhere] + list(route.raises)
    try:
        for kind in kinds:

            def raising(_: Request, kind: type[BaseException] = kind) -> Any:
                raise sample(kind)

            # The request's parts unchecked, so the handler runs; what it may raise, as the route declares.
            bare = dataclasses.replace(route, handler=raising, body=None, path=None, query=None, headers=None)
            monkeypatch.setitem(router.routes, (route.method, route.resource), bare)
            expected = next(router.errors[base] for base in kind.__mro__ if base in router.errors).status
            assert answered(router, proxy_event(route, body=None)) == expected, kind
    finally:
        metrics.clear_metrics()  # what the 503 handlers counted


def statuses_in(handler: Callable[..., Any]) -> tuple[set[int], set[str]]:
    """The statuses a handler's own code names (``Reply(status=N)``, ``problem(HTTPStatus.X, ...)``) and the
    names of the exceptions it raises itself."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(handler)))
    statuses: set[int] = set()
    raised: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "Reply":
                statuses |= {
                    k.value.value for k in node.keywords if k.arg == "status" and isinstance(k.value, ast.Constant)
                }
            if node.func.id == "problem" and node.args and isinstance(node.args[0], ast.Attribute):
                statuses.add(HTTPStatus[node.args[0].attr].value)
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name):
            raised.add(node.exc.func.id)
    return statuses, raised


@pytest.mark.parametrize(("router", "route"), each_route())
def test_what_a_handler_answers_or_raises_itself_is_declared(router: Router, route: Route) -> None:
    statuses, raised = statuses_in(route.handler)
    assert statuses <= set(router.answers(route)), route.resource
    names = vars(inspect.getmodule(route.handler))
    for name in raised:
        kind = names[name]
        answer = router.handler_of(kind)
        assert answer is not None, name
        assert answer.everywhere or any(issubclass(kind, declared) for declared in route.raises), (route.resource, name)


def test_the_router_answers_404_for_what_no_route_takes() -> None:
    for router in ROUTERS.values():
        event = proxy_event(next(iter(router.routes.values())), resource="/v1/nothing")
        answer = router.resolve(event)
        assert answer["statusCode"] == 404
        assert json.loads(answer["body"])["status"] == 404


# The strict router ---------------------------------------------------------------------------------------


class Pong(Model):
    pong: str


def toy(responses: dict[int, Documented], answer: Callable[[Request], Any]) -> Router:
    router = Router({"title": "toy", "version": "0"}, {})
    router.route("GET", "/ping", summary="ping", status=200, responses=responses)(answer)
    router.strict = True
    return router


def ping(**changes: Any) -> dict[str, Any]:
    return {"resource": "/ping", "httpMethod": "GET", **changes}


def test_a_strict_router_refuses_an_undocumented_status() -> None:
    router = toy({200: Documented("pong", Pong)}, lambda _: Reply(status=418, body=Pong(pong="x")))
    with pytest.raises(UndocumentedAnswer, match="418"):
        router.resolve(ping())


def test_a_strict_router_refuses_a_body_unlike_its_document() -> None:
    router = toy({200: Documented("pong", Pong)}, lambda _: Reply(status=200, body=json.dumps({"pong": 1})))
    with pytest.raises(UndocumentedAnswer, match="unlike"):
        router.resolve(ping())
    router = toy({200: Documented("pong", Pong)}, lambda _: Reply(status=200, body='{"pong": "x", "secret": 1}'))
    with pytest.raises(UndocumentedAnswer, match="secret"):
        router.resolve(ping())
    router = toy({200: Documented("pong", Pong, many=True)}, lambda _: Reply(status=200, body='{"pong": "x"}'))
    with pytest.raises(UndocumentedAnswer, match="not a list"):
        router.resolve(ping())


def test_a_strict_router_refuses_a_body_where_none_is_documented_and_another_media_type() -> None:
    router = toy({200: Documented("empty")}, lambda _: Reply(status=200, body="{}"))
    with pytest.raises(UndocumentedAnswer, match="body"):
        router.resolve(ping())
    router = toy({200: Documented("pong", Pong)}, lambda _: problem(HTTPStatus.OK, "odd"))
    with pytest.raises(UndocumentedAnswer, match="problem"):
        router.resolve(ping())


def test_a_route_the_router_documents_by_itself() -> None:
    """A new route declares only its success: the router adds its own answers and the registered ones."""
    router = toy({200: Documented("pong", Pong)}, lambda _: Pong(pong="x"))
    router.on(PermissionError, HTTPStatus.UNAUTHORIZED, "Who are you?", everywhere=True)(
        lambda _: problem(HTTPStatus.UNAUTHORIZED, "no")
    )
    assert set(router.answers(router.routes[("GET", "/ping")])) == {200, 401, 422}
    assert router.resolve(ping(multiValueQueryStringParameters={"x": ["1"]}))["statusCode"] == 422
    assert router.resolve(ping())["statusCode"] == 200


def test_answers_with_one_status_merge_and_unrelated_models_are_refused() -> None:
    first = Documented.problem("one", headers={"Retry-After": "s"})
    merged = first.merged(Documented.problem("two"))
    assert merged.description == "one; two"
    assert merged.headers == {"Retry-After": "s"}
    assert first.merged(Documented.problem("one")).description == "one"
    with pytest.raises(TypeError, match="unrelated"):
        Documented("a", Pong).merged(Documented("b", review_api.Kept))
    with pytest.raises(TypeError, match="shapes"):
        Documented("a", Pong).merged(Documented("b", Pong, many=True))
    narrower = Documented.problem("plain").merged(Documented.problem("more", review_api.NewReportsProblem))
    assert narrower.model is review_api.NewReportsProblem
