"""Partners are told, over HTTP on a real `kanal dev`: a webhook on this machine receives each event, signed so
that the standardwebhooks library verifies it; a receiver's failure is retried with the same id; and
`kanal webhooks listen` registers itself, prints what comes, and removes its webhook when stopped."""

from __future__ import annotations

import signal
import subprocess
from typing import Any

import pytest
import requests
from standardwebhooks import Webhook as Verifier

from tests.support.local_stack import KANAL, Running, clean_env, eventually, kanal
from tests.support.webhooks import Receiver, receiver

pytestmark = pytest.mark.timeout(240)

VIDEO = "https://www.tiktok.com/@kabar.pemilu/video/7318301234567891{:03d}"


def report(stack: Running, partner: str, n: int) -> dict[str, Any]:
    body = {
        "content_url": VIDEO.format(n),
        "category": "misinformation",
        "region_code": "31.71",
        "description": "Video menyebarkan klaim palsu bahwa TPS dipindahkan.",
    }
    answer = stack.post(partner, body)
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


def register(stack: Running, partner: str, url: str, **body: Any) -> dict[str, Any]:
    answer = requests.post(
        f"{stack.url}/v1/webhooks",
        json={"url": url, **body},
        headers={"Authorization": f"Bearer {stack.keys[partner]}"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def verified(secret: str) -> list[dict[str, Any]]:
    found = []
    for headers, body in Receiver.got:
        try:
            found.append(Verifier(secret).verify(body, headers))
        except Exception:  # noqa: S112 - another webhook's delivery
            continue
    return found


def test_a_decision_reaches_the_partners_webhook_signed_and_a_failure_is_retried_with_the_same_id(
    stack: Running,
) -> None:
    with receiver() as url:
        hook = register(stack, "Bawaslu RI", url)
        Receiver.answers[:] = [500]  # the first delivery fails
        sent = report(stack, "Bawaslu RI", 1)
        assert eventually(lambda: len(verified(hook["secret"])) >= 2, 60), Receiver.got
        received = [e for e in verified(hook["secret"]) if e["type"] == "report.received"]
        assert received[0]["data"]["report_id"] == sent["report_id"]
        first, second = Receiver.got[0][0], Receiver.got[1][0]
        assert first["webhook-id"] == second["webhook-id"]  # redelivered after the 500, same id

        claimed = kanal(stack, "review", "next", "--reviewer", "ana", "--wait", "5")
        assert claimed.returncode == 0, claimed.stderr
        decided = kanal(
            stack, "review", "decide", sent["case_id"], "--reviewer", "ana", "--outcome", "removed",
            "--policy", "misinformation", "--reason", "Klaim palsu tentang pemindahan TPS.",
        )  # fmt: skip
        assert decided.returncode == 0, decided.stderr
        assert eventually(lambda: any(e["type"] == "report.decided" for e in verified(hook["secret"])), 60)
        (decision,) = [e for e in verified(hook["secret"]) if e["type"] == "report.decided"]
        assert decision["data"]["report_ids"] == [sent["report_id"]]
        assert decision["data"]["outcome"] == "removed"
        feed = stack.get("Bawaslu RI", "/v1/events")
        assert eventually(lambda: len(stack.get("Bawaslu RI", "/v1/events").json()["items"]) >= 2, 30), feed.text
        assert (
            requests.delete(
                f"{stack.url}/v1/webhooks/{hook['webhook_id']}",
                headers={"Authorization": f"Bearer {stack.keys['Bawaslu RI']}"},
                timeout=10,
            ).status_code
            == 204
        )


def test_private_addresses_are_refused_on_the_local_stack_too(stack: Running) -> None:
    for url in (
        "http://10.0.0.5:8080/x",
        "https://169.254.169.254/latest",
        "http://[::1]:8080/x",
        "http://127.0.0.1/x",
    ):
        answer = requests.post(
            f"{stack.url}/v1/webhooks",
            json={"url": url},
            headers={"Authorization": f"Bearer {stack.keys['KPU RI']}"},
            timeout=10,
        )
        assert answer.status_code == 422, url
        assert answer.json()["errors"][0]["field"] == "url"


def test_kanal_webhooks_listen_prints_verified_events_and_removes_its_webhook(stack: Running) -> None:
    listening = subprocess.Popen(  # noqa: S603 - our own console script
        [KANAL, "webhooks", "listen", "--partner", "Perludem"],
        cwd=stack.folder,
        env=clean_env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert listening.stdout is not None
        first = listening.stdout.readline()
        assert first.startswith("Listening on http://127.0.0.1:"), first
        webhook_id = first.split(" as webhook ")[1].split(" ")[0]
        hooks = stack.get("Perludem", "/v1/webhooks").json()
        assert [h["webhook_id"] for h in hooks] == [webhook_id]
        test = requests.post(
            f"{stack.url}/v1/webhooks/{webhook_id}/test",
            headers={"Authorization": f"Bearer {stack.keys['Perludem']}"},
            timeout=10,
        )
        assert test.status_code == 202
        lines = []
        while not any("webhook.test" in line for line in lines):
            lines.append(listening.stdout.readline())
            assert lines[-1], "listen stopped"
    finally:
        listening.send_signal(signal.SIGINT)
        out, err = listening.communicate(timeout=30)
    assert "removed" in out, out + err
    assert stack.get("Perludem", "/v1/webhooks").json() == []
