"""Webhook rules: Standard Webhooks signatures (verified with its own library), retries, rotation, safe URLs."""

from __future__ import annotations

import base64
import ipaddress
import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kanal.webhooks import (
    DISABLE_AFTER,
    RETRY_DELAYS,
    ROTATION_GRACE,
    Secret,
    UnsafeUrl,
    Webhook,
    checked_url,
    new_secret,
    retry_delay,
    signed_headers,
    unsafe_address,
)
from standardwebhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from tests.support.fakes import ClearBox

T0 = datetime(2024, 2, 10, 1, 0, tzinfo=UTC)


BOX = ClearBox()
CONTEXT = {"partner_id": "p_bawaslu", "webhook_id": "wh_1"}


def hook(now: datetime = T0, secret: str | None = None) -> Webhook:
    sealed = BOX.seal(secret or new_secret(), CONTEXT)
    return Webhook(
        webhook_id="wh_1",
        partner_id="p_bawaslu",
        url="https://hooks.example.org/kanal",
        created_at=now,
        secrets=[Secret(sealed=sealed, created_at=now)],
    )


def plain(webhook: Webhook, now: datetime) -> list[str]:
    return [BOX.open(s.sealed, webhook.context) for s in webhook.signing_secrets(now)]


def test_a_delivery_verifies_with_the_standardwebhooks_library_and_a_changed_body_does_not() -> None:
    now = datetime.now(UTC)  # the library checks the timestamp against its own clock
    secret = new_secret()
    webhook = hook(now, secret)
    body = json.dumps({"id": "evt_x", "type": "report.decided", "data": {"outcome": "removed"}})
    headers = signed_headers("evt_x", body, plain(webhook, now), now)
    assert Verifier(secret).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Verifier(secret).verify(body.replace("removed", "labelled"), headers)
    with pytest.raises(WebhookVerificationError):
        Verifier(new_secret()).verify(body, headers)
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))


def test_during_a_rotation_both_secrets_verify_and_the_old_one_stops_after_a_day() -> None:
    now = datetime.now(UTC)
    old, new = new_secret(), new_secret()
    webhook = hook(now - timedelta(days=1), old)
    rotated = webhook.rotated(BOX.seal(new, CONTEXT), now)
    body = '{"id":"evt_y"}'
    both = signed_headers("evt_y", body, plain(rotated, now), now)
    assert len(both["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Verifier(secret).verify(body, both)
    later = now + ROTATION_GRACE
    assert plain(rotated, later) == [new]
    # a second rotation within the grace keeps the first secret's end where it was
    again = rotated.rotated(BOX.seal(new_secret(), CONTEXT), now + timedelta(hours=1))
    assert len(again.signing_secrets(now + timedelta(hours=1))) == 3
    assert len(again.signing_secrets(later)) == 2


def test_secrets_are_whsec_and_base64_of_at_least_24_random_bytes() -> None:
    made = {new_secret() for _ in range(50)}
    assert len(made) == 50
    for secret in made:
        assert secret.startswith("whsec_")
        Verifier(secret)  # the library reads it
        assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24


def test_retries_start_within_ten_seconds_end_about_a_day_later_and_are_jittered() -> None:
    rng = random.Random(7)
    first = retry_delay(1, rng)
    assert first is not None
    assert first <= timedelta(seconds=10)
    total = sum((d for d in RETRY_DELAYS), timedelta())
    assert timedelta(hours=20) <= total <= timedelta(hours=30)
    assert retry_delay(len(RETRY_DELAYS) + 1, rng) is None
    draws = {retry_delay(3, random.Random(seed)) for seed in range(20)}
    assert len(draws) > 10  # not all together
    assert all(d is not None and timedelta(minutes=4) <= d <= timedelta(minutes=6) for d in draws)


def test_three_days_of_failures_disable_a_webhook_and_a_success_clears_them() -> None:
    webhook = hook().after_attempt(False, T0)
    assert webhook.failing_since == T0
    assert webhook.after_attempt(False, T0 + DISABLE_AFTER - timedelta(seconds=1)).disabled_at is None
    disabled = webhook.after_attempt(False, T0 + DISABLE_AFTER)
    assert disabled.disabled_at == T0 + DISABLE_AFTER
    assert not disabled.wants(disabled.events[0])
    assert webhook.after_attempt(True, T0 + timedelta(days=1)).failing_since is None


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.bawaslu.go.id/kanal",
        "https://hooks.example.org:443/a?b=c",
        "https://xn--bcher-kva.example/x",
        "https://bücher.example/x",
    ],
)
def test_public_https_urls_are_accepted(url: str) -> None:
    assert checked_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.org/kanal",
        "https://hooks.example.org:8443/kanal",
        "https://user:pw@hooks.example.org/kanal",
        "https://hooks.example.org@evil.example/x",
        "https://10.0.0.5/x",
        "https://172.16.0.1/x",
        "https://192.168.1.1/x",
        "https://169.254.169.254/latest/meta-data",
        "https://0.0.0.0/x",
        "https://[::1]/x",
        "https://[fd00::1]/x",
        "https://2130706433/x",
        "https://0x7f.1/x",
        "https://127.1/x",
        "https://localhost/x",
        "ftp://hooks.example.org/x",
        "https:///x",
        "https://exa mple.org/x",
        "https://-bad-.example/x",
        "http://127.0.0.1:8080/x",
    ],
)
def test_unsafe_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        checked_url(url)


def test_the_local_stack_accepts_its_own_loopback_with_a_port_and_nothing_else_private() -> None:
    assert checked_url("http://127.0.0.1:4242/hook", local=True)
    assert checked_url("http://localhost:4242/hook", local=True)
    for url in ("http://127.0.0.1/hook", "http://10.0.0.5:80/x", "https://192.168.1.1/x", "http://[::1]:8080/x"):
        with pytest.raises(UnsafeUrl):
            checked_url(url, local=True)
    assert unsafe_address("127.0.0.1", local_host=True) is None
    assert unsafe_address("10.0.0.5", local_host=True) is not None


@given(st.ip_addresses())
def test_every_ip_literal_is_refused_as_a_host(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    host = f"[{address}]" if address.version == 6 else str(address)
    with pytest.raises(UnsafeUrl):
        checked_url(f"https://{host}/hook")


@given(st.ip_addresses())
def test_a_resolved_address_is_allowed_only_when_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    refused = unsafe_address(str(address)) is not None
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    effective = mapped or address
    assert refused == (not effective.is_global or effective.is_multicast)


PRIVATE = ["10.0.0.5", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0", "::1", "fd00::1"]  # noqa: S104


@pytest.mark.parametrize("address", [*PRIVATE, "::ffff:10.0.0.1", "100.64.0.1", "224.0.0.1"])
def test_private_loopback_link_local_and_reserved_addresses_are_refused(address: str) -> None:
    assert unsafe_address(address) is not None
