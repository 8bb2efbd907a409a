"""The channel's figures as one page an agency can publish: ``kanal stats report`` and the weekly export write it.

The input is what ``GET /v1/stats`` answers, one answer per grouping (``views``: ``""`` for the totals alone,
``"policy"``, ``"week"``, ``"outcome"``, ``"region"``, ``"category"``). The page is one self-contained HTML file:
no script, no font, image or stylesheet from anywhere (its Content-Security-Policy forbids every load, and allows
its one inline stylesheet by hash), charts as inline SVG. It is in Bahasa Indonesia with English alongside
(``lang="en"``), and numbers are written as Indonesians write them (17.195; 3,5) with the raw value beside each in
``data-value``: every figure on the page is an element with ``data-view`` (the grouping it comes from, ``totals``
for ``""``), ``data-figure`` (the figure's name in the API) and ``data-<key>`` for its group's keys, so that a
test, or a reader's script, can compare the page with the API.

The page holds no personal data: the answers it reads have none (counts by policy, week, outcome, province and
category), and its models keep nothing but those keys and figures: any other field is dropped on reading.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from html import escape
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from kanal import regions
from kanal.calendar import Calendar, Phase, default_calendar
from kanal.models import Category, Outcome, Policy

Count = Annotated[int, Field(ge=0)]
Hours = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Label = Annotated[str, Field(min_length=1, max_length=100)]

#: The figures of a total or a group, in the order the tables show them.
FIGURES = (
    "reports",
    "cases",
    "decided",
    "removed",
    "restricted",
    "labelled",
    "no_violation",
    "pending",
    "median_hours_to_decision",
    "p90_hours_to_decision",
    "decided_within_sla_share",
)
#: The groupings the page has a section for ("" is the totals alone).
GROUPINGS = ("", "policy", "week", "outcome", "region", "category")
#: Reports are published with times in Western Indonesia Time.
WIB = ZoneInfo("Asia/Jakarta")


class StatsFigures(BaseModel):
    """The figures of the totals or of one group, as ``GET /v1/stats`` answers them; any other field is dropped."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    reports: Count
    cases: Count
    decided: Count
    removed: Count
    restricted: Count
    labelled: Count
    no_violation: Count
    pending: Count
    median_hours_to_decision: Hours | None
    p90_hours_to_decision: Hours | None
    decided_within_sla_share: Share | None


class StatsGroup(StatsFigures):
    """One group of an answer: its keys (those of the answer's ``group_by``; null where a case has none, such as
    the policy of a case not yet decided) and its figures."""

    category: Label | None = None
    policy: Label | None = None
    outcome: Label | None = None
    region: Label | None = None
    week: Label | None = None


class StatsView(BaseModel):
    """One answer of ``GET /v1/stats``: the scope, the window, the totals and the groups."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    scope: Literal["own", "national"]
    start: Label | None = Field(None, alias="from")
    end: Label | None = Field(None, alias="to")
    totals: StatsFigures
    groups: list[StatsGroup] = []


# Words, in Bahasa Indonesia and English. Each enum's table has every member (a test checks): a value the API
# adds later, not yet here, is shown as the API gives it.
Words = tuple[str, str]
FIGURE_WORDS: dict[str, Words] = {
    "reports": ("Laporan", "Reports"),
    "cases": ("Kasus", "Cases"),
    "decided": ("Diputus", "Decided"),
    "removed": ("Video diturunkan", "Videos removed"),
    "restricted": ("Dibatasi", "Restricted"),
    "labelled": ("Diberi label", "Labelled"),
    "no_violation": ("Tidak melanggar", "No violation"),
    "pending": ("Menunggu keputusan", "Awaiting a decision"),
    "median_hours_to_decision": ("Median jam hingga keputusan", "Median hours to decision"),
    "p90_hours_to_decision": ("Persentil ke-90 jam hingga keputusan", "90th percentile hours to decision"),
    "decided_within_sla_share": ("Diputus dalam tenggat", "Decided within the deadline"),
}
#: Shorter words for the same figures at the head of a table's column.
COLUMN_WORDS: dict[str, Words] = {
    **FIGURE_WORDS,
    "removed": ("Diturunkan", "Removed"),
    "median_hours_to_decision": ("Median (jam)", "Median (hours)"),
    "p90_hours_to_decision": ("Persentil ke-90 (jam)", "90th percentile (hours)"),
    "decided_within_sla_share": ("Dalam tenggat", "Within the deadline"),
}
POLICY_WORDS: dict[Policy, Words] = {
    Policy.MISINFORMATION: ("Misinformasi", "Misinformation"),
    Policy.CIVIC_ELECTION_INTEGRITY: ("Sipil dan integritas pemilu", "Civic and election integrity"),
    Policy.SYNTHETIC_MEDIA: ("Media sintetis dan media yang dimanipulasi", "Synthetic and manipulated media"),
    Policy.HATE_SPEECH: ("Ujaran kebencian", "Hate speech"),
    Policy.NATIONAL_LAW: ("Hukum nasional", "National law"),
}
OUTCOME_WORDS: dict[Outcome, Words] = {
    Outcome.REMOVED: ("Diturunkan", "Removed"),
    Outcome.RESTRICTED: ("Dibatasi", "Restricted"),
    Outcome.LABELLED: ("Diberi label", "Labelled"),
    Outcome.NO_VIOLATION: ("Tidak melanggar", "No violation"),
}
CATEGORY_WORDS: dict[Category, Words] = {
    Category.MISINFORMATION: ("Misinformasi", "Misinformation"),
    Category.ELECTION_INTEGRITY: ("Integritas pemilu", "Election integrity"),
    Category.SYNTHETIC_MEDIA: ("Media sintetis", "Synthetic media"),
    Category.HATE_SPEECH: ("Ujaran kebencian", "Hate speech"),
    Category.CAMPAIGN_VIOLATION: ("Pelanggaran kampanye", "Campaign violation"),
    Category.OTHER: ("Lainnya", "Other"),
}
PHASE_WORDS: dict[Phase, Words] = {
    Phase.NONE: ("di luar masa pemilu", "outside an election"),
    Phase.CAMPAIGN: ("masa kampanye", "campaign"),
    Phase.QUIET: ("masa tenang", "quiet period"),
    Phase.VOTING: ("hari pemungutan suara", "voting day"),
}
#: What a group with no value for its key stands for, by key.
NO_KEY_WORDS: dict[str, Words] = {
    "policy": ("Belum diputus", "Not yet decided"),
    "outcome": ("Belum diputus", "Not yet decided"),
    "region": ("Tidak diketahui", "Unknown"),
    "category": ("Tidak diketahui", "Unknown"),
    "week": ("Tidak diketahui", "Unknown"),
}
NO_PERSONAL_DATA: Words = (
    "Tanpa data pribadi: tidak memuat uraian laporan, nama mitra pelapor, maupun nama peninjau.",
    "No personal data: no report descriptions, no reporting partners' names, no reviewers' names.",
)
SOURCES: Words = (
    "Sumber: GET /v1/stats kanal. Nama provinsi: idn-area-data (Open Database License).",
    "Source: kanal's GET /v1/stats. Province names: idn-area-data (Open Database License).",
)
MONTHS_ID = (
    "Januari Februari Maret April Mei Juni Juli Agustus September Oktober November Desember".split()  # noqa: SIM905
)
MONTHS_EN = (
    "January February March April May June July August September October November December".split()  # noqa: SIM905
)

STYLE = """
:root{color-scheme:light;--ink:#1b1f24;--muted:#57606a;--line:#d0d7de;--blue:#2f6db5;--orange:#b34700}
*{box-sizing:border-box}
body{margin:0 auto;max-width:960px;padding:24px;font:15px/1.5 system-ui,"DejaVu Sans",sans-serif;color:var(--ink);
background:#fff}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.2em;margin:32px 0 8px;border-bottom:1px solid var(--line)}
.en,.en-block{color:var(--muted);font-weight:normal}.en::before{content:" / "}
p.meta{margin:2px 0;color:var(--muted)}
dl.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:8px;margin:0}
dl.tiles div{border:1px solid var(--line);border-radius:6px;padding:8px 12px}
dl.tiles dt{font-size:.85em}dl.tiles dd{margin:0;font-size:1.5em;font-variant-numeric:tabular-nums}
table{border-collapse:collapse;width:100%;margin:8px 0}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
thead th{font-size:.85em;vertical-align:bottom}thead .en{display:block}thead .en::before{content:none}
caption{text-align:left;color:var(--muted);font-size:.9em}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tfoot td,tfoot th{font-weight:bold;border-top:2px solid var(--ink)}
figure{margin:8px 0}svg{max-width:100%;height:auto}svg text{font:12px system-ui,"DejaVu Sans",sans-serif}
.none{color:var(--muted)}
footer{margin-top:32px;font-size:.85em;color:var(--muted)}
@media print{body{padding:0}h2{break-after:avoid}table,figure{break-inside:avoid}}
"""


def style_hash(style: str = STYLE) -> str:
    """The CSP source that allows exactly this stylesheet ('sha256-…')."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(style.encode()).digest()).decode() + "'"


def content_security_policy() -> str:
    """The page's policy: it loads nothing, runs nothing, and styles itself only with its own stylesheet."""
    return f"default-src 'none'; style-src {style_hash()}; base-uri 'none'; form-action 'none'"


# Numbers as written in Indonesian: a point groups thousands, a comma marks decimals.
def number(value: int) -> str:
    """A whole number: 17.195."""
    return f"{value:,}".replace(",", ".")


def decimal(value: float, places: int = 1) -> str:
    """A decimal number: 1.234,5."""
    return f"{value:,.{places}f}".translate(str.maketrans(",.", ".,"))


def percent(share: float) -> str:
    """A share as a percentage: 87,5%."""
    return decimal(share * 100) + "%"


def shown(figure: str, value: float | None) -> str:
    """A figure's value as the page shows it (a dash for none)."""
    if value is None:
        return "—"
    if figure == "decided_within_sla_share":
        return percent(value)
    if figure.endswith("_hours_to_decision"):
        return decimal(value)
    return number(int(value))


def raw(value: float | None) -> str:
    """A figure's value as ``data-value`` holds it: JSON."""
    return json.dumps(value)


def words(pair: Words, *, tag: str = "span") -> str:
    """Indonesian, then English beside it in an element of its own (``lang="en"``)."""
    return f'{escape(pair[0])} <{tag} class="en" lang="en">{escape(pair[1])}</{tag}>'


def plain(pair: Words) -> str:
    """Both languages in one string, where markup cannot go (SVG titles, attributes); one where they agree."""
    return pair[0] if pair[0] == pair[1] else f"{pair[0]} / {pair[1]}"


def key_words(key: str, value: str | None) -> Words:
    """A group key's value in words: a policy, an outcome, a category, a province's name, a week's label."""
    if value is None:
        return NO_KEY_WORDS[key]
    tables: dict[str, Mapping[Any, Words]] = {
        "policy": POLICY_WORDS,
        "outcome": OUTCOME_WORDS,
        "category": CATEGORY_WORDS,
    }
    if key in tables:
        found = tables[key].get(value)
        return found if found is not None else (value, value)
    if key == "region":
        name = regions.display_name(value)
        return (name, name)
    return (value, value)


def key_label(key: str, value: str | None) -> str:
    """A group key's value as markup, marked ``data-label`` (English only where it differs)."""
    pair = key_words(key, value)
    inner = escape(pair[0]) if pair[0] == pair[1] else words(pair)
    return f'<span data-label="{escape(key)}">{inner}</span>'


class Figure:
    """Writes figures as marked elements: ``data-view``, ``data-figure``, the group's keys (empty for the group
    without one: a key's value is never empty), ``data-value``."""

    def __init__(self, view: str, keys: Mapping[str, str | None] | None = None) -> None:
        self.attributes = f'data-view="{escape(view or "totals")}"'
        for key, value in (keys or {}).items():
            self.attributes += f' data-{key}="{escape(value or "")}"'

    def marks(self, figure: str, value: float | None) -> str:
        """The attributes that mark one figure."""
        return f'{self.attributes} data-figure="{figure}" data-value="{escape(raw(value))}"'

    def cell(self, figure: str, value: float | None, tag: str = "td") -> str:
        """A table cell (or ``tag``) showing one figure."""
        empty = ' class="num none" title="tidak ada / none"' if value is None else ' class="num"'
        return f"<{tag}{empty} {self.marks(figure, value)}>{escape(shown(figure, value))}</{tag}>"


def render(
    views: Mapping[str, Mapping[str, Any] | BaseModel],
    *,
    generated_at: datetime,
    election_id: str | None = None,
    calendar: Calendar | None = None,
) -> str:
    """The page for ``views`` (grouping -> answer of ``GET /v1/stats``), made at ``generated_at`` (aware), for the
    election ``election_id`` if the answers are for one. A section whose grouping is not in ``views`` is left out;
    an unknown grouping, a group without its key or a malformed answer is a ValueError (pydantic's)."""
    if generated_at.tzinfo is None:
        raise ValueError("generated_at must be an aware datetime")
    unknown = sorted(set(views) - set(GROUPINGS))
    if unknown or not views:
        raise ValueError(f"views must be some of {GROUPINGS}, not {unknown or 'none'}")
    read = {key: _read(answer) for key, answer in views.items()}
    for key, view in read.items():
        missing = [g for g in view.groups if key and key not in g.model_fields_set]
        if missing or (not key and view.groups):
            raise ValueError(f"the answer for group_by={key!r} has groups without that key, or groups for none")
    calendar = calendar or default_calendar()
    first = read.get("") or next(iter(read.values()))
    election = calendar.election(election_id) if election_id else None
    sections = [
        _totals("" if "" in read else next(iter(read)), first.totals),
        _by_policy(read["policy"]) if "policy" in read else "",
        _by_week(read["week"]) if "week" in read else "",
        _outcomes("" if "" in read else next(iter(read)), first.totals, read.get("outcome")),
        _by_region(read["region"]) if "region" in read else "",
        _by_category(read["category"]) if "category" in read else "",
        _time_to_decision("" if "" in read else next(iter(read)), first.totals, calendar, election is not None),
    ]
    title = ("Angka kanal pelaporan khusus", "Figures of the dedicated reporting channel")
    heading = [f"<h1>{words(title)}</h1>"]
    if election is not None:
        heading.append(f'<p class="meta" data-election="{escape(election.election_id)}">{escape(election.name)}</p>')
    elif election_id:
        heading.append(f'<p class="meta" data-election="{escape(election_id)}">{escape(election_id)}</p>')
    heading.append(f'<p class="meta">{_period(first)}</p>')
    scope = (
        ("Nasional: semua laporan dan kasus", "National: every report and case")
        if first.scope == "national"
        else ("Laporan mitra ini sendiri", "This partner's own reports")
    )
    heading.append(f'<p class="meta" data-scope="{first.scope}">{words(scope)}</p>')
    made = generated_at.astimezone(WIB)
    heading.append(
        f'<p class="meta">{words(("Dibuat", "Generated"))}: <time datetime="{escape(generated_at.isoformat())}" '
        f'data-label="generated_at">{escape(_day(made.date(), MONTHS_ID))} {made:%H.%M} WIB</time></p>'
    )
    document = [
        "<!DOCTYPE html>",
        '<html lang="id">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy()}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(plain(title))}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        "<header>",
        *heading,
        "</header>",
        "<main>",
        *[section for section in sections if section],
        "</main>",
        _footer(),
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(document)


def _read(answer: Mapping[str, Any] | BaseModel) -> StatsView:
    """An answer as its JSON, or as any model of it (the API's own is dumped as it answers: by alias, as JSON)."""
    if isinstance(answer, BaseModel) and not isinstance(answer, StatsView):
        return StatsView.model_validate(answer.model_dump(mode="json", by_alias=True))
    return StatsView.model_validate(answer)


def _day(day: date, months: Sequence[str]) -> str:
    return f"{day.day} {months[day.month - 1]} {day.year}"


def _period(view: StatsView) -> str:
    """The window the figures cover, in both languages where it reads as dates."""

    def when(text: str | None, months: Sequence[str]) -> str:
        if text is None:
            return "…"
        try:
            return _day(date.fromisoformat(text[:10]), months)
        except ValueError:
            return text

    ours = f"{when(view.start, MONTHS_ID)} \u2013 {when(view.end, MONTHS_ID)}"
    theirs = f"{when(view.start, MONTHS_EN)} \u2013 {when(view.end, MONTHS_EN)}"
    marks = f'data-from="{escape(view.start or "")}" data-to="{escape(view.end or "")}"'
    dates = escape(ours) if ours == theirs else words((ours, theirs))
    return f'{words(("Periode", "Period"))}: <span data-label="period" {marks}>{dates}</span>'


def _section(name: str, heading: Words, *body: str) -> str:
    return "\n".join(
        [
            f'<section id="{name}" aria-labelledby="{name}-h">',
            f'<h2 id="{name}-h">{words(heading)}</h2>',
            *body,
            "</section>",
        ]
    )


def _header_cell(pair: Words, *, numeric: bool = True) -> str:
    kind = ' class="num"' if numeric else ""
    return f'<th scope="col"{kind}>{words(pair)}</th>'


def _table(caption: Words, heads: Iterable[str], rows: Iterable[str], foot: str = "") -> str:
    parts = [
        f"<table><caption>{words(caption)}</caption>",
        "<thead><tr>",
        *heads,
        "</tr></thead>",
        "<tbody>",
        *rows,
        "</tbody>",
    ]
    if foot:
        parts += ["<tfoot>", foot, "</tfoot>"]
    parts.append("</table>")
    return "\n".join(parts)


def _none_yet() -> str:
    return f'<p class="none">{words(("Belum ada data.", "No data yet."))}</p>'


def _totals(view: str, totals: StatsFigures) -> str:
    figure = Figure(view)
    tiles = [
        f"<div><dt>{words(FIGURE_WORDS[name])}</dt>{figure.cell(name, getattr(totals, name), 'dd')}</div>"
        for name in FIGURES
    ]
    return _section("totals", ("Jumlah", "Totals"), '<dl class="tiles">', *tiles, "</dl>")


def _ordered(groups: Iterable[StatsGroup], key: str, order: Sequence[str]) -> list[StatsGroup]:
    """Groups in the enum's order, values the enum lacks after them by name, and the group without a value last."""
    rank = {value: i for i, value in enumerate(order)}

    def place(group: StatsGroup) -> tuple[int, int, str]:
        value = getattr(group, key)
        return (value is None, rank.get(value, len(rank)) if value is not None else 0, value or "")

    return sorted(groups, key=place)


def _by_policy(view: StatsView) -> str:
    """The seeds' table: for each policy, the videos removed under it, and the total."""
    rows = []
    for group in _ordered(view.groups, "policy", list(Policy)):
        if group.policy is None and group.removed == 0:
            continue  # the cases not yet decided: nothing removed under no policy
        figure = Figure("policy", {"policy": group.policy})
        rows.append(
            f'<tr><th scope="row">{key_label("policy", group.policy)}</th>{figure.cell("removed", group.removed)}</tr>'
        )
    total = Figure("policy").cell("removed", view.totals.removed)
    foot = f'<tr><th scope="row">{words(("Jumlah", "Total"))}</th>{total}</tr>'
    table = _table(
        ("Video yang diturunkan menurut kebijakan", "Videos removed by policy"),
        [_header_cell(("Kebijakan", "Policy"), numeric=False), _header_cell(FIGURE_WORDS["removed"])],
        rows,
        foot,
    )
    return _section("policy", ("Penurunan menurut kebijakan", "Removals by policy"), table if rows else _none_yet())


def _by_week(view: StatsView) -> str:
    groups = sorted(view.groups, key=lambda g: (g.week is None, g.week or ""))
    if not groups:
        return _section("week", ("Tren mingguan", "Weekly trend"), _none_yet())
    shown_figures = ("reports", "cases", "decided", "removed", "median_hours_to_decision", "p90_hours_to_decision")
    rows = []
    for group in groups:
        figure = Figure("week", {"week": group.week})
        cells = "".join(figure.cell(name, getattr(group, name)) for name in shown_figures)
        rows.append(f'<tr><th scope="row">{key_label("week", group.week)}</th>{cells}</tr>')
    table = _table(
        ("Angka per minggu", "Figures by week"),
        [_header_cell(("Minggu", "Week"), numeric=False), *(_header_cell(COLUMN_WORDS[n]) for n in shown_figures)],
        rows,
    )
    return _section("week", ("Tren mingguan", "Weekly trend"), _trend_chart(groups), table)


def _outcomes(view: str, totals: StatsFigures, by_outcome: StatsView | None) -> str:
    """The outcome mix of the cases (from the totals), and the figures of each outcome if that view is given."""
    mix = [(name, getattr(totals, name)) for name in ("removed", "restricted", "labelled", "no_violation", "pending")]
    body = [_bar_chart("outcome-chart", ("Hasil keputusan kasus", "Outcomes of the cases"), Figure(view), mix)]
    if by_outcome is not None and by_outcome.groups:
        shown_figures = (
            "reports",
            "cases",
            "median_hours_to_decision",
            "p90_hours_to_decision",
            "decided_within_sla_share",
        )
        rows = []
        for group in _ordered(by_outcome.groups, "outcome", list(Outcome)):
            figure = Figure("outcome", {"outcome": group.outcome})
            cells = "".join(figure.cell(name, getattr(group, name)) for name in shown_figures)
            rows.append(f'<tr><th scope="row">{key_label("outcome", group.outcome)}</th>{cells}</tr>')
        body.append(
            _table(
                ("Angka menurut hasil", "Figures by outcome"),
                [
                    _header_cell(("Hasil", "Outcome"), numeric=False),
                    *(_header_cell(COLUMN_WORDS[n]) for n in shown_figures),
                ],
                rows,
            )
        )
    return _section("outcome", ("Komposisi hasil", "Outcome mix"), *body)


def _by_region(view: StatsView) -> str:
    """Provinces ranked by the reports from them (then by removals, then by code); the unknown last."""
    groups = sorted(view.groups, key=lambda g: (g.region is None, -g.reports, -g.removed, g.region or ""))
    if not groups:
        return _section("region", ("Peringkat provinsi", "Provinces ranked"), _none_yet())
    shown_figures = ("reports", "cases", "decided", "removed")
    rows = []
    for rank, group in enumerate(groups, start=1):
        figure = Figure("region", {"region": group.region})
        cells = "".join(figure.cell(name, getattr(group, name)) for name in shown_figures)
        place = (
            f'<td class="num" data-rank="{rank}">{rank}</td>' if group.region is not None else '<td class="num"></td>'
        )
        rows.append(f'<tr>{place}<th scope="row">{key_label("region", group.region)}</th>{cells}</tr>')
    heads = [
        _header_cell(("Peringkat", "Rank")),
        _header_cell(("Provinsi", "Province"), numeric=False),
        *(_header_cell(COLUMN_WORDS[n]) for n in shown_figures),
    ]
    table = _table(("Provinsi menurut jumlah laporan", "Provinces by number of reports"), heads, rows)
    return _section("region", ("Peringkat provinsi", "Provinces ranked"), table)


def _by_category(view: StatsView) -> str:
    """What partners suspected (the report's category), and what came of it."""
    groups = _ordered(view.groups, "category", list(Category))
    if not groups:
        return _section("category", ("Menurut kategori laporan", "By category of report"), _none_yet())
    shown_figures = ("reports", "cases", "decided", "removed", "restricted", "labelled", "no_violation", "pending")
    rows = []
    for group in groups:
        figure = Figure("category", {"category": group.category})
        cells = "".join(figure.cell(name, getattr(group, name)) for name in shown_figures)
        rows.append(f'<tr><th scope="row">{key_label("category", group.category)}</th>{cells}</tr>')
    heads = [
        _header_cell(("Kategori", "Category"), numeric=False),
        *(_header_cell(COLUMN_WORDS[n]) for n in shown_figures),
    ]
    table = _table(("Angka menurut kategori yang dilaporkan", "Figures by the category reported"), heads, rows)
    return _section("category", ("Menurut kategori laporan", "By category of report"), table)


def _time_to_decision(view: str, totals: StatsFigures, calendar: Calendar, for_election: bool) -> str:
    """Median and 90th percentile of the hours to a decision, against the review deadlines of ``data/sla.json``."""
    figure = Figure(view)
    phases = [p for p in Phase if p is not Phase.NONE] if for_election else list(Phase)
    deadlines: dict[int, list[Phase]] = {}
    for phase in phases:
        deadlines.setdefault(calendar.sla_default[phase], []).append(phase)
    measured = [
        ("median_hours_to_decision", ("Median", "Median"), totals.median_hours_to_decision),
        ("p90_hours_to_decision", ("Persentil ke-90", "90th percentile"), totals.p90_hours_to_decision),
    ]
    chart = _hours_chart(figure, measured, deadlines)
    tiles = [
        f"<div><dt>{words(FIGURE_WORDS[name])}</dt>{figure.cell(name, getattr(totals, name), 'dd')}</div>"
        for name in ("median_hours_to_decision", "p90_hours_to_decision", "decided_within_sla_share")
    ]
    overridden = sorted(calendar.sla_overrides)
    heads = [
        _header_cell(("Tahap", "Phase"), numeric=False),
        _header_cell(("Tenggat umum (jam)", "Deadline (hours)")),
        *(
            _header_cell((f"{key_words('category', c)[0]} (jam)", f"{key_words('category', c)[1]} (hours)"))
            for c in overridden
        ),
    ]
    rows = []
    for phase in list(Phase):
        hours = calendar.sla_default[phase]
        cells = [f'<td class="num" data-sla="{phase}" data-value="{hours}">{hours}</td>']
        for category in overridden:
            hours = calendar.review_hours(category, phase)
            marks = f'data-sla="{phase}" data-category="{escape(category)}" data-value="{hours}"'
            cells.append(f'<td class="num" {marks}>{hours}</td>')
        named = words((PHASE_WORDS[phase][0].capitalize(), PHASE_WORDS[phase][1].capitalize()))
        rows.append(f'<tr><th scope="row">{named}</th>{"".join(cells)}</tr>')
    table = _table(("Tenggat peninjauan menurut tahap pemilu", "Review deadlines by election phase"), heads, rows)
    explained = (
        "<p>Jam hingga keputusan dihitung dari saat laporan diterima sampai kasusnya diputus. Median: separuh "
        "keputusan diambil dalam waktu itu atau lebih cepat; persentil ke-90: sembilan dari sepuluh keputusan. "
        "Keduanya diperkirakan dari sebaran jam (histogram), bukan dari daftar setiap keputusan. Tenggat "
        "peninjauan (SLA) bergantung pada tahap pemilu di wilayah pelapor dan pada kategori laporan, sesuai "
        "Permenkominfo 5/2020 Pasal 14 (24 jam; 4 jam bila mendesak); <q>diputus dalam tenggat</q> adalah bagian "
        "keputusan yang diambil sebelum tenggat kasusnya.</p>"
        '\n<p lang="en" class="en-block">Hours to decision run from a report\'s arrival to its case\'s decision. '
        "Median: half the decisions took that long or less; 90th percentile: nine in ten. Both are estimated from "
        "a histogram of hours, not from a list of every decision. The review deadline (SLA) depends on the "
        "election phase in the reporter's region and on the report's category, in line with Permenkominfo 5/2020 "
        "Article 14 (24 hours; 4 hours when urgent); <q>decided within the deadline</q> is the share of decisions "
        "taken before their case's deadline.</p>"
    )
    return _section(
        "time",
        ("Waktu hingga keputusan dan tenggat", "Time to decision against the deadline"),
        '<dl class="tiles">',
        *tiles,
        "</dl>",
        chart,
        explained,
        table,
    )


# Charts: inline SVG, each with a title and a description for screen readers, and its figures marked.
def _ceiling(value: float) -> float:
    """A round scale end at or above ``value``: 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _svg(name: str, width: int, height: int, title: Words, description: str, body: Iterable[str]) -> str:
    return "\n".join(
        [
            f'<figure><svg id="{name}" xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" aria-labelledby="{name}-t {name}-d">',
            f'<title id="{name}-t">{escape(plain(title))}</title>',
            f'<desc id="{name}-d">{escape(description)}</desc>',
            *body,
            "</svg></figure>",
        ]
    )


def _tick(x: float, y: float, value: float, anchor: str = "end") -> str:
    place = f'x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"'
    return f'<text {place} data-tick="{raw(value)}">{escape(number(int(value)))}</text>'


def _trend_chart(groups: Sequence[StatsGroup]) -> str:
    """Reports per week as bars, videos removed per week as a line, on one scale."""
    width, height, left, right, top, bottom = 720, 280, 56, 16, 36, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _ceiling(max(max(g.reports, g.removed) for g in groups))
    band = plot_w / len(groups)

    def y(value: float) -> float:
        return top + plot_h - plot_h * value / top_value

    body = [
        f'<line x1="{left}" y1="{y(0):.1f}" x2="{width - right}" y2="{y(0):.1f}" stroke="#57606a"/>',
        f'<line x1="{left}" y1="{y(top_value):.1f}" x2="{width - right}" y2="{y(top_value):.1f}" stroke="#d0d7de"/>',
        _tick(left - 6, y(0) + 4, 0),
        _tick(left - 6, y(top_value) + 4, top_value),
    ]
    every = max(1, math.ceil(len(groups) / 12))  # at most about twelve labels along the bottom
    points = []
    for i, group in enumerate(groups):
        figure = Figure("week", {"week": group.week})
        label = plain(key_words("week", group.week))
        x = left + band * i
        bar = max(band * 0.7, 1)
        body.append(
            f'<rect x="{x + (band - bar) / 2:.1f}" y="{y(group.reports):.1f}" width="{bar:.1f}" '
            f'height="{y(0) - y(group.reports):.1f}" fill="#2f6db5" {figure.marks("reports", group.reports)}>'
            f"<title>{escape(label)}: {escape(number(group.reports))} laporan / reports</title></rect>"
        )
        points.append((x + band / 2, y(group.removed), figure, group, label))
        if i % every == 0:
            at = f"{x + band / 2:.1f} {height - bottom + 16}"
            body.append(
                f'<text x="{x + band / 2:.1f}" y="{height - bottom + 16}" text-anchor="end" '
                f'transform="rotate(-35 {at})" data-label="week">{escape(label)}</text>'
            )
    body.append(
        '<polyline fill="none" stroke="#b34700" stroke-width="2" points="'
        + " ".join(f"{px:.1f},{py:.1f}" for px, py, *_ in points)
        + '"/>'
    )
    for px, py, figure, group, label in points:
        body.append(
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="#b34700" {figure.marks("removed", group.removed)}>'
            f"<title>{escape(label)}: {escape(number(group.removed))} {escape(plain(FIGURE_WORDS['removed']))}"
            "</title></circle>"
        )
    legend_y = 14
    body += [
        f'<rect x="{left}" y="{legend_y - 9}" width="10" height="10" fill="#2f6db5"/>',
        f'<text x="{left + 14}" y="{legend_y}">{escape(plain(FIGURE_WORDS["reports"]))}</text>',
        f'<line x1="{left + 160}" y1="{legend_y - 4}" x2="{left + 176}" y2="{legend_y - 4}" '
        'stroke="#b34700" stroke-width="2"/>',
        f'<text x="{left + 180}" y="{legend_y}">{escape(plain(FIGURE_WORDS["removed"]))}</text>',
    ]
    return _svg(
        "trend-chart",
        width,
        height,
        ("Laporan dan video diturunkan per minggu", "Reports and videos removed by week"),
        "Batang: laporan per minggu; garis: video diturunkan per minggu. Bars: reports by week; line: videos "
        "removed by week. Angkanya ada di tabel di bawah / the figures are in the table below.",
        body,
    )


def _bar_chart(name: str, title: Words, figure: Figure, bars: Sequence[tuple[str, int]]) -> str:
    """Horizontal bars, one per figure, each labelled with its words and its value."""
    width, row, label_w, value_w = 720, 30, 330, 90
    height = row * len(bars) + 8
    top_value = max((value for _, value in bars), default=0) or 1
    body = []
    for i, (figure_name, value) in enumerate(bars):
        y = 4 + row * i
        length = (width - label_w - value_w) * value / top_value
        body += [
            f'<text x="{label_w - 8}" y="{y + 19}" text-anchor="end">{escape(plain(FIGURE_WORDS[figure_name]))}</text>',
            f'<rect x="{label_w}" y="{y + 5}" width="{length:.1f}" height="{row - 10}" fill="#2f6db5" '
            f"{figure.marks(figure_name, value)}><title>{escape(plain(FIGURE_WORDS[figure_name]))}: "
            f"{escape(number(value))}</title></rect>",
            f'<text x="{label_w + length + 6:.1f}" y="{y + 19}" {figure.marks(figure_name, value)}>'
            f"{escape(number(value))}</text>",
        ]
    description = "Satu batang per hasil, angkanya di sampingnya. One bar per outcome, its figure beside it."
    return _svg(name, width, height, title, description, body)


def _hours_chart(
    figure: Figure, measured: Sequence[tuple[str, Words, float | None]], deadlines: Mapping[int, Sequence[Phase]]
) -> str:
    """The median and the 90th percentile as bars on a scale of hours, the review deadlines as lines across."""
    width, row, label_w, top, right = 720, 34, 250, 40, 90
    height = top + row * len(measured) + 12
    end = _ceiling(max([*(v for _, _, v in measured if v is not None), *deadlines]) * 1.05)
    scale = (width - label_w - right) / end
    body = []
    for i, (name, pair, value) in enumerate(measured):
        y = top + row * i
        body.append(f'<text x="{label_w - 8}" y="{y + 21}" text-anchor="end">{escape(plain(pair))}</text>')
        if value is None:
            body.append(f'<text x="{label_w}" y="{y + 21}" {figure.marks(name, value)}>—</text>')
            continue
        body += [
            f'<rect x="{label_w}" y="{y + 6}" width="{value * scale:.1f}" height="{row - 12}" fill="#2f6db5" '
            f"{figure.marks(name, value)}><title>{escape(plain(pair))}: {escape(decimal(value))} jam / hours"
            "</title></rect>",
            f'<text x="{width - right + 10}" y="{y + 21}" {figure.marks(name, value)}>'
            f"{escape(decimal(value))} jam</text>",
        ]
    for i, (hours, phases) in enumerate(sorted(deadlines.items())):
        x = label_w + hours * scale
        names = " & ".join(PHASE_WORDS[p][0] for p in phases)
        body += [
            f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 6}" '
            'stroke="#b34700" stroke-dasharray="4 3"/>',
            f'<text x="{x:.1f}" y="{12 + 14 * (i % 2)}" text-anchor="middle" data-sla-hours="{hours}">'
            f"{escape(f'{hours} jam: {names}')}</text>",
        ]
    description = (
        "Batang: median dan persentil ke-90 jam hingga keputusan, angkanya di sampingnya; garis putus-putus: "
        "tenggat peninjauan. Bars: the median and 90th percentile hours to decision, each figure beside its bar; "
        "dashed lines: the review deadlines."
    )
    return _svg(
        "hours-chart",
        width,
        height,
        ("Jam hingga keputusan dan tenggat", "Hours to decision and deadlines"),
        description,
        body,
    )


def _footer() -> str:
    return "\n".join(
        [
            "<footer>",
            f"<p>{words(NO_PERSONAL_DATA)}</p>",
            f"<p>{words(SOURCES)}</p>",
            "</footer>",
        ]
    )


__all__ = [
    "FIGURES",
    "GROUPINGS",
    "StatsFigures",
    "StatsGroup",
    "StatsView",
    "content_security_policy",
    "render",
]
