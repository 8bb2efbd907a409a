"""`kanal smoke` against the real local stack: `kanal dev` in a subprocess, the smoke as an operator runs it in the
same folder (it finds the stack in .kanal/dev.json), and the table scanned afterwards (by this test only)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from kanal_local.emulator import free_port

from tests.support.local_stack import KANAL, Running, clean_env

pytestmark = pytest.mark.timeout(300)


def smoke(stack: Running, *argv: str, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own console script
        [KANAL, "smoke", "--wait", "2", "--timeout", "30", *argv],
        cwd=stack.folder,
        env={**clean_env(), **environment},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def items(stack: Running) -> list[dict[str, Any]]:
    """Every item of the table (a scan: the test's own look, never kanal's)."""
    client = stack.client("dynamodb")
    table = stack.info["env"]["KANAL_TABLE_NAME"]
    return [i for page in client.get_paginator("scan").paginate(TableName=table) for i in page["Items"]]


def steps(output: str) -> list[str]:
    return [" ".join(line.split()[:2]) for line in output.splitlines() if line[:1] in "✓✗-"]


def mentioning(stack: Running, *texts: str) -> list[str]:
    return [f"{i['pk']['S']} {i['sk']['S']}" for i in items(stack) if any(t in json.dumps(i) for t in texts)]


def ids_in(output: str, prefix: str) -> set[str]:
    return {word.rstrip(":;,") for word in output.split() if word.startswith(prefix)}


def test_a_smoke_run_passes_on_the_local_stack_and_leaves_nothing_of_itself(stack: Running) -> None:
    before = {(i["pk"]["S"], i["sk"]["S"]) for i in items(stack)}
    run = smoke(stack)
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert steps(run.stdout) == [
        "✓ partner",
        "✓ report",
        "✓ queue",
        "✓ claim",
        "✓ decide",
        "✓ read",
        "✓ cleanup",
    ]
    assert "reviewing as smoke" in run.stdout.splitlines()[0]
    made = ids_in(run.stdout, "p_") | ids_in(run.stdout, "r_") | ids_in(run.stdout, "c_") | ids_in(run.stdout, "k_")
    assert len(made) == 4, run.stdout  # the partner, its key, its report, its case
    assert {(i["pk"]["S"], i["sk"]["S"]) for i in items(stack)} == before
    assert mentioning(stack, *made) == []


def test_a_failing_step_exits_non_zero_naming_it_and_still_cleans_up(stack: Running) -> None:
    """The partner API unreachable (KANAL_API_URL pointing at a closed port): the report step fails and says why,
    the steps after it are skipped, the cleanup removes the partner and its key."""
    before = {(i["pk"]["S"], i["sk"]["S"]) for i in items(stack)}
    run = smoke(stack, KANAL_API_URL=f"http://127.0.0.1:{free_port()}")
    assert run.returncode == 1
    assert steps(run.stdout) == [
        "✓ partner",
        "✗ report",
        "- queue",
        "- claim",
        "- decide",
        "- read",
        "✓ cleanup",
    ]
    assert "could not be reached" in next(line for line in run.stdout.splitlines() if line.startswith("✗ report"))
    assert run.stdout.splitlines()[-1].startswith("smoke failed at report")
    assert run.stderr.strip().endswith("kanal: the smoke test failed; see the lines above")
    assert {(i["pk"]["S"], i["sk"]["S"]) for i in items(stack)} == before
    assert mentioning(stack, *ids_in(run.stdout, "p_")) == []


def test_bad_usage_is_exit_2(stack: Running, tmp_path: Path) -> None:
    run = smoke(stack, "--claims", "many")
    assert run.returncode == 2
    assert run.stdout == ""
    assert "--claims" in run.stderr
