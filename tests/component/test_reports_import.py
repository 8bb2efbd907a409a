"""`kanal reports import FILE.csv` against the partner API's handlers on moto (the authorizer, then the intake
function, as API Gateway calls them): every row checked before anything is sent, bad rows listed by their
spreadsheet row, the file sent in batches, FILE.results.csv written, a rerun storing nothing new, and the files
spreadsheets save (a byte order mark, `;` separators, cells over several lines)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kanal import wiring
from kanal.intake import IN_FLIGHT, body_hash, idempotent_report_id
from kanal.models import NewReport, PartnerKind
from kanal_cli.cli import main

from tests.support.lambdas import Invoke, count_items, event
from tests.support.reports import NOW, VIDEO, post_batch

API_URL = "https://a1b2c3d4e5.execute-api.ap-southeast-3.amazonaws.com/prod"
HEADER = "content_url,category,region_code,description,evidence_urls,legal_basis,election,observed_at,partner_reference"


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kanal.clock.now", lambda: NOW)


@pytest.fixture
def partner() -> tuple[str, str]:
    issued = wiring.services().partners.create("Bawaslu Jakarta Pusat", PartnerKind.ELECTION_AGENCY, NOW)
    return issued.partner.partner_id, issued.api_key


Send = Callable[[str, str, dict[str, Any] | None], tuple[int, Any]]


@pytest.fixture
def sent(api: Invoke, authorizer: Invoke, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The partner API in-process, as API Gateway runs it: the bearer key through the authorizer function, the
    request to the intake function. The CLI's HTTP transport is replaced by it; the statuses it answered."""
    statuses: list[int] = []

    def transport(base_url: str, headers: Any, timeout: int = 30, name: str = "") -> Send:
        assert base_url == API_URL

        def send(method: str, path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
            assert (method, path) == ("POST", "/v1/reports/batch")
            check = event("authorizer")
            check["headers"]["Authorization"] = headers("POST", base_url + path, b"", {})["Authorization"]
            try:
                context = authorizer(check)["context"]
            except Exception:  # the authorizer's Unauthorized: API Gateway's 401
                statuses.append(401)
                return 401, {"status": 401, "title": "Unauthorized", "detail": "No valid partner key"}
            request = post_batch(context["partner_id"], raw=json.dumps(body))
            request["requestContext"]["authorizer"] = {"principalId": context["partner_id"], **context}
            answer = api(request)
            statuses.append(int(answer["statusCode"]))
            return int(answer["statusCode"]), json.loads(answer["body"])

        return send

    monkeypatch.setattr("kanal_cli.reports_import.http_send", transport)
    return statuses


def row(n: int, **changes: str) -> dict[str, str]:
    values = {
        "content_url": f"{VIDEO[:-4]}{n:04d}",
        "category": "misinformation",
        "region_code": "31.71",
        "description": f"Video ke-{n} menyebarkan klaim palsu bahwa TPS dipindahkan.",
        "evidence_urls": "https://bawaslu.go.id/arsip/a.png https://bawaslu.go.id/arsip/b.png",
        "legal_basis": "UU 7/2017 Pasal 280",
        "election": "",
        "observed_at": "2026-11-22T09:40:00+07:00",
        "partner_reference": f"BWS-{n:04d}",
    }
    values.update(changes)
    return values


def key_of(values: dict[str, str]) -> str:
    """The idempotency key of a row: its content's fingerprint."""
    cells = {k: v for k, v in values.items() if v}
    body = {**cells, "evidence_urls": cells.get("evidence_urls", "").split()}
    return f"csv-{body_hash(NewReport.model_validate_json(json.dumps(body)))}"


def write(path: Path, rows: list[dict[str, str]], delimiter: str = ",", bom: bool = False) -> Path:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER.split(","), delimiter=delimiter, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8-sig" if bom else "utf-8", newline="")
    return path


def kanal(capsys: pytest.CaptureFixture[str], key: str, *argv: str) -> tuple[int, Any, str]:
    code = main(["reports", "import", "--api-url", API_URL, "--api-key", key, *argv])
    out, err = capsys.readouterr()
    # The handlers' own log lines (one JSON object a line) come first; the summary is the last, indented, document.
    starts = [m.start() for m in re.finditer(r"^\{$", out, re.MULTILINE)]
    return code, json.loads(out[starts[-1] :]) if starts else None, err


def results(path: Path) -> list[dict[str, str]]:
    text = path.with_name(f"{path.stem}.results.csv").read_text(encoding="utf-8-sig")
    delimiter = ";" if text.split("\n", 1)[0].count(";") else ","
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


def test_a_dry_run_checks_every_row_and_sends_nothing(
    tmp_path: Path, partner: tuple[str, str], sent: list[int], dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write(tmp_path / "laporan.csv", [row(i) for i in range(5)])
    code, summary, err = kanal(capsys, partner[1], str(file), "--dry-run")
    assert code == 0, err
    assert summary == {"file": str(file), "rows": 5, "invalid": []}
    assert "5 row(s) valid" in err
    assert sent == []
    assert count_items(dynamodb, "REPORT#") == 0
    assert not (tmp_path / "laporan.results.csv").exists()


def test_bad_rows_are_listed_by_spreadsheet_row_and_column_and_nothing_is_sent(
    tmp_path: Path, partner: tuple[str, str], sent: list[int], dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [row(i) for i in range(6)]
    rows[1]["category"] = "spam"  # spreadsheet row 3
    rows[3]["region_code"] = "99.99"  # row 5
    rows[3]["evidence_urls"] = "https://bawaslu.go.id/a.png http://bawaslu.go.id/b.png"
    rows[4]["observed_at"] = "2026-11-30T09:00:00+07:00"  # row 6: in the future (the API's rule, not its schema)
    file = write(tmp_path / "laporan.csv", rows)
    with file.open("a", encoding="utf-8") as out:
        out.write(",,,,,,,,\r\n")  # a blank row (row 8), as spreadsheets save them: skipped
        out.write(",".join(row(9).values()) + ",extra\r\n")  # row 9: a cell past the last column
    for argv in ([str(file), "--dry-run"], [str(file)]):
        code, summary, err = kanal(capsys, partner[1], *argv)
        assert code == 1
        listed = [(e["row"], e["column"]) for e in summary["invalid"]]
        assert listed == [(3, "category"), (5, "region_code"), (5, "evidence_urls"), (6, "observed_at"), (9, "-")]
        assert "kanal: row 3, category: Input should be" in err
        assert "4 of 7 row(s) invalid; nothing was sent" in err
    assert sent == []
    assert count_items(dynamodb, "REPORT#") == 0


def test_the_file_goes_in_batches_of_100_with_its_results_and_a_rerun_stores_nothing_new(
    tmp_path: Path, partner: tuple[str, str], sent: list[int], dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [row(i) for i in range(130)]
    rows.append(dict(rows[0]))  # the same row twice: one report
    file = write(tmp_path / "laporan.csv", rows)
    code, summary, err = kanal(capsys, partner[1], str(file))
    assert code == 0, err
    assert sent == [200, 200]
    assert (summary["rows"], summary["accepted"], summary["refused"], summary["not_sent"]) == (131, 131, 0, 0)
    assert "[##############################] 131/131 rows sent" in err
    assert count_items(dynamodb, "REPORT#") == 130
    first = results(file)
    assert [r["row"] for r in first] == [str(n) for n in range(2, 133)]
    assert all(r["report_id"].startswith("r_") and r["case_id"].startswith("c_") for r in first)
    assert {r["status"] for r in first} == {"received"}
    assert {r["error"] for r in first} == {""}
    assert first[-1]["report_id"] == first[0]["report_id"]
    # Each row's key is its content's fingerprint, under the partner's own keys (never the secret key).
    assert first[5]["report_id"] == idempotent_report_id(partner[0], key_of(rows[5]))
    assert partner[1] not in (tmp_path / "laporan.results.csv").read_text(encoding="utf-8-sig")

    code, _, err = kanal(capsys, partner[1], str(file))
    assert code == 0, err
    assert count_items(dynamodb, "REPORT#") == 130
    assert results(file) == first


def test_a_bom_and_semicolons_and_cells_over_several_lines_are_read_as_spreadsheets_save_them(
    tmp_path: Path, partner: tuple[str, str], sent: list[int], dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        row(1, description="Baris pertama;\nbaris kedua, dengan koma."),
        row(2, legal_basis="Perbawaslu 8/2022; Pasal 12", evidence_urls=""),
        row(3),
    ]
    file = write(tmp_path / "ekspor.csv", rows, delimiter=";", bom=True)
    code, summary, err = kanal(capsys, partner[1], str(file))
    assert code == 0, err
    stored = results(file)
    assert [r["row"] for r in stored] == ["2", "3", "4"]  # a cell over two lines is still one spreadsheet row
    assert (tmp_path / "ekspor.results.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    one = wiring.services().reports.get(stored[0]["report_id"])
    two = wiring.services().reports.get(stored[1]["report_id"])
    assert one is not None
    assert two is not None
    assert one.description == "Baris pertama;\nbaris kedua, dengan koma."
    assert one.evidence_urls == ["https://bawaslu.go.id/arsip/a.png", "https://bawaslu.go.id/arsip/b.png"]
    assert two.legal_basis == "Perbawaslu 8/2022; Pasal 12"
    assert two.evidence_urls == []
    assert summary["accepted"] == 3


def test_a_row_the_api_refuses_is_in_the_results_with_its_error_and_the_others_are_stored(
    tmp_path: Path, partner: tuple[str, str], sent: list[int], dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [row(i) for i in range(3)]
    file = write(tmp_path / "laporan.csv", rows)
    key = idempotent_report_id(partner[0], key_of(rows[1]))
    wiring.services().reports.begin(key, NOW, NOW + IN_FLIGHT)  # a request with its key is running
    code, _, err = kanal(capsys, partner[1], str(file))
    assert code == 1
    assert "1 row(s) refused by the API" in err
    found = results(file)
    assert [r["status"] for r in found] == ["received", "refused", "received"]
    assert found[1]["error"].startswith("409 ")
    assert count_items(dynamodb, "REPORT#") == 2


def test_http_failures_are_clear_and_the_rows_not_sent_are_marked(
    tmp_path: Path,
    partner: tuple[str, str],
    sent: list[int],
    dynamodb: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    file = write(tmp_path / "laporan.csv", [row(i) for i in range(3)])
    code, summary, err = kanal(capsys, "kanal_" + "0" * 43, str(file))
    assert code == 1
    assert "the partner API refused the key (401)" in err
    assert summary["not_sent"] == 3
    assert {r["status"] for r in results(file)} == {"not_sent"}

    # A 503 is sent again (each row's key makes that safe), after a pause.
    from kanal_cli import reports_import

    waits: list[float] = []
    monkeypatch.setattr(reports_import.time, "sleep", waits.append)
    transport = reports_import.http_send
    failures = [503]

    def flaky(*args: Any, **kwargs: Any) -> Send:
        send = transport(*args, **kwargs)

        def once(method: str, path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
            if failures:
                return failures.pop(), {"status": 503, "detail": "The report store is busy"}
            return send(method, path, body)

        return once

    monkeypatch.setattr(reports_import, "http_send", flaky)
    code, summary, err = kanal(capsys, partner[1], str(file))
    assert code == 0, err
    assert waits == [1.0]
    assert count_items(dynamodb, "REPORT#") == 3


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("content_url,category\n", "missing column(s) region_code, description"),
        (HEADER + ",colour\n", "unknown column(s) 'colour'"),
        (HEADER + ",category\n", "column(s) named twice: category"),
        ("", "is empty"),
    ],
)
def test_a_file_that_is_no_report_sheet_is_a_usage_error(
    tmp_path: Path,
    partner: tuple[str, str],
    sent: list[int],
    capsys: pytest.CaptureFixture[str],
    content: str,
    said: str,
) -> None:
    file = tmp_path / "laporan.csv"
    file.write_text(content, encoding="utf-8")
    code, _, err = kanal(capsys, partner[1], str(file))
    assert code == 2
    assert said in err
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes((HEADER + "\n" + ",".join(row(1, description="Pemilu café").values()) + "\n").encode("latin-1"))
    code, _, err = kanal(capsys, partner[1], str(latin1))
    assert code == 2
    assert "is not UTF-8" in err
    assert sent == []
