"""The scheduled export of the national figures: what is due when, and the files it writes.

Two schedules (template.yaml, StatsExportFunction): every Monday the week before (Monday to Sunday, WIB), and
every day the windows of the calendar's elections that closed in the past week (from the first day of an
election's first phase to the last day of its last): a window's files are written again each day of that week,
so that decisions made after it closed still reach them (the bucket keeps every version). Each export writes
the national figures as CSV and JSON, grouped by every key (a flat table to pivot), and the report to publish
(kanal.stats_report, HTML), under ``national/weekly/<ISO week>`` or ``national/elections/<election id>``.

Nothing here reads the clock or imports boto3.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from kanal.calendar import Calendar
from kanal.stats import NATIONAL, GroupBy, Scope, StatsStore, answer, csv_bytes, iso_week, json_bytes

#: How long after its close an election window's files are still written again.
RECENT = timedelta(days=7)
#: The views the report is drawn from (kanal.stats_report.render: its GROUPINGS), each an answer grouped by one
#: key ("" is the totals alone).
REPORT_VIEWS: dict[str, tuple[GroupBy, ...]] = {
    "": (),
    "policy": (GroupBy.POLICY,),
    "week": (GroupBy.WEEK,),
    "outcome": (GroupBy.OUTCOME,),
    "region": (GroupBy.REGION,),
    "category": (GroupBy.CATEGORY,),
}


@dataclass(frozen=True)
class Export:
    """One export: a window of days, and where its files go (``<prefix>.csv``, ``<prefix>.json``)."""

    prefix: str
    first: date
    last: date
    #: The election whose window it is (None: a week).
    election_id: str | None = None


class Sink(Protocol):
    """Where exported files go (the stack's bucket)."""

    def put(self, key: str, body: bytes, content_type: str) -> None:
        """Write one file (a new version of it if it exists)."""


def weekly(today: date) -> Export:
    """The week before ``today``'s (Monday to Sunday)."""
    monday = today - timedelta(days=today.weekday() + 7)
    return Export(f"national/weekly/{iso_week(monday)}", monday, monday + timedelta(days=6))


def closed_windows(today: date, calendar: Calendar) -> list[Export]:
    """The election windows that closed within ``RECENT`` before ``today`` (their last day before today)."""
    found = []
    for election in calendar.elections:
        first = min(span[0] for span in election.phases.values())
        last = max(span[1] for span in election.phases.values())
        if last < today <= last + RECENT:
            found.append(Export(f"national/elections/{election.election_id}", first, last, election.election_id))
    return found


def due(job: str, today: date, calendar: Calendar) -> list[Export]:
    """What a run of ``job`` (``weekly`` or ``elections``) exports on ``today`` (a WIB day)."""
    if job == "weekly":
        return [weekly(today)]
    if job == "elections":
        return closed_windows(today, calendar)
    raise ValueError(f"unknown export job {job!r}")


def views(store: StatsStore, export: Export) -> dict[str, dict[str, Any]]:
    """The national answers of an export's window, by view (REPORT_VIEWS)."""
    cells = list(store.tallies(NATIONAL, export.first, export.last))
    return {
        name: answer(Scope.NATIONAL, export.first, export.last, list(groups), cells).body()
        for name, groups in REPORT_VIEWS.items()
    }


def write(store: StatsStore, sink: Sink, export: Export, now: datetime) -> list[str]:
    """Write an export's files (made at ``now``); their keys."""
    cells = list(store.tallies(NATIONAL, export.first, export.last))
    body = answer(Scope.NATIONAL, export.first, export.last, list(GroupBy), cells).body()
    files = {
        f"{export.prefix}.csv": (csv_bytes(body), "text/csv; charset=utf-8; header=present"),
        f"{export.prefix}.json": (json_bytes(body), "application/json"),
    }
    # The report to publish (kanal.stats_report): one self-contained page of the same figures.
    from kanal import stats_report

    page = stats_report.render(views(store, export), generated_at=now, election_id=export.election_id)
    files[f"{export.prefix}.html"] = (page.encode(), "text/html; charset=utf-8")
    for key, (content, content_type) in files.items():
        sink.put(key, content, content_type)
    return list(files)
