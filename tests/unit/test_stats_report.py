"""The report to publish (kanal.stats_report), read back as HTML: every figure on it is the API's and marked as such,
it loads nothing, holds no personal data whatever the answers carry beside their figures, escapes every text, and
has each section in the shape the issue asks (the seeds' table of removals by policy, provinces ranked, weeks in
order, the deadlines of data/sla.json). The same page in a real browser: tests/component/test_stats_report_browser.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kanal import regions, stats_report
from kanal.calendar import Phase, default_calendar
from kanal.models import Category, Outcome, Policy
from pydantic import BaseModel, Field, ValidationError

from tests.support.stats import (
    HOSTILE,
    PERSONAL,
    SEEDS_REMOVED,
    check_figures,
    figures,
    groups_of,
    read_number,
    read_page,
    seeds_views,
    view_sets,
)

AT = datetime(2024, 2, 16, 3, 0, tzinfo=UTC)
#: Tags the page may have: text, tables, inline SVG; nothing that loads, runs or links.
TAGS = frozenset(
    [
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "header",
        "main",
        "section",
        "footer",
        "h1",
        "h2",
        "p",
        "q",
        "span",
        "time",
        "dl",
        "div",
        "dt",
        "dd",
        "table",
        "caption",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "th",
        "td",
        "figure",
        "svg",
        "desc",
        "rect",
        "line",
        "text",
        "polyline",
        "circle",
    ]
)
#: Digits the page's own prose holds, outside any figure: the rule it cites and the percentile's name.
PROSE_DIGITS = re.compile(
    r"ke-90|90th|Permenkominfo 5/2020|Pasal 14|Article 14|\((24 jam; 4 jam|24 hours; 4 hours)|/v1/"
)


def render(views: dict[str, Any], election_id: str | None = "pemilu-2024") -> str:
    return stats_report.render(views, generated_at=AT, election_id=election_id)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(views=view_sets(), election=st.sampled_from([None, "pemilu-2024", "pilkada-2024"]))
def test_every_figure_on_the_page_is_the_answers_and_marked(views: dict[str, Any], election: str | None) -> None:
    page = render(views, election)
    read = read_page(page)
    seen = check_figures(views, read.marked)
    assert groups_of(views) <= seen, "every group of every answer is on the page"
    totals = "totals" if "" in views else min(views)
    assert {(totals, name) for name in stats_report.FIGURES} <= seen, "and every figure of the totals"
    unmarked = PROSE_DIGITS.sub("", " ".join(read.unmarked_text))
    if election:
        unmarked = unmarked.replace(default_calendar().election(election).name, "")  # type: ignore[union-attr]
    assert not re.search(r"\d", unmarked), "a number on the page that is not marked as a figure, label or scale"
    assert not any(value in page for value in PERSONAL.values())
    assert {tag for tag, _ in read.tags} <= TAGS


def test_the_page_holds_no_personal_data_whatever_the_answers_carry() -> None:
    views = seeds_views()
    page = render(views)
    for value in [*PERSONAL.values(), "Bawaslu RI"]:
        assert value not in page
    for fragment in ("Budi", "0812", "siti.rahma", "tiktok.com", "123456789012", "Rahasia"):
        assert fragment not in page
    # the models keep the keys and figures alone
    view = stats_report.StatsView.model_validate(views["policy"])
    assert set(view.model_dump()) == {"scope", "start", "end", "totals", "groups"}
    assert set(view.groups[0].model_dump()) == {
        *stats_report.FIGURES,
        "category",
        "policy",
        "outcome",
        "region",
        "week",
    }


def test_every_text_is_escaped_and_shown_as_text() -> None:
    views = seeds_views()
    views["week"]["groups"] += [{"week": text, **figures(1)} for text in HOSTILE[1:]]
    views["region"]["groups"].append({"region": HOSTILE[0], **figures(2)})
    views["policy"]["groups"].append({"policy": HOSTILE[1], **figures(4, removed=3)})
    views[""]["from"] = HOSTILE[4]
    page = render(views)
    read = read_page(page)
    assert "<script" not in page
    for tag, attributes in read.tags:  # no markup of theirs: no tag, no handler, no link, no style
        assert tag in TAGS
        assert not [name for name in attributes if name.startswith("on") or name in ("src", "href", "style")]
    everything = page_text(page)
    for text in HOSTILE:  # each is on the page as the text it is (the parser unescapes it back)
        assert text in everything, text
    check_figures(views, read.marked)


def page_text(page: str) -> str:
    """Every text and attribute value of the page, unescaped."""
    read = read_page(page)
    return " ".join(
        [*read.unmarked_text, *(m.text for m in read.marked), *(v for _, a in read.tags for v in a.values())]
    )


def test_the_page_loads_nothing_and_allows_only_its_own_stylesheet() -> None:
    page = render(seeds_views())
    read = read_page(page)
    policy = stats_report.content_security_policy()
    assert f'<meta http-equiv="Content-Security-Policy" content="{policy}">' in page
    assert policy.startswith("default-src 'none'; style-src 'sha256-")
    assert policy.split("style-src ")[1].split(";")[0] == stats_report.style_hash()
    styles = re.findall(r"<style>(.*?)</style>", page, re.S)
    assert styles == [stats_report.STYLE], "one stylesheet, the one the policy's hash allows"
    for needle in (
        "url(",
        "@import",
        "@font-face",
        "src=",
        "href=",
        "<script",
        "<img",
        "<link",
        "<iframe",
        "http:",
        "//",
    ):
        assert needle not in page.replace('xmlns="http://www.w3.org/2000/svg"', ""), needle
    assert read.tags[0] == ("html", {"lang": "id"})


def test_english_stands_beside_the_indonesian_with_its_own_lang() -> None:
    read = read_page(render(seeds_views()))
    english = [a for tag, a in read.tags if "en" in a.get("class", "").split()]
    assert len(english) > 40
    assert all(a.get("lang") == "en" for a in english)
    for tag, attributes in read.tags:
        if tag == "svg":
            assert attributes["role"] == "img"
            assert attributes["aria-labelledby"].split() == [f"{attributes['id']}-t", f"{attributes['id']}-d"]


def test_removals_by_policy_are_the_seeds_table() -> None:
    views = seeds_views()
    page = render(views)
    section = page[page.index('<section id="policy"') : page.index("</section>", page.index('<section id="policy"'))]
    rows = re.findall(r'data-policy="([^"]+)" data-figure="removed" data-value="(\d+)">([\d.]+)<', section)
    assert rows == [
        ("misinformation", "17195", "17.195"),
        ("civic_election_integrity", "38002", "38.002"),
        ("synthetic_media", "3529", "3.529"),
        ("hate_speech", "0", "0"),
    ]
    assert 'data-view="policy" data-figure="removed" data-value="58726">58.726<' in section  # the total
    assert "Misinformasi" in section
    assert "Synthetic and manipulated media" in section
    assert "Belum diputus" not in section, "the cases not yet decided removed nothing under no policy"


def test_provinces_are_ranked_by_reports_with_their_names() -> None:
    views = seeds_views()
    views["region"]["groups"].append({"region": "51", **figures(4000, removed=10)})  # ties 32 on reports
    page = render(views)
    section = page[page.index('<section id="region"') :]
    order = re.findall(r'data-view="region" data-region="([^"]*)" data-figure="reports"', section)
    groups = [g for g in views["region"]["groups"] if g["region"] is not None]
    expected = sorted(groups, key=lambda g: (-g["reports"], -g["removed"], g["region"]))
    assert order == [g["region"] for g in expected] + [""]
    assert re.findall(r'data-rank="(\d+)"', section) == [str(n) for n in range(1, len(groups) + 1)]
    assert regions.display_name("31") == "DKI Jakarta"
    assert ">DKI Jakarta<" in section
    assert "Tidak diketahui" in section


def test_the_weekly_trend_is_in_order_with_a_bar_and_a_point_per_week() -> None:
    views = seeds_views()
    views["week"]["groups"].reverse()
    page = render(views)
    weeks = sorted(g["week"] for g in views["week"]["groups"])
    chart = page[page.index('<svg id="trend-chart"') : page.index("</svg>", page.index('<svg id="trend-chart"'))]
    bars = re.findall(r'<rect [^>]*data-week="([^"]+)" data-figure="reports"', chart)
    points = re.findall(r'<circle [^>]*data-week="([^"]+)" data-figure="removed"', chart)
    unescaped = [w.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"') for w in bars]
    assert unescaped == weeks
    assert len(points) == len(weeks)
    assert '<title id="trend-chart-t">' in chart


def test_time_to_decision_stands_against_the_deadlines_of_the_sla_data() -> None:
    calendar = default_calendar()
    page = render(seeds_views())
    cells = dict(re.findall(r'data-sla="(\w+)" data-value="(\d+)"', page))
    assert cells == {str(p): str(calendar.sla_default[p]) for p in Phase}
    overrides = re.findall(r'data-sla="(\w+)" data-category="(\w+)" data-value="(\d+)"', page)
    assert overrides == [
        (str(p), c, str(calendar.review_hours(c, p))) for p in Phase for c in sorted(calendar.sla_overrides)
    ]
    lines = {int(h) for h in re.findall(r'data-sla-hours="(\d+)"', page)}
    assert lines == {calendar.sla_default[p] for p in Phase if p is not Phase.NONE}, "the election's phases"
    assert {int(h) for h in re.findall(r'data-sla-hours="(\d+)"', render(seeds_views(), None))} == set(
        calendar.sla_default.values()
    )
    assert "Permenkominfo 5/2020" in page


@given(value=st.integers(min_value=0, max_value=10**12))
def test_whole_numbers_are_written_the_indonesian_way(value: int) -> None:
    written = stats_report.number(value)
    assert read_number(written) == value
    assert re.fullmatch(r"\d{1,3}(\.\d{3})*", written)


@given(value=st.floats(min_value=0, max_value=10**7, allow_nan=False))
def test_hours_and_shares_are_written_the_indonesian_way(value: float) -> None:
    hours = stats_report.shown("median_hours_to_decision", value)
    assert re.fullmatch(r"\d{1,3}(\.\d{3})*,\d", hours)
    assert abs(read_number(hours) - value) <= 0.05 + 1e-9 * value  # type: ignore[operator]
    share = stats_report.shown("decided_within_sla_share", min(value, 1.0))
    assert share.endswith("%")
    assert abs(read_number(share) - min(value, 1.0)) <= 0.0005 + 1e-12  # type: ignore[operator]


def test_examples_of_the_numbers() -> None:
    assert stats_report.number(58726) == "58.726"
    assert stats_report.decimal(1234.56) == "1.234,6"
    assert stats_report.percent(0.875) == "87,5%"
    assert stats_report.shown("p90_hours_to_decision", None) == "\u2014"


def test_every_policy_outcome_category_and_phase_has_its_words() -> None:
    assert set(stats_report.POLICY_WORDS) == set(Policy)
    assert set(stats_report.OUTCOME_WORDS) == set(Outcome)
    assert set(stats_report.CATEGORY_WORDS) == set(Category)
    assert set(stats_report.PHASE_WORDS) == set(Phase)
    assert set(stats_report.FIGURE_WORDS) == set(stats_report.FIGURES) == set(stats_report.StatsFigures.model_fields)
    assert set(stats_report.NO_KEY_WORDS) == set(stats_report.GROUPINGS) - {""}


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        (lambda v: v.update({"partner": v[""]}), "views must be some of"),
        (lambda v: v.clear(), "views must be some of"),
        (lambda v: v["policy"]["groups"].append(figures(3)), "without that key"),
        (lambda v: v[""]["groups"].append({"policy": "x", **figures(3)}), "groups for none"),
        (lambda v: v[""]["totals"].update(reports=-1), "greater than or equal to 0"),
        (lambda v: v[""]["totals"].update(decided_within_sla_share=1.5), "less than or equal to 1"),
        (lambda v: v[""]["totals"].update(median_hours_to_decision=float("nan")), "finite number"),
        (lambda v: v[""]["totals"].pop("removed"), "removed"),
        (lambda v: v[""].update(scope="everyone"), "scope"),
        (lambda v: v["week"]["groups"][0].update(week="x" * 101), "at most 100 characters"),
    ],
)
def test_an_answer_not_of_the_figures_shape_is_refused(change: Any, refusal: str) -> None:
    views = seeds_views()
    change(views)
    with pytest.raises((ValueError, ValidationError), match=refusal):
        render(views)


def test_the_moment_it_was_made_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        stats_report.render(seeds_views(), generated_at=datetime(2024, 2, 16))


def test_the_heading_names_the_election_window_scope_and_moment() -> None:
    page = render(seeds_views())
    assert '<p class="meta" data-election="pemilu-2024">Pemilihan Umum 2024</p>' in page
    assert "28 November 2023 \u2013 15 Februari 2024" in page
    assert "15 February 2024" in page
    assert 'data-scope="national"' in page
    assert (
        '<time datetime="2024-02-16T03:00:00+00:00" data-label="generated_at">16 Februari 2024 10.00 WIB</time>' in page
    )
    own = seeds_views({"scope": "own", "from": None, "to": None})
    assert "Laporan mitra ini sendiri" in render(own, None)
    assert sum(SEEDS_REMOVED.values()) == 58726


def test_an_answer_may_come_as_any_model_of_its_json() -> None:
    """The export reads the figures in-process: its own models of the answer draw the same page as their JSON."""

    class Answer(BaseModel):  # another model of the same JSON, as the API's own would be
        scope: str
        start: str | None = Field(alias="from")
        end: str | None = Field(alias="to")
        totals: dict[str, Any]
        groups: list[dict[str, Any]]
        partner_names: list[str] = []

    views = seeds_views()
    as_models = {key: Answer.model_validate(view) for key, view in views.items()}
    assert render(as_models) == render(views)  # type: ignore[arg-type]
    validated = {key: stats_report.StatsView.model_validate(view) for key, view in views.items()}
    assert render(validated) == render(views)  # type: ignore[arg-type]
