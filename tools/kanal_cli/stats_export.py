"""``kanal stats export``: a partner's figures (GET /v1/stats, with its API key) as a CSV or JSON file.

CSV is written as spreadsheets write it (kanal.stats.csv_text: RFC 4180, a header row, CRLF) in UTF-8 with a
byte order mark: without one, Excel reads a CSV in the Windows ANSI code page. Numbers keep a full stop before
decimals, as data portals take them; README "Figures" says how to open the file in an Indonesian-locale Excel
(whose list separator is ";" and decimal separator ","): Data > From Text/CSV, comma, locale English.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from typing import Any
from urllib.parse import urlencode

from kanal.errors import KanalError
from kanal.stats import GroupBy, csv_bytes, json_bytes

from kanal_cli import arguments
from kanal_cli.partner_client import credentials

#: The export's default grouping: every key, a flat table to pivot.
ALL_GROUPS = ",".join(str(g) for g in GroupBy)


class ExportRefused(KanalError):
    """The API refused the request (the message says why, as the API did)."""


def http_get(url: str, key: str, timeout: int = 30) -> tuple[int, bytes]:
    """GET ``url`` with the partner's key; the status and the body."""
    from botocore.awsrequest import AWSRequest
    from botocore.httpsession import URLLib3Session

    request = AWSRequest("GET", url, headers={"Authorization": f"Bearer {key}", "Accept": "application/json"})
    answer = URLLib3Session(timeout=timeout).send(request.prepare())
    return int(answer.status_code), bytes(answer.content)


def query_of(args: argparse.Namespace) -> dict[str, str]:
    """The query of GET /v1/stats from the command's flags."""
    from kanal_cli.cli import UsageError

    if args.election and (args.from_ or args.to):
        raise UsageError("give --election, or --from and --to, not both")
    if not args.election and not (args.from_ and args.to):
        raise UsageError("give --election ID, or --from DATE and --to DATE")
    query = {"election": args.election} if args.election else {"from": str(args.from_), "to": str(args.to)}
    if args.group_by:
        query["group_by"] = args.group_by
    query["scope"] = args.scope
    return query


def export(args: argparse.Namespace) -> None:
    """Fetch the figures and write them to --out (or print them)."""
    api_url, key = credentials(args)
    status, raw = http_get(f"{api_url.rstrip('/')}/v1/stats?{urlencode(query_of(args))}", key)
    try:
        body: Any = json.loads(raw)
    except ValueError:
        body = None
    if status != 200 or not isinstance(body, dict):
        detail = body.get("detail") if isinstance(body, dict) else raw[:200].decode("utf-8", "replace")
        fields = ", ".join(e.get("field", "") for e in body.get("errors") or []) if isinstance(body, dict) else ""
        raise ExportRefused(f"the API refused ({status}): {detail}" + (f" [{fields}]" if fields else ""))
    content = csv_bytes(body) if args.format == "csv" else json_bytes(body)
    if args.out:
        with open(args.out, "wb") as out:
            out.write(content)
        print(f"{args.out}: {len(body['groups'])} groups, {body['from']} to {body['to']} ({body['scope']})")
    else:
        sys.stdout.write(content.decode("utf-8-sig"))


def add_commands(commands: Any) -> Any:
    """``kanal stats`` with its ``export``; the ``stats`` actions, for the other stats commands to join."""
    stats = commands.add_parser("stats", help="the channel's figures, for partners")
    actions = stats.add_subparsers(dest="action", required=True, metavar="ACTION")
    add_export(actions)
    return actions


def add_export(actions: Any) -> None:
    """``kanal stats export`` among the ``stats`` actions (``kanal_cli.stats_report.add_commands`` returns them)."""
    exporting = actions.add_parser(
        "export", help="your figures (or the nation's, for election agencies) as CSV or JSON"
    )
    exporting.add_argument("--election", type=arguments.identifier, help="an election id of the calendar")
    exporting.add_argument("--from", dest="from_", type=date.fromisoformat, help="first day (WIB), YYYY-MM-DD")
    exporting.add_argument("--to", type=date.fromisoformat, help="last day (WIB), included")
    exporting.add_argument("--scope", choices=["own", "national"], default="own")
    exporting.add_argument(
        "--group-by", default=ALL_GROUPS, help=f"comma-separated keys (default: {ALL_GROUPS}); '' for totals only"
    )
    exporting.add_argument("--format", choices=["csv", "json"], default="csv")
    exporting.add_argument("--out", help="the file to write (default: print)")
    exporting.add_argument("--api-url", type=arguments.text(2048, lines=False), help="the partner API ($KANAL_API_URL)")
    exporting.add_argument("--api-key", help="your partner API key ($KANAL_API_KEY)")
    exporting.add_argument("--partner", help="on the local stack: the demo partner whose key to use (default: first)")
    exporting.set_defaults(func=export)


__all__ = ["add_commands", "add_export", "export", "http_get"]
