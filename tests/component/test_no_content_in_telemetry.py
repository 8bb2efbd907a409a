"""No partner content and no decision text reaches traces or logs.

Every handler runs (tests/support/trace_probe.py, in a fresh process) as Lambda runs it with active tracing on:
Lambda's environment, a sampled trace id in ``_X_AMZN_TRACE_ID``, and ``AWS_XRAY_DAEMON_ADDRESS`` at a
UDP socket bound here, where every segment a tracing SDK would send to the X-Ray daemon arrives. Each
distinctive text of the requests (description, evidence URLs, legal basis, the partner's reference, a
reviewer's question, the partner's answer, the statement of reasons, the API key, a wrong key) is then
looked for in every datagram and in everything the process printed (Powertools' logs go to stdout).
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass

import pytest

from tests.support import ROOT

#: Each test waits for a probe process (seconds; it takes a few): a hang fails the test instead of the run.
pytestmark = pytest.mark.timeout(360)


def markers() -> dict[str, str]:
    """Texts that appear nowhere else: found anywhere, they came from the request."""
    tag = uuid.uuid4().hex[:12]
    return {
        "description": f"Video ajakan memilih PENANDA-DESKRIPSI-{tag} pada masa tenang.",
        "stored_description": f"PENANDA-TERSIMPAN-{tag}",
        "evidence_url": f"https://bawaslu.go.id/arsip/PENANDA-BUKTI-{tag}.png",
        "invalid_evidence_url": f"http://bawaslu.go.id/arsip/PENANDA-BUKTI-SALAH-{tag}.png",
        "legal_basis": f"UU 7/2017 Pasal 278 PENANDA-DASAR-{tag}",
        "partner_reference": f"PENANDA-REF-{tag}",
        "account": f"penanda.akun.{tag}",
        "question": f"Di TPS mana kejadian ini terjadi? PENANDA-PERTANYAAN-{tag}",
        "info_message": f"Kejadian di TPS 012 PENANDA-JAWABAN-{tag}.",
        "info_evidence_url": f"https://bawaslu.go.id/arsip/PENANDA-BUKTI-JAWABAN-{tag}.jpg",
        "reason": f"Video berisi klaim palsu tentang pemindahan TPS PENANDA-ALASAN-{tag}.",
        "wrong_key": f"kanal_PENANDA-KUNCI-SALAH-{tag}",
    }


@dataclass
class Probe:
    markers: dict[str, str]
    datagrams: list[bytes]
    output: str


class Started:
    """A probe process under way, with the socket standing in for the X-Ray daemon."""

    def __init__(self, *options: str) -> None:
        """Start tests/support/trace_probe.py with tracing on."""
        self.wanted = markers()
        self.daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.daemon.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.daemon.bind(("127.0.0.1", 0))
        port = self.daemon.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "_X_AMZN"))}
        env |= {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "ap-southeast-3",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",  # moto's in-process mock: see pyproject.toml
            "AWS_LAMBDA_FUNCTION_NAME": "kanal-probe",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "LAMBDA_TASK_ROOT": str(ROOT / "functions"),
            "_X_AMZN_TRACE_ID": "Root=1-6760f1a2-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1",
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{port}",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "POWERTOOLS_TRACE_DISABLED": "false",
            "POWERTOOLS_SERVICE_NAME": "kanal",
            "POWERTOOLS_METRICS_NAMESPACE": "Kanal",
            "POWERTOOLS_LOG_LEVEL": "DEBUG",  # the most a deployment can log (template parameter LogLevel)
            "KANAL_PROBE_MARKERS": json.dumps(self.wanted),
            "PYTHONPATH": str(ROOT),
        }
        self.process = subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", "tests.support.trace_probe", *options],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def result(self) -> Probe:
        """What reached the daemon address, and what the process printed, once it has finished."""
        try:
            stdout, stderr = self.process.communicate(timeout=300)
            self.daemon.setblocking(False)
            datagrams = []
            while True:
                try:
                    datagrams.append(self.daemon.recv(65536))
                except BlockingIOError:
                    break
        finally:
            self.daemon.close()
            if self.process.poll() is None:
                self.process.kill()
                self.process.communicate()
        output = stdout + stderr
        assert self.process.returncode == 0, output[-4000:]
        assert "PROBE-DONE" in stdout, output[-4000:]
        announced = next(line for line in stdout.splitlines() if line.startswith("PROBE-MARKERS "))
        found = json.loads(announced.removeprefix("PROBE-MARKERS "))  # with the API key the probe was issued
        # What the probe printed about itself is not the functions' output.
        output = "\n".join(line for line in output.splitlines() if not line.startswith("PROBE-"))
        return Probe(found, datagrams, output)


def leaks(found: Probe) -> dict[str, list[str]]:
    """Marker name -> where it was seen ("datagram 3", "output")."""
    seen: dict[str, list[str]] = {}
    texts = [(f"datagram {i}", d.decode("utf-8", "replace")) for i, d in enumerate(found.datagrams)]
    texts.append(("output", found.output))
    for name, marker in found.markers.items():
        # JSON may escape "/" or non-ASCII; the markers are ASCII, and tags alone are distinctive too.
        for where, text in texts:
            if marker in text or marker.replace("/", "\\/") in text:
                seen.setdefault(name, []).append(where)
    return seen


@pytest.fixture(scope="module")
def probes() -> dict[str, Probe]:
    """The probe as kanal is, and with the old tracer, run side by side (each waits on its own process)."""
    started = {"current": Started()}
    if importlib.util.find_spec("aws_xray_sdk") is not None:
        started["old"] = Started("--old-tracer")
    return {name: run.result() for name, run in started.items()}


@pytest.fixture(scope="module")
def current(probes: dict[str, Probe]) -> Probe:
    return probes["current"]


def test_no_partner_content_in_traces_or_logs(current: Probe) -> None:
    assert leaks(current) == {}
    assert '"message":"report received"' in current.output  # the logs were captured
    assert '"message":"record parked"' in current.output  # the stored description: not quoted
    assert "validation error(s) for Report: description: string_type" in current.output


def test_the_functions_send_no_segments_of_their_own(current: Probe) -> None:
    """Active tracing alone: Lambda records the invocation; no SDK in the function sends anything."""
    assert current.datagrams == []


def test_the_check_catches_the_old_tracer(probes: dict[str, Probe]) -> None:
    """The same run with Powertools' Tracer as kanal had it (capture_response on) leaks responses to X-Ray."""
    pytest.importorskip("aws_xray_sdk")
    old = probes["old"]
    assert old.datagrams, "the X-Ray SDK sent nothing to the daemon address"
    seen = leaks(old)
    for name in ("description", "question", "reason", "evidence_url", "legal_basis", "partner_reference"):
        assert any(where.startswith("datagram") for where in seen.get(name, [])), (name, seen)
