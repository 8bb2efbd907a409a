"""Content keys: which reports are about the same piece of TikTok content.

The key is the video id where the URL holds one, so that every spelling of a
video's URL (host case, m./www., query string, fragment, trailing slash) maps
to one case. Other URLs are normalized; short links (vt./vm.) stay as given
because resolving them would mean calling TikTok from the request path.
"""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import urlsplit

TIKTOK_HOSTS = frozenset({"tiktok.com", "www.tiktok.com", "m.tiktok.com", "vt.tiktok.com", "vm.tiktok.com"})
SHORT_LINK_HOSTS = frozenset({"vt.tiktok.com", "vm.tiktok.com"})

_VIDEO_PATHS = (
    re.compile(r"^/@[^/]+/video/(\d+)$"),
    re.compile(r"^/v/(\d+)\.html$"),
)


def content_key(url: str) -> str:
    """The key shared by every report about the content at ``url``.

    Raises ``ValueError`` when ``url`` is not an https URL on a TikTok host.
    """
    parts = urlsplit(url.strip())
    if parts.scheme.lower() != "https":
        raise ValueError("must be an https URL")
    host = (parts.hostname or "").lower()
    if host not in TIKTOK_HOSTS:
        raise ValueError(
            "must be on a TikTok host: tiktok.com, www.tiktok.com, m.tiktok.com, vt.tiktok.com or vm.tiktok.com"
        )
    if parts.username or parts.password or parts.port not in (None, 443):
        raise ValueError("must not carry credentials or a port")
    path = parts.path.rstrip("/")
    if host in SHORT_LINK_HOSTS:
        if not path:
            raise ValueError("short link has no code")
        return f"https://{host}{path}"
    for pattern in _VIDEO_PATHS:
        match = pattern.match(path)
        if match:
            return f"tiktok:video:{match.group(1)}"
    # Non-video pages (profiles, tags, lives) are case-insensitive on TikTok.
    return f"https://tiktok.com{path.lower()}"


def case_id_for(key: str) -> str:
    """The case id of a content key: derived, so finding a case never needs a lookup table."""
    digest = hashlib.sha256(key.encode()).digest()
    return "c_" + base64.b32encode(digest).decode().lower().rstrip("=")[:26]
