"""`kanal dev` (kanal_local.dev): what the local stack cannot emulate stops it at start, as one line and exit 2."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kanal_local import dev
from kanal_local.dev import LocalStack
from kanal_local.emulator import Emulator, ensure_free, free_port
from kanal_local.template import SAM_TRANSFORM, Stack, describe, translate
from kanal_local.triggers import CannotEmulate


@dataclass
class RefusedEmulator(Emulator):
    """An emulator whose stack has one trigger the local stack cannot honour (nothing of moto starts)."""

    events: dict[str, dict[str, Any]] | None = None
    stopped: bool = False

    def start(self) -> Stack:
        code = {"CodeUri": "functions/reminder/", "Handler": "app.lambda_handler", "Runtime": "python3.13"}
        function = {"Type": "AWS::Serverless::Function", "Properties": {**code, "Events": self.events or {}}}
        stack = describe(translate({"Transform": SAM_TRANSFORM, "Resources": {"ReminderFunction": function}}))
        self.stack = stack
        return stack

    def stop(self) -> None:
        self.stopped = True


SCHEDULE = {"Monthly": {"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "cron(0 8 LW * ? *)"}}}
FILTER = {
    "Built": {
        "Type": "DynamoDB",
        "Properties": {
            "Stream": "arn:aws:dynamodb:ap-southeast-3:123456789012:table/t/stream/1",
            "StartingPosition": "TRIM_HORIZON",
            "FilterCriteria": {"Filters": [{"Pattern": '{"eventName": [{"regex": "INS.*"}]}'}]},
        },
    }
}


@pytest.mark.parametrize(
    ("events", "named"),
    [
        (SCHEDULE, "schedule Monthly of ReminderFunction: cannot honour cron(0 8 LW * ? *) (UTC)"),
        (FILTER, 'stream trigger Built of ReminderFunction: cannot honour filter {"eventName": [{"regex": "INS.*"}]}'),
    ],
)
@pytest.mark.timeout(60)  # a hang guard: nothing here waits
def test_what_cannot_be_emulated_stops_the_start(events: dict[str, Any], named: str) -> None:
    port = free_port()
    emulator = RefusedEmulator(events=events)
    stack = LocalStack(port=port, emulator=emulator, log=lambda _: None)
    with pytest.raises(CannotEmulate, match="^" + re.escape(named)):
        stack.start()
    assert emulator.stopped  # what had started is stopped
    assert stack.server is None  # the API never listened
    ensure_free("127.0.0.1", port)


def test_kanal_dev_prints_the_refusal_as_one_line_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(self: LocalStack) -> LocalStack:
        raise CannotEmulate("schedule Monthly of ReminderFunction: cannot honour cron(0 8 LW * ? *) (UTC):\n\x1b[2J")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(LocalStack, "start", refuse)
    with pytest.raises(SystemExit) as stopped:
        dev.serve(port=free_port())
    assert stopped.value.code == 2
    starting, refused = capsys.readouterr().err.splitlines()  # the refusal is one line
    assert starting.endswith("starting kanal on emulated AWS (moto, in memory)...")
    assert refused == (
        "kanal dev: schedule Monthly of ReminderFunction: cannot honour cron(0 8 LW * ? *) (UTC):⟦U+000A⟧⟦U+001B⟧[2J"
    )
    assert not (tmp_path / ".kanal").exists()


def test_the_dev_file_is_created_readable_by_its_owner_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """.kanal/dev.json holds API keys: created 0600 whatever the umask, never chmod-ed (no moment wider), and it
    replaces a wider file left by an older kanal."""
    fresh, older = tmp_path / "fresh" / "dev.json", tmp_path / "older" / "dev.json"
    older.parent.mkdir()
    older.write_text("{}")
    older.chmod(0o644)

    def no_chmod(*_: Any, **__: Any) -> None:
        raise AssertionError("created with its mode, not chmod-ed after")

    monkeypatch.setattr(os, "chmod", no_chmod)
    monkeypatch.setattr(os, "fchmod", no_chmod)
    monkeypatch.setattr(Path, "chmod", no_chmod)
    umask = os.umask(0)
    try:
        dev.write_private(fresh, '{"partners": []}')
        dev.write_private(older, '{"partners": [1]}')
    finally:
        os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == stat.S_IMODE(older.stat().st_mode) == 0o600
    assert stat.S_IMODE(fresh.parent.stat().st_mode) == 0o700
    assert older.read_text() == '{"partners": [1]}'
    assert [p.name for p in older.parent.iterdir()] == ["dev.json"]  # no temporary file left
