"""The channel's figures as ``GET /v1/stats`` answers them, for the report's tests: answers made to order (fixed, in
the seeds' proportions, or drawn by hypothesis with hostile labels and personal-looking extra fields), the page's
marked figures read back, and a stand-in partner API on 127.0.0.1 that serves canned answers (the endpoint itself
is built elsewhere; the CLI is tested against its contract).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from hypothesis import strategies as st
from kanal.models import Category, Outcome, Policy

COUNTS = ("reports", "cases", "decided", "removed", "restricted", "labelled", "no_violation", "pending")
MEASURES = ("median_hours_to_decision", "p90_hours_to_decision", "decided_within_sla_share")
#: Fields a careless API could add: none of their values may reach the page.
PERSONAL = {
    "description": "Video ini memfitnah Budi Santoso, 0812-3456-7890",
    "partner_name": "Perkumpulan Rahasia Sekali",
    "reviewer": "arn:aws:sts::123456789012:assumed-role/ReviewerRole/siti.rahma",
    "reporter_email": "siti.rahma@example.org",
    "url": "https://www.tiktok.com/@akun.pribadi/video/7234567890123456789",
}
#: Text that must come out as text: markup, a script, an entity, a bidi override, quotes that would end an attribute.
HOSTILE = ('<script>alert("x")</script>', "\"' onmouseover=alert(1) x='", "&amp;&lt;", "\u202eevil", "</td></tr>")
WINDOW = {"scope": "national", "from": "2023-11-28", "to": "2024-02-15"}
#: The seeds' removals in the Pemilu 2024 window (domain.md), by policy.
SEEDS_REMOVED = {"misinformation": 17195, "civic_election_integrity": 38002, "synthetic_media": 3529}


def figures(reports: int, **changed: Any) -> dict[str, Any]:
    """Figures consistent enough to read as real ones, ``reports`` sized."""
    decided = reports * 2 // 3
    base: dict[str, Any] = {
        "reports": reports,
        "cases": reports * 3 // 4,
        "decided": decided,
        "removed": decided // 2,
        "restricted": decided // 10,
        "labelled": decided // 12,
        "no_violation": decided - decided // 2 - decided // 10 - decided // 12,
        "pending": reports * 3 // 4 - decided,
        "median_hours_to_decision": 3.25 if decided else None,
        "p90_hours_to_decision": 19.5 if decided else None,
        "decided_within_sla_share": 0.875 if decided else None,
    }
    return {**base, **changed}


def seeds_views(window: Mapping[str, Any] = WINDOW) -> dict[str, dict[str, Any]]:
    """An answer for each grouping, with the seeds' removals by policy, twelve weeks, provinces and a province
    unknown, every outcome and category, personal-looking extra fields everywhere, and hostile week labels."""
    removed = sum(SEEDS_REMOVED.values())
    totals = figures(120_000, removed=removed, **PERSONAL)
    weeks = [f"2023-W{w}" for w in range(48, 53)] + [f"2024-W{w:02d}" for w in range(1, 8)]
    provinces = ["31", "32", "33", "35", "36", "73", "12", "94"]

    def view(groups: list[dict[str, Any]]) -> dict[str, Any]:
        return {**window, "totals": totals, "groups": groups, "partner_names": ["Bawaslu RI"], **PERSONAL}

    return {
        "": view([]),
        "policy": view(
            [{"policy": p, **figures(n * 2, removed=n, **PERSONAL)} for p, n in SEEDS_REMOVED.items()]
            + [{"policy": "hate_speech", **figures(40, removed=0)}, {"policy": None, **figures(900, removed=0)}]
        ),
        "week": view(
            [{"week": w, **figures(900 + 400 * i, **PERSONAL)} for i, w in enumerate(weeks)]
            + [{"week": HOSTILE[0], **figures(3)}]
        ),
        "outcome": view([{"outcome": o.value, **figures(1000 * (i + 1))} for i, o in enumerate(Outcome)]),
        "region": view(
            [{"region": code, **figures(5000 - 300 * i)} for i, code in enumerate(provinces)]
            + [{"region": None, **figures(0)}]
        ),
        "category": view([{"category": c.value, **figures(700 * (i + 1))} for i, c in enumerate(Category)]),
    }


# Hypothesis: answers of every shape the contract allows.
counts = st.integers(min_value=0, max_value=10**9)
hours = st.one_of(st.none(), st.floats(min_value=0, max_value=10_000, allow_nan=False, allow_infinity=False))
shares = st.one_of(st.none(), st.floats(min_value=0, max_value=1, allow_nan=False))
labels = st.one_of(st.sampled_from(HOSTILE), st.text(min_size=1, max_size=30))
KEY_VALUES = {
    "policy": st.one_of(st.none(), st.sampled_from(list(Policy)).map(str), labels),
    "outcome": st.one_of(st.none(), st.sampled_from(list(Outcome)).map(str), labels),
    "category": st.one_of(st.none(), st.sampled_from(list(Category)).map(str), labels),
    "region": st.one_of(st.none(), st.sampled_from(["11", "31", "32", "51", "73", "94", "96"]), labels),
    "week": st.one_of(st.none(), st.from_regex(r"20[0-9]{2}-W[0-5][0-9]", fullmatch=True), labels),
}


@st.composite
def figure_sets(draw: st.DrawFn) -> dict[str, Any]:
    """One set of figures, and maybe personal-looking fields beside them."""
    drawn: dict[str, Any] = {name: draw(counts) for name in COUNTS}
    drawn["median_hours_to_decision"] = draw(hours)
    drawn["p90_hours_to_decision"] = draw(hours)
    drawn["decided_within_sla_share"] = draw(shares)
    if draw(st.booleans()):
        drawn.update(PERSONAL)
    return drawn


@st.composite
def answers(draw: st.DrawFn, grouping: str) -> dict[str, Any]:
    """An answer for ``grouping`` ("" for the totals alone)."""
    groups = []
    if grouping:
        keys = draw(st.lists(KEY_VALUES[grouping], max_size=14, unique_by=lambda v: (v is None, v or "")))
        groups = [{grouping: key, **draw(figure_sets())} for key in keys]
    window = {
        "scope": draw(st.sampled_from(["own", "national"])),
        "from": draw(st.one_of(st.none(), st.just("2024-09-25"), labels)),
        "to": draw(st.one_of(st.none(), st.just("2024-11-27"), labels)),
    }
    return {**window, "totals": draw(figure_sets()), "groups": groups, **(PERSONAL if draw(st.booleans()) else {})}


@st.composite
def view_sets(draw: st.DrawFn) -> dict[str, dict[str, Any]]:
    """Answers for some of the groupings (at least one)."""
    chosen = draw(st.sets(st.sampled_from(["", "policy", "week", "outcome", "region", "category"]), min_size=1))
    return {grouping: draw(answers(grouping)) for grouping in sorted(chosen)}


# The page read back.
@dataclass
class Marked:
    """An element that shows a figure: its tag, its data- attributes and the text inside it."""

    tag: str
    attributes: dict[str, str]
    text: str = ""


#: Attributes that mark what is not a figure of the answers but may hold digits: a key's label, a chart's scale,
#: the deadlines of data/sla.json, a province's rank.
OTHER_MARKS = ("data-label", "data-tick", "data-sla", "data-sla-hours", "data-rank", "data-election")


class Page(HTMLParser):
    """Reads every element marked ``data-figure`` (its text included), every text outside them and the other marks,
    and checks that every tag is closed by its own end tag."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.marked: list[Marked] = []
        self.open: list[tuple[str, Marked | None, bool]] = []  # tag, the figure it shows, whether marked otherwise
        self.unmarked_text: list[str] = []
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attributes))
        if tag in self.VOID:
            return
        figure = None
        if "data-figure" in attributes:
            figure = Marked(tag, {k: v for k, v in attributes.items() if k.startswith("data-")})
            self.marked.append(figure)
        self.open.append((tag, figure, tag == "style" or any(k in attributes for k in OTHER_MARKS)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))  # <rect .../>: nothing inside

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        assert self.open, f"</{tag}> closes nothing"
        opened = self.open.pop()[0]
        assert opened == tag, f"</{tag}> closes <{opened}>"

    def handle_data(self, data: str) -> None:
        inside = [figure for _, figure, _ in self.open if figure is not None]
        for figure in inside:
            figure.text += data
        if not inside and not any(other for *_, other in self.open):
            self.unmarked_text.append(data)


def read_page(page: str) -> Page:
    """The page parsed: its marked figures, the text outside any mark, and its tags (checked balanced)."""
    parser = Page()
    parser.feed(page)
    parser.close()
    assert not parser.open, f"unclosed: {[tag for tag, *_ in parser.open]}"
    return parser


def keys_of(attributes: Mapping[str, str]) -> dict[str, str | None]:
    """The group keys a figure's element names (``data-policy=""``: the group without one)."""
    found = {k: attributes.get(f"data-{k}") for k in ("category", "policy", "outcome", "region", "week")}
    return {k: (v or None) for k, v in found.items() if v is not None}


def source_of(views: Mapping[str, Mapping[str, Any]], attributes: Mapping[str, str]) -> Mapping[str, Any]:
    """The answer's figures that a marked element says it shows: a view's totals, or one of its groups."""
    view = views["" if attributes["data-view"] == "totals" else attributes["data-view"]]
    keys = keys_of(attributes)
    if not keys:
        return view["totals"]  # type: ignore[no-any-return]
    found = [g for g in view["groups"] if all(g.get(k) == v for k, v in keys.items())]
    assert len(found) == 1, (attributes, found)
    return found[0]  # type: ignore[no-any-return]


def read_number(text: str) -> float | None:
    """A figure as the page writes it (17.195; 3,5; 87,5%; 3,2 jam; a dash for none) back to a number."""
    text = text.strip().removesuffix(" jam")
    if text == "\u2014":
        return None
    share = text.endswith("%")
    value = float(text.removesuffix("%").replace(".", "").replace(",", "."))
    return value / 100 if share else value


def check_figures(views: Mapping[str, Mapping[str, Any]], marked: list[Marked]) -> set[tuple[Any, ...]]:
    """Every marked figure is the answer's: its ``data-value`` exactly, and its text (but a chart shape's, whose
    text is its tooltip) as the page writes numbers, to the precision it shows them. Answers what was seen:
    (view, figure) and (view, the group's keys) of each."""
    seen: set[tuple[Any, ...]] = set()
    for figure in marked:
        attributes = figure.attributes
        name = attributes["data-figure"]
        expected = source_of(views, attributes)[name]
        assert json.loads(attributes["data-value"]) == expected, attributes
        if figure.tag not in ("rect", "circle"):
            value = read_number(figure.text)
            if expected is None or value is None:
                assert value is expected, (attributes, figure.text)
            else:
                precision = {"decided_within_sla_share": 0.0005}.get(
                    name, 0.05 if name.endswith("_hours_to_decision") else 0
                )
                assert abs(value - expected) <= precision + 1e-9 * max(1, expected), (attributes, figure.text)
        seen.add((attributes["data-view"], name))
        seen.add((attributes["data-view"], tuple(sorted(keys_of(attributes).items(), key=str))))
    return seen


def groups_of(views: Mapping[str, Mapping[str, Any]]) -> set[tuple[Any, ...]]:
    """(view, the group's keys) for every group of every answer, as ``check_figures`` answers what it saw: all but
    the policy of cases not yet decided, which the table of removals by policy leaves out while it removed none."""
    return {
        (grouping, ((grouping, group[grouping]),))
        for grouping, view in views.items()
        if grouping
        for group in view["groups"]
        if not (grouping == "policy" and group["policy"] is None and group["removed"] == 0)
    }


# A stand-in partner API, on this machine only.
@dataclass
class StatsApi:
    """What the stand-in answers, and what it was asked."""

    views: dict[str, dict[str, Any]]
    key: str = "kanal_test_key"
    national: bool = True
    failing: int | None = None
    #: (status, body) answered to every request instead, as it is (not JSON, say).
    raw: tuple[int, bytes] | None = None
    asked: list[tuple[dict[str, str], dict[str, str]]] = field(default_factory=list)


def problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"type": "about:blank", "title": title, "status": status, "detail": detail}


@contextmanager
def stats_api(api: StatsApi) -> Iterator[str]:
    """Serve ``GET /v1/stats`` on 127.0.0.1 from ``api``: 401 without its key, 403 for national figures when not
    ``national``, ``failing`` (a status) for every request when set; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = dict(parse_qsl(parts.query))
            api.asked.append((query, {k.lower(): v for k, v in self.headers.items()}))
            if api.raw is not None:
                self._send(*api.raw, "text/html")
            elif api.failing is not None:
                self._answer(api.failing, problem(api.failing, "Internal Server Error", "try again later"))
            elif parts.path != "/v1/stats":
                self._answer(404, problem(404, "Not Found", "no such route"))
            elif self.headers.get("Authorization") != f"Bearer {api.key}":
                self._answer(401, problem(401, "Unauthorized", "a valid API key is required"))
            elif query.get("scope") == "national" and not api.national:
                self._answer(403, problem(403, "Forbidden", "national figures are for election agencies"))
            elif query.get("group_by", "") not in api.views:
                self._answer(
                    422,
                    {
                        **problem(422, "Unprocessable Content", "bad query"),
                        "errors": [
                            {"field": "group_by", "message": "must be some of category, policy, outcome, region, week"}
                        ],
                    },
                )
            else:
                self._answer(200, api.views[query.get("group_by", "")])

        def do_POST(self) -> None:
            """Any POST: its JSON body and headers echoed back (201), for the partner client's own tests."""
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"null")
            api.asked.append(({}, {k.lower(): v for k, v in self.headers.items()}))
            self._answer(201, {"path": self.path, "body": body})

        def _answer(self, status: int, body: Any) -> None:
            kind = "application/problem+json" if status >= 400 else "application/json"
            self._send(status, json.dumps(body).encode(), kind)

        def _send(self, status: int, data: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
