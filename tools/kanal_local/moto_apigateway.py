"""API Gateway's FlushStageAuthorizersCache on moto, for the local stack and the tests.

moto 5.2.5 has no route for ``DELETE /restapis/{id}/stages/{stage}/cache/authorizers``, so `kanal partners
revoke-key` would fail on it. This adds the route to moto's API Gateway URLs (both its in-process mock and its
server read them when they route a request) and answers as API Gateway does: 202, no body. The REST APIs of
the local stack are not in moto (the local gateway serves them from the template), so the flush does not
check that the API exists; it tells each listener (``on_flush``: the local gateway empties its authorizer
cache for that API and stage).

It patches moto (not AWS) once per process: this is an emulator's addition.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from threading import Lock
from typing import Any
from urllib.parse import unquote, urlsplit

Listener = Callable[[str, str], None]

_LISTENERS: list[Listener] = []
_LOCK = Lock()
_PATCHED = False
PATH = r"{0}/restapis/(?P<function_id>[^/]+)/stages/(?P<stage_name>[^/]+)/cache/authorizers/?$"
_MATCH = re.compile(r"/restapis/([^/]+)/stages/([^/]+)/cache/authorizers/?$")


def on_flush(listener: Listener) -> Callable[[], None]:
    """Call ``listener(api_id, stage)`` at each flush from now on; the function that stops it."""
    with _LOCK:
        _LISTENERS.append(listener)

    def stop() -> None:
        with _LOCK:
            if listener in _LISTENERS:
                _LISTENERS.remove(listener)

    return stop


def flush_stage_authorizers_cache(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    """moto's handler for the flush: 202 to a DELETE (as API Gateway answers), after telling the listeners."""
    method = str(getattr(request, "method", "DELETE")).upper()
    found = _MATCH.search(urlsplit(full_url).path)
    if method != "DELETE" or found is None:
        return 404, {}, '{"message": "Not Found"}'
    api_id, stage = unquote(found.group(1)), unquote(found.group(2))
    with _LOCK:
        listeners = list(_LISTENERS)
    for listener in listeners:
        listener(api_id, stage)
    return 202, {}, ""


def install() -> None:
    """Add the flush to moto's API Gateway routes (idempotent; before moto's server first routes API Gateway)."""
    global _PATCHED
    if _PATCHED:
        return
    import moto.apigateway.urls as urls

    urls.url_paths[PATH] = flush_stage_authorizers_cache
    _PATCHED = True
