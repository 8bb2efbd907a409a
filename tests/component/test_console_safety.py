"""A console that cannot be hijacked (issue 12), on moto: intake refuses terminal controls in free text, every
output of the reviewer's CLI shows stored ones as escapes, a bad environment value is one line and exit 2, and the
interactive loop stops at the end of input even while the queues are empty (the rules alone:
tests/unit/test_console_safety.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from kanal import wiring
from kanal_cli.cli import main
from kanal_cli.reviewer import cmd_interactive

from tests.support.console import DANGEROUS, HOSTILE, Script, args, refused_in_one_line
from tests.support.lambdas import Invoke, env, event
from tests.support.reports import REASON, body_of, new_partner, post, report_body, reported

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


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


# --- arguments from the environment ---------------------------------------------------------------------------


def test_a_bad_environment_value_is_one_line_and_exit_2(
    stack: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KANAL_REVIEWER", "ana\x1b]0;x\x07")
    err = refused_in_one_line(capsys, ["--table-name", env("TABLE_NAME"), "review", "next", "--wait", "0"])
    assert "KANAL_REVIEWER" in err
    monkeypatch.delenv("KANAL_REVIEWER")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "::nonsense")
    assert "AWS_ENDPOINT_URL" in refused_in_one_line(capsys, ["partners", "list"])


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
