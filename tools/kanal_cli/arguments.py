"""The CLI's argument types: each refuses a bad value with argparse.ArgumentTypeError, which the parser turns
into one line on stderr and exit status 2 (cli.py), never a traceback from deep inside a command.

Every value is bounded where the code that uses it has a limit (SQS's long poll, timedelta, DynamoDB's and
CloudFormation's names, TCP ports), and text that is stored and shown to others follows intake's rule for
free text (terminal.py: no control character but newline and tab, no bidi control).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from kanal import terminal

#: SQS's longest long poll (ReceiveMessage's WaitTimeSeconds).
MAX_WAIT = 20
#: --now: years of the calendar kanal may run reminders for, with room for the look-backs' date arithmetic.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
_ID = re.compile(r"[A-Za-z0-9_-]{1,100}", re.ASCII)
_TABLE = re.compile(r"[A-Za-z0-9_.-]{3,255}", re.ASCII)
_STACK = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}", re.ASCII)
_NUMBER = re.compile(r"\s*[0-9]{1,6}\s*", re.ASCII)


def identifier(text: str) -> str:
    """An id as kanal gives them out (p_…, k_…, c_…, r_…): letters, digits, _ and -, at most 100."""
    if not _ID.fullmatch(text):
        raise argparse.ArgumentTypeError("must be an id such as c_… or p_…: letters, digits, _ and - only")
    return text


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high`` (ASCII digits, at most six of them: int() would take Unicode
    digits and thousands of them)."""

    def parse(text: str) -> int:
        number = int(text) if _NUMBER.fullmatch(text) else None
        if number is None or not low <= number <= high:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high}")
        return number

    parse.__name__ = "number"
    return parse


def wait_seconds(text: str) -> int:
    """Seconds to long-poll the queues: 0 to 20, SQS's maximum."""
    return bounded_int(0, MAX_WAIT)(text)


def port(text: str) -> int:
    """A TCP port to listen on."""
    return bounded_int(1, 65535)(text)


def text(limit: int, *, lines: bool) -> Callable[[str], str]:
    """Text that is stored and shown to others: intake's rule (CRLF as LF; no control character but newline
    and tab, no bidi control), not empty, at most ``limit`` characters; one line unless ``lines``."""

    def parse(value: str) -> str:
        value = value.replace("\r\n", "\n").strip()
        problem = terminal.refusal(value)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        if not lines and "\n" in value:
            raise argparse.ArgumentTypeError("must be one line")
        if not value or len(value) > limit:
            raise argparse.ArgumentTypeError(f"must be 1 to {limit} characters")
        return value

    parse.__name__ = "text"
    return parse


def endpoint_url(value: str) -> str:
    """An AWS endpoint: http(s)://host[:port] (botocore would raise ValueError from inside a command)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - ValueError unless a number 0-65535
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or not value.isprintable():
        raise argparse.ArgumentTypeError("must be an http(s) URL such as http://127.0.0.1:4566")
    return value


def table_name(value: str) -> str:
    """A DynamoDB table name: 3 to 255 letters, digits, _ . and -."""
    if not _TABLE.fullmatch(value):
        raise argparse.ArgumentTypeError("must be a DynamoDB table name: 3 to 255 letters, digits, _ . and -")
    return value


def stack_name(value: str) -> str:
    """A CloudFormation stack name: a letter, then letters, digits and -, at most 128."""
    if not _STACK.fullmatch(value):
        raise argparse.ArgumentTypeError("must be a stack name: a letter, then letters, digits and -, at most 128")
    return value


def moment(value: str) -> datetime:
    """An ISO 8601 time with a UTC offset, from 2000 to 2099."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise argparse.ArgumentTypeError("must be an ISO time with a UTC offset, e.g. 2026-11-25T09:00:00+07:00")
    try:
        inside = EARLIEST <= parsed.astimezone(UTC) < LATEST
    except OverflowError:  # 0001-01-01T00:00:00+14:00 has no UTC equivalent
        inside = False
    if not inside:
        raise argparse.ArgumentTypeError("must be from 2000 to 2099")
    return parsed


def day(value: str) -> date:
    """A calendar date, YYYY-MM-DD, from 2000 to 2099 (ASCII digits only)."""
    try:
        parsed = date.fromisoformat(value) if value.isascii() and len(value) == 10 else None
    except ValueError:
        parsed = None
    if parsed is None or not EARLIEST.date() <= parsed < LATEST.date():
        raise argparse.ArgumentTypeError("must be a date from 2000 to 2099 such as 2024-02-14 (YYYY-MM-DD)")
    return parsed


_RATE = re.compile(r"[0-9]{1,5}(\.[0-9]{1,3})?", re.ASCII)
_QUOTA = re.compile(r"[0-9]{1,10}", re.ASCII)


def rate(text: str) -> float:
    """Requests per second for a usage plan: more than 0, at most 10000, up to three decimals (0.5: one every
    two seconds)."""
    value = float(text) if _RATE.fullmatch(text.strip()) else 0.0
    if not 0 < value <= 10000:
        raise argparse.ArgumentTypeError("must be requests per second, more than 0 and at most 10000 (e.g. 20 or 0.5)")
    return value


def quota(text: str) -> int:
    """Requests per quota period: a whole number, 0 (no quota) to 2000000000."""
    value = int(text) if _QUOTA.fullmatch(text.strip()) else -1
    if not 0 <= value <= 2_000_000_000:
        raise argparse.ArgumentTypeError("must be a whole number of requests from 0 (no quota) to 2000000000")
    return value
