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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import Field
from standardwebhooks.webhooks import Webhook as Signer

from kanal.errors import InvalidRequest, TooManyWebhooks, WebhookNotFound
from kanal.events import FEED_TYPES, Event, EventType, event_id
from kanal.models import Model
from kanal.reminders import Reminder, ReminderKind

if TYPE_CHECKING:
    from kanal.events import Addressed
    from kanal.ports import Deliveries, Feed, SecretBox, WebhookStore
    from kanal.reminders import Notifier, ReminderStore

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
#: How Standard Webhooks libraries recognise a signing key (base64 follows).
KEY_FORMAT = "whsec_"
SECRET_BYTES = 32


class UnsafeUrl(ValueError):
    """A webhook URL kanal will not call; the message says why (shown to the partner under ``url``)."""


class Secret(Model):
    """One signing secret of a webhook, sealed (encrypted for this webhook alone; ``SecretBox`` opens it); an old
    one after a rotation signs until it expires."""

    sealed: str
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

    def signing_secrets(self, now: datetime) -> list[Secret]:
        """The secrets that sign a delivery now, newest first."""
        return [s for s in sorted(self.secrets, key=lambda s: s.created_at, reverse=True) if s.valid(now)]

    @property
    def context(self) -> dict[str, str]:
        """What a sealed secret is bound to: it opens for this partner's webhook only."""
        return {"partner_id": self.partner_id, "webhook_id": self.webhook_id}

    def rotated(self, sealed: str, now: datetime) -> Webhook:
        """A new secret; the current ones keep signing for ``ROTATION_GRACE`` (or less, if they expire sooner)."""
        kept = [
            s.model_copy(update={"expires_at": min(s.expires_at or now + ROTATION_GRACE, now + ROTATION_GRACE)})
            for s in self.secrets
            if s.valid(now)
        ]
        return self.model_copy(update={"secrets": [Secret(sealed=sealed, created_at=now), *kept]})

    def after_attempt(self, delivered: bool, now: datetime) -> Webhook:
        """The webhook after one delivery attempt: a success clears the failures, three days of them disable it."""
        if delivered:
            return self.model_copy(update={"failing_since": None})
        since = self.failing_since or now
        disabled = self.disabled_at or (now if now - since >= DISABLE_AFTER else None)
        return self.model_copy(update={"failing_since": since, "disabled_at": disabled})


def new_secret() -> str:
    """``whsec_`` and the base64 of 32 random bytes, as Standard Webhooks' libraries read it."""
    return KEY_FORMAT + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


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


class WebhookView(Model):
    """A webhook as its partner reads it: never a secret."""

    webhook_id: str
    url: str
    events: list[EventType]
    created_at: datetime
    failing_since: datetime | None = None
    disabled_at: datetime | None = None

    @classmethod
    def of(cls, webhook: Webhook) -> WebhookView:
        return cls.model_validate(webhook.model_dump(include=set(cls.model_fields)))


class NewWebhookView(WebhookView):
    """The answer to a registration or a rotation: the secret, shown this once."""

    secret: str


def _webhook_id() -> str:
    return "wh_" + secrets.token_hex(12)


@dataclass(frozen=True)
class Webhooks:
    """A partner's webhooks: register, list, remove, rotate, re-enable, test. Every operation is the partner's own:
    another partner's webhook id is not found, as an unknown one is."""

    store: WebhookStore
    box: SecretBox
    deliveries: Deliveries
    #: The local stack accepts its own loopback URLs (``http://127.0.0.1:PORT``).
    local: bool = False
    new_id: Callable[[], str] = field(default=_webhook_id)

    def register(self, partner_id: str, url: str, events: Sequence[EventType] | None, now: datetime) -> NewWebhookView:
        """A new webhook, with its secret (shown once)."""
        try:
            checked_url(url, local=self.local)
        except UnsafeUrl as refused:
            raise InvalidRequest("url", str(refused)) from None
        wanted = list(dict.fromkeys(events)) if events else list(FEED_TYPES)
        if EventType.WEBHOOK_TEST in wanted:
            raise InvalidRequest("events", "webhook.test is sent on request only (POST /v1/webhooks/{id}/test)")
        webhook_id, secret = self.new_id(), new_secret()
        context = {"partner_id": partner_id, "webhook_id": webhook_id}
        webhook = Webhook(
            webhook_id=webhook_id,
            partner_id=partner_id,
            url=url,
            events=wanted,
            created_at=now,
            secrets=[Secret(sealed=self.box.seal(secret, context), created_at=now)],
        )
        if not self.store.add(webhook, MAX_WEBHOOKS):
            raise TooManyWebhooks(f"a partner has at most {MAX_WEBHOOKS} webhooks; delete one first")
        return NewWebhookView(**WebhookView.of(webhook).model_dump(), secret=secret)

    def listed(self, partner_id: str) -> list[WebhookView]:
        return [WebhookView.of(w) for w in self.store.of(partner_id)]

    def _own(self, partner_id: str, webhook_id: str) -> Webhook:
        found = self.store.get(partner_id, webhook_id)
        if found is None:
            raise WebhookNotFound(webhook_id)
        return found

    def remove(self, partner_id: str, webhook_id: str) -> None:
        if not self.store.remove(partner_id, webhook_id):
            raise WebhookNotFound(webhook_id)

    def rotate(self, partner_id: str, webhook_id: str, now: datetime) -> NewWebhookView:
        """A new secret; the old one keeps signing (beside it) for ``ROTATION_GRACE``."""
        webhook = self._own(partner_id, webhook_id)
        secret = new_secret()
        rotated = webhook.rotated(self.box.seal(secret, webhook.context), now)
        if not self.store.put(rotated):
            raise WebhookNotFound(webhook_id)
        return NewWebhookView(**WebhookView.of(rotated).model_dump(), secret=secret)

    def enable(self, partner_id: str, webhook_id: str) -> WebhookView:
        """Deliver again to a webhook that was disabled after failing (its failures forgotten)."""
        webhook = self._own(partner_id, webhook_id)
        enabled = webhook.model_copy(update={"disabled_at": None, "failing_since": None})
        if not self.store.put(enabled):
            raise WebhookNotFound(webhook_id)
        return WebhookView.of(enabled)

    def test(self, partner_id: str, webhook_id: str, now: datetime) -> Event:
        """Queue a ``webhook.test`` event for this webhook at once (it is not in the feed)."""
        webhook = self._own(partner_id, webhook_id)
        source = f"test#{webhook_id}#{now.isoformat()}#{secrets.token_hex(4)}"
        event = Event(
            id=event_id(source, partner_id),
            type=EventType.WEBHOOK_TEST,
            created_at=now,
            data={"webhook_id": webhook_id, "message": "kanal webhook test"},
        )
        self.deliveries.enqueue([(webhook, event)])
        return event


@dataclass(frozen=True)
class Publisher:
    """Puts events in their partners' feeds and queues a delivery to every webhook that wants them.

    At least once: a stream record handled twice appends nothing new to the feed (same ids) but queues its
    deliveries again, with the same ``webhook-id``; a crash between the two steps loses nothing.
    """

    feed: Feed
    store: WebhookStore
    deliveries: Deliveries

    def publish(self, events: Sequence[Addressed], now: datetime) -> int:
        """Append and queue; how many deliveries were queued."""
        if not events:
            return 0
        self.feed.append(events, now)
        hooks: dict[str, list[Webhook]] = {}
        queued = [
            (webhook, addressed.event)
            for addressed in events
            for webhook in hooks.setdefault(addressed.partner_id, self.store.of(addressed.partner_id))
            if webhook.wants(addressed.event.type)
        ]
        self.deliveries.enqueue(queued)
        return len(queued)


#: Sends one signed delivery: (url, body, headers) -> (2xx in time, a short text of what happened).
Sender = Callable[[str, bytes, dict[str, str]], tuple[bool, str]]


@dataclass(frozen=True)
class Dispatched:
    """What came of one delivery attempt, and what the queue should do with the message."""

    delivered: bool
    outcome: str
    #: Try again after this long (None: done, delivered or given up, or nothing to deliver).
    retry_after: timedelta | None = None
    #: The attempt was the last: the message goes to the dead-letter queue.
    exhausted: bool = False


def body_of(event: Event) -> bytes:
    """The delivery's body: the event as JSON, the same bytes for every attempt."""
    return event.model_dump_json().encode()


def webhook_disabled_text(webhook: Webhook) -> str:
    return (
        f"Webhook {webhook.url} dinonaktifkan setelah tiga hari pengiriman gagal. Peristiwa tetap tersedia di "
        f"GET /v1/events; aktifkan kembali dengan POST /v1/webhooks/{webhook.webhook_id}/enable.\n"
        f"Webhook {webhook.url} was disabled after three days of failed deliveries. Events stay in "
        f"GET /v1/events; re-enable it with POST /v1/webhooks/{webhook.webhook_id}/enable."
    )


@dataclass(frozen=True)
class Dispatcher:
    """Makes one delivery attempt of one event to one webhook, and keeps the webhook's failure record."""

    store: WebhookStore
    box: SecretBox
    send: Sender
    reminders: ReminderStore
    notifier: Notifier
    rng: random.Random = field(default_factory=random.Random)

    def dispatch(self, partner_id: str, webhook_id: str, event: Event, attempt: int, now: datetime) -> Dispatched:
        """Attempt number ``attempt`` (1 for the first). A webhook deleted or disabled meanwhile gets nothing."""
        webhook = self.store.get(partner_id, webhook_id)
        if webhook is None:
            return Dispatched(False, "webhook deleted")
        if webhook.disabled_at is not None:
            return Dispatched(False, "webhook disabled")
        signing = [self.box.open(s.sealed, webhook.context) for s in webhook.signing_secrets(now)]
        body = body_of(event)
        delivered, outcome = self.send(webhook.url, body, signed_headers(event.id, body.decode(), signing, now))
        updated = webhook.after_attempt(delivered, now)
        if (updated.failing_since, updated.disabled_at) != (webhook.failing_since, webhook.disabled_at):
            self.store.put(updated)
        if updated.disabled_at is not None and webhook.disabled_at is None:
            self._tell_disabled(updated, now)
        if delivered:
            return Dispatched(True, outcome)
        if updated.disabled_at is not None:
            return Dispatched(False, f"{outcome}; webhook disabled")
        wait = retry_delay(attempt, self.rng)
        return Dispatched(False, outcome, retry_after=wait, exhausted=wait is None)

    def _tell_disabled(self, webhook: Webhook, now: datetime) -> None:
        assert webhook.disabled_at is not None
        reminder = Reminder(
            kind=ReminderKind.WEBHOOK_DISABLED,
            partner_id=webhook.partner_id,
            subject=webhook.webhook_id,
            offset=webhook.disabled_at.isoformat(),
            due_at=webhook.disabled_at,
            sent_at=now,
            text=webhook_disabled_text(webhook),
        )
        if self.reminders.record_once(reminder):
            self.notifier.notify(reminder)
