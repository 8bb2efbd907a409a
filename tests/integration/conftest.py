"""The integration level's fixture: ``kanal dev`` running in a subprocess, one per module. It is named ``stack``
as the moto stack is at the other levels, which it stands in for here."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from kanal_local.emulator import free_port

from tests.support.local_stack import Running, eventually, start


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp("dev")
    process = start(folder, free_port())
    dev_file = folder / ".kanal" / "dev.json"
    if not eventually(dev_file.exists, 60):
        process.kill()
        pytest.fail(f"kanal dev did not start: {process.communicate()}")
    info = json.loads(dev_file.read_text())
    # Read kanal dev's output as it comes: a pipe nobody reads fills (64 KB here) and then blocks the stack's every
    # write to it, its log lines included, so it stops answering (seen under the fuzz tests' many requests).
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            threading.Thread(target=lambda p=pipe: [None for _ in p], daemon=True).start()
    yield Running(process, folder, info)
    process.terminate()
    process.wait(timeout=15)
    assert not dev_file.exists()  # a clean stop removes it
