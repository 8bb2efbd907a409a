"""One webhook delivery attempt over HTTP(S), safe against server-side request forgery.

The URL's form is checked again, its host resolved now, and the attempt refused unless every address it
resolves to is allowed (public; loopback only for the local stack's own ``127.0.0.1``/``localhost`` URLs): a
name that resolves to a public address and to a private one is refused, whatever order the resolver gives. The
connection is then made to the very address that was checked (never resolving again: no DNS rebinding between
check and connect), TLS verified against the URL's host name. Redirects are not followed (the answer is the
3xx, a failure), at most ``MAX_ANSWER_BYTES`` of the answer are read, and connect and read each time out.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kanal.webhooks import MAX_ANSWER_BYTES, TIMEOUT_SECONDS, UnsafeUrl, checked_url, unsafe_address

#: (host, port) -> the (address, port) pairs it resolves to now (``socket.getaddrinfo``'s, by default).
Resolve = Callable[[str, int], list[tuple[str, int]]]
#: (address, whether the URL is the local stack's loopback) -> why not (None: allowed).
Screen = Callable[[str, bool], str | None]


def resolve(host: str, port: int) -> list[tuple[str, int]]:
    """Every address ``host`` resolves to now, for a TCP connection to ``port``."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({(str(info[4][0]), int(info[4][1])) for info in found})


@dataclass(frozen=True)
class Attempt:
    """What one attempt came to: the status the receiver answered, or why there was none."""

    status: int | None = None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def outcome(self) -> str:
        """A short text for the delivery's record (never the receiver's answer body)."""
        return f"HTTP {self.status}" if self.status is not None else f"not sent: {self.error}"


class _Pinned(http.client.HTTPConnection):
    """An HTTP(S) connection to one already-checked address, whatever the Host header says."""

    def __init__(
        self, host: str, port: int, address: tuple[str, int], timeout: float, tls: ssl.SSLContext | None
    ) -> None:
        super().__init__(host, port, timeout=timeout)
        self.default_port = 443 if tls is not None else 80  # the Host header names the port only when unusual
        self._address = address
        self._tls = tls

    def connect(self) -> None:
        sock = socket.create_connection(self._address, self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host) if self._tls is not None else sock


def deliver(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    local: bool = False,
    resolver: Resolve = resolve,
    screen: Screen = unsafe_address,
    timeout: float = TIMEOUT_SECONDS,
    tls: ssl.SSLContext | None = None,
) -> Attempt:
    """POST ``body`` to ``url`` once; never raises for what the network or the receiver does."""
    try:
        checked_url(url, local=local)
    except UnsafeUrl as refused:
        return Attempt(error=f"url {refused}")
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    loopback = local and not https
    try:
        addresses = resolver(host, port)
    except (OSError, UnicodeError) as error:
        return Attempt(error=f"{host} does not resolve ({type(error).__name__})")
    reasons = [reason for reason in (screen(a, loopback) for a, _ in addresses) if reason]
    if not addresses or reasons:
        return Attempt(error=f"{host} {reasons[0] if reasons else 'resolves to no address'}")
    context = (tls or ssl.create_default_context()) if https else None
    connection = _Pinned(host, port, addresses[0], timeout, context)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers={**headers, "user-agent": "kanal-webhooks/1"})
        answer = connection.getresponse()
        answer.read(MAX_ANSWER_BYTES)
        return Attempt(status=answer.status)
    except (OSError, http.client.HTTPException) as error:
        return Attempt(error=_described(error))
    finally:
        connection.close()


def _described(error: Any) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(error, ssl.SSLError):
        return f"TLS failed ({error.reason or type(error).__name__})"
    return type(error).__name__
