"""``kanal dev`` as a user starts it, in a subprocess on a free port, and what its .kanal/dev.json says
(``Running``); tests/integration/conftest.py holds the running stack's fixture. Whatever starts one of these
runs under ``pytest.mark.timeout`` (tests/unit/test_layout.py checks it)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import requests

#: The console script installed next to this interpreter.
KANAL = str(Path(sys.executable).with_name("kanal"))


class Running:
    """A running local stack and what its .kanal/dev.json says."""

    def __init__(self, process: subprocess.Popen[str], folder: Path, info: dict[str, Any]) -> None:
        self.process = process
        self.folder = folder
        self.info = info
        self.url = info["api_url"]
        self.keys = {p["name"]: p["api_key"] for p in info["partners"]}

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.info["aws_endpoint"],
            region_name=self.info["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def post(self, partner: str, body: dict[str, Any], **headers: str) -> requests.Response:
        return requests.post(
            f"{self.url}/v1/reports",
            json=body,
            headers={"Authorization": f"Bearer {self.keys[partner]}", **headers},
            timeout=10,
        )

    def get(self, partner: str, path: str, **params: str) -> requests.Response:
        return requests.get(
            f"{self.url}{path}", params=params, headers={"Authorization": f"Bearer {self.keys[partner]}"}, timeout=10
        )


def kanal(stack: Running, *argv: str) -> subprocess.CompletedProcess[str]:
    """A `kanal` command run as a user runs it in the stack's folder (it finds the stack in .kanal/dev.json)."""
    return subprocess.run(  # noqa: S603 - our own console script
        [KANAL, *argv], cwd=stack.folder, env=clean_env(), capture_output=True, text=True, timeout=90, check=False
    )


def clean_env() -> dict[str, str]:
    """This process's environment without anything that would point kanal at a stack."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KANAL_", "TABLE_", "URGENT_", "NORMAL_"))}
    return {**env, "PYTHONUNBUFFERED": "1"}


def start(folder: Path, port: int) -> subprocess.Popen[str]:
    """`kanal dev --port PORT` in ``folder``."""
    return subprocess.Popen(  # noqa: S603 - our own console script
        [KANAL, "dev", "--port", str(port)],
        cwd=folder,
        env=clean_env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def eventually(check: Callable[[], Any], seconds: float = 15) -> Any:
    """Poll until ``check`` returns something truthy (async work: the stream, the queues)."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)
