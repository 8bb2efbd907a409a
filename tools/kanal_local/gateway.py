"""A local API Gateway for the template's REST APIs: routes, the REQUEST authorizer and its cache (and its
flush), IAM authorization, usage plans (each key's rate, burst and quota, kanal_local.limits), the stage's
throttle, a resource policy's source-IP allow-list, proxy events.

It reads the routes, the authorizer and the gateway responses from the REST API's body as SAM translates the
template (AWS::ApiGateway::RestApi: paths with their Lambda proxy integrations, securityDefinitions,
x-amazon-apigateway-gateway-responses) and its stage, builds the REST proxy event API Gateway would send, and
returns the handler's answer as is.

The local stack has no IAM: an API with ``DefaultAuthorizer: AWS_IAM`` (the reviewer API) takes the
caller's name from the ``X-Kanal-Local-Reviewer`` header, which only this local gateway reads, and puts
it on the request context where API Gateway puts the verified principal. A deployed API ignores the
header: there the identity is the request's SigV4 signer.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import re
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Lock
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from kanal import terminal

from kanal_local import LOCAL_CALLER_HEADER, moto_apigateway
from kanal_local.limits import EndpointPlans, Limiter, TokenBucket, stage_bucket
from kanal_local.template import CannotEmulate, Stack

Invoke = Callable[[str, dict[str, Any]], Any]
Log = Callable[[str], None]


@dataclass(frozen=True)
class Route:
    """One method and path of the API, and the function behind it."""

    method: str
    resource: str
    pattern: re.Pattern[str]
    function: str
    authorized: bool
    #: The method requires an API key (its requests count against the key's usage plan).
    api_key: bool = False

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters if this route serves the request, URL-decoded as API Gateway passes them."""
        if method != self.method and self.method != "ANY":
            return None
        found = self.pattern.fullmatch(path)
        return {name: unquote(value) for name, value in found.groupdict().items()} if found else None


@dataclass(frozen=True)
class Authorizer:
    """The API's REQUEST authorizer as the template declares it."""

    function: str
    header: str
    ttl: int
    #: The header is the identity source: without it (or empty), API Gateway answers 401 and never invokes the
    #: authorizer (when its results are cached).
    required: bool = True


def local_principal(name: str) -> str:
    """The principal ARN the local stack gives a named caller: as AWS names a session of ReviewerRole."""
    return f"arn:aws:sts::123456789012:assumed-role/ReviewerRole/{name}"


@dataclass
class Api:
    """One of the template's REST APIs: its stage, routes, authorizer and gateway responses."""

    stage: str
    routes: list[Route]
    authorizer: Authorizer | None
    responses: dict[str, dict[str, Any]]
    #: IAM authorization (DefaultAuthorizer: AWS_IAM): the caller is a principal, not a partner key.
    iam: bool = False
    cache: dict[str, tuple[float, dict[str, Any] | None]] = field(default_factory=dict)
    lock: Lock = field(default_factory=Lock)
    #: The REST API's id on the local stack (its logical id), which a flush of its authorizer cache names.
    api_id: str = "local"
    #: Where a method's API key comes from: the authorizer's usageIdentifierKey, or the x-api-key header.
    key_source: str = "HEADER"
    #: The usage plans of the stage (None: no method requires an API key).
    limiter: Limiter | None = None
    #: The stage's own throttle, shared by every caller (MethodSettings on every method), or None.
    throttle: TokenBucket | None = None
    #: The resource policy's allow-list: only these source networks may call (None: any).
    sources: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None = None

    @classmethod
    def from_stack(cls, stack: Stack, api_id: str = "Api") -> Api:
        """Read ``api_id``, an AWS::ApiGateway::RestApi of the translated template: its routes and their Lambda
        proxy integrations, its authorizer (securityDefinitions), its gateway responses (all from the Body SAM
        wrote) and its stage. CannotEmulate, naming what, for anything the local gateway cannot serve as API
        Gateway would."""
        body = stack.resolve(stack.resources[api_id]["Properties"].get("Body"))
        if not isinstance(body, dict) or not isinstance(body.get("paths"), dict):
            raise CannotEmulate(f"API {api_id}: the local gateway serves a REST API from its Body (OpenAPI) only")
        definitions: dict[str, Any] = body.get("securityDefinitions", {})
        schemes = {name: _scheme(api_id, name, spec, stack) for name, spec in definitions.items()}
        routes, used = [], set()
        for path, methods in body["paths"].items():
            for verb, operation in methods.items():
                method = "ANY" if verb == "x-amazon-apigateway-any-method" else verb.upper()
                where = f"API {api_id} {method} {path}"
                function = _integration(where, operation.get("x-amazon-apigateway-integration"), stack)
                security = operation.get("security", body.get("security", []))
                names = {name for requirement in security for name in requirement if name in schemes}
                keyed = any(schemes[name] == API_KEY for name in names)
                names = {name for name in names if schemes[name] != API_KEY}
                used |= names
                pattern = re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path))
                routes.append(Route(method, path, pattern, function, bool(names), keyed))
        kinds = {schemes[name] for name in used}
        if len(kinds) > 1:
            raise CannotEmulate(f"API {api_id}: the local gateway serves one authorizer per API, not {sorted(used)}")
        scheme = next(iter(kinds), None)
        found = [
            r["Properties"]
            for r in stack.of_type("AWS::ApiGateway::Stage").values()
            if stack.resolve(r["Properties"].get("RestApiId")) == stack.refs[api_id]
        ]
        if len(found) != 1:
            raise CannotEmulate(f"API {api_id}: the local gateway serves one stage per API, not {len(found)}")
        stages = [stack.resolve(found[0].get("StageName"))]
        props = stack.resolve(stack.resources[api_id]["Properties"])
        key_source = str(props.get("ApiKeySourceType") or body.get("x-amazon-apigateway-api-key-source") or "HEADER")
        if key_source not in ("HEADER", "AUTHORIZER"):
            raise CannotEmulate(f"API {api_id}: ApiKeySourceType {key_source} is neither HEADER nor AUTHORIZER")
        keyed = any(route.api_key for route in routes)
        responses = body.get("x-amazon-apigateway-gateway-responses", {})
        for kind, spec in responses.items():
            for header, value in spec.get("responseParameters", {}).items():
                if not (header.startswith("gatewayresponse.header.") and re.fullmatch(r"'[^']*'", str(value))):
                    raise CannotEmulate(f"API {api_id}: gateway response {kind}: {header} is not a static header")
        physical = str(stack.refs[api_id])
        return cls(
            stage=str(stages[0]),
            routes=routes,
            authorizer=scheme if isinstance(scheme, Authorizer) else None,
            responses=responses,
            iam=scheme == IAM,
            api_id=physical,
            key_source=key_source,
            limiter=Limiter(EndpointPlans(physical, str(stages[0]), stack.region)) if keyed else None,
            throttle=_stage_throttle(api_id, stack.resolve(found[0].get("MethodSettings")) or []),
            sources=_allowed_sources(api_id, body.get("x-amazon-apigateway-policy")),
        )

    def flush(self) -> None:
        """Forget every cached authorizer answer (API Gateway's FlushStageAuthorizersCache)."""
        with self.lock:
            self.cache.clear()

    def admitted(self, source_ip: str) -> bool:
        """Whether the resource policy lets this source address call the API."""
        if self.sources is None:
            return True
        try:
            address = ipaddress.ip_address(source_ip)
        except ValueError:
            return False
        return any(address in network for network in self.sources)

    def over_limit(self, route: Route, policy: dict[str, Any] | None, headers: dict[str, str]) -> str | None:
        """The gateway response that refuses the request for its limits (THROTTLED, QUOTA_EXCEEDED,
        INVALID_API_KEY), or None. The stage's throttle counts every request; a method that requires an API key
        counts it against the key's usage plan."""
        now = datetime.now(UTC)
        if route.api_key and self.limiter is not None:
            source = (policy or {}).get("usageIdentifierKey") if self.key_source == "AUTHORIZER" else None
            key = source if self.key_source == "AUTHORIZER" else _header(headers, "x-api-key")
            refused = self.limiter.admit(str(key) if key else None, now)
            if refused:
                return refused
        if self.throttle is not None:
            with self.lock:
                if not self.throttle.take(now):
                    return "THROTTLED"
        return None

    def gateway_response(self, kind: str, status: int, message: str | None = None) -> tuple[int, dict[str, str], bytes]:
        """API Gateway's own answer (UNAUTHORIZED, ACCESS_DENIED, ...) as the API's gateway responses shape it (the
        kind's own, else DEFAULT_4XX or DEFAULT_5XX by its status, whose status code then applies too);
        ``message`` is $context.error.messageString (by default the kind's name)."""
        spec = self.responses.get(kind) or self.responses.get("DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX", {})
        headers = {
            k.removeprefix("gatewayresponse.header."): str(v).strip("'")
            for k, v in spec.get("responseParameters", {}).items()
        }
        body = spec.get("responseTemplates", {}).get("application/json", '{"message": "error"}')
        body = body.replace("$context.error.messageString", json.dumps(message or kind.replace("_", " ").title()))
        return int(spec.get("statusCode", status)), headers, body.encode()

    def authorize(self, invoke: Invoke, method_arn: str, event: dict[str, Any]) -> dict[str, Any] | None:
        """The authorizer's policy for this request (cached per identity header like API Gateway); None: refused."""
        assert self.authorizer is not None
        identity = _header(event["headers"], self.authorizer.header) or ""
        if not identity and self.authorizer.required and self.authorizer.ttl > 0:
            return None
        now = time.monotonic()
        with self.lock:
            cached = self.cache.get(identity)
        if cached and cached[0] > now:
            return cached[1]
        request = {
            "type": "REQUEST",
            "methodArn": method_arn,
            **{k: event[k] for k in ("resource", "path", "httpMethod", "headers", "multiValueHeaders")},
            "queryStringParameters": event["queryStringParameters"] or {},
            "pathParameters": event["pathParameters"] or {},
            "stageVariables": {},
            "requestContext": {k: v for k, v in event["requestContext"].items() if k != "authorizer"},
        }
        try:
            policy: dict[str, Any] | None = invoke(self.authorizer.function, request)
        except Exception:
            policy = None
        if policy is not None:
            statements = policy.get("policyDocument", {}).get("Statement", [])
            if not any(s.get("Effect") == "Allow" for s in statements):
                policy = {"denied": True}
        if self.authorizer.ttl > 0:
            with self.lock:
                self.cache[identity] = (now + self.authorizer.ttl, policy)
        return policy


#: An API's AWS_IAM security scheme (SigV4): the caller is the request's signer.
IAM = "AWS_IAM"
#: The API key scheme SAM writes for ApiKeyRequired (x-api-key; with ApiKeySourceType AUTHORIZER the key is the
#: authorizer's usageIdentifierKey instead).
API_KEY = "API_KEY"


def _stage_throttle(api_id: str, settings: list[dict[str, Any]]) -> TokenBucket | None:
    """The stage's throttle from its MethodSettings: one setting for every method (/*, *) or none."""
    wide = [s for s in settings if s.get("ResourcePath") == "/*" and s.get("HttpMethod") == "*"]
    narrow = [s for s in settings if s not in wide and ("ThrottlingRateLimit" in s or "ThrottlingBurstLimit" in s)]
    if narrow:
        raise CannotEmulate(f"API {api_id}: the local gateway throttles the whole stage, not single methods")
    if not wide:
        return None
    rate, burst = wide[0].get("ThrottlingRateLimit"), wide[0].get("ThrottlingBurstLimit")
    return stage_bucket(
        float(rate) if rate is not None else None,
        int(burst) if burst is not None else None,
        lambda: datetime.now(UTC),
    )


def _allowed_sources(api_id: str, policy: Any) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None:
    """The source networks a resource policy allows (None: any): the local gateway reads an Allow of
    execute-api:Invoke on the whole API to everyone, and a Deny of the same unless aws:SourceIp is in a list
    (NotIpAddress) — the template's AllowedSourceCidrs. CannotEmulate for any other statement."""
    if not policy:
        return None
    where = f"API {api_id} resource policy"
    sources = None
    for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
        whole = (
            statement.get("Principal") in ("*", {"AWS": "*"})
            and statement.get("Action") == "execute-api:Invoke"
            and statement.get("Resource") == "execute-api:/*"
        )
        condition = statement.get("Condition")
        if whole and statement.get("Effect") == "Allow" and not condition:
            continue
        if (
            whole
            and statement.get("Effect") == "Deny"
            and isinstance(condition, dict)
            and list(condition) == ["NotIpAddress"]
        ):
            tests = condition["NotIpAddress"]
            if isinstance(tests, dict) and list(tests) == ["aws:SourceIp"]:
                cidrs = tests["aws:SourceIp"]
                try:
                    sources = tuple(
                        ipaddress.ip_network(str(c).strip(), strict=False)
                        for c in (cidrs if isinstance(cidrs, list) else [cidrs])
                    )
                except ValueError as error:
                    raise CannotEmulate(f"{where}: {error}") from None
                continue
        raise CannotEmulate(f"{where}: the local gateway reads only a source-IP allow-list, not {statement}")
    return sources


#: What the integration's credentials say when API Gateway invokes the function as the caller (SAM's InvokeRole
#: CALLER_CREDENTIALS, its default with AWS_IAM).
CALLER_CREDENTIALS = "arn:aws:iam::*:user/*"


def _scheme(api_id: str, name: str, spec: dict[str, Any], stack: Stack) -> Authorizer | str:
    """A securityDefinitions entry as the local gateway serves it: IAM, an API key, or a REQUEST authorizer."""
    where = f"API {api_id} authorizer {name}"
    if spec.get("x-amazon-apigateway-authtype") == "awsSigv4":
        return IAM
    plain = {k: v for k, v in spec.items() if k != "description"}
    if plain == {"type": "apiKey", "name": "x-api-key", "in": "header"}:
        return API_KEY
    authorizer = spec.get("x-amazon-apigateway-authorizer")
    if not isinstance(authorizer, dict) or authorizer.get("type") != "request":
        raise CannotEmulate(f"{where}: the local gateway serves REQUEST Lambda authorizers and AWS_IAM only")
    if authorizer.get("authorizerCredentials"):
        raise CannotEmulate(f"{where}: the local gateway has no IAM to invoke the authorizer with its credentials")
    sources = [s.strip() for s in str(authorizer.get("identitySource", "")).split(",") if s.strip()]
    headers = [s.removeprefix("method.request.header.") for s in sources if s.startswith("method.request.header.")]
    if len(sources) > 1 or len(headers) != len(sources):
        raise CannotEmulate(f"{where}: the local gateway takes one header as the identity source, not {sources}")
    return Authorizer(
        function=stack.function_of(authorizer.get("authorizerUri"), where),
        header=headers[0] if headers else "Authorization",
        ttl=int(authorizer.get("authorizerResultTtlInSeconds", 300)),
        required=bool(headers),
    )


def _integration(where: str, integration: Any, stack: Stack) -> str:
    """The function behind a route's integration (a Lambda proxy integration, invoked by API Gateway itself)."""
    if not isinstance(integration, dict) or integration.get("type") != "aws_proxy":
        raise CannotEmulate(f"{where}: the local gateway serves Lambda proxy integrations (aws_proxy) only")
    credentials = integration.get("credentials")
    if credentials == CALLER_CREDENTIALS:
        raise CannotEmulate(
            f"{where}: API Gateway would invoke the function with the caller's own credentials (SAM's InvokeRole "
            "CALLER_CREDENTIALS, its default with AWS_IAM), so every caller would need lambda:InvokeFunction; the "
            "local gateway has no IAM to check that (set InvokeRole: NONE)"
        )
    if credentials:
        raise CannotEmulate(f"{where}: the local gateway has no IAM to invoke the function as {credentials}")
    return stack.function_of(integration.get("uri"), where)


def _header(headers: dict[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def build_event(
    api: Api, route: Route, params: dict[str, str], request: BaseHTTPRequestHandler, body: bytes
) -> dict[str, Any]:
    """The REST proxy event API Gateway sends for this request."""
    url = urlsplit(request.path)
    query = parse_qs(url.query, keep_blank_values=True)
    headers: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in request.headers.items():
        headers[key] = value
        multi.setdefault(key, []).append(value)
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    now = datetime.now(UTC)
    return {
        "resource": route.resource,
        "path": url.path,
        "httpMethod": request.command,
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": route.resource,
            "httpMethod": request.command,
            "requestId": str(uuid.uuid4()),
            "extendedRequestId": str(uuid.uuid4()),
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "path": f"/{api.stage}{url.path}",
            "accountId": "123456789012",
            "protocol": request.request_version,
            "stage": api.stage,
            "domainName": request.headers.get("Host", "127.0.0.1"),
            "apiId": "local",
            "identity": {"sourceIp": request.client_address[0], "userAgent": request.headers.get("User-Agent")},
        },
        "body": text if body else None,
        "isBase64Encoded": encoded,
    }


#: API Gateway's largest request body.
MAX_BODY = 10 * 1024 * 1024
#: The headers that say who calls: each must come at most once (which one would count is anyone's guess).
IDENTITY_HEADERS = ("Authorization", LOCAL_CALLER_HEADER)


class Refused(Exception):
    """A request the gateway answers itself with a problem document (API Gateway's response ``kind``)."""

    def __init__(self, kind: str, status: int, message: str, close: bool = False) -> None:
        super().__init__(message)
        self.kind, self.status, self.message = kind, status, message
        #: The rest of the connection cannot be read as requests (its body's framing is unknown).
        self.close = close


def read_body(request: BaseHTTPRequestHandler, limit: int = MAX_BODY) -> bytes:
    """The request's body, framed by Content-Length or chunked Transfer-Encoding; Refused for framing that cannot
    be read (a negative, non-numeric or repeated Content-Length, a transfer coding other than chunked, both
    headers at once, a broken chunk) and for a body over ``limit``."""
    codings = [
        c.strip().lower() for value in request.headers.get_all("Transfer-Encoding") or [] for c in value.split(",")
    ]
    lengths = [value.strip() for value in request.headers.get_all("Content-Length") or []]
    if codings:
        if lengths:
            raise Refused("BAD_REQUEST_BODY", 400, "Send Content-Length or Transfer-Encoding, not both.", close=True)
        if codings != ["chunked"]:
            raise Refused("BAD_REQUEST_BODY", 400, "Only the chunked transfer coding is supported.", close=True)
        return _read_chunked(request, limit)
    if not lengths:
        return b""
    if len(set(lengths)) > 1 or not re.fullmatch(r"[0-9]{1,19}", lengths[0]):
        raise Refused("BAD_REQUEST_BODY", 400, "Content-Length must be one whole number of bytes.", close=True)
    length = int(lengths[0])
    if length > limit:
        raise Refused("REQUEST_TOO_LARGE", 413, "The request body is too large.", close=True)
    body = request.rfile.read(length)
    if len(body) < length:
        raise Refused("BAD_REQUEST_BODY", 400, "The body ended before its Content-Length.", close=True)
    return body


def _read_chunked(request: BaseHTTPRequestHandler, limit: int) -> bytes:
    broken = Refused("BAD_REQUEST_BODY", 400, "The chunked body is malformed.", close=True)
    body = bytearray()
    while True:
        line = request.rfile.readline(1024)
        size = re.fullmatch(rb"([0-9A-Fa-f]{1,16})[ \t]*(;[^\r\n]*)?\r?\n", line)
        if size is None:
            raise broken
        length = int(size.group(1), 16)
        if length == 0:
            break
        if len(body) + length > limit:
            raise Refused("REQUEST_TOO_LARGE", 413, "The request body is too large.", close=True)
        chunk = request.rfile.read(length)
        if len(chunk) < length or request.rfile.readline(3) not in (b"\r\n", b"\n"):
            raise broken
        body += chunk
    for _ in range(64):  # the trailer section, up to its empty line
        line = request.rfile.readline(8192)
        if line in (b"\r\n", b"\n"):
            return bytes(body)
        if not line.endswith(b"\n"):
            break
    raise broken


def make_server(apis: Api | list[Api], invoke: Invoke, host: str, port: int, log: Log) -> ThreadingHTTPServer:
    """An HTTP server that answers as the deployed APIs would (their paths do not overlap: one port serves all)."""
    served = apis if isinstance(apis, list) else [apis]

    class Gateway(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "kanal-local"

        def log_message(self, format: str, *args: Any) -> None:
            return  # one line per request is written by _answer instead

        def _serve(self) -> None:
            started = time.perf_counter()
            path = urlsplit(self.path).path
            found = next(
                ((a, r, p) for a in served for r in a.routes if (p := r.match(self.command, path)) is not None), None
            )
            api = found[0] if found else served[0]
            try:
                body = read_body(self)
                if found is None:
                    # API Gateway answers an unknown path or method with MISSING_AUTHENTICATION_TOKEN.
                    raise Refused("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token")
                for name in (*IDENTITY_HEADERS, *([api.authorizer.header] if api.authorizer else [])):
                    if len(self.headers.get_all(name) or []) > 1:
                        raise Refused("UNAUTHORIZED", 401, f"Send one {name} header.")
            except Refused as refused:
                if refused.close:
                    self.close_connection = True
                status, headers, text = api.gateway_response(refused.kind, refused.status, refused.message)
                if refused.close:
                    headers["Connection"] = "close"
                return self._answer(status, headers, text, started, "-")
            return self._route(api, found[1], found[2], body, started)

        def _route(self, api: Api, route: Route, params: dict[str, str], body: bytes, started: float) -> None:
            path = urlsplit(self.path).path
            partner = "-"
            event = build_event(api, route, params, self, body)
            policy: dict[str, Any] | None = None
            if not api.admitted(self.client_address[0]):  # the resource policy, before the authorizer
                return self._answer(*api.gateway_response("ACCESS_DENIED", 403), started, partner)
            if api.iam and route.authorized:
                name = _header(dict(self.headers.items()), LOCAL_CALLER_HEADER)
                if not name:
                    unsigned = api.gateway_response("MISSING_AUTHENTICATION_TOKEN", 403)
                    return self._answer(*unsigned, started, partner)
                partner = local_principal(name)
                event["requestContext"]["identity"].update(userArn=partner, caller=partner, user=name)
            elif route.authorized:
                arn = f"arn:aws:execute-api:ap-southeast-3:123456789012:local/{api.stage}/{self.command}{path}"
                policy = api.authorize(invoke, arn, event)
                if policy is None:
                    return self._answer(*api.gateway_response("UNAUTHORIZED", 401), started, partner)
                if policy.get("denied"):
                    return self._answer(*api.gateway_response("ACCESS_DENIED", 403), started, partner)
                partner = str(policy.get("principalId", "-"))
                event["requestContext"]["authorizer"] = {"principalId": partner, **policy.get("context", {})}
            refused = api.over_limit(route, policy, dict(self.headers.items()))
            if refused:
                status = 403 if refused == "INVALID_API_KEY" else 429
                return self._answer(*api.gateway_response(refused, status), started, partner)
            try:
                result = invoke(route.function, event)
            except Exception:
                return self._answer(*api.gateway_response("DEFAULT_5XX", 502), started, partner)
            return self._answer(*_proxy_answer(result), started, partner)

        def _answer(self, status: int, headers: dict[str, str], body: bytes, started: float, partner: str) -> None:
            took = (time.perf_counter() - started) * 1000
            who = "reviewer" if partner.startswith("arn:") else "partner"
            # The method, the path and a reviewer's name come from the request: no control character of theirs
            # reaches the console. (Logged as the answer goes out: whoever got it finds it logged.)
            log(terminal.line(f"{self.command} {urlsplit(self.path).path} {status} {took:.0f}ms {who}={partner}"))
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def __getattr__(self, name: str) -> Any:
            # http.server dispatches to do_<METHOD>: every method reaches the routing (and its 404).
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

    server = _Server((host, port), Gateway)
    server.daemon_threads = True
    for api in served:
        if (
            isinstance(api, Api) and api.authorizer is not None
        ):  # `kanal partners revoke-key` flushes the stage's cache through moto
            server.stops.append(moto_apigateway.on_flush(_flusher(api)))
    return server


def _flusher(api: Api) -> Callable[[str, str], None]:
    def flushed(api_id: str, stage: str) -> None:
        if (api_id, stage) == (api.api_id, api.stage):
            api.flush()

    return flushed


class _Server(ThreadingHTTPServer):
    # socketserver's backlog of 5 refuses connections when many partners connect at once; API Gateway does not.
    request_queue_size = 128
    # As http.server sets it: a restart binds over the last run's connections still in TIME_WAIT.
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.connections: set[socket.socket] = set()
        self.connections_lock = Lock()
        #: What to undo when the server closes (its APIs' flush listeners).
        self.stops: list[Callable[[], None]] = []
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        """Stop listening, and end the kept-alive connections (their threads wait for a next request)."""
        for stop in self.stops:
            stop()
        super().server_close()
        with self.connections_lock:
            kept = list(self.connections)
        for connection in kept:
            with contextlib.suppress(OSError):  # closed meanwhile
                connection.shutdown(socket.SHUT_RDWR)


def _proxy_answer(result: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    headers = dict(result.get("headers") or {})
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers[key] = ", ".join(values)
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return int(result.get("statusCode", 200)), headers, body
