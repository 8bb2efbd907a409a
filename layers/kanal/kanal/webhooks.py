"""Webhooks: where a partner is told, how deliveries are signed, retried and stopped, and which URLs are safe.

Deliveries follow the Standard Webhooks specification (https://www.standardwebhooks.com): a JSON ``POST`` with
``webhook-id`` (the event's id, the same on every redelivery), ``webhook-timestamp`` (Unix seconds) and
``webhook-signature`` (``v1,`` + base64 of HMAC-SHA256 over ``{id}.{timestamp}.{body}`` with the secret's bytes;
one signature per valid secret during a rotation, separated by spaces). Signing is the ``standardwebhooks``
package's own (it has no dependencies), so partners verify with the same code that signed.

A URL is checked twice: when it is registered (its form) and at every delivery (where its name resolves now),
since a name that resolved to a public address yesterday can resolve to the metadata service today.
"""

from __future__ import annotations

import base64
import ipaddress
import math
import random
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from pydantic import Field
from standardwebhooks.webhooks import Webhook as Signer

from kanal.events import FEED_TYPES, EventType
from kanal.models import Model

#: At most this many webhooks per partner.
MAX_WEBHOOKS = 5
#: After a rotation, the old secret keeps signing this long (both signatures are sent).
ROTATION_GRACE = timedelta(hours=24)
#: A webhook that has failed without a success for this long is disabled (the partner is told).
DISABLE_AFTER = timedelta(days=3)
#: A delivery counts when the receiver answers 2xx within this many seconds (connect and read each).
TIMEOUT_SECONDS = 10
#: Read at most this much of a receiver's answer.
MAX_ANSWER_BYTES = 4096
#: The waits before each retry (then the delivery is dead-lettered): the first within 10 s, the last about a
#: day after the first attempt (23 h 36 min before jitter).
RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=8),
    timedelta(hours=8),
)
#: Each wait is drawn within this share of its nominal value, so receivers that fail together are not retried
#: together.
JITTER = 0.2
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32


class UnsafeUrl(ValueError):
    """A webhook URL kanal will not call; the message says why (shown to the partner under ``url``)."""


class Secret(Model):
    """One signing secret of a webhook; an old one after a rotation signs until it expires."""

    value: str
    created_at: datetime
    expires_at: datetime | None = None

    def valid(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at


class Webhook(Model):
    """A partner's endpoint and the events it wants."""

    webhook_id: str
    partner_id: str
    url: str
    events: list[EventType] = Field(default_factory=lambda: list(FEED_TYPES))
    created_at: datetime
    secrets: list[Secret]
    #: Since when deliveries have failed without a success in between (None: the last one succeeded).
    failing_since: datetime | None = None
    disabled_at: datetime | None = None

    def wants(self, kind: EventType) -> bool:
        return self.disabled_at is None and kind in self.events

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets that sign a delivery now, newest first."""
        return [s.value for s in sorted(self.secrets, key=lambda s: s.created_at, reverse=True) if s.valid(now)]

    def rotated(self, secret: str, now: datetime) -> Webhook:
        """A new secret; the current ones keep signing for ``ROTATION_GRACE`` (or less, if they expire sooner)."""
        kept = [
            s.model_copy(update={"expires_at": min(s.expires_at or now + ROTATION_GRACE, now + ROTATION_GRACE)})
            for s in self.secrets
            if s.valid(now)
        ]
        return self.model_copy(update={"secrets": [Secret(value=secret, created_at=now), *kept]})

    def after_attempt(self, delivered: bool, now: datetime) -> Webhook:
        """The webhook after one delivery attempt: a success clears the failures, three days of them disable it."""
        if delivered:
            return self.model_copy(update={"failing_since": None})
        since = self.failing_since or now
        disabled = self.disabled_at or (now if now - since >= DISABLE_AFTER else None)
        return self.model_copy(update={"failing_since": since, "disabled_at": disabled})


def new_secret() -> str:
    """``whsec_`` and the base64 of 32 random bytes, as Standard Webhooks' libraries read it."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signed_headers(event_id: str, body: str, signing: Sequence[str], at: datetime) -> dict[str, str]:
    """The three Standard Webhooks headers of one delivery attempt at ``at``, signed with every valid secret."""
    moment = datetime.fromtimestamp(math.floor(at.timestamp()), UTC)
    signatures = [Signer(secret).sign(msg_id=event_id, timestamp=moment, data=body) for secret in signing]
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(math.floor(at.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
    }


def retry_delay(attempt: int, rng: random.Random) -> timedelta | None:
    """How long to wait after failed attempt number ``attempt`` (1 for the first), None when it was the last."""
    if attempt < 1 or attempt > len(RETRY_DELAYS):
        return None
    nominal = RETRY_DELAYS[attempt - 1].total_seconds()
    return timedelta(seconds=nominal * rng.uniform(1 - JITTER, 1 + JITTER))


def checked_url(url: str, local: bool = False) -> str:
    """The URL if kanal may ever call it, else ``UnsafeUrl``: https on port 443, no user info, a host name (never
    an IP literal) that is a DNS name. On the local stack only, ``http://127.0.0.1:PORT`` and
    ``http://localhost:PORT`` are accepted too, so that partners' developers can receive deliveries there."""
    if len(url) > 2048:
        raise UnsafeUrl("must be at most 2048 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeUrl(f"is not a valid URL ({error})") from None
    host = (parts.hostname or "").rstrip(".")
    if "@" in parts.netloc:
        raise UnsafeUrl("must not contain user information")
    if local and parts.scheme == "http" and host in {"127.0.0.1", "localhost"}:
        if port is None:
            raise UnsafeUrl("on the local stack, an http://127.0.0.1 or http://localhost URL must name its port")
        return url
    if parts.scheme != "https":
        raise UnsafeUrl("must use https" + (" (or http://127.0.0.1:PORT on the local stack)" if local else ""))
    if port not in (None, 443):
        raise UnsafeUrl("must use port 443")
    if not host:
        raise UnsafeUrl("must name a host")
    if _ip_literal(host):
        raise UnsafeUrl("must name its host by a DNS name, not an IP address")
    if not _dns_name(host):
        raise UnsafeUrl("must name its host by a valid DNS name")
    return url


def _ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _dns_name(host: str) -> bool:
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return False
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or len(labels) < 2:
        return False
    valid = all(
        0 < len(label) <= 63 and label.replace("-", "").isalnum() and label[0] != "-" and label[-1] != "-"
        for label in labels
    )
    # The top-level label is never all digits: "2130706433" or "0x7f.1" are IPv4 addresses to a resolver.
    return valid and not labels[-1].isdigit() and not labels[-1].startswith("0x")


def unsafe_address(address: str, local_host: bool = False) -> str | None:
    """Why kanal must not connect to this resolved address (None: it may). Only public unicast addresses are
    allowed; on the local stack a ``127.0.0.1``/``localhost`` URL may reach loopback and nothing else private."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if local_host:
        return None if ip.is_loopback else f"resolves to {ip}, not to this machine's loopback"
    if ip.is_global and not ip.is_multicast:
        return None
    return f"resolves to {ip}, which is not a public address"
