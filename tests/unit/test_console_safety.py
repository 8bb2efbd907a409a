"""A console that cannot be hijacked (issue 12): intake refuses terminal controls in free text, every output of
the reviewer's CLI shows stored ones as escapes, every bad argument is one line and exit 2, and the
interactive loop stops at the end of input even while the queues are empty."""

from __future__ import annotations

import argparse
import json
import os
import pty
import select
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kanal import wiring
from kanal_cli import arguments
from kanal_cli.cli import main
from kanal_cli.reviewer import LONGEST_DUE, SHORTEST_DUE, cmd_interactive, parse_duration, typed_while_waiting

from tests.conftest import Invoke, env, event
from tests.test_api import body_of, new_partner, post, report_body
from tests.test_review import REASON, reported
from tests.test_reviewer_cli import Script, args
from tests.test_terminal import DANGEROUS, HOSTILE

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
FIXTURES = [HealthCheck.function_scoped_fixture]


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kanal.clock.now", lambda: NOW)


# --- intake ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["description", "legal_basis", "partner_reference"])
def test_the_api_refuses_controls_with_422_naming_the_field(api: Invoke, field: str) -> None:
    answer = api(post(new_partner(), report_body(**{field: "UU 7/2017\x1b]0;pwned\x07 Pasal 280"})))
    assert answer["statusCode"] == 422, answer["body"]
    (error,) = body_of(answer)["errors"]
    assert error["field"] == field
    assert "U+001B" in error["message"]
    crlf = api(post(new_partner(), report_body(**{field: "UU 7/2017\r\nPasal 280"})))
    assert crlf["statusCode"] == 202, crlf["body"]


def test_an_answer_with_controls_is_422(api: Invoke, case_builder: Invoke, dynamodb: Any) -> None:
    (receipt,) = reported(api, case_builder, dynamodb)
    e = event("post_info")
    e["requestContext"]["authorizer"] = {"principalId": receipt["partner_id"], "partner_id": receipt["partner_id"]}
    e["path"] = e["requestContext"]["path"] = f"/v1/reports/{receipt['report_id']}/info"
    e["pathParameters"] = {"report_id": receipt["report_id"]}
    e["body"] = json.dumps({"message": "Di TPS 05\u202e50 SPT"})
    answer = api(e)
    assert answer["statusCode"] == 422, answer["body"]
    assert [x["field"] for x in body_of(answer)["errors"]] == ["message"]


# --- output ---------------------------------------------------------------------------------------------------


def _stored_hostile(api: Invoke, case_builder: Invoke, dynamodb: Any) -> dict[str, Any]:
    """A reported case whose stored report holds HOSTILE text (older data, or a path without intake's rule)."""
    (receipt,) = reported(api, case_builder, dynamodb)
    dynamodb.update_item(
        TableName=env("TABLE_NAME"),
        Key={"pk": {"S": f"REPORT#{receipt['report_id']}"}, "sk": {"S": "REPORT"}},
        UpdateExpression="SET description = :d, legal_basis = :d, evidence_urls = :u",
        ExpressionAttributeValues={
            ":d": {"S": HOSTILE},
            ":u": {"L": [{"S": "https://evil.example/\x1b]8;;x\x1b\\"}]},
        },
    )
    return receipt


def test_the_interactive_view_shows_stored_controls_as_escapes(
    api: Invoke, case_builder: Invoke, dynamodb: Any
) -> None:
    _stored_hostile(api, case_builder, dynamodb)
    script = Script("q")
    cmd_interactive(args(), wiring.services(), script.ask, script.out)
    shown = "\n".join(script.shown)
    assert not DANGEROUS & set(shown)
    for raw in ("\x1b", "\x07", "\r", "\u202e", "\u2066", "\x9b", "\x7f"):
        assert raw not in shown
    assert "⟦U+001B⟧[2J" in shown
    assert "⟦U+001B⟧]52;c;" in shown
    assert "⟦U+202E⟧removed" in shown
    # The description's own newlines stay, indented: no partner text starts where kanal's own lines do.
    lines = shown.split("\n")
    assert "      line two\ttabbed⟦U+000D⟧" in lines
    assert not [x for x in lines if "kanal: case verified" in x and not x.startswith("      ")]
    assert shown.endswith("released")


def test_json_outputs_show_stored_controls_as_json_escapes(
    api: Invoke, case_builder: Invoke, dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    receipt = _stored_hostile(api, case_builder, dynamodb)
    capsys.readouterr()
    table = ["--table-name", env("TABLE_NAME")]
    outputs = []
    for argv in (
        ["review", "next", "--json", "--wait", "0", "--reviewer", "reviewer-a"],
        ["cases", "show", receipt["case_id"]],
    ):
        assert main([*table, *argv]) == 0
        out, err = capsys.readouterr()
        assert not DANGEROUS & set(out + err)
        assert "\\u001b]52;c;" in out
        assert "\\u202e" in out
        assert "\\u009b" in out
        outputs.append(json.loads(out))
    claimed, shown = outputs
    assert claimed["reports"][0]["description"] == shown["reports"][0]["description"] == HOSTILE  # the same data


# --- arguments: one line, exit 2 ------------------------------------------------------------------------------


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    code = main(["--table-name", "kanal-test", *argv])
    out, err = capsys.readouterr()
    assert code == 2, (argv, err)
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("kanal: "), err
    assert "Traceback" not in err
    assert not DANGEROUS & set(err)
    return err


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
    _refused(capsys, argv)


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
    _refused(capsys, argv)


def test_due_bounds() -> None:
    assert parse_duration("10m") == SHORTEST_DUE
    assert parse_duration("30d") == LONGEST_DUE == parse_duration("720h")
    assert parse_duration("0048h") == parse_duration("2d")
    for text in ("9m", "30d1", "721h", "0d", "99999999d"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"10m to 30d|m, h or d"):
            parse_duration(text)


def test_a_bad_environment_value_is_one_line_and_exit_2(
    stack: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KANAL_REVIEWER", "ana\x1b]0;x\x07")
    err = _refused(capsys, ["--table-name", env("TABLE_NAME"), "review", "next", "--wait", "0"])
    assert "KANAL_REVIEWER" in err
    monkeypatch.delenv("KANAL_REVIEWER")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "::nonsense")
    assert "AWS_ENDPOINT_URL" in _refused(capsys, ["partners", "list"])


def test_the_interactive_loop_refuses_controls_in_its_own_inputs(
    api: Invoke, case_builder: Invoke, dynamodb: Any
) -> None:
    (receipt,) = reported(api, case_builder, dynamodb)
    script = Script("d", "removed", "misinformation", REASON + "\x1b[2J", "a", "Di TPS mana\u202e kejadiannya?", "48h")
    cmd_interactive(args(), wiring.services(), script.ask, script.out, typed=lambda: "")
    shown = "\n".join(script.shown)
    assert shown.count("refused: must not contain control characters") == 2
    assert "U+001B" in shown
    assert "U+202E" in shown
    case = wiring.services().cases.get(receipt["case_id"])
    assert case is not None
    assert case.decision is None
    assert case.question is None
    assert case.claim is None


# --- end of input while the queues are empty ------------------------------------------------------------------


class Typed:
    """What typed_while_waiting would say at each empty wait."""

    def __init__(self, *said: str | None) -> None:
        self.said: Iterator[str | None] = iter(said)

    def __call__(self) -> str | None:
        return next(self.said)


@pytest.mark.parametrize("end", ["", "q\n", " q "])
def test_the_loop_stops_at_end_of_input_while_no_case_comes(stack: Any, end: str) -> None:
    script = Script()
    cmd_interactive(args(), wiring.services(), script.ask, script.out, typed=Typed(None, "typed meanwhile\n", end))
    assert script.shown[-1] == "stopped"
    assert sum("waiting again" in line for line in script.shown) == 2
    assert script.shown[1:] == [
        "no case in the last 0 s; waiting again (q or Ctrl-D to stop)",
        "no case in the last 0 s; waiting again (q or Ctrl-D to stop)",
        "stopped",
    ]


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
