"""How long `kanal dev` takes from a fresh process to its first answered request, and where the time goes.

Runs `kanal dev` as a user does (a new process on a free port) several times and reports the median of:
the whole start (process spawn to the first 200 from the API), and the split that the stack itself
records in .kanal/dev.json: translating the template (aws-sam-translator, with its imports), moto's server,
creating the template's resources, loading the handlers (with their imports), seeding the demo partners.
What remains of the whole start is the interpreter, the CLI's and moto's imports, and the first request
itself.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.request import urlopen

from kanal_local.emulator import free_port

KANAL = str(Path(sys.executable).with_name("kanal"))


def one_start() -> dict[str, float]:
    """Start the stack once, wait for the first answer, stop it."""
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        started = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603 - our own console script
            [KANAL, "dev", "--port", str(port)], cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            while True:
                try:
                    with urlopen(f"http://127.0.0.1:{port}/v1/openapi.json", timeout=1) as answer:
                        if answer.status == 200:
                            break
                except OSError:
                    time.sleep(0.02)
                if time.perf_counter() - started > 60:
                    raise RuntimeError("kanal dev did not answer within 60 s")
            total = time.perf_counter() - started
            described = Path(folder) / ".kanal" / "dev.json"
            while not described.exists():  # written right after the first partners are seeded
                time.sleep(0.02)
            timings: dict[str, float] = json.loads(described.read_text())["timings"]
        finally:
            process.terminate()
            process.wait(timeout=15)
    return {"first_answer_s": total, **timings}


def run(repeats: int = 5) -> dict[str, Any]:
    """Median of ``repeats`` starts."""
    samples = [one_start() for _ in range(repeats)]
    medians = {key: statistics.median(s[key] for s in samples) for key in samples[0]}
    parts = ("translate_s", "moto_start_s", "resources_s", "handlers_s", "seed_s")
    medians["interpreter_imports_and_request_s"] = medians["first_answer_s"] - sum(medians[p] for p in parts)
    return {"repeats": repeats, "median": {k: round(v, 3) for k, v in medians.items()}}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
