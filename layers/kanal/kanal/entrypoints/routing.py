"""A router for API Gateway REST proxy events, and the OpenAPI document of its routes.

It dispatches on the resource that API Gateway already matched, validates path, query, headers and
body with pydantic (every invalid field named once), answers errors as RFC 9457 problem documents,
and writes the OpenAPI 3.1 document from the same route declarations, so the two cannot drift.

It replaces Powertools' resolver with validation. Measured by hand in one process that has already imported
Powertools' Logger and pydantic (as every function has), importing and making that resolver took about 45 ms
more than importing this module. ``make bench`` measures something else: what each import adds to a bare
interpreter (docs/performance.md, "Cold start": 0.21 s for the resolver with validation, 0.12 s for this
module, both counting pydantic), and each function's cold start against a boto3 floor.
"""

from __future__ import annotations

import base64
import binascii
import json
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from kanal.models import FieldError, Problem

if TYPE_CHECKING:
    from pydantic.json_schema import JsonSchemaMode

MAX_BODY_BYTES = 64 * 1024
#: Titles fixed here where Python versions disagree (3.11 says "Request Entity Too Large"; RFC 9110 and
#: the gateway's own 413 say "Content Too Large").
TITLES = {HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "Content Too Large"}
PROBLEM_JSON = "application/problem+json"
#: The one media type request bodies may have (with charset=utf-8 or no charset).
JSON = "application/json"


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: a model, a list of models, or a ready JSON text."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def proxy_result(self) -> dict[str, Any]:
        """The Lambda proxy result API Gateway expects."""
        if isinstance(self.body, BaseModel):
            text = self.body.model_dump_json()
        elif isinstance(self.body, list):
            text = "[" + ",".join(item.model_dump_json() for item in self.body) + "]"
        else:
            text = "" if self.body is None else str(self.body)
        headers = {"Content-Type": self.content_type, **self.headers}
        return {
            "statusCode": self.status,
            "multiValueHeaders": {name: [value] for name, value in headers.items()},
            "body": text,
            "isBase64Encoded": False,
        }


def problem(status: HTTPStatus, detail: str, *, errors: list[FieldError] | None = None, **headers: str) -> Reply:
    """An RFC 9457 problem answer (keyword headers with ``_`` for ``-``: ``Retry_After="2"``)."""
    title = TITLES.get(status, status.phrase)
    slug = title.lower().replace(" ", "-")
    body = Problem(type=f"urn:kanal:problem:{slug}", title=title, status=status.value, detail=detail, errors=errors)
    return Reply(
        status=status.value,
        body=json.dumps(body.body(), ensure_ascii=False),
        headers={k.replace("_", "-"): v for k, v in headers.items()},
        content_type=PROBLEM_JSON,
    )


@dataclass(frozen=True)
class Documented:
    """One answer of a route, as the OpenAPI document describes it."""

    description: str
    model: type[BaseModel] | None = None
    many: bool = False
    media_type: str = "application/json"


@dataclass
class Request:
    """A proxy event with its validated parts (each None where the route declares no model)."""

    event: dict[str, Any]
    body: Any = None
    path: Any = None
    query: Any = None
    headers: Any = None

    @property
    def authorizer(self) -> dict[str, Any]:
        """What the authorizer put on the request (empty if none ran)."""
        return dict((self.event.get("requestContext") or {}).get("authorizer") or {})

    @property
    def stage_path(self) -> str:
        """The path as the partner called it, with the stage (for Location headers)."""
        return str((self.event.get("requestContext") or {}).get("path") or self.event.get("path") or "")


Handler = Callable[[Request], Any]


@dataclass(frozen=True)
class Route:
    """A method on an API Gateway resource, what it takes, and what it answers."""

    method: str
    resource: str
    handler: Handler
    summary: str
    status: int
    responses: Mapping[int, Documented]
    body: type[BaseModel] | None = None
    path: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    headers: type[BaseModel] | None = None
    public: bool = False
    documented: bool = True

    def validate(self, event: dict[str, Any], raw_body: bytes | None) -> Request:
        """The request with its parts validated; RequestInvalid naming every invalid field."""
        request = Request(event)
        errors: list[FieldError] = []
        parts: list[tuple[str, type[BaseModel] | None, Callable[[type[BaseModel]], BaseModel]]] = [
            ("path", self.path, lambda model: model.model_validate(event.get("pathParameters") or {})),
            ("query", self.query, lambda model: model.model_validate(query_of(event))),
            ("headers", self.headers, lambda model: model.model_validate(headers_for(model, event))),
            ("body", self.body, lambda model: validate_body(model, raw_body or b"")),
        ]
        for part, model, parse in parts:
            if model is None:
                continue
            try:
                setattr(request, part, parse(model))
            except ValidationError as error:
                errors.extend(field_errors(error.errors(include_url=False)))
            except RepeatedMembers as error:
                errors.extend(FieldError(field=name, message="appears more than once") for name in error.names)
        if errors:
            raise RequestInvalid(errors)
        return request


def validate_body(model: type[BaseModel], raw: bytes) -> BaseModel:
    """The body as ``model``; RepeatedMembers if it names a member twice, whose value is then ambiguous.

    pydantic parses the bytes first, as fast as it can; a body it found to be JSON is then parsed again by
    Python's json for repeated names (measured here: 4.6 µs on top of pydantic's 21.5 µs for a 730-byte
    report, 130 µs for 64 KB). Only then, so that both parsers agree on what the document is: Python's
    also takes what JSON refuses, such as unpaired surrogates. One parse into a dict and ``model_validate``
    would not be cheaper (25 µs) and validates in Python mode, which differs from JSON mode.
    """
    try:
        valid = model.model_validate_json(raw)
    except ValidationError as error:
        if any(e.get("type") == "json_invalid" for e in error.errors()):
            raise
        repeated = repeated_members(raw)
        if repeated:
            raise RepeatedMembers(repeated) from error
        raise
    repeated = repeated_members(raw)
    if repeated:
        raise RepeatedMembers(repeated)
    return valid


class RepeatedMembers(Exception):
    """A JSON body named members more than once (``names``, as fields)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


class RequestInvalid(Exception):
    """The request's fields broke the route's declarations."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"{len(errors)} invalid field(s)")
        self.errors = errors


class Router:
    """Routes by (method, resource); errors by exception type; the OpenAPI document from both."""

    def __init__(self, info: dict[str, Any], security_schemes: dict[str, Any]) -> None:
        self.info = info
        self.security_schemes = security_schemes
        self.routes: dict[tuple[str, str], Route] = {}
        self.errors: dict[type[BaseException], Callable[[Any], Reply]] = {RequestInvalid: invalid_request}

    def route(self, method: str, resource: str, **declared: Any) -> Callable[[Handler], Handler]:
        """Register ``handler`` for ``method`` on ``resource`` (see Route for what may be declared)."""

        def register(handler: Handler) -> Handler:
            self.routes[(method, resource)] = Route(method=method, resource=resource, handler=handler, **declared)
            return handler

        return register

    def on(self, kind: type[BaseException]) -> Callable[[Callable[[Any], Reply]], Callable[[Any], Reply]]:
        """Register the answer to an exception of ``kind`` (the nearest registered base class wins)."""

        def register(answer: Callable[[Any], Reply]) -> Callable[[Any], Reply]:
            self.errors[kind] = answer
            return answer

        return register

    def resolve(self, event: dict[str, Any]) -> dict[str, Any]:
        """The proxy result for a proxy event."""
        try:
            return self._dispatch(event).proxy_result()
        except Exception as error:  # every failure is answered by its registered handler (500 at worst)
            for kind in type(error).__mro__:
                if kind in self.errors:
                    return self.errors[kind](error).proxy_result()
            raise

    def _dispatch(self, event: dict[str, Any]) -> Reply:
        route = self.routes.get((str(event.get("httpMethod")), str(event.get("resource"))))
        if route is None:
            return problem(HTTPStatus.NOT_FOUND, "No such resource.")
        raw_body = _raw_body(event.get("body"), bool(event.get("isBase64Encoded"))) if route.body else None
        refused = refuse_unknown_query(route, event) or (refuse_body(event, raw_body) if route.body else None)
        if refused is not None:
            return refused
        answer = route.handler(route.validate(event, raw_body))
        return answer if isinstance(answer, Reply) else Reply(status=route.status, body=answer)

    @cached_property
    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of the documented routes (built on first request: it costs time)."""
        return OpenApi(self).document()


def invalid_request(error: RequestInvalid) -> Reply:
    """422 with one entry per invalid field."""
    return problem(HTTPStatus.UNPROCESSABLE_ENTITY, "The request has invalid fields; see errors.", errors=error.errors)


def query_of(event: dict[str, Any]) -> dict[str, str]:
    """Query parameters, the last value of each (as API Gateway's queryStringParameters)."""
    multi = event.get("multiValueQueryStringParameters") or {}
    return {name: values[-1] for name, values in multi.items() if values} | (event.get("queryStringParameters") or {})


def headers_for(model: type[BaseModel], event: dict[str, Any]) -> dict[str, str]:
    """The headers a model declares (by alias), looked up regardless of case."""
    present = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    wanted = [info.alias or name for name, info in model.model_fields.items()]
    return {name: present[name.lower()] for name in wanted if name.lower() in present}


def refuse_unknown_query(route: Route, event: dict[str, Any]) -> Reply | None:
    """422 for query parameters a route does not take: refused, like unknown body fields, not ignored."""
    allowed = {info.alias or name for name, info in route.query.model_fields.items()} if route.query else set()
    unknown = sorted(set(event.get("multiValueQueryStringParameters") or query_of(event)) - allowed)
    if not unknown:
        return None
    return problem(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "The request has query parameters this route does not take; see errors.",
        errors=[FieldError(field=name, message="unknown query parameter") for name in unknown],
    )


def refuse_body(event: dict[str, Any], raw: bytes | None) -> Reply | None:
    """413, 415 or 422 before anything parses the body (``raw``, its bytes): too large, compressed, not JSON
    (or in another charset than UTF-8), or not UTF-8 after all."""
    if event.get("body") is None:
        return None
    if raw is not None and len(raw) > MAX_BODY_BYTES:
        return problem(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"The body is over {MAX_BODY_BYTES // 1024} KB.")
    codings = [c.strip().lower() for value in header_values(event, "Content-Encoding") for c in value.split(",")]
    if any(coding not in ("", "identity") for coding in codings):
        return problem(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            "Send the body as it is: no Content-Encoding (such as gzip), or Content-Encoding: identity.",
            errors=[FieldError(field="Content-Encoding", message="only identity is accepted")],
            Accept_Encoding="identity",
        )
    types = header_values(event, "Content-Type")
    if len(types) != 1 or not is_json(types[0]):
        return problem(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            f"Send the body as JSON in UTF-8 with Content-Type: {JSON} (or {JSON}; charset=utf-8).",
            errors=[FieldError(field="Content-Type", message=f"must be {JSON}, with charset=utf-8 or none")],
            Accept=JSON,
        )
    if raw is None or not _is_utf8(raw):
        return problem(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "The body is not UTF-8 encoded JSON.",
            errors=[FieldError(field="body", message="is not UTF-8 encoded JSON")],
        )
    return None


def _raw_body(body: str | None, encoded: bool) -> bytes | None:
    """The body's bytes (None if there is none or its base64 is broken)."""
    if body is None:
        return None
    if not encoded:
        return body.encode("utf-8", errors="surrogatepass")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return None


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def header_values(event: dict[str, Any], name: str) -> list[str]:
    """Every value of a request header, regardless of case: from multiValueHeaders (API Gateway puts only
    the last of repeated headers in headers), else from headers."""
    for where in ("multiValueHeaders", "headers"):
        found = [
            value
            for key, values in (event.get(where) or {}).items()
            if key.lower() == name.lower()
            for value in (values if isinstance(values, list) else [values])
        ]
        if found:
            return [str(value) for value in found]
    return []


def is_json(content_type: str) -> bool:
    """Whether a Content-Type is application/json with no parameter but charset=utf-8 (case aside)."""
    parsed = media_type(content_type)
    if parsed is None:
        return False
    kind, parameters = parsed
    return kind == JSON and set(parameters) <= {"charset"} and parameters.get("charset", "utf-8").lower() == "utf-8"


_TOKEN = frozenset("!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits)


def media_type(value: str) -> tuple[str, dict[str, str]] | None:
    """``type/subtype`` (lower case) and parameters (names lower case) of a Content-Type as RFC 9110 §8.3
    writes it, or None if it is not one (or names a parameter twice). One pass: time linear in its length."""
    end = len(value)

    def token(at: int) -> int:
        while at < end and value[at] in _TOKEN:
            at += 1
        return at

    def spaces(at: int) -> int:
        while at < end and value[at] in " \t":
            at += 1
        return at

    at = spaces(0)
    slash = token(at)
    if slash in (at, end) or value[slash] != "/":
        return None
    stop = token(slash + 1)
    if stop == slash + 1:
        return None
    kind = value[at:stop].lower()
    parameters: dict[str, str] = {}
    at = spaces(stop)
    while at < end:
        if value[at] != ";":
            return None
        at = spaces(at + 1)
        if at == end or value[at] == ";":  # an empty parameter is allowed
            continue
        equals = token(at)
        if equals in (at, end) or value[equals] != "=":
            return None
        name = value[at:equals].lower()
        at = equals + 1
        if at < end and value[at] == '"':
            text, at = _quoted(value, at + 1)
            if text is None:
                return None
        else:
            stop = token(at)
            if stop == at:
                return None
            text, at = value[at:stop], stop
        if name in parameters:
            return None
        parameters[name] = text
        at = spaces(at)
    return kind, parameters


def _quoted(value: str, at: int) -> tuple[str | None, int]:
    """The text of a quoted-string whose opening quote is just before ``at``, and where it ends."""
    text: list[str] = []
    while at < len(value):
        char = value[at]
        if char == '"':
            return "".join(text), at + 1
        if char == "\\":
            at += 1
            if at == len(value):
                break
            char = value[at]
        text.append(char)
        at += 1
    return None, at


#: How many repeated member names a 422 lists at most.
MAX_REPEATED_NAMED = 10


class _Repeating(dict[str, Any]):
    """A JSON object that named some member more than once (``repeated``, in order)."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        seen: set[str] = set()
        self.repeated: list[str] = []
        for name, _ in pairs:
            if name in seen and name not in self.repeated:
                self.repeated.append(name)
            seen.add(name)


def repeated_members(raw: bytes) -> list[str]:
    """The fields (named as pydantic errors are: ``evidence_urls[0].a``) that a JSON body holds more than
    once, at any depth: JSON parsers keep the last silently, so a body could mean one thing to the partner
    and another here ([] if Python's parser refuses it)."""
    repeating = False

    def members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeating
        found = dict(pairs)
        if len(found) == len(pairs):
            return found
        repeating = True
        return _Repeating(pairs)

    try:
        tree = json.loads(raw.decode("utf-8"), object_pairs_hook=members)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python's parser goes
        return []
    if not repeating:
        return []
    named: list[str] = []
    # Depth first in document order. Where a node is is a linked list (key, where its parent is), so
    # that a path is spelled out only for a node that is named: not one tuple per node of the body.
    stack: list[tuple[Any, Where]] = [(tree, None if isinstance(tree, dict) else ("body", None))]
    while stack and len(named) < MAX_REPEATED_NAMED:
        node, where = stack.pop()
        if isinstance(node, _Repeating):
            named.extend(field_name(_spelled((name, where))) for name in node.repeated)
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        stack.extend((child, (key, where)) for key, child in reversed(list(children)) if isinstance(child, dict | list))
    return named[:MAX_REPEATED_NAMED]


#: Where a node of a JSON document is: its key and where its parent is (None: the top-level object).
Where = tuple[str | int, "Where"] | None


def _spelled(where: Where) -> list[str | int]:
    keys: list[str | int] = []
    while where is not None:
        key, where = where
        keys.append(key)
    return keys[::-1]


def field_errors(errors: list[Any]) -> list[FieldError]:
    """One FieldError per pydantic error, named as the partner wrote the field."""
    return [
        FieldError(
            field="body" if e.get("type") == "json_invalid" else field_name(e.get("loc", ())), message=message(e)
        )
        for e in errors
    ]


def field_name(loc: Any) -> str:
    """'evidence_urls[2]' for ('evidence_urls', 2); 'body' for the body as a whole."""
    parts = list(loc)
    if not parts:
        return "body"
    name = str(parts[0])
    for part in parts[1:]:
        name += f"[{part}]" if isinstance(part, int) else f".{part}"
    return name


def message(error: dict[str, Any]) -> str:
    """A readable message for one validation error."""
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown field; see the OpenAPI document for the accepted fields"
    if kind == "missing":
        return "is required"
    if kind == "json_invalid":
        return "is not valid JSON"
    text = str(error.get("msg") or kind)
    return text.removeprefix("Value error, ")


class OpenApi:
    """Writes the OpenAPI 3.1 document of a router's documented routes."""

    REF = "#/components/schemas/{model}"

    def __init__(self, router: Router) -> None:
        self.router = router
        self.routes = [r for r in router.routes.values() if r.documented]

    def document(self) -> dict[str, Any]:
        """The whole document."""
        from pydantic.json_schema import models_json_schema

        wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}
        for route in self.routes:
            for model in (route.body, route.path, route.query, route.headers):
                if model is not None:
                    wanted[(model, "validation")] = None
            for answer in route.responses.values():
                if answer.model is not None:
                    wanted[(answer.model, "serialization")] = None
        refs, top = models_json_schema(list(wanted), ref_template=self.REF)
        schemas: dict[str, Any] = dict(top.get("$defs", {}))
        paths: dict[str, dict[str, Any]] = {}
        for route in self.routes:
            parameters = [
                parameter
                for where, model in (("path", route.path), ("query", route.query), ("header", route.headers))
                if model is not None
                for parameter in self._parameters(where, refs[(model, "validation")], schemas)
            ]
            operation: dict[str, Any] = {"summary": route.summary, "operationId": route.handler.__name__}
            if route.handler.__doc__:
                operation["description"] = route.handler.__doc__.strip()
            if parameters:
                operation["parameters"] = parameters
            if route.body is not None:
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
                }
            operation["responses"] = {
                str(status): self._response(answer, refs) for status, answer in sorted(route.responses.items())
            }
            if route.public:
                operation["security"] = []
            paths.setdefault(route.resource, {})[route.method.lower()] = operation
        for route in self.routes:  # parameters models are taken apart into parameters, not components
            for model in (route.path, route.query, route.headers):
                if model is not None:
                    schemas.pop(refs[(model, "validation")]["$ref"].rsplit("/", 1)[1], None)
        return {
            "openapi": "3.1.0",
            "info": self.router.info,
            "paths": paths,
            "components": {"schemas": schemas, "securitySchemes": self.router.security_schemes},
            "security": [{name: []} for name in self.router.security_schemes],
        }

    def _parameters(self, where: str, ref: dict[str, Any], schemas: dict[str, Any]) -> list[dict[str, Any]]:
        """A parameters model, taken apart into one parameter per field."""
        model = schemas[ref["$ref"].rsplit("/", 1)[1]]
        required = set(model.get("required", []))
        found = []
        for name, schema in model.get("properties", {}).items():
            parameter = {"name": name, "in": where, "required": where == "path" or name in required, "schema": schema}
            if "description" in schema:
                parameter["description"] = schema["description"]
            found.append(parameter)
        return found

    def _response(self, answer: Documented, refs: Mapping[Any, Any]) -> dict[str, Any]:
        described: dict[str, Any] = {"description": answer.description}
        if answer.model is not None:
            schema = refs[(answer.model, "serialization")]
            if answer.many:
                schema = {"type": "array", "items": schema}
            described["content"] = {answer.media_type: {"schema": schema}}
        return described
