"""``kanal stats report``: the channel's figures as one HTML page to publish, read from ``GET /v1/stats`` with the
partner's own key and drawn by ``kanal.stats_report`` (as the weekly export draws it).

It asks the API once per grouping the page has a section for (the totals, then by policy, week, outcome, province
and category), checks each answer's shape as it comes, and writes the page in one go (a file is either the old one
or the whole new one). ``--scope national`` is for election agencies' keys: another key's 403 is said as such.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kanal import clock, terminal
from kanal.calendar import default_calendar
from kanal.errors import KanalError
from kanal.stats_report import GROUPINGS, StatsView, render
from pydantic import ValidationError

from kanal_cli import arguments, partner_client
from kanal_cli.partner_client import PartnerApiFailed, PartnerApiRefused

Note = Callable[[str], None]


class NationalRefused(KanalError):
    """The key's partner may not see the national figures (only election agencies may)."""


def election(value: str) -> str:
    """An election of the calendar (``kanal/data/elections.json``)."""
    known = sorted(default_calendar().ids())
    if value not in known:
        raise argparse.ArgumentTypeError(f"must be an election of the calendar: {', '.join(known)}")
    return value


def window(args: argparse.Namespace) -> dict[str, str | None]:
    """The query's window: an election, or a from/to pair of dates (or neither: the API's default)."""
    from kanal_cli.cli import UsageError

    if args.election and (args.start or args.end):
        raise UsageError("pass --election or --from and --to, not both")
    if bool(args.start) != bool(args.end):
        raise UsageError("pass --from and --to together")
    if args.start and args.start > args.end:
        raise UsageError("--from must not be after --to")
    return {
        "election": args.election,
        "from": args.start.isoformat() if args.start else None,
        "to": args.end.isoformat() if args.end else None,
    }


def fetch(api: partner_client.PartnerApi, query: dict[str, str | None], note: Note) -> dict[str, StatsView]:
    """Every grouping's answer, checked to be the shape of ``GET /v1/stats``."""
    views: dict[str, StatsView] = {}
    for grouping in GROUPINGS:
        note(f"reading the figures {'by ' + grouping if grouping else 'in total'} from {api.base_url}")
        try:
            answer = api.get("/v1/stats", {**query, "group_by": grouping or None})
        except PartnerApiRefused as refused:
            if refused.status == 403 and query.get("scope") == "national":
                raise NationalRefused(
                    "the national figures are for election agencies' keys (Bawaslu, KPU) only; this key's partner "
                    f"may read its own (--scope own). {refused}"
                ) from refused
            raise
        try:
            views[grouping] = StatsView.model_validate(answer)
        except ValidationError as error:
            where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:3])
            raise PartnerApiFailed(
                terminal.line(f"the answer for group_by={grouping or '(none)'} is not the figures' shape: {where}")
            ) from None
    return views


def write(out: Path, page: str) -> int:
    """Write ``page`` to ``out`` whole (a temporary file beside it, then renamed over it); its size in bytes."""
    data = page.encode("utf-8")
    handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        Path(temporary).chmod(0o644)  # a page to publish, readable as any file the user writes
        Path(temporary).replace(out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return len(data)


def run(args: argparse.Namespace, note: Note) -> dict[str, Any]:
    """Read the figures, draw the page, write it; what was written, for stdout."""
    from kanal_cli.cli import UsageError

    out: Path = args.out
    if not out.parent.is_dir():
        raise UsageError(f"--out: folder {str(out.parent)!r} does not exist")
    if out.is_dir():
        raise UsageError(f"--out: {str(out)!r} is a folder; name the file to write, e.g. report.html")
    query = {**window(args), "scope": args.scope}
    api = partner_client.connect(args)
    views = fetch(api, query, note)
    page = render(views, generated_at=clock.now(), election_id=args.election)
    size = write(out, page)
    note(f"wrote {out} ({size // 1024 or 1} KB): one self-contained page that loads nothing; open it in any browser")
    first = views[""]
    return {"out": str(out), "bytes": size, "scope": first.scope, "from": first.start, "to": first.end}


def add_commands(commands: Any) -> Any:
    """``kanal stats`` and its ``report``; answers the ``stats`` actions, for the other stats commands to join."""
    from kanal_cli.cli import _note, _print

    stats = commands.add_parser("stats", help="the channel's figures: a report to publish")
    actions = stats.add_subparsers(dest="action", required=True, metavar="ACTION")
    report = actions.add_parser(
        "report", help="the figures as one self-contained HTML page (Bahasa Indonesia and English) to publish"
    )
    report.add_argument("--election", type=election, help="the figures of one election's window, e.g. pemilu-2024")
    day = {"metavar": "DAY", "type": arguments.day}
    report.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (with --to)", **day)
    report.add_argument("--to", dest="end", help="last day, YYYY-MM-DD (with --from)", **day)
    report.add_argument(
        "--scope", choices=["own", "national"], default="own", help="own reports (default), or national (agencies)"
    )
    report.add_argument("--out", required=True, type=Path, help="the HTML file to write, e.g. report.html")
    partner_client.add_arguments(report)
    report.set_defaults(func=lambda args: _print(run(args, _note)))
    return actions
