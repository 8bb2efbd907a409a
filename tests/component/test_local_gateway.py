"""The local gateway answers as API Gateway does, over a real socket: a body framed badly is refused at once with a
problem document (never a hang or a dropped connection), a chunked body is read, path parameters are URL-decoded,
a request's control characters never reach the console, a second Authorization header is refused, and a restart
at once binds the port a kept-alive client was served on."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.client import HTTPConnection, HTTPResponse
from typing import Any

import pytest
from kanal_local.emulator import PortBusy, ensure_free, free_port
from kanal_local.gateway import LOCAL_CALLER_HEADER, Api, Authorizer, Route, make_server
from kanal_local.template import translate

RESOURCES = translate()["Resources"]
RESPONSES = "x-amazon-apigateway-gateway-responses"
HANG = pytest.mark.timeout(60)  # a hang guard, not a timing: each request takes milliseconds


def route(method: str, path: str, function: str, authorized: bool) -> Route:
    pattern = re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path))  # as Api.from_stack builds it
    return Route(method, path, pattern, function, authorized)


def partner_api() -> Api:
    """Routes of our own, the partner API's authorizer header and gateway responses from template.yaml."""
    return Api(
        stage="prod",
        routes=[route("POST", "/v1/things/{thing_id}", "Things", True)],
        authorizer=Authorizer("Authorizer", "Authorization", 0),
        responses=RESOURCES["Api"]["Properties"]["Body"][RESPONSES],
    )


def review_api() -> Api:
    return Api(
        stage="prod",
        routes=[route("POST", "/v1/review/next", "Review", True)],
        authorizer=None,
        responses=RESOURCES["ReviewApi"]["Properties"]["Body"][RESPONSES],
        iam=True,
    )


@dataclass
class Gateway:
    port: int
    events: list[dict[str, Any]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        if function == "Authorizer":
            return {"principalId": "p_1", "policyDocument": {"Statement": [{"Effect": "Allow"}]}}
        self.events.append(event)
        return {"statusCode": 200, "body": json.dumps({"body": event["body"], "params": event["pathParameters"]})}

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def send(self, raw: bytes, connection: socket.socket | None = None) -> tuple[int, dict[str, str], Any]:
        """One raw request; the answer's status, headers and JSON body."""
        connection = connection or self.connect()
        if raw:
            connection.sendall(raw)
        answer = HTTPResponse(connection)
        answer.begin()
        body = answer.read()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, json.loads(body) if body else None


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    served = Gateway(port=0)
    server = make_server([partner_api(), review_api()], served.invoke, "127.0.0.1", 0, served.lines.append)
    served.port = server.server_port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served
    server.shutdown()
    server.server_close()
    thread.join(30)


def post(body_headers: str, body: bytes = b"", path: str = "/v1/things/t_1") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: local\r\nAuthorization: Bearer k\r\n{body_headers}\r\n"
    return head.encode() + body


def refused(answer: tuple[int, dict[str, str], Any], status: int, kind: str) -> dict[str, Any]:
    code, headers, problem = answer
    assert (code, headers["content-type"]) == (status, "application/problem+json")
    assert problem["type"] == f"urn:kanal:problem:{kind}"
    document: dict[str, Any] = problem
    return document


@HANG
@pytest.mark.parametrize(
    "headers",
    [
        "Content-Length: -1\r\n",
        "Content-Length: ten\r\n",
        "Content-Length: 1.5\r\n",
        "Content-Length: +4\r\n",
        "Content-Length: 4, 4\r\n",
        "Content-Length: 4\r\nContent-Length: 5\r\n",
        "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: gzip, chunked\r\n",
    ],
)
def test_a_body_framed_badly_is_refused_at_once(gateway: Gateway, headers: str) -> None:
    code, answer_headers, problem = gateway.send(post(headers, b"body"))
    assert refused((code, answer_headers, problem), 400, "bad-request")
    assert answer_headers["connection"] == "close"  # where the next request would start is unknown
    assert gateway.events == []


@HANG
def test_a_body_over_api_gateways_limit_is_refused_unread(gateway: Gateway) -> None:
    answer = gateway.send(post("Content-Length: 10485761\r\n"))
    refused(answer, 413, "content-too-large")
    assert answer[1]["connection"] == "close"


@HANG
def test_a_chunked_body_is_read(gateway: Gateway) -> None:
    connection = gateway.connect()
    chunked = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n"
    code, _, answer = gateway.send(post("Transfer-Encoding: chunked\r\n", chunked), connection)
    assert (code, answer["body"]) == (200, "hello, world")
    # The connection goes on: the chunked body was read to its end, and no further.
    code, _, answer = gateway.send(post("Content-Length: 2\r\n", b"ok"), connection)
    assert (code, answer["body"]) == (200, "ok")


@HANG
@pytest.mark.parametrize("chunks", [b"5\r\nhel", b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n"])
def test_a_broken_chunked_body_is_refused(gateway: Gateway, chunks: bytes) -> None:
    connection = gateway.connect()
    connection.sendall(post("Transfer-Encoding: chunked\r\n", chunks))
    connection.shutdown(socket.SHUT_WR)  # the body ends here
    refused(gateway.send(b"", connection), 400, "bad-request")
    assert gateway.events == []


@HANG
def test_path_parameters_are_url_decoded(gateway: Gateway) -> None:
    code, _, answer = gateway.send(post("Content-Length: 0\r\n", path="/v1/things/a%20b%2Fc%C3%A9+d"))
    assert code == 200
    assert answer["params"] == {"thing_id": "a b/cé+d"}
    assert gateway.events[0]["path"] == "/v1/things/a%20b%2Fc%C3%A9+d"


@HANG
def test_control_bytes_of_a_request_line_never_reach_the_console(gateway: Gateway) -> None:
    gateway.send(b"GET /v1/\x1b]0;pwned\x07\x9b2J HTTP/1.1\r\nHost: local\r\n\r\n")
    gateway.send(b"G\x1bET /v1/things/t_1 HTTP/1.1\r\nHost: local\r\n\r\n")
    named = f"POST /v1/review/next HTTP/1.1\r\nHost: local\r\n{LOCAL_CALLER_HEADER}: ana\x1b[31m\r\n"
    gateway.send(named.encode() + b"Content-Length: 0\r\n\r\n")
    assert len(gateway.lines) == 3
    for line in gateway.lines:
        assert line.isprintable(), line
    assert gateway.lines[0].startswith("GET /v1/⟦U+001B⟧]0;pwned⟦U+0007⟧⟦U+009B⟧2J 404 ")
    assert gateway.lines[1].startswith("G⟦U+001B⟧ET /v1/things/t_1 404 ")
    assert gateway.lines[2].endswith("reviewer=arn:aws:sts::123456789012:assumed-role/ReviewerRole/ana⟦U+001B⟧[31m")


@HANG
def test_a_second_authorization_header_is_refused(gateway: Gateway) -> None:
    twice = "Authorization: Bearer other\r\nContent-Length: 0\r\n"
    refused(gateway.send(post(twice)), 401, "unauthorized")
    reviewer = f"POST /v1/review/next HTTP/1.1\r\nHost: local\r\n{LOCAL_CALLER_HEADER}: ana\r\n"
    problem = refused(gateway.send(f"{reviewer}{LOCAL_CALLER_HEADER}: bob\r\n\r\n".encode()), 400, "bad-request")
    assert problem["detail"] == f"Send one {LOCAL_CALLER_HEADER} header."
    assert gateway.events == []
    code, _, _ = gateway.send(post("Content-Length: 0\r\n"))  # one is fine
    assert code == 200


@HANG
def test_a_restart_at_once_comes_up_after_a_kept_alive_client() -> None:
    """Ctrl-C and `make run` again: the stopped gateway's kept-alive connection holds the port (closed by the
    server first, it waits out TIME_WAIT), which a plain bind takes for a busy port; the check and the server
    reuse the address, as http.server does, and only a listening server makes the port busy."""
    port = free_port()
    first = Gateway(port)
    server = make_server([partner_api()], first.invoke, "127.0.0.1", port, first.lines.append)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = HTTPConnection("127.0.0.1", port, timeout=10)
    client.request("POST", "/v1/things/t_1", body=b"{}", headers={"Authorization": "Bearer k"})
    answer = client.getresponse()
    assert (answer.status, answer.getheader("Connection")) == (200, None)  # HTTP/1.1: the connection stays
    answer.read()
    with pytest.raises(PortBusy):
        ensure_free("127.0.0.1", port)  # serving: busy
    server.shutdown()  # as LocalStack.stop, then the process ends
    server.server_close()
    thread.join(30)
    assert client.sock is not None
    assert client.sock.recv(1) == b""  # stop ended the kept-alive connection, as the process's exit does
    client.close()
    with socket.socket() as plain, pytest.raises(OSError, match="Address already in use"):
        plain.bind(("127.0.0.1", port))  # the old check: "port 3000 is busy" for up to a minute

    ensure_free("127.0.0.1", port)
    second = Gateway(port)
    again = make_server([partner_api()], second.invoke, "127.0.0.1", port, second.lines.append)
    thread = threading.Thread(target=again.serve_forever, daemon=True)
    thread.start()
    try:
        code, _, body = second.send(post("Content-Length: 2\r\n", b"{}"))
        assert (code, body["body"]) == (200, "{}")
    finally:
        again.shutdown()
        again.server_close()
        thread.join(30)
