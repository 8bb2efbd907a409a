"""The partner API as the CLI's partner-facing commands call it (``kanal stats``, ``kanal webhooks listen``...): a
base URL and a partner's key, JSON in and out, and refusals (RFC 9457 problem documents) turned into one clear line.

Where the URL and key come from, first found wins: ``--api-url``/``--api-key``, then ``KANAL_API_URL`` and
``KANAL_API_KEY``, then the local stack of ``kanal dev`` (``.kanal/dev.json``: its API and the key of the demo
partner named by ``--partner``, the first one by default).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from kanal import terminal
from kanal.errors import KanalError

from kanal_cli import arguments

#: The longest answer read (the API's answers are a few hundred KB at most).
MAX_ANSWER = 16 << 20


class PartnerApiFailed(KanalError):
    """The partner API could not be reached, failed on its side (5xx) or did not answer JSON."""


class PartnerApiRefused(KanalError):
    """The partner API refused the request (4xx); ``problem`` is its problem document as it came."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.problem = dict(problem)
        super().__init__(describe(status, problem))


def describe(status: int, problem: Mapping[str, Any], verb: str = "refused") -> str:
    """One line for a problem document: its status and title, its detail, and each field's message."""
    title = str(problem.get("title") or verb)
    parts = [f"the partner API {verb} ({status} {title})"]
    if problem.get("detail"):
        parts.append(str(problem["detail"]))
    errors = problem.get("errors")
    if isinstance(errors, list):
        parts.extend(f"{e.get('field', '?')}: {e.get('message', '?')}" for e in errors[:10] if isinstance(e, Mapping))
    return terminal.line(": ".join(parts[:2]) + "".join(f"; {p}" for p in parts[2:]))


@dataclass(frozen=True)
class Answer:
    """One answer: its status, its parsed JSON body (None when empty) and its headers (lower-cased names)."""

    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PartnerApi:
    """The partner API at ``base_url``, called with one partner's key."""

    base_url: str
    api_key: str
    timeout: int = 30

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | None] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """Send one request (``path`` under the base URL; query parameters that are None left out) and answer
        whatever came back; PartnerApiFailed if nothing did."""
        from botocore.awsrequest import AWSRequest
        from botocore.exceptions import ConnectionError as Unreachable
        from botocore.exceptions import HTTPClientError
        from botocore.httpsession import URLLib3Session

        url = self.base_url.rstrip("/") + path
        kept = {k: v for k, v in (query or {}).items() if v is not None}
        if kept:
            url += "?" + urlencode(kept)
        head = {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            head["Content-Type"] = "application/json"
        head.update(headers or {})
        request = AWSRequest(method=method, url=url, data=data, headers=head)
        try:
            answer = URLLib3Session(timeout=self.timeout).send(request.prepare())
        except (HTTPClientError, Unreachable) as error:  # refused, timed out, no route, proxy or TLS failures
            raise PartnerApiFailed(f"the partner API at {self.base_url} could not be reached ({error})") from error
        raw = answer.content[: MAX_ANSWER + 1]
        if len(raw) > MAX_ANSWER:
            raise PartnerApiFailed(f"the partner API answered more than {MAX_ANSWER} bytes")
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = {"detail": terminal.line(raw[:200].decode("utf-8", "replace"))}
            if answer.status_code < 400:
                raise PartnerApiFailed(f"the partner API answered {answer.status_code} but not JSON") from None
        return Answer(answer.status_code, parsed, {k.lower(): v for k, v in answer.headers.items()})

    def call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | None] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """The JSON body of a 2xx answer; PartnerApiRefused for a 4xx (the problem document in one line),
        PartnerApiFailed for anything else."""
        answer = self.request(method, path, query=query, body=body, headers=headers)
        if 200 <= answer.status < 300:
            return answer.body
        problem = answer.body if isinstance(answer.body, Mapping) else {}
        if 400 <= answer.status < 500:
            raise PartnerApiRefused(answer.status, problem)
        raise PartnerApiFailed(describe(answer.status, problem, "failed"))

    def get(self, path: str, query: Mapping[str, str | None] | None = None) -> Any:
        """GET ``path`` and answer its JSON."""
        return self.call("GET", path, query=query)

    def post(self, path: str, body: Any, headers: Mapping[str, str] | None = None) -> Any:
        """POST ``body`` as JSON to ``path`` and answer its JSON."""
        return self.call("POST", path, body=body, headers=headers)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that say which partner API, and whose key."""
    parser.add_argument("--api-url", type=arguments.endpoint_url, help="the partner API ($KANAL_API_URL)")
    parser.add_argument("--api-key", help="your partner API key ($KANAL_API_KEY)")
    parser.add_argument("--partner", help="on the local stack: the demo partner whose key to use (default: first)")


def credentials(args: argparse.Namespace) -> tuple[str, str]:
    """The partner API's URL and the key to call it with: flags, then the environment, then ``kanal dev``'s
    demo partner named by ``--partner``."""
    from kanal_cli.cli import UsageError, dev_settings

    dev = dev_settings() or {}
    url = args.api_url or os.environ.get("KANAL_API_URL") or dev.get("api_url")
    key = args.api_key or os.environ.get("KANAL_API_KEY")
    if not key and dev.get("partners"):
        wanted = (args.partner or "").casefold()
        found = [p for p in dev["partners"] if not wanted or p["name"].casefold() == wanted]
        if not found:
            names = ", ".join(p["name"] for p in dev["partners"])
            raise UsageError(f"no demo partner named {args.partner!r} (the local stack has {names})")
        key = found[0]["api_key"]
    if not url or not key:
        raise UsageError("pass --api-url and --api-key (or KANAL_API_URL, KANAL_API_KEY; or run `kanal dev` here)")
    if urlsplit(str(url)).scheme not in ("http", "https"):
        raise UsageError("the partner API's URL must be http(s)")
    return str(url), str(key)


def connect(args: argparse.Namespace, timeout: int = 30) -> PartnerApi:
    """The partner API for the command's flags (``credentials``)."""
    url, key = credentials(args)
    return PartnerApi(url, key, timeout)
