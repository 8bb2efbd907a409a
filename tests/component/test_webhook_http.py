"""One delivery attempt against real local receivers: what counts, what is refused before connecting."""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kanal.adapters.webhook_http import deliver

pytestmark = pytest.mark.timeout(60)


class Receiver(BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, tuple[int, bytes, float]]] = {}
    seen: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        Receiver.seen.append((self.path, self.headers.get("Host", ""), body))
        status, answer, pause = Receiver.answers.get(self.path, (204, b"", 0.0))
        if pause:
            threading.Event().wait(pause)
        self.send_response(status)
        if status in (301, 302, 307):
            self.send_header("Location", "http://127.0.0.1:1/elsewhere")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Receiver.seen.clear()
    Receiver.answers.clear()
    yield server
    server.shutdown()
    server.server_close()


def url(server: ThreadingHTTPServer, path: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def test_a_2xx_is_delivered_and_anything_else_is_not(receiver: ThreadingHTTPServer) -> None:
    Receiver.answers.update({"/fail": (500, b"boom", 0.0), "/moved": (302, b"", 0.0), "/big": (200, b"x" * 10**6, 0.0)})
    assert deliver(url(receiver, "/ok"), b'{"a":1}', {"webhook-id": "evt_1"}, local=True).delivered
    failed = deliver(url(receiver, "/fail"), b"{}", {}, local=True)
    assert not failed.delivered
    assert failed.outcome == "HTTP 500"
    moved = deliver(url(receiver, "/moved"), b"{}", {}, local=True)
    assert moved.status == 302
    assert not moved.delivered
    assert [p for p, _, _ in Receiver.seen] == ["/ok", "/fail", "/moved"]  # the redirect was not followed
    assert deliver(url(receiver, "/big"), b"{}", {}, local=True).delivered  # only the first KB are read
    assert Receiver.seen[0][2] == b'{"a":1}'


def test_a_slow_receiver_times_out(receiver: ThreadingHTTPServer) -> None:
    Receiver.answers["/slow"] = (200, b"", 2.0)
    attempt = deliver(url(receiver, "/slow"), b"{}", {}, local=True, timeout=0.3)
    assert not attempt.delivered
    assert attempt.error == "timed out"


def test_a_closed_port_is_a_failed_attempt_not_an_exception() -> None:
    attempt = deliver("http://127.0.0.1:9/x", b"{}", {}, local=True)
    assert not attempt.delivered
    assert attempt.error


@pytest.mark.parametrize(
    "addresses",
    [["10.0.0.5"], ["93.184.215.14", "169.254.169.254"], ["fd00::1"], ["::ffff:127.0.0.1"], ["0.0.0.0"], []],  # noqa: S104
)
def test_a_name_resolving_to_any_private_address_is_refused_before_connecting(addresses: list[str]) -> None:
    connected: list[str] = []

    def resolver(host: str, port: int) -> list[tuple[str, int]]:
        connected.append(host)
        return [(a, port) for a in addresses]

    attempt = deliver("https://hooks.example.org/k", b"{}", {}, resolver=resolver)
    assert not attempt.delivered
    assert attempt.error is not None
    assert "hooks.example.org" in attempt.error
    assert connected == ["hooks.example.org"]  # resolved at delivery; nothing was sent anywhere


def test_the_url_form_is_checked_again_at_delivery() -> None:
    for bad in ("https://10.0.0.5/x", "http://hooks.example.org/x", "http://127.0.0.1:80/x"):
        attempt = deliver(bad, b"{}", {}, resolver=lambda h, p: pytest.fail("resolved"))
        assert attempt.error is not None
        assert attempt.error.startswith("url ")


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_https_connects_to_the_checked_address_and_verifies_the_host_name(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path, "hooks.example.org")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    serving = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    serving.load_cert_chain(cert, key)
    server.socket = serving.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.seen.clear()
    try:
        port = server.server_address[1]
        trusted = ssl.create_default_context(cafile=str(cert))

        # The test's own screen lets loopback through, and the name resolves to the test server's address and
        # port (kanal's URLs name 443 only): the connection goes where the resolver said, TLS checks the name.
        def resolver(host: str, asked: int) -> list[tuple[str, int]]:
            return [("127.0.0.1", port)]

        def anything(address: str, loopback: bool) -> None:
            return None

        def attempt(name: str, context: ssl.SSLContext) -> object:
            return deliver(
                f"https://{name}/hook",
                b"{}",
                {},
                resolver=resolver,
                screen=anything,
                tls=context,
                timeout=5,
            )

        sent = attempt("hooks.example.org", trusted)
        assert getattr(sent, "delivered", False)
        assert Receiver.seen[-1][1] == "hooks.example.org"
        assert not getattr(attempt("other.example.org", trusted), "delivered", True)  # the name is verified
        assert not getattr(attempt("hooks.example.org", ssl.create_default_context()), "delivered", True)
    finally:
        server.shutdown()
        server.server_close()
