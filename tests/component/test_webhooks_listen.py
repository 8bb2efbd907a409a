"""`kanal webhooks listen`'s receiver on this machine: it verifies each delivery as a partner's receiver would,
prints one line for a good one, refuses a forged one, and forwards with the webhook headers when asked."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer

import pytest
import requests
from kanal.events import Event, EventType, event_id
from kanal.webhooks import new_secret, signed_headers
from kanal_cli.webhooks import receiver as listener

from tests.support.webhooks import Receiver, receiver

pytestmark = pytest.mark.timeout(60)


@contextmanager
def listening(secret: str, lines: list[str], forward_to: str | None = None) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), listener(lambda: secret, lines.append, forward_to))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def delivery(secret: str) -> tuple[bytes, dict[str, str]]:
    event = Event(
        id=event_id("s", "p_1"),
        type=EventType.REPORT_DECIDED,
        created_at=datetime.now(UTC),
        data={"case_id": "c_1", "report_ids": ["r_1"], "outcome": "removed"},
    )
    body = event.model_dump_json()
    return body.encode(), signed_headers(event.id, body, [secret], datetime.now(UTC))


def test_a_verified_delivery_is_one_line_and_a_forged_one_is_refused() -> None:
    secret, lines = new_secret(), []
    with listening(secret, lines) as url:
        body, headers = delivery(secret)
        assert requests.post(url, data=body, headers=headers, timeout=10).status_code == 204
        forged = requests.post(url, data=body.replace(b"removed", b"labelled"), headers=headers, timeout=10)
        assert forged.status_code == 400
    assert "report.decided" in lines[0]
    assert "reports=r_1" in lines[0]
    assert "outcome=removed" in lines[0]
    assert lines[1].startswith("✗ delivery evt_")


def test_forwarding_hands_the_delivery_on_with_its_headers_and_answers_what_it_got() -> None:
    secret, lines = new_secret(), []
    with receiver() as target, listening(secret, lines, forward_to=target) as url:
        Receiver.answers[:] = [500]
        body, headers = delivery(secret)
        answer = requests.post(url, data=body, headers=headers, timeout=10)
        assert answer.status_code == 500  # the developer's server failed: kanal sees the failure, and retries
        forwarded_headers, forwarded = Receiver.got[0]
        assert forwarded == body
        assert forwarded_headers["webhook-id"] == headers["webhook-id"]
        assert forwarded_headers["webhook-signature"] == headers["webhook-signature"]
    assert lines[-1] == "  forwarded: 500"
    assert json.loads(body)["type"] == "report.decided"
