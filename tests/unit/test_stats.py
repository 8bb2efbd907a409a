"""The figures' rules (kanal.stats) on an in-memory store: counters equal a direct computation on the same history
whatever the order, duplication and interleaving of the records that carry it; percentiles from the histogram
are within their bucket of the exact ones; the query's rules; the national scope is for election agencies."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kanal.calendar import default_calendar
from kanal.errors import InvalidRequest
from kanal.models import Category, Outcome, Policy
from kanal.stats import (
    HOUR_EDGES,
    NATIONAL,
    Counters,
    GroupBy,
    Scope,
    ScopeRefused,
    Stats,
    StatsQuery,
    answer,
    bucket_of,
    percentile,
    scope_of_partner,
)
from pydantic import ValidationError

from tests.support.counters import (
    REGIONS,
    START,
    History,
    MemoryStats,
    decision,
    direct_figures,
    report,
)

FIRST, LAST = date(2024, 1, 1), date(2024, 3, 31)
PARTNERS = ("bawaslu", "kpu", "mafindo")
EXACT = ("reports", "cases", "decided", "removed", "restricted", "labelled", "no_violation", "pending")

step = st.one_of(
    st.tuples(
        st.just("report"),
        st.integers(0, 2),  # case
        st.sampled_from(PARTNERS),
        st.sampled_from(list(Category)),
        st.sampled_from(REGIONS),
        st.booleans(),  # reopens the case if it is decided
    ),
    st.tuples(st.just("decide"), st.integers(0, 2), st.sampled_from(list(Outcome)), st.sampled_from(list(Policy))),
)


def build(steps: list[tuple[Any, ...]], gaps: list[int]) -> History:
    """A history: reports and decisions at increasing times (``gaps`` minutes apart, to cross buckets and days)."""
    history = History()
    at = START
    numbers = dict.fromkeys(range(3), 0)
    for i, entry in enumerate(steps):
        at += timedelta(minutes=gaps[i % len(gaps)])
        if entry[0] == "report":
            _, case, partner, category, region, reopens = entry
            numbers[case] += 1
            decided = history.cases.get(str(case)) is not None and history.cases[str(case)].decision is not None
            history.arrive(report(str(case), numbers[case], partner, at, category, region), reopens=reopens and decided)
        elif str(entry[1]) in history.cases:
            _, case, outcome, policy = entry
            history.decide(str(case), decision(at, outcome, policy))
    return history


class Racing(MemoryStats):
    """A store where another delivery may run between a change being read and being applied (a concurrent
    invocation on another shard): the change then meets the other's writes, as the table's conditions do."""

    def __init__(self) -> None:
        super().__init__()
        self.interlopers: list[Any] = []
        self.busy = False

    def apply(self, change: Any) -> Any:
        if self.interlopers and not self.busy:
            self.busy = True
            try:
                self.interlopers.pop()()
            finally:
                self.busy = False
        return super().apply(change)


def deliver(counters: Counters, record: tuple[str, Any, Any]) -> None:
    kind, what, case = record
    if kind == "report":
        counters.count_reports(case, [what])
    else:
        counters.count_decision(case)


def assert_matches(history: History, store: MemoryStats) -> None:
    stats = Stats(store, default_calendar())
    scopes = [NATIONAL, *(scope_of_partner(p) for p in PARTNERS)]
    for scope in scopes:
        cells = store.tallies(scope, FIRST, LAST)
        got = answer(Scope.OWN, FIRST, LAST, [], cells).totals.model_dump()
        want = direct_figures(history, scope, FIRST, LAST).get(None)
        if want is None:
            assert got["cases"] == 0
            assert got["reports"] == 0
            continue
        assert_figures(got, want)
        for group in GroupBy:
            grouped = answer(Scope.OWN, FIRST, LAST, [group], cells).body()["groups"]
            direct = direct_figures(history, scope, FIRST, LAST, key=lambda n, g=group: n[str(g)])
            assert {row[str(group)] for row in grouped} == set(direct)
            for row in grouped:
                assert_figures(row, direct[row[str(group)]])
    assert stats  # the reader is built over the same store


def assert_figures(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert {k: got[k] for k in EXACT} == {k: want[k] for k in EXACT}
    for name in ("median_hours_to_decision", "p90_hours_to_decision"):
        assert (got[name] is None) == (want[name] is None)
        if want[name] is not None:
            assert bucket_of(got[name]) == bucket_of(want[name]), (name, got[name], want[name])
    if want["decided_within_sla_share"] is None:
        assert got["decided_within_sla_share"] is None
    else:
        assert got["decided_within_sla_share"] == pytest.approx(want["decided_within_sla_share"], abs=1e-4)


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(step, min_size=1, max_size=14),
    gaps=st.lists(st.integers(1, 60 * 40), min_size=1, max_size=5),
    data=st.data(),
)
def test_counters_equal_a_direct_computation_whatever_the_delivery(
    steps: list[tuple[Any, ...]], gaps: list[int], data: st.DataObject
) -> None:
    """Each record delivered at least once, in any order, some twice or thrice, some while another delivery
    runs between its read and its write: the counters come out as the direct computation says."""
    history = build(steps, gaps)
    records = history.records
    deliveries = data.draw(
        st.permutations([i for i, _ in enumerate(records) for _ in range(data.draw(st.integers(1, 3)))])
    )
    store = Racing()
    counters = Counters(store, history.reports)
    for i in deliveries:
        if data.draw(st.booleans()):  # a concurrent delivery of another (or the same) record
            other = records[data.draw(st.integers(0, len(records) - 1))] if records else None
            if other is not None:
                store.interlopers.append(lambda o=other: deliver(counters, o))
        deliver(counters, records[i])
    store.interlopers.clear()
    assert_matches(history, store)


@settings(max_examples=100, deadline=None)
@given(
    steps=st.lists(step, min_size=1, max_size=14),
    gaps=st.lists(st.integers(1, 60 * 40), min_size=1, max_size=5),
    data=st.data(),
)
def test_counters_equal_a_direct_computation_when_a_batchs_reports_are_counted_together(
    steps: list[tuple[Any, ...]], gaps: list[int], data: st.DataObject
) -> None:
    """As the case builder delivers them: records in batches (any order, some again), a batch's reports of one case
    counted in one call (``Counters.count_reports``) with the case as its latest record has it, others' deliveries
    racing in between."""
    history = build(steps, gaps)
    records = history.records
    deliveries = data.draw(
        st.permutations([i for i, _ in enumerate(records) for _ in range(data.draw(st.integers(1, 3)))])
    )
    store = Racing()
    counters = Counters(store, history.reports)
    while deliveries:
        size = data.draw(st.integers(1, len(deliveries)))
        batch, deliveries = deliveries[:size], deliveries[size:]
        if records and data.draw(st.booleans()):
            other = records[data.draw(st.integers(0, len(records) - 1))]
            store.interlopers.append(lambda o=other: deliver(counters, o))
        by_case: dict[str, list[int]] = {}
        for i in batch:
            kind, _, case = records[i]
            if kind == "report":
                by_case.setdefault(case.case_id, []).append(i)
            else:
                deliver(counters, records[i])
        for indexes in by_case.values():
            latest = records[max(indexes)][2]  # the case as the batch attached it
            counters.count_reports(latest, [records[i][1] for i in indexes])
    store.interlopers.clear()
    assert_matches(history, store)


@given(hours=st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=200))
def test_percentiles_from_the_histogram_lie_in_the_exact_values_bucket(hours: list[float]) -> None:
    """The histogram's median and p90 are in the same bucket as the exact (nearest-rank) ones: at most one
    bucket's width apart (HOUR_EDGES states the widths)."""
    histogram: dict[int, int] = {}
    for h in hours:
        histogram[bucket_of(h)] = histogram.get(bucket_of(h), 0) + 1
    ordered = sorted(hours)
    for q in (0.5, 0.9):
        exact = ordered[max(1, -(-len(ordered) * q // 1).__int__()) - 1]
        got = percentile(histogram, q)
        assert got is not None
        assert bucket_of(got) == bucket_of(exact)
        if bucket_of(exact) + 1 < len(HOUR_EDGES):
            assert abs(got - exact) <= HOUR_EDGES[bucket_of(exact) + 1] - HOUR_EDGES[bucket_of(exact)]


def test_a_case_counts_for_each_partner_that_reported_it_and_once_nationally() -> None:
    history = History()
    history.arrive(report("c", 1, "bawaslu", START, Category.MISINFORMATION, "31.71"))
    history.arrive(report("c", 2, "kpu", START + timedelta(hours=1), Category.ELECTION_INTEGRITY, "32.73"))
    history.arrive(report("c", 3, "kpu", START + timedelta(hours=2), Category.ELECTION_INTEGRITY, "32.73"))
    history.decide("c", decision(START + timedelta(hours=3), Outcome.REMOVED, Policy.MISINFORMATION))
    store = MemoryStats()
    counters = Counters(store, history.reports)
    for record in history.records:
        deliver(counters, record)
    national = answer(Scope.NATIONAL, FIRST, LAST, [], store.tallies(NATIONAL, FIRST, LAST)).totals
    kpu = answer(Scope.OWN, FIRST, LAST, [], store.tallies(scope_of_partner("kpu"), FIRST, LAST)).totals
    bawaslu = answer(Scope.OWN, FIRST, LAST, [], store.tallies(scope_of_partner("bawaslu"), FIRST, LAST)).totals
    assert (national.cases, national.reports, national.removed) == (1, 3, 1)
    assert (kpu.cases, kpu.reports, kpu.removed, kpu.median_hours_to_decision) == (
        1,
        2,
        1,
        pytest.approx(2.25),
    )  # 2 hours: [2, 2.5)
    assert (bawaslu.cases, bawaslu.reports, bawaslu.removed) == (1, 1, 1)
    assert national.median_hours_to_decision == pytest.approx(3.25)  # 3 hours: bucket [3, 3.5)


def test_a_decision_before_any_report_was_counted_opens_the_notices_from_the_trail() -> None:
    history = History()
    history.arrive(report("c", 1, "bawaslu", START, Category.SYNTHETIC_MEDIA, "35"))
    history.decide("c", decision(START + timedelta(hours=30), Outcome.LABELLED, Policy.SYNTHETIC_MEDIA))
    store = MemoryStats()
    counters = Counters(store, history.reports)
    deliver(counters, history.records[1])  # the decision first
    deliver(counters, history.records[0])
    deliver(counters, history.records[1])
    totals = answer(Scope.OWN, FIRST, LAST, [], store.tallies(scope_of_partner("bawaslu"), FIRST, LAST)).totals
    assert (totals.reports, totals.cases, totals.labelled, totals.pending) == (1, 1, 1, 0)
    assert totals.decided_within_sla_share == 0.0  # 30 hours against a 24-hour deadline


def test_the_answer_groups_only_by_the_keys_asked() -> None:
    history = History()
    history.arrive(report("c", 1, "bawaslu", START, Category.MISINFORMATION, "31.71"))
    store = MemoryStats()
    deliver(Counters(store, history.reports), history.records[0])
    body = answer(Scope.OWN, FIRST, LAST, [GroupBy.POLICY, GroupBy.WEEK], store.tallies(NATIONAL, FIRST, LAST)).body()
    assert set(body) == {"scope", "from", "to", "totals", "groups"}
    (group,) = body["groups"]
    assert {k for k in group if k not in body["totals"]} == {"policy", "week"}
    assert group["policy"] is None
    assert group["week"] == "2024-W05"
    assert body["totals"]["median_hours_to_decision"] is None
    assert body["totals"]["decided_within_sla_share"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"election": "pemilu-2099"}, "election"),
        ({"election": "pemilu-2024", "from": "2024-01-01"}, "election"),
        ({"from": "2024-02-10", "to": "2024-02-01"}, "from"),
        ({"from": "2024-02-10"}, "to"),
        ({"to": "2024-02-10"}, "from"),
        ({}, "from"),
        ({"from": "2023-01-01", "to": "2024-02-01"}, "to"),
    ],
)
def test_a_bad_window_is_refused_naming_its_field(query: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        StatsQuery.model_validate(query).window(default_calendar())
    assert refused.value.field == field


@pytest.mark.parametrize("group_by", ["partner", "policy,name", "", "policy,,week"])
def test_an_unknown_group_by_is_refused(group_by: str) -> None:
    with pytest.raises(ValidationError) as refused:
        StatsQuery.model_validate({"from": "2024-01-01", "to": "2024-01-02", "group_by": group_by})
    assert refused.value.errors()[0]["loc"] == ("group_by",)


def test_an_election_window_runs_from_its_first_phase_to_its_last() -> None:
    assert StatsQuery.model_validate({"election": "pemilu-2024"}).window(default_calendar()) == (
        date(2023, 11, 28),
        date(2024, 2, 14),
    )


def test_the_national_scope_is_refused_to_others_than_election_agencies() -> None:
    stats = Stats(MemoryStats(), default_calendar())
    query = StatsQuery.model_validate({"election": "pemilu-2024", "scope": "national"})
    with pytest.raises(ScopeRefused):
        stats.read(query, "mafindo", national_allowed=False)
    assert stats.read(query, "bawaslu", national_allowed=True).scope is Scope.NATIONAL


def test_a_report_that_finds_its_case_decided_counts_as_decided_in_any_order() -> None:
    """Bawaslu's first report finds the case decided (covered); another partner's report reopens it; Bawaslu's
    second report finds it in review. Whichever of Bawaslu's reports is counted first, its notice is decided."""
    for order in ([0, 1, 2, 3, 4], [0, 1, 4, 3, 2]):
        history = History()
        history.arrive(report("c", 1, "kpu", START, Category.MISINFORMATION, "31.71"))
        history.decide("c", decision(START + timedelta(hours=2), Outcome.REMOVED, Policy.MISINFORMATION))
        history.arrive(report("c", 2, "bawaslu", START + timedelta(hours=3), Category.MISINFORMATION, "31.71"))
        history.arrive(
            report("c", 3, "mafindo", START + timedelta(hours=4), Category.HATE_SPEECH, "31.71"), reopens=True
        )
        history.arrive(report("c", 4, "bawaslu", START + timedelta(hours=5), Category.MISINFORMATION, "31.71"))
        store = MemoryStats()
        counters = Counters(store, history.reports)
        for i in order:
            deliver(counters, history.records[i])
        assert_matches(history, store)
        mine = answer(Scope.OWN, FIRST, LAST, [], store.tallies(scope_of_partner("bawaslu"), FIRST, LAST)).totals
        assert (mine.reports, mine.removed, mine.pending, mine.median_hours_to_decision) == (2, 1, 0, 0.12)


def test_the_weekly_export_is_the_week_before_monday_to_sunday() -> None:
    from kanal.stats_export import due

    for today in (date(2024, 2, 19), date(2024, 2, 21), date(2024, 2, 25)):
        (export,) = due("weekly", today, default_calendar())
        assert (export.prefix, export.first, export.last) == (
            "national/weekly/2024-W07",
            date(2024, 2, 12),
            date(2024, 2, 18),
        )


def test_an_election_window_is_exported_each_day_of_the_week_after_it_closed() -> None:
    from kanal.stats_export import due

    calendar = default_calendar()
    assert due("elections", date(2024, 2, 14), calendar) == []  # voting day: still open
    for today in (date(2024, 2, 15), date(2024, 2, 21)):
        (export,) = due("elections", today, calendar)
        assert (export.prefix, export.first, export.last) == (
            "national/elections/pemilu-2024",
            date(2023, 11, 28),
            date(2024, 2, 14),
        )
    assert due("elections", date(2024, 2, 22), calendar) == []
    with pytest.raises(ValueError, match="unknown export job"):
        due("monthly", date(2024, 2, 22), calendar)


def test_the_csv_is_rfc_4180_with_a_bom_a_total_row_and_the_groups_keys() -> None:
    import csv
    import io

    from kanal.stats import csv_bytes

    history = History()
    history.arrive(report("c", 1, "bawaslu", START, Category.MISINFORMATION, "31.71"))
    history.decide("c", decision(START + timedelta(hours=3), Outcome.REMOVED, Policy.MISINFORMATION))
    history.arrive(report("d", 1, "kpu", START, Category.OTHER, "94"))
    store = MemoryStats()
    counters = Counters(store, history.reports)
    for record in history.records:
        deliver(counters, record)
    body = answer(Scope.NATIONAL, FIRST, LAST, [GroupBy.POLICY, GroupBy.REGION], store.tallies(NATIONAL, FIRST, LAST))
    raw = csv_bytes(body.body())
    assert raw.startswith(b"\xef\xbb\xbfrow,scope,from,to,policy,region,reports,")
    assert raw.count(b"\r\n") == 4  # header, total, two groups
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[1][:6] == ["total", "national", "2024-01-01", "2024-03-31", "", ""]
    assert [r[4:6] for r in rows[2:]] == [["", "94"], ["misinformation", "31"]]
    assert rows[1][rows[0].index("median_hours_to_decision")] == "3.25"


def test_the_exports_views_are_one_answer_per_grouping_the_report_draws() -> None:
    from kanal.stats_export import REPORT_VIEWS, Export, views

    history = History()
    history.arrive(report("c", 1, "bawaslu", START, Category.MISINFORMATION, "31.71"))
    history.decide("c", decision(START + timedelta(hours=3), Outcome.REMOVED, Policy.MISINFORMATION))
    store = MemoryStats()
    for record in history.records:
        deliver(Counters(store, history.reports), record)
    drawn = views(store, Export("national/weekly/2024-W05", FIRST, LAST))
    assert set(drawn) == {"", "policy", "week", "outcome", "region", "category"} == set(REPORT_VIEWS)
    assert drawn[""]["groups"] == []
    for grouping, body in drawn.items():
        assert body["scope"] == "national"
        assert all(set(g) - set(body["totals"]) == {grouping} for g in body["groups"])
    assert drawn["policy"]["groups"][0]["removed"] == 1
