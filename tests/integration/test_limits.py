"""Each partner's fair share on `kanal dev`, over HTTP as partners and operators use it: a partner given a low limit
with `kanal partners set-limits` is answered 429 (a problem document with Retry-After) once over it while another
partner stays served, and `kanal partners revoke-key` stops a key at once, cached answer or not."""

from __future__ import annotations

import json

import pytest
import requests

from tests.support.local_stack import Running, kanal

pytestmark = pytest.mark.timeout(180)


def partner_id(stack: Running, name: str) -> str:
    return str(next(p["partner_id"] for p in stack.info["partners"] if p["name"] == name))


def test_a_partner_over_its_rate_gets_429_while_another_stays_served(stack: Running) -> None:
    runaway = partner_id(stack, "Perludem")
    # One token every thousand seconds: after a burst of 3 the runaway is refused, however slow this machine is.
    done = kanal(stack, "partners", "set-limits", "--partner-id", runaway, "--rate", "0.001", "--burst", "3")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["limits"]["burst"] == 3
    answers = [stack.get("Perludem", "/v1/reports") for _ in range(6)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429, 429]
    refused = answers[-1]
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:kanal:problem:too-many-requests"
    # Another partner, at the same time, is served: its bucket is its own.
    assert [stack.get("Bawaslu RI", "/v1/reports").status_code for _ in range(10)] == [200] * 10
    assert stack.get("Perludem", "/v1/reports").status_code == 429
    shown = kanal(stack, "partners", "limits", "--partner-id", runaway)
    assert json.loads(shown.stdout)["own"] is True


def test_revoke_key_stops_the_key_at_once(stack: Running) -> None:
    kpu = partner_id(stack, "KPU RI")
    added = kanal(stack, "partners", "add-key", "--partner-id", kpu)
    assert added.returncode == 0, added.stderr
    issued = json.loads(added.stdout)
    headers = {"Authorization": f"Bearer {issued['api_key']}"}
    assert requests.get(f"{stack.url}/v1/reports", headers=headers, timeout=10).status_code == 200  # now cached
    revoked = kanal(stack, "partners", "revoke-key", "--partner-id", kpu, "--key-id", issued["key_id"])
    assert revoked.returncode == 0, revoked.stderr
    answer = requests.get(f"{stack.url}/v1/reports", headers=headers, timeout=10)
    assert answer.status_code == 401
    assert answer.json()["type"] == "urn:kanal:problem:unauthorized"
    assert stack.get("KPU RI", "/v1/reports").status_code == 200  # its other key still works
