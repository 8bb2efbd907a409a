"""Content keys: which reports are about the same piece of TikTok content.

The key is the post id where the URL names one, so that every spelling of a
video's URL maps to one case: host case, m./www./bare host, the ``@user`` part,
keyword case, percent-escapes of unreserved characters, doubled slashes,
``;params`` on segments, dot segments, leading zeros in the id, a trailing
slash, the query and the fragment. Short links (vt./vm.tiktok.com/<code> and
tiktok.com/t/<code>) keep their code exactly, case included, because resolving
them would mean calling TikTok from the request path. Other pages (profiles,
tags) are normalized the same way and then lower-cased.

The path is read segment by segment, without nested quantifiers, so the cost
is linear in the URL's length whatever its content.
"""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import urlsplit

TIKTOK_HOSTS = frozenset({"tiktok.com", "www.tiktok.com", "m.tiktok.com", "vt.tiktok.com", "vm.tiktok.com"})
SHORT_LINK_HOSTS = frozenset({"vt.tiktok.com", "vm.tiktok.com"})

# TikTok post ids are 64-bit snowflakes below 2**63: at most 19 digits once leading zeros are dropped.
MAX_VIDEO_ID = 2**63 - 1

_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
# Unreserved characters (RFC 3986 section 2.3) and "@", which has no delimiting role inside a path:
# their escapes mean the character itself. Every other escape stays encoded (with upper-case hex),
# so an encoded "/" or ";" never becomes a segment or parameter delimiter.
_DECODED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~@")
_ASCII_DIGITS = re.compile(r"[0-9]+", re.ASCII)


def content_key(url: str) -> str:
    """The key shared by every report about the content at ``url``.

    Raises ``ValueError`` when ``url`` is not an https URL on a TikTok host, or
    when it has the shape of a video URL whose id is not a TikTok post id.
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
    segments = _segments(parts.path)
    if host in SHORT_LINK_HOSTS:
        if not segments:
            raise ValueError("short link has no code")
        return f"https://{host}/" + "/".join(segments)
    if segments and _keyword(segments[0], "t"):
        if len(segments) == 1:
            raise ValueError("short link has no code")
        if len(segments) == 2:
            return f"https://tiktok.com/t/{segments[1]}"
    video = _video_id_segment(segments)
    if video is not None:
        return f"tiktok:video:{_video_id(video)}"
    # Non-video pages (profiles, tags, lives) are case-insensitive on TikTok.
    return "https://tiktok.com" + "".join("/" + segment for segment in segments).lower()


def case_id_for(key: str) -> str:
    """The case id of a content key: derived, so finding a case never needs a lookup table."""
    digest = hashlib.sha256(key.encode()).digest()
    return "c_" + base64.b32encode(digest).decode().lower().rstrip("=")[:26]


def _segments(path: str) -> list[str]:
    """The path's segments: escapes of unreserved characters decoded, ``;params`` and empty segments dropped,
    dot segments resolved."""
    segments: list[str] = []
    for raw in path.split("/"):
        segment = _ESCAPE.sub(_decode_escape, raw.partition(";")[0])
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    return segments


def _decode_escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _DECODED else "%" + match.group(1).upper()


def _keyword(segment: str, word: str) -> bool:
    """Whether ``segment`` is ``word`` in any ASCII case (a non-ASCII look-alike is not)."""
    return segment.isascii() and segment.lower() == word


def _video_id_segment(segments: list[str]) -> str | None:
    """The segment in a video URL's id position, or None when the path is not a video URL.

    Video URLs: /@user/video/<id>, /@user/photo/<id>, /v/<id>.html, /embed/<id>, /embed/v2/<id>,
    /player/v1/<id>.
    """
    match segments:
        case [user, kind, video] if user.startswith("@") and (_keyword(kind, "video") or _keyword(kind, "photo")):
            return video
        case [v, page] if _keyword(v, "v") and _keyword(page[-len(".html") :], ".html"):
            return page[: -len(".html")]
        case [embed, video] if _keyword(embed, "embed"):
            return video
        case [embed, v2, video] if _keyword(embed, "embed") and _keyword(v2, "v2"):
            return video
        case [player, v1, video] if _keyword(player, "player") and _keyword(v1, "v1"):
            return video
    return None


def _video_id(segment: str) -> str:
    """The canonical id (ASCII digits, no leading zeros) of a video URL's id segment."""
    if not _ASCII_DIGITS.fullmatch(segment):
        raise ValueError("names a TikTok video but its id is not made of the digits 0-9")
    video = segment.lstrip("0")
    if not video:
        raise ValueError("names a TikTok video but its id is zero")
    if len(video) > len(str(MAX_VIDEO_ID)) or int(video) > MAX_VIDEO_ID:
        raise ValueError("names a TikTok video but its id is beyond TikTok's 64-bit ids")
    return video
