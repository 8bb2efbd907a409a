"""``kanal reports import FILE.csv``: a partner's spreadsheet of reports, sent through POST /v1/reports/batch.

For partners' staff who keep their findings in a spreadsheet. The columns are named as the API's fields
(``content_url, category, region_code, description, evidence_urls, legal_basis, election, observed_at,
partner_reference``; ``evidence_urls`` separated by spaces, empty cells left out). The file is read as UTF-8,
with or without a byte order mark, separated by ``,`` or by ``;`` (what spreadsheets save in Indonesian and
other locales whose decimal mark is a comma): the header line tells which.

Every row is validated first, with the API's own model and rules (``NewReport``, ``check_observed_at``); if any
is invalid, each bad row is listed (its row number as the spreadsheet shows it, the column, the message) and
nothing is sent. ``--dry-run`` stops after the check. Then the rows go in batches of 100 (fewer when 100 would
pass the API's 1 MB), with a progress bar on stderr, and ``FILE.results.csv`` gets one line per row: its
report and case, or its error.

Each row's idempotency key is its content's fingerprint (``intake.body_hash``); the API keeps keys per partner
(a report's id is derived from the partner's id and the key), so the same row sent again by the same partner, in
this file or another, stores nothing new, and the secret key itself is in no file. A key rotation does not change
the partner, so a file sent again after one still stores nothing new; two identical rows are one report.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from kanal import clock, terminal
from kanal.entrypoints.batches import MAX_BATCH_BYTES, MAX_REPORTS
from kanal.entrypoints.routing import field_errors
from kanal.errors import InvalidRequest, KanalError
from kanal.intake import body_hash, check_observed_at
from kanal.models import NewReport
from pydantic import ValidationError

from kanal_cli import arguments
from kanal_cli.review_client import ReviewApiFailed, Send, http_send

#: The columns a file may have: the API's fields.
COLUMNS = tuple(NewReport.model_fields)
REQUIRED = tuple(name for name, info in NewReport.model_fields.items() if info.is_required())
#: What a batch may weigh, leaving room for the envelope and JSON's escapes.
BATCH_BYTES = MAX_BATCH_BYTES - 16 * 1024
#: Answers worth sending the same batch again for (its reports' keys make that safe), and how often.
RETRIED = frozenset({429, 500, 502, 503, 504})
ATTEMPTS = 4
MAX_RETRY_WAIT = 10.0
RESULT_COLUMNS = ("row", "report_id", "case_id", "status", "error")


class ImportFailed(KanalError):
    """Rows were invalid, refused or not sent; the message says how many and where the results are."""


@dataclass(frozen=True)
class RowError:
    """One invalid cell (or row) of the file."""

    row: int
    column: str
    message: str


@dataclass
class Row:
    """One row of the file: its number as the spreadsheet shows it, the body it stands for, and what came of it."""

    number: int
    body: dict[str, Any]
    #: Whether it has more cells than the header has columns.
    overflowing: bool = False
    key: str = ""
    result: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Sheet:
    """A file as read: its rows (blank ones left out) and how it was written."""

    rows: list[Row]
    delimiter: str


def read_sheet(path: Path) -> Sheet:
    """The rows of a CSV file; UsageError for a file that cannot be read as one (encoding, columns)."""
    from kanal_cli.cli import UsageError

    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8: save it as 'CSV UTF-8' (not the locale's CSV encoding)") from None
    header_line = text.split("\n", 1)[0]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        records = list(reader)
    except csv.Error as error:
        raise UsageError(f"{path} is not a CSV file: {error} (line {reader.line_num})") from None
    if not records:
        raise UsageError(f"{path} is empty: its first row must name the columns ({', '.join(COLUMNS)})")
    header = [name.strip().lower() for name in records[0]]
    unknown = [name for name in header if name not in COLUMNS]
    missing = [name for name in REQUIRED if name not in header]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if unknown or missing or repeated:
        said = [
            *([f"unknown column(s) {', '.join(map(repr, unknown))}"] if unknown else []),
            *([f"missing column(s) {', '.join(missing)}"] if missing else []),
            *([f"column(s) named twice: {', '.join(repeated)}"] if repeated else []),
        ]
        raise UsageError(f"{path}: {'; '.join(said)} (the columns are {', '.join(COLUMNS)})")
    rows = []
    for number, record in enumerate(records[1:], start=2):  # the header is the spreadsheet's row 1
        cells = {name: value.strip() for name, value in zip(header, record, strict=False) if value.strip()}
        overflowing = any(value.strip() for value in record[len(header) :])
        if not cells and not overflowing:
            continue  # a blank row, as spreadsheets save below the data
        body: dict[str, Any] = {k: v for k, v in cells.items() if k != "evidence_urls"}
        if "evidence_urls" in cells:
            body["evidence_urls"] = cells["evidence_urls"].split()
        rows.append(Row(number, body, overflowing))
    return Sheet(rows, delimiter)


def check(rows: Sequence[Row]) -> list[RowError]:
    """Each row validated as the API validates a report (the model, then the rules), its key derived; the errors."""
    errors: list[RowError] = []
    now = clock.now()
    for row in rows:
        if row.overflowing:
            errors.append(RowError(row.number, "-", "has more cells than the header has columns"))
            continue
        try:
            report = NewReport.model_validate_json(json.dumps(row.body))
            check_observed_at(report, now)
        except ValidationError as error:
            for found in field_errors(error.errors(include_url=False)):
                column = found.field.split("[", 1)[0].split(".", 1)[0]
                errors.append(RowError(row.number, column, found.message))
            continue
        except InvalidRequest as error:
            errors.append(RowError(row.number, error.field, error.message))
            continue
        row.key = f"csv-{body_hash(report)}"
    return errors


def batches(rows: Sequence[Row]) -> list[list[Row]]:
    """The rows in batches of at most 100 reports and BATCH_BYTES of JSON."""
    found: list[list[Row]] = []
    current: list[Row] = []
    size = 0
    for row in rows:
        weight = len(json.dumps(item(row)).encode()) + 1
        if current and (len(current) == MAX_REPORTS or size + weight > BATCH_BYTES):
            found.append(current)
            current, size = [], 0
        current.append(row)
        size += weight
    return [*found, current] if current else found


def item(row: Row) -> dict[str, Any]:
    """A row as a report of a batch."""
    return {**row.body, "idempotency_key": row.key}


Sleep = Callable[[float], None]


def send_batch(send: Send, batch: Sequence[Row], sleep: Sleep) -> None:
    """POST one batch and note each row's result; ImportFailed (the rows marked not sent) when the API refuses the
    request as a whole or keeps failing."""
    status, answer = 0, None
    for attempt in range(ATTEMPTS):
        status, answer = send("POST", "/v1/reports/batch", {"reports": [item(row) for row in batch]})
        if status not in RETRIED or attempt == ATTEMPTS - 1:
            break
        sleep(min(MAX_RETRY_WAIT, 2.0**attempt))  # the API's Retry-After is 2 s; back off beyond it
    if status != 200 or not isinstance(answer, dict) or len(answer.get("results", [])) != len(batch):
        raise ImportFailed(refusal(status, answer))
    for entry in answer["results"]:
        row = batch[int(entry["index"])]
        if entry["status"] == 202:
            receipt = entry["report"]
            row.result = {"report_id": receipt["report_id"], "case_id": receipt["case_id"], "status": receipt["status"]}
        else:
            row.result = {"status": "refused", "error": f"{entry['status']} {problem_text(entry['problem'])}"}


def problem_text(problem: Any) -> str:
    """A problem document in one line: its fields' messages, else its detail."""
    if not isinstance(problem, dict):
        return str(problem)
    errors = problem.get("errors") or []
    said = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors if isinstance(e, dict))
    return terminal.line(said or str(problem.get("detail") or problem.get("title") or problem))


def refusal(status: int, answer: Any) -> str:
    """Why the API refused a whole batch, in words a partner's staff can act on."""
    detail = problem_text(answer)
    if status in (401, 403):
        return f"the partner API refused the key ({status}): check --api-key or KANAL_API_KEY ({detail})"
    if status == 413:
        return f"the partner API found a batch too large ({detail})"
    if status in RETRIED:
        return f"the partner API kept failing ({status}: {detail}); run the same command again later"
    return f"the partner API answered {status}: {detail}"


class Progress:
    """A progress bar on stderr: redrawn in place on a terminal, one line per batch otherwise."""

    def __init__(self, total: int, out: TextIO) -> None:
        self.total, self.out = total, out
        self.live = out.isatty()

    def show(self, done: int) -> None:
        width = 30
        filled = width * done // max(self.total, 1)
        text = f"kanal: [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} rows sent"
        if self.live:
            self.out.write("\r" + text + ("\n" if done >= self.total else ""))
        else:
            self.out.write(text + "\n")
        self.out.flush()


def results_path(path: Path) -> Path:
    """FILE.results.csv beside FILE.csv."""
    return path.with_name(f"{path.stem}.results.csv")


def write_results(path: Path, sheet: Sheet) -> Path:
    """One line per row: what came of it. UTF-8 with a byte order mark (so that spreadsheets read it as UTF-8),
    with the input's separator."""
    target = results_path(path)
    with target.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=RESULT_COLUMNS, delimiter=sheet.delimiter)
        writer.writeheader()
        for row in sheet.rows:
            writer.writerow({"row": row.number, **{k: row.result.get(k, "") for k in RESULT_COLUMNS[1:]}})
    return target


def import_reports(
    args: argparse.Namespace, send: Send | None = None, sleep: Sleep | None = None, err: TextIO | None = None
) -> dict[str, Any]:
    """Check the file, then (unless --dry-run) send it; the summary printed on stdout. ImportFailed (exit 1) when
    a row is invalid (nothing sent), refused, or not sent."""
    from kanal_cli.partner_client import credentials

    err = err or sys.stderr
    path: Path = args.file
    sheet = read_sheet(path)
    invalid = check(sheet.rows)
    summary: dict[str, Any] = {"file": str(path), "rows": len(sheet.rows), "invalid": [vars(e) for e in invalid]}
    for error in invalid:
        err.write(terminal.line(f"kanal: row {error.row}, {error.column}: {error.message}") + "\n")
    if invalid:
        _print(summary)
        raise ImportFailed(f"{len({e.row for e in invalid})} of {len(sheet.rows)} row(s) invalid; nothing was sent")
    if args.dry_run:
        _print(summary)
        err.write(terminal.line(f"kanal: {len(sheet.rows)} row(s) valid; --dry-run: nothing was sent") + "\n")
        return summary
    if send is None:
        url, key = credentials(args)
        bearer = {"Authorization": f"Bearer {key}"}
        send = http_send(url, lambda *_: bearer, 60, "the partner API")
    progress, done, failure = Progress(len(sheet.rows), err), 0, None
    for batch in batches(sheet.rows):
        try:
            send_batch(send, batch, sleep or time.sleep)
        except (ImportFailed, ReviewApiFailed) as error:
            failure = str(error)
            break
        done += len(batch)
        progress.show(done)
    for row in sheet.rows:
        if not row.result:
            row.result = {"status": "not_sent", "error": failure or "not sent"}
    written = write_results(path, sheet)
    statuses = [row.result["status"] for row in sheet.rows]
    summary.update(
        accepted=sum(1 for s in statuses if s not in ("refused", "not_sent")),
        refused=statuses.count("refused"),
        not_sent=statuses.count("not_sent"),
        results=str(written),
    )
    _print(summary)
    if failure:
        raise ImportFailed(f"{failure}; {summary['not_sent']} row(s) not sent (see {written})")
    if summary["refused"]:
        raise ImportFailed(f"{summary['refused']} row(s) refused by the API (see {written})")
    err.write(terminal.line(f"kanal: {summary['accepted']} row(s) accepted; results in {written}") + "\n")
    return summary


def _print(value: Any) -> None:
    print(terminal.json_text(value))


def _import_command(args: argparse.Namespace) -> None:
    """``kanal reports import``: the summary is printed; exit 0 unless ImportFailed says otherwise."""
    import_reports(args)


def add_commands(commands: Any) -> None:
    """``kanal reports import``."""
    reports = commands.add_parser("reports", help="reports, for partners' staff")
    actions = reports.add_subparsers(dest="action", required=True, metavar="ACTION")
    importing = actions.add_parser(
        "import", help="send the reports of a CSV file (columns named as the API's fields) in batches of 100"
    )
    importing.add_argument("file", type=Path, metavar="FILE.csv", help="UTF-8 CSV, separated by , or ;")
    importing.add_argument("--api-url", type=arguments.text(2048, lines=False), help="the partner API ($KANAL_API_URL)")
    importing.add_argument("--api-key", help="your partner API key ($KANAL_API_KEY)")
    importing.add_argument("--partner", help="on the local stack: the demo partner whose key to use (default: first)")
    importing.add_argument("--dry-run", action="store_true", help="check every row and send nothing")
    importing.set_defaults(func=_import_command)
