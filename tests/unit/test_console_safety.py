"""A console that cannot be hijacked (issue 12), its rules: every bad argument is one line and exit 2, due times
are bounded, and the interactive loop reads what was typed while it waits only at the end of input (on moto, intake
refusing controls, stored ones shown as escapes, and the loop itself: tests/component/test_console_safety.py)."""

from __future__ import annotations

import argparse
import os
import pty
import select
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kanal_cli import arguments
from kanal_cli.reviewer import LONGEST_DUE, SHORTEST_DUE, parse_duration, typed_while_waiting

from tests.support.console import DANGEROUS, refused_in_one_line

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
FIXTURES = [HealthCheck.function_scoped_fixture]


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kanal.clock.now", lambda: NOW)


# --- arguments: one line, exit 2 ------------------------------------------------------------------------------


def _not_a_duration(text: str) -> bool:
    try:
        parse_duration(text)
    except Exception:
        return True
    return False


DURATIONS = st.one_of(
    st.integers(min_value=0).map(lambda n: f"{n}d"),
    st.integers(min_value=0).map(lambda n: f"{n}m"),
    st.integers(min_value=10**6).map(lambda n: f"{n}h"),
    st.text(),
).filter(_not_a_duration)
WAITS = st.one_of(
    st.integers().filter(lambda n: not 0 <= n <= 20).map(str),
    st.text().filter(lambda t: t.strip() not in {str(n) for n in range(21)}),
)
IDS = st.text().filter(lambda t: not arguments._ID.fullmatch(t))
CONTROLLED = st.tuples(st.text(), st.sampled_from(sorted(DANGEROUS)), st.text()).map("".join)
MOMENTS = st.one_of(
    st.text(),
    st.datetimes().map(datetime.isoformat),  # naive
    st.datetimes(timezones=st.timezones()).filter(lambda d: not 2000 <= d.year <= 2099).map(datetime.isoformat),
)


@settings(max_examples=25, deadline=None, suppress_health_check=FIXTURES)
@given(
    st.one_of(
        DURATIONS.map(lambda v: ["review", "ask", "c_x", "--question", "Di TPS mana kejadiannya?", f"--due={v}"]),
        WAITS.map(lambda v: ["review", f"--wait={v}"]),
        WAITS.map(lambda v: ["review", "next", f"--wait={v}"]),
        IDS.map(lambda v: ["cases", "show", "--", v]),
        IDS.map(lambda v: ["review", "release", "--", v]),
        IDS.map(lambda v: ["partners", "add-key", f"--partner-id={v}"]),
        IDS.map(lambda v: ["reminders", "list", f"--partner={v}"]),
        MOMENTS.map(lambda v: ["remind", f"--now={v}"]),
        st.integers().filter(lambda n: not 1 <= n <= 65535).map(lambda v: ["dev", f"--port={v}"]),
        CONTROLLED.map(
            lambda v: ["review", "decide", "c_x", "--outcome=removed", "--policy=misinformation", f"--reason={v}"]
        ),
        CONTROLLED.map(lambda v: ["review", "ask", "c_x", f"--question={v}"]),
        CONTROLLED.map(lambda v: ["review", "next", f"--reviewer={v}"]),
        CONTROLLED.map(lambda v: ["partners", "create", f"--name={v}", "--kind=government"]),
        st.text().map(lambda v: ["--endpoint-url=" + v, "partners", "list"]).filter(lambda a: "://" not in a[0]),
        st.text()
        .filter(lambda t: not arguments._TABLE.fullmatch(t))
        .map(lambda v: [f"--table-name={v}", "partners", "list"]),
        st.lists(st.text(), min_size=1, max_size=3).map(lambda v: ["partners", "list", "--", *v]),
        st.lists(st.text().filter(lambda t: not t.startswith("-")), max_size=3).map(lambda v: ["review", "decide", *v]),
    )
)
def test_every_bad_argument_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    refused_in_one_line(capsys, argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["review", "ask", "c_x", "--question", "Di TPS mana kejadiannya?", "--due", "99999999d"],
        ["review", "ask", "c_x", "--question", "Di TPS mana kejadiannya?", "--due", "9" * 5000 + "d"],
        ["review", "ask", "c_x", "--question", "Di TPS mana kejadiannya?", "--due", "9m"],
        ["review", "ask", "c_x", "--question", "Di TPS mana kejadiannya?", "--due", "31d"],
        ["review", "ask", "c_x", "--question", "Di TPS mana kejadiannya?", "--due", "٣d"],  # an Arabic-Indic 3
        ["review", "--wait", "-5"],
        ["review", "next", "--wait", str(10**20)],
        ["remind", "--now", "0001-01-01T00:00:00+14:00"],
        ["remind", "--now", "2026-11-25T09:00:00"],
        ["cases", "show", ""],
        ["cases", "show", "c_\x1b]0;x\x07"],
        ["review", "decide", "c_x", "--outcome", "removed", "--policy", "misinformation", "--reason", "a\rb" * 5],
        ["partners", "list", "\x1b[2J\x1b]0;pwned\x07"],
        ["dev", "--port", "70000"],
        ["--endpoint-url", "not a url", "partners", "list"],
        ["--stack-name", "1-bad", "partners", "list"],
        [],
    ],
)
def test_known_bad_arguments(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    refused_in_one_line(capsys, argv)


def test_due_bounds() -> None:
    assert parse_duration("10m") == SHORTEST_DUE
    assert parse_duration("30d") == LONGEST_DUE == parse_duration("720h")
    assert parse_duration("0048h") == parse_duration("2d")
    for text in ("9m", "30d1", "721h", "0d", "99999999d"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"10m to 30d|m, h or d"):
            parse_duration(text)


# --- end of input while the queues are empty ------------------------------------------------------------------


def test_typed_while_waiting_on_a_pipe_leaves_input_for_the_prompts() -> None:
    read, write = os.pipe()
    with os.fdopen(read, "r", encoding="utf-8") as stream:
        assert typed_while_waiting(stream) is None  # nothing yet, the writer still open
        os.write(write, b"d\nremoved\n")
        assert typed_while_waiting(stream) is None  # input waiting for a prompt: not read, not the end
        os.close(write)
        assert typed_while_waiting(stream) is None  # still unread
        assert stream.readline() == "d\n"
        assert stream.readline() == "removed\n"
        assert typed_while_waiting(stream) == ""  # all read, and the writer gone: the end of input


def test_typed_while_waiting_on_a_terminal_reads_the_line_or_ctrl_d() -> None:
    main_fd, terminal_fd = pty.openpty()
    try:
        with os.fdopen(terminal_fd, "r", encoding="utf-8", closefd=False) as stream:
            assert typed_while_waiting(stream) is None
            os.write(main_fd, b"q\n")
            select.select([stream], [], [], 10)  # the pty delivers asynchronously; wait for it, assert nothing on time
            assert typed_while_waiting(stream) == "q\n"
            os.write(main_fd, b"\x04")  # Ctrl-D on an empty line
            select.select([stream], [], [], 10)
            assert typed_while_waiting(stream) == ""
    finally:
        os.close(main_fd)
        os.close(terminal_fd)


def test_typed_while_waiting_without_a_file_descriptor_says_nothing() -> None:
    import io

    assert typed_while_waiting(io.StringIO("q\n")) is None
