"""``kanal stats report`` against a stand-in partner API on 127.0.0.1 (tests.support.stats: canned answers of
``GET /v1/stats``'s contract): one request per grouping with the partner's key, the page written whole with the
API's figures, and each refusal said in one line (a 403 for national figures as such), no file left behind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kanal_cli.cli import main

from tests.support.stats import StatsApi, check_figures, read_page, seeds_views, stats_api

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def _no_partner_api_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("KANAL_API_URL", "KANAL_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .kanal/dev.json but the test's own


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(["stats", "report", *argv])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def test_the_report_has_the_apis_figures_read_with_the_partners_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = StatsApi(seeds_views())
    with stats_api(api) as url:
        monkeypatch.setenv("KANAL_API_URL", url)
        monkeypatch.setenv("KANAL_API_KEY", api.key)
        code, written, err = run(capsys, "--election", "pemilu-2024", "--scope", "national", "--out", "report.html")
    assert code == 0, err
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert written == {
        "out": "report.html",
        "bytes": len(page.encode()),
        "scope": "national",
        "from": "2023-11-28",
        "to": "2024-02-15",
    }
    check_figures(api.views, read_page(page).marked)
    asked = [query for query, _ in api.asked]
    assert [q.get("group_by", "") for q in asked] == ["", "policy", "week", "outcome", "region", "category"]
    assert all(q["election"] == "pemilu-2024" and q["scope"] == "national" for q in asked)
    assert all("from" not in q and "to" not in q for q in asked)
    assert all(headers["authorization"] == f"Bearer {api.key}" for _, headers in api.asked)
    assert "reading the figures by policy" in err
    assert "wrote report.html" in err
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"], "no temporary file left"


def test_a_window_of_dates_is_asked_for_and_own_is_the_default_scope(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    api = StatsApi(seeds_views({"scope": "own", "from": "2024-01-01", "to": "2024-01-31"}))
    with stats_api(api) as url:
        code, _, err = run(
            capsys,
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-31",
            "--out",
            "r.html",
            "--api-url",
            url,
            "--api-key",
            api.key,
        )
    assert code == 0, err
    assert {(q["from"], q["to"], q["scope"]) for q, _ in api.asked} == {("2024-01-01", "2024-01-31", "own")}
    assert all("election" not in q for q, _ in api.asked)
    assert "Laporan mitra ini sendiri" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_the_local_stacks_demo_partner_is_found_by_name(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    api = StatsApi(seeds_views(), key="kanal_perludem")
    with stats_api(api) as url:
        (tmp_path / ".kanal").mkdir()
        partners = [{"name": "Bawaslu", "api_key": "kanal_bawaslu"}, {"name": "Perludem", "api_key": "kanal_perludem"}]
        (tmp_path / ".kanal" / "dev.json").write_text(json.dumps({"api_url": url, "partners": partners}))
        code, _, err = run(capsys, "--partner", "perludem", "--out", "r.html")
        assert code == 0, err
        code, _, err = run(capsys, "--partner", "KPU", "--out", "r.html")
    assert code == 2
    assert "no demo partner named 'KPU' (the local stack has Bawaslu, Perludem)" in err


def test_national_figures_refused_to_a_partner_that_is_not_an_agency_are_said_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    api = StatsApi(seeds_views(), national=False)
    with stats_api(api) as url:
        code, written, err = run(
            capsys, "--scope", "national", "--out", "r.html", "--api-url", url, "--api-key", api.key
        )
    assert code == 1
    assert written is None
    assert "the national figures are for election agencies' keys (Bawaslu, KPU) only" in err
    assert "(403 Forbidden): national figures are for election agencies" in err
    assert len(err.strip().splitlines()) == 2, "one line of progress, one of refusal"
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"key": "kanal_other"}, "the partner API refused (401 Unauthorized): a valid API key is required"),
        ({"failing": 503}, "the partner API failed (503 Internal Server Error): try again later"),
        ({"views": {}}, "(422 Unprocessable Content): bad query; group_by: must be some of"),
        ({"views": {"": {"scope": "own", "totals": {"reports": 1}}}}, "is not the figures' shape: totals.cases"),
    ],
)
def test_a_refusal_or_a_failure_is_one_line_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, change: dict[str, Any], said: str
) -> None:
    api = StatsApi(seeds_views(), key="kanal_right")
    with stats_api(api) as url:
        for name, value in change.items():
            setattr(api, name, value)
        code, _, err = run(capsys, "--out", "r.html", "--api-url", url, "--api-key", "kanal_right")
    assert code == 1
    assert said in err.splitlines()[-1]
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_api_is_said_so(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with stats_api(StatsApi({})) as url:
        pass  # closed: nothing listens there now
    code, _, err = run(capsys, "--out", "r.html", "--api-url", url, "--api-key", "k")
    assert code == 1
    assert f"the partner API at {url} could not be reached" in err


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--election", "pemilu-2099", "--out", "r.html"], "must be an election of the calendar: pemilu-2024"),
        (["--election", "pemilu-2024", "--from", "2024-01-01", "--to", "2024-01-02", "--out", "r.html"], "not both"),
        (["--from", "2024-01-01", "--out", "r.html"], "--from and --to together"),
        (["--from", "2024-02-01", "--to", "2024-01-01", "--out", "r.html"], "--from must not be after --to"),
        (["--from", "2024-1-1", "--to", "2024-01-02", "--out", "r.html"], "must be a date from 2000 to 2099"),
        (["--from", "\uff12\uff10\uff12\uff14-01-01", "--to", "2024-01-02", "--out", "r.html"], "must be a date"),
        (["--scope", "everyone", "--out", "r.html"], "invalid choice"),
        (["--out", "missing/r.html"], "folder 'missing' does not exist"),
        (["--out", "."], "is a folder"),
        (["--election", "pemilu-2024"], "the following arguments are required: --out"),
        (["--out", "r.html"], "pass --api-url and --api-key"),
    ],
)
def test_mistakes_on_the_command_line_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert said in err
    assert len(err.strip().splitlines()) == 1
