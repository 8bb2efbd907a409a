"""The reviewer's commands: ``kanal review`` (interactive), ``review next|decide|ask|release`` and ``cases show``.

Every review command goes through the reviewer API (``review_client``): on AWS signed with the caller's IAM
credentials, which are the reviewer's identity; on the local stack (no IAM) naming the reviewer with
``--reviewer`` or ``$KANAL_REVIEWER``, which only the local stack accepts. ``cases show`` is for leads: it
reads the table with their own rights and shows who holds a case.
"""

from __future__ import annotations

import argparse
import os
import re
import select
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

from kanal import clock, terminal
from kanal.casefile import case_document
from kanal.errors import CaseNotFound, ReviewRefused
from kanal.models import Outcome, Policy
from kanal.reminders import local_time

from kanal_cli import arguments
from kanal_cli.review_client import Caller, ReportsArrived, ReviewDesk, http_send, local_caller, region_of, sigv4

if TYPE_CHECKING:
    from kanal.wiring import Services

ServicesFor = Callable[[argparse.Namespace], "Services"]
#: How often the interactive reviewer's lease is renewed while the case is on screen.
KEEP_EVERY = timedelta(minutes=5)
#: The shortest and longest time a partner is given to answer a question. Under 10 minutes nobody can
#: answer (and the 2-hour reminder would be due before the question is); over 30 days the case is parked
#: past every window it matters in (an agency's statutory window is 7 days, a campaign's quiet period 3) and
#: past the review deadline many times over: decide on what is known instead, or ask again.
SHORTEST_DUE = timedelta(minutes=10)
LONGEST_DUE = timedelta(days=30)
#: The longest statement of reasons or question taken (as long as a report's description).
MAX_TEXT = 5000
#: A reviewer's name on the local stack: what AWS allows as a role session name (which is what a reviewer's
#: name is on AWS: ReviewerRole's trust requires the caller's own IAM user name as the session name).
SESSION_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]{2,64}")


def reviewer_name(text: str) -> str:
    """A reviewer's name on the local stack: 2 to 64 of letters, digits and +=,.@_-, as an IAM session name."""
    if not SESSION_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError("must be 2-64 letters, digits or +=,.@_- (as an IAM role session name)")
    return text


statement = arguments.text(MAX_TEXT, lines=True)


def parse_duration(text: str) -> timedelta:
    """'48h', '30m', '2d' as a duration, from 10 minutes to 30 days."""
    match = re.fullmatch(r"\s*([0-9]+)\s*([mhd])\s*", text, re.ASCII)
    if not match:
        raise argparse.ArgumentTypeError("use a number with m, h or d, such as 48h")
    digits, unit = match.group(1).lstrip("0") or "0", {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    # Six digits at most: timedelta overflows at 999,999,999 days, int() refuses numbers of 4,300 digits.
    duration = timedelta(**{unit: int(digits)}) if len(digits) <= 6 else LONGEST_DUE * 2
    if not SHORTEST_DUE <= duration <= LONGEST_DUE:
        raise argparse.ArgumentTypeError("must be from 10m to 30d")
    return duration


def is_local(url: str) -> bool:
    """Whether a reviewer API URL is the local stack's (plain HTTP on this machine's loopback)."""
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


def review_desk(url: str, caller: Caller, timeout: int) -> ReviewDesk:
    """The reviewer API at ``url``, each request saying who calls with ``caller`` (signed, or the local name)."""
    return ReviewDesk(http_send(url, caller, timeout))


def desk_for(args: argparse.Namespace, services: Services) -> tuple[ReviewDesk, str]:
    """The reviewer API, and whom it will record: the caller's IAM identity on AWS (requests signed with its
    credentials), the name from --reviewer or $KANAL_REVIEWER on the local stack (which has no IAM)."""
    settings = services.settings
    url = getattr(args, "review_api_url", None) or settings.review_api_url
    if not url:
        raise RuntimeError("the reviewer API's URL is unknown (stack output ReviewApiUrl, KANAL_REVIEW_API_URL)")
    named = getattr(args, "reviewer", None) or os.environ.get("KANAL_REVIEWER")
    timeout = getattr(args, "wait", 0) + 15
    if is_local(url):  # the local stack of `kanal dev`, which has no IAM
        if not named:
            raise ReviewRefused("name the reviewer with --reviewer or KANAL_REVIEWER on the local stack")
        try:
            name = reviewer_name(str(named))
        except argparse.ArgumentTypeError as error:  # $KANAL_REVIEWER (the flag was checked by its type)
            raise argparse.ArgumentTypeError(f"KANAL_REVIEWER {error}") from None
        return review_desk(url, local_caller(name), timeout), name
    if named:
        raise argparse.ArgumentTypeError(
            "--reviewer and KANAL_REVIEWER are for the local stack only: on AWS you review as your IAM identity"
        )
    from kanal.adapters.aws import credentials_and_region

    credentials, region = credentials_and_region()
    if credentials is None:
        raise ReviewRefused("no AWS credentials: assume ReviewerRole first (README, Reviewing)")
    region = region_of(url, region)
    if not region:
        raise RuntimeError("no AWS region (AWS_DEFAULT_REGION) for the reviewer API")
    return review_desk(url, sigv4(credentials, region), timeout), "your IAM identity"


def _print(value: Any) -> None:
    print(terminal.json_text(value))


def cmd_next(args: argparse.Namespace, services: Services) -> None:
    """Claim one case and print it; nothing when none arrives within --wait."""
    desk, _ = desk_for(args, services)
    claimed = desk.next(args.wait)
    if claimed is not None:
        _print(claimed["case"])


def cmd_decide(args: argparse.Namespace, services: Services) -> None:
    """Decide a held case; refused, with the new reports printed, if reports arrived since it was claimed (they
    count as seen then: deciding again after reading them goes through)."""
    desk, _ = desk_for(args, services)
    try:
        decided = desk.decide(args.case_id, args.outcome, args.policy, args.reason)
    except ReportsArrived as new:
        _print({"case_id": args.case_id, "new_reports": new.reports})
        raise
    _print(decided)


def cmd_ask(args: argparse.Namespace, services: Services) -> None:
    """Ask the reporting partners for information."""
    desk, _ = desk_for(args, services)
    _print(desk.ask(args.case_id, args.question, args.due))


def cmd_release(args: argparse.Namespace, services: Services) -> None:
    """Give a held case back to its queue."""
    desk, _ = desk_for(args, services)
    _print(desk.release(args.case_id))


def cmd_show(args: argparse.Namespace, services: Services) -> None:
    """A case with its reports, its whole trail and who holds it (for leads, with their own rights)."""
    case = services.cases.get(args.case_id)
    if case is None:
        raise CaseNotFound(args.case_id)
    history = services.trail.history(case.case_id)
    links = None
    if services.settings.evidence_bucket:  # signed with the lead's own session (OperatorRole may read them)
        evidence = services.evidence()
        links = lambda report, file: evidence.link(report.partner_id, report.report_id, file)  # noqa: E731
    document = case_document(case, services.trail.reports_of(case.case_id), clock.now(), history, links=links)
    document["history"] = [e.model_dump(mode="json") for e in history]
    _print(document)


def cmd_replay(args: argparse.Namespace, services: Services) -> None:
    """Send the case builder's parked and failed stream records through again (after a fix)."""
    from kanal.adapters.aws import client
    from kanal.entrypoints.case_builder_function import replay

    url = services.settings.failure_queue_url
    if not url:
        raise RuntimeError("CASE_BUILDER_FAILURE_QUEUE_URL must be set")
    endpoint = services.settings.endpoint_url
    done = replay(
        client("sqs", endpoint), client("dynamodbstreams", endpoint), url, services.case_builder(), clock.now()
    )
    _print({"attached": done.attached, "still_failing": done.still_failing, "expired": done.expired})
    for problem in done.problems:
        print(terminal.line(f"kanal: {problem}"), file=sys.stderr)
    if done.still_failing or done.expired:
        raise ReviewRefused(f"{done.still_failing + done.expired} record(s) could not be replayed; see above")


def _one(value: Any) -> str:
    """A stored value for one line of the case view: every control, bidi and line-breaking character escaped."""
    return terminal.line(str(value))


def _block(value: str, indent: str) -> str:
    """Stored free text at ``indent``: its own newlines kept, but every line of it indented, so that no text of
    a partner starts at the left margin (where kanal's own lines and prompts are)."""
    return indent + terminal.safe(value).replace("\n", "\n" + indent)


def _show_case(doc: dict[str, Any], queue: str, out: Callable[[str], None]) -> None:
    """A claimed case on the reviewer's screen (``doc`` as the reviewer API answers it)."""
    hours, seconds = divmod(doc["seconds_left"], 3600)
    left = f"{hours} h {seconds // 60} min left" if doc["seconds_left"] > 0 else "OVERDUE"
    categories, urgent = _one(", ".join(doc["categories"])), _one(", ".join(doc["urgent_reasons"]) or "-")
    out("")
    out(f"━━ case {_one(doc['case_id'])}  ·  {_one(queue)} queue  ·  {doc['report_count']} report(s)  ·  {left}")
    out(f"   {_one(doc['content_url'])}")
    out(f"   categories: {categories}   urgent because: {urgent}")
    out(f"   review due {_one(_local(doc['review_due_at']))}")
    for asked in doc["questions"]:
        out(f"   ?? asked {_one(_local(asked['asked_at']))}: {_one(asked['question'] or '-')}")
        if asked["answer"]:
            out(f"      answered {_one(_local(asked['answered_at']))}:")
            out(_block(asked["answer"], "      "))
        elif asked["answered_at"]:
            out(f"      not answered by {_one(_local(asked['due_at']))}")
    for report in doc["reports"]:
        _show_report(report, out)


def _local(moment: str | None) -> str:
    return local_time(datetime.fromisoformat(moment)) if moment else "-"


def _show_report(report: dict[str, Any], out: Callable[[str], None]) -> None:
    who = report["partner"] or report["partner_id"]
    who = f"{who} ({report['partner_kind']})" if report["partner_kind"] else who
    out(
        f"   ── {_one(who)} · {_one(report['region'])} · {_one(report['category'])} · "
        f"{_one(_local(report['received_at']))}"
    )
    out(_block(report["description"], "      "))
    for url in report["evidence_urls"]:
        out(f"      evidence: {_one(url)}")
    for file in report.get("evidence", []):
        _show_evidence(file, out)
    if report["legal_basis"]:
        out(_block(f"legal basis: {report['legal_basis']}", "      "))


def _show_evidence(file: dict[str, Any], out: Callable[[str], None]) -> None:
    """One evidence file: its name, type, size and status; a verified one with its SHA-256 and its 5-minute link
    (the link is kanal's own, but shown through the same escaping as everything stored)."""
    size = f"{file['size'] / 1_000_000:.1f} MB" if file["size"] >= 100_000 else f"{file['size']} bytes"
    status = file["status"] if file["status"] != "rejected" else f"rejected: {file['reason'] or '-'}"
    out(f"      file: {_one(file['filename'])} · {_one(file['content_type'])} · {size} · {_one(status)}")
    if file["status"] == "verified":
        out(f"        sha256 {_one(file['sha256'])}")
        if file.get("link"):
            out(f"        open within 5 minutes: {_one(file['link'])}")


def _choose(prompt: str, options: list[str], ask: Callable[[str], str], out: Callable[[str], None]) -> str:
    """One key per choice: its number, or its first letter where no other option shares it, or its name."""
    keys = {str(i): option for i, option in enumerate(options, 1)}
    initials = [option[0] for option in options]
    keys.update({option[0]: option for option in options if initials.count(option[0]) == 1})
    keys.update({option: option for option in options})
    single = all(len(option) == 1 for option in options)
    menu = "/".join(options) if single else "  ".join(f"{i} {option}" for i, option in enumerate(options, 1))
    while True:
        answer = ask(f"{prompt} [{menu}]: ").strip()
        if answer in keys:
            return keys[answer]
        out(f"  choose one of: {menu}")


#: The policy a report's category suggests, offered first when deciding.
SUGGESTED = {
    "misinformation": Policy.MISINFORMATION,
    "election_integrity": Policy.CIVIC_ELECTION_INTEGRITY,
    "campaign_violation": Policy.CIVIC_ELECTION_INTEGRITY,
    "synthetic_media": Policy.SYNTHETIC_MEDIA,
    "hate_speech": Policy.HATE_SPEECH,
}


def policies_for(categories: set[str]) -> list[str]:
    """Every policy, the ones the case's categories suggest first (most suggested first)."""
    counts = {p: sum(1 for c in categories if SUGGESTED.get(c) is p) for p in Policy}
    return [p.value for p in sorted(Policy, key=lambda p: (-counts[p], list(Policy).index(p)))]


def typed_while_waiting(stream: TextIO | None = None) -> str | None:
    """Looked at after each empty wait, without waiting: ``""`` when input has ended, a line the reviewer typed
    at a terminal meanwhile (``q`` stops the loop), None otherwise.

    POSIX select with a zero timeout. A terminal is readable when a line or Ctrl-D is pending: that line is
    read (a Ctrl-D reads as ""). A pipe or file is readable when data or its end is: its data is left for the
    prompts (peeked, not read) and only its end counts. A stream select cannot watch (no file descriptor,
    Windows consoles) gives None: the loop then stops at the next prompt's end of input, as before."""
    stream = sys.stdin if stream is None else stream
    try:
        ready, _, _ = select.select([stream], [], [], 0)
        if not ready:
            return None
        if stream.isatty():
            return stream.readline()
        buffered: Any = stream.buffer  # a BufferedReader under sys.stdin: peek() reads ahead without consuming
        ahead = buffered.peek(1)
    except (AttributeError, OSError, ValueError):  # no fileno or buffer, closed, not selectable here
        return None
    return "" if not ahead else None


def _safe_lines(out: Callable[[str], None]) -> Callable[[str], None]:
    """``out`` for the reviewer's screen: every control and bidi character in a line shown, never obeyed."""
    return lambda text: out(terminal.safe(text))


def cmd_interactive(
    args: argparse.Namespace,
    services: Services,
    ask: Callable[[str], str] = input,
    out: Callable[[str], None] = print,
    typed: Callable[[], str | None] = typed_while_waiting,
) -> None:
    """The reviewer's loop: next case, decide / ask / release, next case, until q or end of input (Ctrl-D),
    also while the queues are empty (``typed`` is looked at after each empty wait)."""
    desk, who = desk_for(args, services)
    out = _safe_lines(out)
    out(f"kanal review as {who}: urgent cases first. q or Ctrl-D to stop.")
    while True:
        claimed = desk.next(args.wait)
        if claimed is None:
            line = typed()
            if line == "" or (line is not None and line.strip() == "q"):
                out("stopped")
                return
            out(f"no case in the last {args.wait} s; waiting again (q or Ctrl-D to stop)")
            continue
        doc = claimed["case"]
        stop = threading.Event()
        keeper = threading.Thread(target=_keep_lease, args=(desk, doc["case_id"], stop), daemon=True, name="lease")
        keeper.start()
        try:
            _show_case(doc, claimed["queue"], out)
            if not _work_on(desk, doc, ask, out):
                return
        finally:
            stop.set()


def _work_on(desk: ReviewDesk, doc: dict[str, Any], ask: Callable[[str], str], out: Callable[[str], None]) -> bool:
    """Act on one held case until it is decided, asked about or released; False when the reviewer stops."""
    case_id = doc["case_id"]
    while True:
        try:
            action = _choose("decide, ask the partner, release, quit", ["d", "a", "r", "q"], ask, out)
            if action == "d":
                outcome = _choose("outcome", [o.value for o in Outcome], ask, out)
                policy = _choose("policy", policies_for(set(doc["categories"])), ask, out)
                reason = statement(ask("statement of reasons: "))
                try:
                    desk.decide(case_id, outcome, policy, reason)
                except ReportsArrived as new:
                    out(f"── {new}:")
                    for report in new.reports:
                        _show_report(report, out)
                    continue
                out(f"decided: {outcome} under {policy}")
            elif action == "a":
                question = statement(ask("question for the partner: "))
                due = parse_duration(ask("answer due in (e.g. 48h): ") or "48h")
                desk.ask(case_id, question, due)
                out("asked; the case returns to the queue when the partner answers")
            else:
                desk.release(case_id)
                out("released")
            return action != "q"
        except EOFError:
            desk.release(case_id)
            out("released")
            return False
        except (ReviewRefused, argparse.ArgumentTypeError) as refused:
            out(f"refused: {refused}")
            claim = desk.case(case_id).get("claim") or {}
            if not claim.get("held_by_you"):
                return True  # the case is gone from this reviewer; on to the next


def _keep_lease(desk: ReviewDesk, case_id: str, stop: threading.Event) -> None:
    while not stop.wait(KEEP_EVERY.total_seconds()):
        try:
            desk.keep(case_id)
        except Exception:  # the claim may have been decided or lost meanwhile; the next action says so
            return


def add_commands(
    commands: Any, services_for: ServicesFor, run: Callable[..., Callable[[argparse.Namespace], None]]
) -> None:
    """Register ``review`` and ``cases`` on the top-level parser."""
    review = commands.add_parser("review", help="review cases from the queues (interactive without an action)")
    review.add_argument(
        "--reviewer",
        type=reviewer_name,
        help="local stack only: the reviewer's name (default: $KANAL_REVIEWER); on AWS your IAM identity is used",
    )
    review.add_argument(
        "--review-api-url",
        type=arguments.endpoint_url,
        default=argparse.SUPPRESS,
        help="the reviewer API (default: $KANAL_REVIEW_API_URL, else the stack output ReviewApiUrl)",
    )
    review.add_argument(
        "--wait", type=arguments.wait_seconds, default=20, help="seconds to wait for a case, 0-20 (default 20)"
    )
    review.set_defaults(func=run(cmd_interactive))
    actions = review.add_subparsers(dest="action", metavar="ACTION")

    def action(
        name: str, handler: Callable[[argparse.Namespace, Services], None], text: str
    ) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = actions.add_parser(name, help=text)
        parser.add_argument(
            "--reviewer", type=reviewer_name, default=argparse.SUPPRESS, help="local stack only: the reviewer's name"
        )
        parser.set_defaults(func=run(handler))
        return parser

    nxt = action("next", cmd_next, "claim the next case and print it as JSON")
    nxt.add_argument("--json", action="store_true", help="print JSON (the only format; kept for scripts)")
    nxt.add_argument(
        "--wait", type=arguments.wait_seconds, default=argparse.SUPPRESS, help="seconds to wait for a case, 0-20"
    )
    decide = action("decide", cmd_decide, "decide a case you hold")
    decide.add_argument("case_id", type=arguments.identifier)
    decide.add_argument("--outcome", required=True, choices=[o.value for o in Outcome])
    decide.add_argument("--policy", required=True, choices=[p.value for p in Policy])
    decide.add_argument("--reason", required=True, type=statement, help="statement of reasons (at least 10 characters)")
    ask = action("ask", cmd_ask, "ask the reporting partners for information")
    ask.add_argument("case_id", type=arguments.identifier)
    ask.add_argument("--question", required=True, type=statement)
    ask.add_argument("--due", type=parse_duration, default=timedelta(hours=48), help="10m to 30d, e.g. 48h (default)")
    release = action("release", cmd_release, "give a case you hold back to its queue")
    release.add_argument("case_id", type=arguments.identifier)

    cases = commands.add_parser("cases", help="look at cases")
    case_actions = cases.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = case_actions.add_parser("show", help="a case with its reports and history")
    show.add_argument("case_id", type=arguments.identifier)
    show.set_defaults(func=run(cmd_show))
    replay = case_actions.add_parser(
        "replay", help="send parked and failed stream records through the case builder again (after a fix)"
    )
    replay.set_defaults(func=run(cmd_replay))
