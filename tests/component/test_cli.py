"""The kanal CLI against the moto stack: JSON on stdout, one-line errors on stderr."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kanal.partners import hash_key
from kanal_cli.cli import main

from tests.support.lambdas import env


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(["--table-name", env("TABLE_NAME"), *argv])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def test_create_list_rotate_revoke(stack: Any, dynamodb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, created, err = run(capsys, "partners", "create", "--name", "Bawaslu RI", "--kind", "election_agency")
    assert code == 0
    assert created["name"] == "Bawaslu RI"
    assert created["api_key"].startswith("kanal_")
    assert "shown only now" in err
    stored = str(dynamodb.scan(TableName=env("TABLE_NAME"))["Items"])
    assert created["api_key"] not in stored
    assert hash_key(created["api_key"]) in stored

    code, added, _ = run(capsys, "partners", "add-key", "--partner-id", created["partner_id"])
    assert code == 0
    code, revoked, _ = run(
        capsys, "partners", "revoke-key", "--partner-id", created["partner_id"], "--key-id", created["key_id"]
    )
    assert code == 0
    assert revoked["revoked_at"]
    code, listed, _ = run(capsys, "partners", "list")
    assert code == 0
    (partner,) = listed
    assert "api_key" not in json.dumps(listed)
    states = {k["key_id"]: k["active"] for k in partner["keys"]}
    assert states == {created["key_id"]: False, added["key_id"]: True}


def test_errors_are_one_line(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "partners", "add-key", "--partner-id", "p_nobody")
    assert code == 1
    assert err.strip() == "kanal: no partner with id p_nobody"
    code, _, err = run(capsys, "partners", "revoke-key", "--partner-id", "p_nobody", "--key-id", "k_x")
    assert code == 1
    assert "no key with id k_x" in err


def test_missing_stack_is_a_clear_usage_error(
    stack: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TABLE_NAME")
    code = main(["--stack-name", "no-such-stack", "partners", "list"])
    err = capsys.readouterr().err
    assert code == 2
    assert "cannot read stack 'no-such-stack'" in err


def test_dev_file_points_at_the_local_stack(
    stack: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    table = env("TABLE_NAME")
    monkeypatch.delenv("TABLE_NAME")
    (tmp_path / ".kanal").mkdir()
    (tmp_path / ".kanal" / "dev.json").write_text(
        json.dumps({"aws_endpoint": None, "region": "ap-southeast-3", "env": {"KANAL_TABLE_NAME": table}})
    )
    assert main(["partners", "list"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_an_unknown_reviewer_api_is_a_usage_error(
    stack: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KANAL_REVIEW_API_URL")
    code, _, err = run(capsys, "review", "next", "--wait", "0", "--reviewer", "ana")
    assert code == 2
    assert "the reviewer API's URL is unknown" in err
