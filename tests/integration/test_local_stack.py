"""The whole system over HTTP: `kanal dev` started as a user starts it, in a subprocess on free ports."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
from kanal_local.emulator import free_port

from tests.support.local_stack import KANAL, Running, clean_env, eventually, kanal, start

VIDEO = "https://www.tiktok.com/@akun.contoh/video/7318301234567890123"

#: Every test here waits on `kanal dev` (the first also starts it, tests/integration/conftest.py): a hang guard, not a
#: timing (each takes seconds).
pytestmark = pytest.mark.timeout(180)


def body(**changes: Any) -> dict[str, Any]:
    return {
        "content_url": VIDEO,
        "category": "misinformation",
        "region_code": "31.71",
        "description": "Video menyebarkan klaim palsu bahwa TPS dipindahkan.",
        **changes,
    }


def test_dev_file_describes_the_stack(stack: Running) -> None:
    assert stat.S_IMODE((stack.folder / ".kanal" / "dev.json").stat().st_mode) == 0o600  # it holds API keys
    assert stack.url.startswith("http://127.0.0.1:")
    assert stack.info["aws_endpoint"].startswith("http://127.0.0.1:")
    assert sorted(p["name"] for p in stack.info["partners"]) == ["Bawaslu RI", "KPU RI", "Perludem"]
    assert {"AWS_ENDPOINT_URL", "KANAL_TABLE_NAME", "URGENT_QUEUE_URL"} <= set(stack.info["env"])


def test_authentication(stack: Running) -> None:
    missing = requests.post(f"{stack.url}/v1/reports", json=body(), timeout=10)
    wrong = requests.post(
        f"{stack.url}/v1/reports", json=body(), headers={"Authorization": "Bearer kanal_nope"}, timeout=10
    )
    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["Content-Type"] == "application/problem+json"
    assert missing.json() == wrong.json()
    assert missing.json()["status"] == 401
    assert requests.get(f"{stack.url}/v1/openapi.json", timeout=10).json()["openapi"].startswith("3.")


def test_duplicates_across_partners_make_one_urgent_case(stack: Running) -> None:
    first = stack.post("Bawaslu RI", body())
    assert first.status_code == 202
    assert first.headers["Location"].endswith(first.json()["report_id"])
    second = stack.post("Perludem", body(content_url="https://m.tiktok.com/v/7318301234567890123.html"))
    assert second.json()["case_id"] == first.json()["case_id"]
    dynamodb = stack.client("dynamodb")
    key = {"pk": {"S": f"CASE#{first.json()['case_id']}"}, "sk": {"S": "CASE"}}
    table = stack.info["env"]["KANAL_TABLE_NAME"]

    def two_partners() -> bool:
        item = dynamodb.get_item(TableName=table, Key=key).get("Item")
        return bool(item) and len(item["partners"]["SS"]) == 2

    assert eventually(two_partners)
    urgent = stack.client("sqs").receive_message(
        QueueUrl=stack.info["env"]["URGENT_QUEUE_URL"], WaitTimeSeconds=5, VisibilityTimeout=0
    )
    assert json.loads(urgent["Messages"][0]["Body"])["case_id"] == first.json()["case_id"]


def test_idempotent_retry_read_list_and_isolation(stack: Running) -> None:
    sent = body(content_url="https://www.tiktok.com/@lain/video/7300000000000000001")
    first = stack.post("KPU RI", sent, **{"Idempotency-Key": "kpu-2024-0001"})
    retry = stack.post("KPU RI", sent, **{"Idempotency-Key": "kpu-2024-0001"})
    assert first.status_code == retry.status_code == 202
    assert retry.json()["report_id"] == first.json()["report_id"]
    path = f"/v1/reports/{first.json()['report_id']}"
    assert stack.get("KPU RI", path).json()["content_url"] == sent["content_url"]
    listed = stack.get("KPU RI", "/v1/reports", limit="10").json()
    assert [i["report_id"] for i in listed["items"]] == [first.json()["report_id"]]
    other = stack.get("Perludem", path)
    assert other.status_code == 404
    assert other.json()["status"] == 404


def test_cli_uses_the_local_stack(stack: Running) -> None:
    listed = subprocess.run(  # noqa: S603 - our own console script
        [KANAL, "partners", "list"],
        cwd=stack.folder,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert sorted(p["name"] for p in json.loads(listed.stdout)) == ["Bawaslu RI", "KPU RI", "Perludem"]


def test_busy_port_is_one_clear_line(stack: Running, tmp_path: Path) -> None:
    port = int(stack.url.rsplit(":", 1)[1])
    second = start(tmp_path, port)
    _, err = second.communicate(timeout=60)
    assert second.returncode == 2
    assert f"port {port} is busy; choose another with --port" in err


def test_reviewers_act_through_the_reviewer_api_as_who_the_gateway_says(stack: Running) -> None:
    """Over HTTP as a reviewer uses it: the reviewer API refuses an unnamed caller; `kanal review` names its
    reviewer to the local gateway, which records the principal; another reviewer is refused with when, not who."""
    unsigned = requests.post(f"{stack.url}/v1/review/next", json={"wait_seconds": 0}, timeout=10)
    assert unsigned.status_code == 403
    assert unsigned.headers["Content-Type"] == "application/problem+json"
    video = "https://www.tiktok.com/@lain/video/7300000000000000042"
    case_id = stack.post("Perludem", body(content_url=video)).json()["case_id"]
    claimed = None
    for _ in range(10):  # other tests' cases may come first: decide until ours comes
        shown = kanal(stack, "review", "next", "--json", "--wait", "5", "--reviewer", "ana")
        assert shown.returncode == 0, shown.stderr
        claimed = json.loads(shown.stdout) if shown.stdout.strip() else None
        if claimed is None or claimed["case_id"] == case_id:
            break
        other = ["review", "decide", claimed["case_id"], "--outcome", "no_violation", "--policy", "misinformation"]
        assert kanal(stack, *other, "--reason", "Tidak melanggar aturan.", "--reviewer", "ana").returncode == 0
    assert claimed is not None
    assert claimed["case_id"] == case_id
    assert claimed["claim"]["held_by_you"] is True
    decide = ["review", "decide", case_id, "--outcome", "removed", "--policy", "misinformation"]
    refused = kanal(stack, *decide, "--reason", "Klaim palsu tentang TPS.", "--reviewer", "budi")
    assert refused.returncode == 1
    assert "held by another reviewer until" in refused.stderr
    assert "ana" not in refused.stderr.replace("kanal", "")
    decided = kanal(stack, *decide, "--reason", "Klaim palsu tentang TPS.", "--reviewer", "ana")
    assert decided.returncode == 0, decided.stderr
    history = json.loads(kanal(stack, "cases", "show", case_id).stdout)["history"]
    actors = {e["kind"]: e["actor"] for e in history}
    assert actors["decided"] == actors["claimed"] == "arn:aws:sts::123456789012:assumed-role/ReviewerRole/ana"


def started(folder: Path, port: int) -> subprocess.Popen[str]:
    """`kanal dev` on ``port``, once its .kanal/dev.json is written (or failing the test with its output)."""
    process = start(folder, port)
    if not eventually(lambda: (folder / ".kanal" / "dev.json").exists() or process.poll() is not None, 60):
        process.kill()
    if process.poll() is not None or not (folder / ".kanal" / "dev.json").exists():
        process.kill()
        pytest.fail(f"kanal dev did not start: {process.communicate()}")
    return process


@pytest.mark.timeout(240)  # a hang guard, not a timing: two starts of the stack
def test_a_restart_at_once_comes_up_on_the_same_port(tmp_path: Path) -> None:
    """As a new user: `make run`, a client that keeps its connection alive, Ctrl-C, `make run` again at once. The
    first run's connections wait out TIME_WAIT on the port; the second run still comes up there."""
    port = free_port()
    first = started(tmp_path, port)
    client = requests.Session()
    assert client.get(f"http://127.0.0.1:{port}/v1/openapi.json", timeout=10).status_code == 200
    first.send_signal(signal.SIGINT)  # Ctrl-C, the client still connected
    _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    again = started(tmp_path, port)
    try:
        assert requests.get(f"http://127.0.0.1:{port}/v1/openapi.json", timeout=10).status_code == 200
    finally:
        client.close()
        again.terminate()
        again.communicate(timeout=60)
