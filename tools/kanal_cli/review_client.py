"""The reviewer API as ``kanal review`` calls it: signed with the caller's IAM credentials on AWS, or naming the
reviewer to the local stack (which has no IAM).

Every answer is JSON; refusals are problem documents, turned here into the domain's errors so that the
commands print one line for each.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from kanal.errors import CaseNotFound, KanalError, ReviewRefused
from kanal_local import LOCAL_CALLER_HEADER

#: (method, path under the API's base URL, JSON body or None) -> (status, parsed JSON body or None)
Send = Callable[[str, str, dict[str, Any] | None], tuple[int, Any]]
#: Who is calling: (method, URL, body, the headers already set) -> the headers that say so.
Caller = Callable[[str, str, bytes, dict[str, str]], dict[str, str]]
#: The longest wait one call to /next takes (the API's own limit).
MAX_WAIT_SECONDS = 20


class ReviewApiFailed(KanalError):
    """The reviewer API could not be reached or failed on its side; nothing is known to have changed."""


class ReportsArrived(ReviewRefused):
    """A decision refused because reports arrived since the reviewer's view; ``reports`` are the new ones as the
    API showed them (they count as seen now: deciding again after reading them goes through)."""

    def __init__(self, detail: str, reports: list[dict[str, Any]]) -> None:
        super().__init__(detail)
        self.reports = reports


@dataclass(frozen=True)
class ReviewDesk:
    """The operations of review, on the reviewer API."""

    send: Send

    def next(self, wait_seconds: int) -> dict[str, Any] | None:
        """Claim the next case (urgent first): ``{"queue", "case"}``, or None if none came within the wait (the
        API may answer "none yet" early, after settling stale messages: it is asked again until the wait is up)."""
        deadline = time.monotonic() + wait_seconds
        while True:
            remaining = max(0, math.ceil(deadline - time.monotonic()))
            status, body = self._call("POST", "/v1/review/next", {"wait_seconds": min(remaining, MAX_WAIT_SECONDS)})
            if status != 204:
                return body  # type: ignore[no-any-return]
            if remaining <= 0 or time.monotonic() >= deadline:
                return None

    def case(self, case_id: str) -> dict[str, Any]:
        """A case as a reviewer sees it (its claim says whether it is yours, and until when)."""
        return self._call("GET", f"/v1/review/cases/{quote(case_id, safe='')}", None)[1]  # type: ignore[no-any-return]

    def keep(self, case_id: str) -> dict[str, Any]:
        """Extend the lease on a case you hold."""
        return self._on(case_id, "keep", None)

    def decide(self, case_id: str, outcome: str, policy: str, reason: str) -> dict[str, Any]:
        """Decide a case you hold; ReportsArrived if reports came since you looked."""
        return self._on(case_id, "decision", {"outcome": outcome, "policy": policy, "reason": reason})

    def ask(self, case_id: str, question: str, due: timedelta) -> dict[str, Any]:
        """Ask the reporting partners; the case leaves the queues until they answer."""
        minutes = int(due.total_seconds() // 60)
        return self._on(case_id, "question", {"question": question, "due_in_minutes": minutes})

    def release(self, case_id: str) -> dict[str, Any]:
        """Give a case you hold back to its queue."""
        return self._on(case_id, "release", None)

    def _on(self, case_id: str, action: str, body: dict[str, Any] | None) -> dict[str, Any]:
        return self._call("POST", f"/v1/review/cases/{quote(case_id, safe='')}/{action}", body)[1]  # type: ignore[no-any-return]

    def _call(self, method: str, path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        status, answer = self.send(method, path, body)
        if status < 400:
            return status, answer
        detail = str((answer or {}).get("detail") or f"HTTP {status}") if isinstance(answer, dict) else f"HTTP {status}"
        if status == 404 and "/cases/" in path:
            raise CaseNotFound(path.split("/cases/", 1)[1].split("/", 1)[0])
        if status == 409 and isinstance(answer, dict) and answer.get("new_reports") is not None:
            raise ReportsArrived(detail, list(answer["new_reports"]))
        if status in (409, 422):
            errors = answer.get("errors") if isinstance(answer, dict) else None
            fields = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors or [])
            raise ReviewRefused(fields or detail)
        if status in (401, 403):
            raise ReviewRefused(f"the reviewer API refused your identity: {detail}")
        raise ReviewApiFailed(f"the reviewer API answered {status}: {detail}")


def http_send(base_url: str, headers: Caller, timeout: int = 30, name: str = "the reviewer API") -> Send:
    """A Send over HTTPS (or the local stack's HTTP) through botocore's own HTTP session (its TLS settings and
    proxies, as every AWS call of the CLI); ``headers(method, url, body)`` adds who is calling. ``name`` is the
    API as errors name it (``kanal smoke`` calls the partner API with it too)."""
    from botocore.awsrequest import AWSRequest
    from botocore.exceptions import ConnectionError as Unreachable
    from botocore.exceptions import HTTPClientError
    from botocore.httpsession import URLLib3Session

    base = base_url.rstrip("/")
    if urlsplit(base).scheme not in ("http", "https"):
        raise ValueError(f"the URL of {name} must be http(s)")
    session = URLLib3Session(timeout=timeout)

    def send(method: str, path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        url = base + path
        data = json.dumps(body).encode() if body is not None else b""
        head = {"Content-Type": "application/json", "Accept": "application/json"} if body is not None else {}
        head.update(headers(method, url, data, head))
        request = AWSRequest(method=method, url=url, data=data or None, headers=head)
        try:
            answer = session.send(request.prepare())
        except (HTTPClientError, Unreachable) as error:  # refused, timed out, no route, proxy or TLS failures
            raise ReviewApiFailed(f"{name} at {base} could not be reached ({error})") from error
        return answer.status_code, _parsed(answer.content)

    return send


def _parsed(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return {"detail": raw[:200].decode("utf-8", "replace")}


def sigv4(credentials: Any, region: str) -> Caller:
    """Headers that sign a request (its method, URL, body and the headers it already has) with IAM credentials
    for API Gateway (service execute-api); the credentials are refreshed as botocore refreshes them."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    def sign(method: str, url: str, body: bytes, present: dict[str, str]) -> dict[str, str]:
        request = AWSRequest(method=method, url=url, data=body, headers=dict(present))
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
        return {k: v for k, v in request.headers.items() if k not in present}

    return sign


def local_caller(name: str) -> Caller:
    """The local stack's stand-in for IAM: the reviewer named in a header that only the local gateway reads."""
    return lambda method, url, body, present: {LOCAL_CALLER_HEADER: name}


def region_of(url: str, default: str | None) -> str | None:
    """The region in an execute-api URL (https://<id>.execute-api.<region>.amazonaws.com/<stage>)."""
    host = urlsplit(url).hostname or ""
    parts = host.split(".")
    if len(parts) >= 4 and parts[1] == "execute-api":
        return parts[2]
    return default
