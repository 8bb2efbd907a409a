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
    """One answer of a route, as the OpenAPI document describes it (``headers``: name -> description)."""

    description: str
    model: type[BaseModel] | None = None
    many: bool = False
    media_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def problem(
        cls, description: str, model: type[Problem] = Problem, headers: Mapping[str, str] | None = None
    ) -> Documented:
        """A problem document answer."""
        return cls(description, model, media_type=PROBLEM_JSON, headers=dict(headers or {}))

    def merged(self, other: Documented) -> Documented:
        """This answer and another with the same status, as one: both reasons, the more specific model (a
        subclass: every answer of the other conforms to it), every header."""
        if other.media_type != self.media_type or other.many != self.many:
            raise TypeError(f"answers with one status and two shapes: {self} and {other}")
        model = self.model or other.model
        if self.model and other.model and self.model is not other.model:
            if issubclass(other.model, self.model):
                model = other.model
            elif not issubclass(self.model, other.model):
                raise TypeError(f"answers with one status and unrelated models: {self.model} and {other.model}")
        reasons = [self.description, *(r for r in [other.description] if r not in self.description)]
        return Documented("; ".join(reasons), model, self.many, self.media_type, {**self.headers, **other.headers})


def size_text(limit: int) -> str:
    """A body limit as people write it: 64 KB, 1 MB."""
    return f"{limit // (1024 * 1024)} MB" if limit % (1024 * 1024) == 0 else f"{limit // 1024} KB"


def body_too_large(limit: int) -> Documented:
    """The router's 413 for a route whose bodies may have at most ``limit`` bytes."""
    return Documented.problem(f"Body over {size_text(limit)}")


#: What the router itself answers, before any handler runs.
UNKNOWN_QUERY = Documented.problem("A query parameter the route does not take")
BODY_TOO_LARGE = body_too_large(MAX_BODY_BYTES)
BODY_NOT_JSON = Documented.problem(
    f"Body not sent as {JSON} in UTF-8 (no charset, or charset=utf-8), or with a Content-Encoding other than "
    "identity; the Accept or Accept-Encoding header says what is taken",
    headers={"Accept": "The media type taken", "Accept-Encoding": "The content coding taken"},
)
BODY_INVALID = Documented.problem(
    "Invalid body fields (one entry each), a member named twice in the JSON, or a body that is not UTF-8 JSON"
)
FIELDS_INVALID = Documented.problem("Invalid path, query or header fields (one entry each)")


@dataclass(frozen=True)
class ErrorAnswer:
    """How a router answers an exception of some kind, and how its document says so."""

    answer: Callable[[Any], Reply]
    status: int
    documented: Documented
    #: Whether any route may meet it (storage down, no identity, the unexpected); else it is in the document of
    #: the routes whose ``raises`` name its kind, or a kind derived from it that has no answer of its own.
    everywhere: bool


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
    #: The exceptions the handler may raise, beyond those every route may meet: their registered answers are
    #: in the route's document.
    raises: tuple[type[BaseException], ...] = ()
    public: bool = False
    documented: bool = True
    #: The largest body the route takes (413 above).
    max_body_bytes: int = MAX_BODY_BYTES
    #: How the body's bytes become ``request.body`` (default ``validate_body``): a route whose body holds items
    #: validated one by one (a batch) parses it its own way, raising ValidationError or RepeatedMembers only for
    #: what refuses the whole body.
    parse_body: Callable[[type[BaseModel], bytes], Any] | None = None

    def validate(self, event: dict[str, Any], raw_body: bytes | None) -> Request:
        """The request with its parts validated; RequestInvalid naming every invalid field."""
        request = Request(event)
        errors: list[FieldError] = []
        parts: list[tuple[str, type[BaseModel] | None, Callable[[type[BaseModel]], BaseModel]]] = [
            ("path", self.path, lambda model: model.model_validate(event.get("pathParameters") or {})),
            ("query", self.query, lambda model: model.model_validate(query_of(event))),
            ("headers", self.headers, lambda model: model.model_validate(headers_for(model, event))),
            ("body", self.body, lambda model: (self.parse_body or validate_body)(model, raw_body or b"")),
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


class UndocumentedAnswer(AssertionError):
    """An answer that the route's OpenAPI document does not declare (raised only by a strict router)."""


class Router:
    """Routes by (method, resource); errors by exception type; the OpenAPI document from both.

    Every route's document lists every answer the route can give: its handler's own (``responses``), the
    router's (413, 415 and 422 for a body, 422 for invalid fields and for any query parameter it does not
    take), the answers registered for the exceptions every route may meet and for those it ``raises``, and
    ``gateway``: what API Gateway itself answers on every route. A strict router (the tests') raises
    UndocumentedAnswer for any answer its route's document does not declare.
    """

    def __init__(
        self, info: dict[str, Any], security_schemes: dict[str, Any], gateway: Mapping[int, Documented] | None = None
    ) -> None:
        self.info = info
        self.security_schemes = security_schemes
        self.gateway = dict(gateway or {})
        self.routes: dict[tuple[str, str], Route] = {}
        self.errors: dict[type[BaseException], ErrorAnswer] = {}
        self.strict = False
        self.on(RequestInvalid, HTTPStatus.UNPROCESSABLE_ENTITY, FIELDS_INVALID.description)(invalid_request)

    def route(self, method: str, resource: str, **declared: Any) -> Callable[[Handler], Handler]:
        """Register ``handler`` for ``method`` on ``resource`` (see Route for what may be declared)."""

        def register(handler: Handler) -> Handler:
            self.routes[(method, resource)] = Route(method=method, resource=resource, handler=handler, **declared)
            return handler

        return register

    def on(
        self,
        kind: type[BaseException],
        status: HTTPStatus,
        description: str,
        *,
        everywhere: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> Callable[[Callable[[Any], Reply]], Callable[[Any], Reply]]:
        """Register the answer to an exception of ``kind`` (the nearest registered base class wins): a problem
        with ``status``, described so in the document of every route (``everywhere``) or of those that name
        ``kind`` in ``raises``."""

        def register(answer: Callable[[Any], Reply]) -> Callable[[Any], Reply]:
            documented = Documented.problem(description, headers=headers)
            self.errors[kind] = ErrorAnswer(answer, status.value, documented, everywhere)
            return answer

        return register

    def resolve(self, event: dict[str, Any]) -> dict[str, Any]:
        """The proxy result for a proxy event."""
        route = self.routes.get((str(event.get("httpMethod")), str(event.get("resource"))))
        try:
            reply = self._dispatch(route, event)
            result = reply.proxy_result()
        except Exception as error:  # every failure is answered by its registered handler (500 at worst)
            handler = self.handler_of(type(error))
            if handler is None:
                raise
            reply = handler.answer(error)
            result = reply.proxy_result()
        if self.strict:
            self.check(route, reply)
        return result

    def handler_of(self, kind: type[BaseException]) -> ErrorAnswer | None:
        """The answer registered for ``kind``: its own, or its nearest registered base class's."""
        return next((self.errors[base] for base in kind.__mro__ if base in self.errors), None)

    def _dispatch(self, route: Route | None, event: dict[str, Any]) -> Reply:
        if route is None:
            return problem(HTTPStatus.NOT_FOUND, "No such resource.")
        raw_body = _raw_body(event.get("body"), bool(event.get("isBase64Encoded"))) if route.body else None
        refused = refuse_unknown_query(route, event) or (
            refuse_body(event, raw_body, route.max_body_bytes) if route.body else None
        )
        if refused is not None:
            return refused
        answer = route.handler(route.validate(event, raw_body))
        return answer if isinstance(answer, Reply) else Reply(status=route.status, body=answer)

    def answers(self, route: Route) -> dict[int, Documented]:
        """Every answer ``route`` can give, by status (what its document lists)."""
        found: dict[int, Documented] = {}

        def add(status: int, documented: Documented) -> None:
            status = int(status)
            found[status] = found[status].merged(documented) if status in found else documented

        for status, documented in route.responses.items():
            add(status, documented)
        if route.body is not None:
            add(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, body_too_large(route.max_body_bytes))
            add(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, BODY_NOT_JSON)
            add(HTTPStatus.UNPROCESSABLE_ENTITY, BODY_INVALID)
        if any(model is not None for model in (route.path, route.query, route.headers)):
            add(HTTPStatus.UNPROCESSABLE_ENTITY, FIELDS_INVALID)
        add(HTTPStatus.UNPROCESSABLE_ENTITY, UNKNOWN_QUERY)
        for handler in self.raised_answers(route):
            add(handler.status, handler.documented)
        for status, documented in self.gateway.items():
            add(status, documented)
        return dict(sorted(found.items()))

    def raised_answers(self, route: Route) -> list[ErrorAnswer]:
        """The registered answers ``route`` may give for exceptions: those every route may meet, and the answer
        to each kind it raises (a kind with an answer of its own is named itself: raising a base does not
        stand for it)."""
        chosen = [handler for handler in self.errors.values() if handler.everywhere]
        chosen += [handler for handler in map(self.handler_of, route.raises) if handler is not None]
        unique: dict[int, ErrorAnswer] = {id(handler): handler for handler in chosen}
        return list(unique.values())

    def check(self, route: Route | None, reply: Reply) -> None:
        """UndocumentedAnswer unless ``reply`` is one that the route's document declares, body included."""
        if route is None:
            if reply.status != HTTPStatus.NOT_FOUND:
                raise UndocumentedAnswer(f"{reply.status} for a request no route takes")
            return
        if not route.documented:
            return
        where = f"{route.method} {route.resource}"
        documented = self.answers(route).get(reply.status)
        if documented is None:
            raise UndocumentedAnswer(f"{where} answered {reply.status}, which its document does not declare")
        if documented.model is None:
            if reply.body not in (None, ""):
                raise UndocumentedAnswer(f"{where} answered {reply.status} with a body its document does not have")
            return
        if reply.content_type != documented.media_type:
            raise UndocumentedAnswer(f"{where} answered {reply.status} as {reply.content_type}")
        text = reply.proxy_result()["body"]
        try:
            sent = json.loads(text)
            items = sent if documented.many else [sent]
            if not isinstance(items, list):
                raise UndocumentedAnswer(f"{where} answered {reply.status} with one item, not a list")
            for item in items:
                extra = undeclared(item, documented.model.model_validate(item).model_dump(mode="json"))
                if extra:
                    raise UndocumentedAnswer(f"{where} answered {reply.status} with undeclared members {extra}")
        except ValidationError as error:
            raise UndocumentedAnswer(f"{where} answered {reply.status} with a body unlike its document") from error

    @cached_property
    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of the documented routes (built on first request: it costs time)."""
        return OpenApi(self).document()


def undeclared(sent: Any, declared: Any, where: str = "") -> list[str]:
    """The members of a JSON answer (``sent``) that its model (``declared``: the answer validated by the model,
    dumped again) does not have, at any depth."""
    if isinstance(sent, dict) and isinstance(declared, dict):
        return [
            found
            for name, value in sent.items()
            for found in (
                undeclared(value, declared[name], f"{where}.{name}") if name in declared else [f"{where}.{name}"]
            )
        ]
    if isinstance(sent, list) and isinstance(declared, list):
        return [
            found
            for i, pair in enumerate(zip(sent, declared, strict=False))
            for found in undeclared(*pair, f"{where}[{i}]")
        ]
    return []


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


def refuse_body(event: dict[str, Any], raw: bytes | None, limit: int = MAX_BODY_BYTES) -> Reply | None:
    """413, 415 or 422 before anything parses the body (``raw``, its bytes): over ``limit`` bytes, compressed,
    not JSON (or in another charset than UTF-8), or not UTF-8 after all."""
    if event.get("body") is None:
        return None
    if raw is not None and len(raw) > limit:
        return problem(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"The body is over {size_text(limit)}.")
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
    tree, repeating = parse_noting_repeats(raw)
    return repeated_in(tree) if repeating else []


def parse_noting_repeats(raw: bytes) -> tuple[Any, bool]:
    """A JSON body parsed by Python's json, each object that repeats a member name a ``_Repeating``; and whether
    there is any (None, False if Python's parser refuses it)."""
    repeating = False

    def members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeating
        found = dict(pairs)
        if len(found) == len(pairs):
            return found
        repeating = True
        return _Repeating(pairs)

    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=members), repeating
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python's parser goes
        return None, False


def repeated_in(tree: Any, skip: Callable[[Where], bool] | None = None) -> list[str]:
    """The repeated member names in a tree that ``parse_noting_repeats`` made, as fields, in document order (at
    most MAX_REPEATED_NAMED); ``skip`` leaves out the nodes it is true for, and what is under them."""
    named: list[str] = []
    # Depth first in document order. Where a node is is a linked list (key, where its parent is), so
    # that a path is spelled out only for a node that is named: not one tuple per node of the body.
    stack: list[tuple[Any, Where]] = [(tree, None if isinstance(tree, dict) else ("body", None))]
    while stack and len(named) < MAX_REPEATED_NAMED:
        node, where = stack.pop()
        if skip is not None and skip(where):
            continue
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

        router = self.router
        wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}
        for route in self.routes:
            for model in (route.body, route.path, route.query, route.headers):
                if model is not None:
                    wanted[(model, "validation")] = None
            for answer in router.answers(route).values():
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
                str(status): self._response(answer, refs) for status, answer in router.answers(route).items()
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
        if answer.headers:
            described["headers"] = {
                name: {"description": text, "schema": {"type": "string"}} for name, text in answer.headers.items()
            }
        return described
