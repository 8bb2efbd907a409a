"""The channel's figures: counters kept as reports arrive and cases are decided, read per partner or nationally.

The unit of counting is a *notice*: one case as one scope knows it. Scope ``national`` has one notice per case;
scope ``partner:<id>`` has one per case that the partner reported (a case counts for each partner that reported
it). A notice lives in one *cell* of the counters:

- the WIB day (and so the ISO week) of the scope's earliest report on the case, that report's category and the
  province of its region: when, what and where the case came to the scope;
- the policy and outcome of the case's latest decision (none while undecided).

What a notice adds to its cell (its *tally*) is one case, its reports, and once decided: one decision, whether it
came within the case's review deadline, and its hours to decision in a histogram bucket. The counters are, at
every moment, the sum of the notices' tallies: every change of a notice (a report counted, the case decided,
decided again after a reopening) is a *move* of its tally from its old cell to its new one, written in one
transaction with the notice itself (conditional on its version) and, for a report, with the report's marker. So
a redelivered record or a retried decision changes nothing, whatever the order: a notice's state is a function
of the set of its reports counted (earliest wins) and of its case's latest decision (latest wins).

A read adds up the cells of a range of days: its cost depends on how many cells hold something (bounded by the
days times the categories, provinces, policies and outcomes), not on how many reports or decisions there were.
The median and 90th percentile of hours to decision come from the merged histograms (``HOUR_EDGES``): within the
bucket where the exact value lies.

Nothing here reads the clock or imports boto3; ``adapters/dynamodb_stats.py`` keeps the counters in the table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Protocol

from pydantic import ConfigDict, Field, field_validator

from kanal import regions
from kanal.calendar import Calendar
from kanal.errors import InvalidRequest, KanalError, StoreUnavailable
from kanal.models import Case, CaseStatus, Category, Model, Outcome, Policy, Report, report_position

#: The day a notice counts under is its first report's day in WIB (UTC+7), as the election calendar counts days.
WIB = timezone(timedelta(hours=7), "WIB")
NATIONAL = "national"
#: The longest range one read adds up (a year and a day): a read's cost grows with the days it covers.
MAX_DAYS = 367
#: Edges of the histogram of hours to decision: bucket i holds [HOUR_EDGES[i], HOUR_EDGES[i + 1]), the last one
#: everything from 720 hours (30 days) on. The review deadlines (4, 12, 24, 72 hours) are edges, and buckets are
#: at most a quarter of their lower edge wide from 1 hour to 2 days, so a median or p90 read from them is within
#: 15 minutes below 1 hour and within 25 % from there to 48 hours (the width of its bucket; beyond 48 hours the
#: buckets widen: 12 hours up to 3 days, a day up to a week, then up to 9 days; past 720 hours it is "720 or more").
HOUR_EDGES: tuple[float, ...] = (
    0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 5, 6, 7, 8, 10, 12, 15, 18, 21, 24,
    30, 36, 42, 48, 60, 72, 96, 120, 144, 168, 240, 336, 504, 720,
)  # fmt: skip
NONE_KEY = "-"


def scope_of_partner(partner_id: str) -> str:
    """The scope of one partner's own figures."""
    return f"partner:{partner_id}"


def bucket_of(hours: float) -> int:
    """The histogram bucket of a number of hours (negative counts as 0)."""
    index = 0
    for i, edge in enumerate(HOUR_EDGES):
        if hours >= edge:
            index = i
    return index


def iso_week(day: date) -> str:
    """A day's ISO week as ``YYYY-Www`` (e.g. 2024-W07: 12 to 18 February 2024)."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def wib_day(moment: datetime) -> date:
    """The WIB calendar day of a moment."""
    return moment.astimezone(WIB).date()


@dataclass(frozen=True)
class Cell:
    """Where a notice is counted: its day, category and province; its decision's policy and outcome."""

    day: date
    category: str
    province: str
    policy: str | None = None
    outcome: str | None = None

    def key(self) -> str:
        """The cell's sort key within its scope and week (``<day>#<category>#<province>#<policy>#<outcome>``)."""
        parts = (self.day.isoformat(), self.category, self.province, self.policy or NONE_KEY, self.outcome or NONE_KEY)
        return "#".join(parts)

    def __lt__(self, other: Cell) -> bool:
        return self.key() < other.key()

    @classmethod
    def from_key(cls, key: str) -> Cell:
        """The cell a sort key names."""
        day, category, province, policy, outcome = key.split("#")
        return cls(
            date.fromisoformat(day),
            category,
            province,
            None if policy == NONE_KEY else policy,
            None if outcome == NONE_KEY else outcome,
        )


@dataclass(frozen=True)
class Tally:
    """Counts kept in a cell: reports, cases, decisions, decisions within the deadline, hours to decision by bucket."""

    reports: int = 0
    cases: int = 0
    decided: int = 0
    within_sla: int = 0
    hours: Mapping[int, int] = field(default_factory=dict)

    def __add__(self, other: Tally) -> Tally:
        hours = dict(self.hours)
        for bucket, count in other.hours.items():
            hours[bucket] = hours.get(bucket, 0) + count
        return Tally(
            self.reports + other.reports,
            self.cases + other.cases,
            self.decided + other.decided,
            self.within_sla + other.within_sla,
            {b: n for b, n in hours.items() if n},
        )

    def __neg__(self) -> Tally:
        return Tally(
            -self.reports, -self.cases, -self.decided, -self.within_sla, {b: -n for b, n in self.hours.items()}
        )

    @property
    def empty(self) -> bool:
        """Whether it changes nothing."""
        return not (self.reports or self.cases or self.decided or self.within_sla or any(self.hours.values()))

    def counters(self) -> dict[str, int]:
        """The counters by attribute name, as the table keeps them (zeros left out)."""
        values = {"reports": self.reports, "cases": self.cases, "decided": self.decided, "within_sla": self.within_sla}
        values.update({f"h{bucket}": n for bucket, n in self.hours.items()})
        return {name: n for name, n in values.items() if n}

    @classmethod
    def from_counters(cls, values: Mapping[str, Any]) -> Tally:
        """A tally from stored counters (other attributes ignored)."""
        hours = {int(name[1:]): int(n) for name, n in values.items() if name[:1] == "h" and name[1:].isdigit()}
        return cls(
            int(values.get("reports", 0)),
            int(values.get("cases", 0)),
            int(values.get("decided", 0)),
            int(values.get("within_sla", 0)),
            {b: n for b, n in hours.items() if n},
        )


class Notice(Model):
    """One case as one scope knows it (stored beside the counters; its version orders its changes)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    case_id: str
    scope: str
    #: The earliest of the scope's reports counted: its position (received time, id), time, category, region.
    first: str
    opened_at: datetime
    category: str
    region_code: str
    reports: int = 0
    review_due_at: datetime
    decided_at: datetime | None = None
    policy: str | None = None
    outcome: str | None = None
    version: int = 0

    @property
    def cell(self) -> Cell:
        """The cell the notice is counted in."""
        return Cell(
            wib_day(self.opened_at),
            self.category,
            regions.province_of(self.region_code),
            self.policy if self.decided_at else None,
            self.outcome if self.decided_at else None,
        )

    @property
    def hours_to_decision(self) -> float | None:
        """Hours from the scope's first report to the decision (0 for a report that came after it)."""
        if self.decided_at is None:
            return None
        return max(0.0, (self.decided_at - self.opened_at).total_seconds() / 3600)

    @property
    def within_sla(self) -> bool | None:
        """Whether the decision came by the case's review deadline (or before the scope's first report)."""
        if self.decided_at is None:
            return None
        return self.decided_at <= max(self.review_due_at, self.opened_at)

    def tally(self) -> Tally:
        """What the notice adds to its cell."""
        hours = self.hours_to_decision
        if hours is None:
            return Tally(reports=self.reports, cases=1)
        return Tally(self.reports, 1, 1, 1 if self.within_sla else 0, {bucket_of(hours): 1})


def opened(case: Case, scope: str, report: Report, *, counted: bool) -> Notice:
    """A new notice of ``case`` for ``scope``, from its first known report (counted in it or not), decided if the
    case is decided now."""
    notice = Notice(
        case_id=case.case_id,
        scope=scope,
        first=report_position(report.received_at, report.report_id),
        opened_at=report.received_at,
        category=str(report.category),
        region_code=report.region_code,
        reports=1 if counted else 0,
        review_due_at=case.review_due_at,
    )
    decided = with_decision(notice, case)
    return decided if decided is not None else notice


def with_report(notice: Notice, report: Report) -> Notice:
    """The notice with one more report counted; an earlier report than its first becomes its first."""
    update: dict[str, Any] = {"reports": notice.reports + 1, "version": notice.version + 1}
    position = report_position(report.received_at, report.report_id)
    if position < notice.first:
        update.update(
            first=position, opened_at=report.received_at, category=str(report.category), region_code=report.region_code
        )
    return notice.model_copy(update=update)


def with_decision(notice: Notice, case: Case) -> Notice | None:
    """The notice as of the case's decision, if that is newer than the one it has (None: nothing to change)."""
    decision = case.decision
    if case.status is not CaseStatus.DECIDED or decision is None:
        return None
    if notice.decided_at is not None and notice.decided_at >= decision.decided_at:
        return None
    return notice.model_copy(
        update={
            "decided_at": decision.decided_at,
            "policy": str(decision.policy),
            "outcome": str(decision.outcome),
            "review_due_at": case.review_due_at,
            "version": notice.version + 1,
        }
    )


def moves(before: Notice | None, after: Notice) -> dict[Cell, Tally]:
    """The counter changes that turn ``before``'s tally into ``after``'s (cells that do not change left out)."""
    changes: dict[Cell, Tally] = {after.cell: after.tally()}
    if before is not None:
        changes[before.cell] = changes.get(before.cell, Tally()) + -before.tally()
    return {cell: tally for cell, tally in changes.items() if not tally.empty}


@dataclass(frozen=True)
class Change:
    """One atomic change of the counters: notices written (each only if still at the version read), their moves,
    and (for a report) the report's marker, written only if absent."""

    notices: Sequence[tuple[Notice | None, Notice]]
    report_id: str | None = None

    def deltas(self) -> dict[tuple[str, Cell], Tally]:
        """Every counter change by (scope, cell), merged."""
        found: dict[tuple[str, Cell], Tally] = {}
        for before, after in self.notices:
            for cell, tally in moves(before, after).items():
                key = (after.scope, cell)
                found[key] = found.get(key, Tally()) + tally
        return {key: tally for key, tally in found.items() if not tally.empty}


class Applied(StrEnum):
    """What became of a change."""

    DONE = "done"
    #: The report was counted before (its marker exists): nothing was written.
    COUNTED = "counted"
    #: A notice changed since it was read: nothing was written; read again and retry.
    CONFLICT = "conflict"


class StatsStore(Protocol):
    """Where the counters and notices are kept."""

    def notices(self, case_id: str, scopes: Iterable[str]) -> dict[str, Notice]:
        """The case's notices among ``scopes``, by scope (read strongly: they are written conditionally)."""

    def apply(self, change: Change) -> Applied:
        """Write a change atomically, or nothing."""

    def tallies(self, scope: str, first: date, last: date) -> Iterable[tuple[Cell, Tally]]:
        """Every non-empty cell of ``scope`` from day ``first`` to ``last`` (both included)."""


class ReportsOf(Protocol):
    """A case's reports (the trail)."""

    def reports_of(self, case_id: str) -> list[Report]:
        """Every report of a case, oldest first."""


class CaseLookup(Protocol):
    """Whether a case is still there."""

    def get(self, case_id: str) -> Case | None:
        """The case, or None."""


#: How often a change is read and tried again after losing a race, before the record is retried instead.
ATTEMPTS = 8


@dataclass(frozen=True)
class Counters:
    """Keeps the counters as reports are attached and cases decided (the case builder calls it)."""

    store: StatsStore
    trail: ReportsOf
    #: To tell a case that is gone (its retention ended, or a smoke run removed it) from an index that lags.
    cases: CaseLookup | None = None

    def count_reports(self, case: Case, reports: Iterable[Report]) -> int:
        """Count each report once, in the national scope and its partner's; ``case`` is the case as attached.
        How many were counted now (the others had been). Oldest first: a notice's first report then comes first
        and the notice stays in its cell (a later batch with an older report moves it)."""
        # A report once, however often the batch names it.
        distinct = {report.report_id: report for report in reports}.values()
        ordered = sorted(distinct, key=lambda r: report_position(r.received_at, r.report_id))
        return sum(self._count_report(case, report) for report in ordered)

    def _count_report(self, case: Case, report: Report) -> int:
        scopes = (NATIONAL, scope_of_partner(report.partner_id))
        for _ in range(ATTEMPTS):
            found = self.store.notices(case.case_id, scopes)
            notices: list[tuple[Notice | None, Notice]] = []
            for scope in scopes:
                before = found.get(scope)
                if before is None:
                    after = opened(case, scope, report, counted=True)
                else:  # the case as attached may carry a decision this notice has not seen (order-free)
                    counted = with_report(before, report)
                    after = with_decision(counted, case) or counted
                notices.append((before, after))
            applied = self.store.apply(Change(notices, report.report_id))
            if applied is not Applied.CONFLICT:
                return 1 if applied is Applied.DONE else 0
        raise StoreUnavailable(f"counting report {report.report_id} kept losing races")

    def count_decision(self, case: Case) -> int:
        """Count the case's decision in every scope that knows the case (a notice not yet opened by its reports
        is opened from the case's reports); how many notices changed (none when it was counted before)."""
        if case.status is not CaseStatus.DECIDED or case.decision is None:
            return 0
        scopes = [NATIONAL, *sorted(scope_of_partner(p) for p in case.partners)]
        changed = 0
        reports: list[Report] | None = None
        for scope in scopes:
            for _ in range(ATTEMPTS):
                before = self.store.notices(case.case_id, [scope]).get(scope)
                if before is None:
                    reports = self.trail.reports_of(case.case_id) if reports is None else reports
                    first = _first_report(reports, scope)
                    if first is None and self.cases is not None and self.cases.get(case.case_id) is None:
                        return changed  # the case is gone, and everything about it: nothing to count
                    if first is None:  # the index lags the case: retry the record rather than lose the decision
                        raise StoreUnavailable(f"case {case.case_id}: no report of {scope} to count its decision")
                    after: Notice | None = opened(case, scope, first, counted=False)
                else:
                    after = with_decision(before, case)
                if after is None:
                    break
                applied = self.store.apply(Change([(before, after)]))
                if applied is Applied.DONE:
                    changed += 1
                    break
            else:
                raise StoreUnavailable(f"counting the decision of case {case.case_id} kept losing races")
        return changed


def _first_report(reports: Sequence[Report], scope: str) -> Report | None:
    mine = [r for r in reports if scope == NATIONAL or scope == scope_of_partner(r.partner_id)]
    return min(mine, key=lambda r: report_position(r.received_at, r.report_id), default=None)


# --- Reading -----------------------------------------------------------------------------------------------


class Scope(StrEnum):
    """Whose figures: the calling partner's own reports, or every report (election agencies only)."""

    OWN = "own"
    NATIONAL = "national"


class GroupBy(StrEnum):
    """What a read can group its figures by."""

    CATEGORY = "category"
    POLICY = "policy"
    OUTCOME = "outcome"
    REGION = "region"
    WEEK = "week"


class ScopeRefused(KanalError):
    """A partner that is not an election agency asked for the national figures."""


class StatsQuery(Model):
    """The query of GET /v1/stats."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    election: str | None = Field(
        default=None,
        max_length=64,
        description="An election id of the calendar (e.g. pemilu-2024): its window, from the first day of its first "
        "phase to the last of its last. Instead of from and to.",
    )
    from_: date | None = Field(
        default=None,
        alias="from",
        description="First day (WIB), e.g. 2023-11-28. A case counts under the day of the scope's first report on "
        "it, with its latest decision (so a window's cases are those reported in it, and what became of them).",
    )
    to: date | None = Field(default=None, description="Last day (WIB), included; at most 367 days after from.")
    group_by: str | None = Field(
        default=None,
        max_length=64,
        description="Comma-separated, any of category, policy, outcome, region (province code), week (ISO week, "
        "YYYY-Www); e.g. policy,week. None: totals only.",
    )
    scope: Scope = Field(default=Scope.OWN, description="own (your reports) or national (election agencies only).")

    @field_validator("group_by")
    @classmethod
    def _known_groups(cls, value: str | None) -> str | None:
        if value is None:
            return value
        names = [name.strip() for name in value.split(",")]
        unknown = [name for name in names if name not in set(GroupBy)]
        if unknown or not names:
            raise ValueError(f"must be a comma-separated list of {', '.join(GroupBy)}")
        return ",".join(names)

    @property
    def groups(self) -> list[GroupBy]:
        """The group keys asked for, in order, each once."""
        return list(dict.fromkeys(GroupBy(n) for n in self.group_by.split(","))) if self.group_by else []

    def window(self, calendar: Calendar) -> tuple[date, date]:
        """The days asked for (InvalidRequest naming the field otherwise)."""
        if self.election is not None:
            if self.from_ is not None or self.to is not None:
                raise InvalidRequest("election", "give either election or from and to, not both")
            election = calendar.election(self.election)
            if election is None:
                raise InvalidRequest(
                    "election", f"must be an election id of the calendar ({', '.join(sorted(calendar.ids()))})"
                )
            spans = election.phases.values()
            return min(s[0] for s in spans), max(s[1] for s in spans)
        if self.from_ is None or self.to is None:
            raise InvalidRequest("from" if self.from_ is None else "to", "give election, or both from and to")
        if self.from_ > self.to:
            raise InvalidRequest("from", "must not be after to")
        if (self.to - self.from_).days >= MAX_DAYS:
            raise InvalidRequest("to", f"must be at most {MAX_DAYS - 1} days after from")
        return self.from_, self.to


class Figures(Model):
    """The figures of a set of notices."""

    model_config = ConfigDict(defer_build=True, json_schema_serialization_defaults_required=True)

    reports: int = Field(description="Reports received.")
    cases: int = Field(description="Cases (pieces of content) those reports are about.")
    decided: int = Field(description="Cases decided (their latest decision).")
    removed: int
    restricted: int
    labelled: int
    no_violation: int
    pending: int = Field(description="Cases not decided yet.")
    median_hours_to_decision: float | None = Field(
        description="Median hours from the first report to the decision, from a histogram (HOUR_EDGES): within "
        "its bucket of the exact value. Null when nothing was decided."
    )
    p90_hours_to_decision: float | None = Field(description="The 90th percentile, likewise.")
    decided_within_sla_share: float | None = Field(
        description="Share of decisions made by the case's review deadline (0-1). Null when nothing was decided."
    )


class StatsGroup(Figures):
    """The figures of one group: the group's keys (only those of group_by), then its figures."""

    category: Category | None = None
    policy: Policy | None = Field(default=None, description="Null: the group's cases are not decided.")
    outcome: Outcome | None = Field(default=None, description="Null: the group's cases are not decided.")
    region: str | None = Field(default=None, description="Province code (e.g. 31: DKI Jakarta).")
    week: str | None = Field(default=None, description="ISO week (YYYY-Www, weeks from Monday) of the WIB day.")


class StatsAnswer(Model):
    """The answer of GET /v1/stats."""

    model_config = ConfigDict(
        defer_build=True, json_schema_serialization_defaults_required=True, serialize_by_alias=True
    )

    scope: Scope
    from_: date = Field(alias="from")
    to: date
    totals: Figures
    groups: list[StatsGroup]

    def body(self) -> dict[str, Any]:
        """The JSON answer: each group with only the keys it is grouped by."""
        return {
            "scope": str(self.scope),
            "from": self.from_.isoformat(),
            "to": self.to.isoformat(),
            "totals": self.totals.model_dump(mode="json"),
            "groups": [group.model_dump(mode="json", exclude_unset=True) for group in self.groups],
        }


FIGURES = tuple(Figures.model_fields)


def percentile(hours: Mapping[int, int], q: float) -> float | None:
    """The ``q`` quantile (nearest rank) of a histogram, placed linearly within its bucket."""
    total = sum(hours.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(q * total))
    below = 0
    for bucket in sorted(hours):
        count = hours[bucket]
        if count <= 0:
            continue
        if below + count >= rank:
            low = HOUR_EDGES[bucket]
            if bucket + 1 >= len(HOUR_EDGES):
                return float(low)
            high = HOUR_EDGES[bucket + 1]
            return round(low + (high - low) * (rank - below - 0.5) / count, 2)
        below += count
    return float(HOUR_EDGES[max(hours)])


def figures(tallies: Iterable[tuple[Cell, Tally]]) -> dict[str, Any]:
    """The figures of some cells."""
    total = Tally()
    outcomes = dict.fromkeys(Outcome, 0)
    for cell, tally in tallies:
        total = total + tally
        if cell.outcome is not None:
            outcomes[Outcome(cell.outcome)] += tally.decided
    return {
        "reports": total.reports,
        "cases": total.cases,
        "decided": total.decided,
        "removed": outcomes[Outcome.REMOVED],
        "restricted": outcomes[Outcome.RESTRICTED],
        "labelled": outcomes[Outcome.LABELLED],
        "no_violation": outcomes[Outcome.NO_VIOLATION],
        "pending": total.cases - total.decided,
        "median_hours_to_decision": percentile(total.hours, 0.5),
        "p90_hours_to_decision": percentile(total.hours, 0.9),
        "decided_within_sla_share": round(total.within_sla / total.decided, 4) if total.decided else None,
    }


def group_key(cell: Cell, group: GroupBy) -> str | None:
    """A cell's value for a group key."""
    if group is GroupBy.CATEGORY:
        return cell.category
    if group is GroupBy.POLICY:
        return cell.policy
    if group is GroupBy.OUTCOME:
        return cell.outcome
    if group is GroupBy.REGION:
        return cell.province
    return iso_week(cell.day)


def answer(
    scope: Scope, first: date, last: date, groups: Sequence[GroupBy], cells: Iterable[tuple[Cell, Tally]]
) -> StatsAnswer:
    """The answer from the cells of a range: totals, and the figures of each group (sorted by its keys; a group
    that is not decided yet, policy or outcome null, sorts first)."""
    kept = list(cells)
    grouped: dict[tuple[str | None, ...], list[tuple[Cell, Tally]]] = {}
    if groups:
        for cell, tally in kept:
            grouped.setdefault(tuple(group_key(cell, g) for g in groups), []).append((cell, tally))
    rows = []
    for keys in sorted(grouped, key=lambda k: tuple((v is not None, v or "") for v in k)):
        row = StatsGroup.model_validate(
            {**dict(zip((str(g) for g in groups), keys, strict=True)), **figures(grouped[keys])}
        )
        rows.append(row)
    return StatsAnswer.model_validate(
        {"scope": scope, "from": first, "to": last, "totals": Figures.model_validate(figures(kept)), "groups": rows}
    )


@dataclass(frozen=True)
class Stats:
    """Reading the figures."""

    store: StatsStore
    calendar: Calendar

    def read(self, query: StatsQuery, partner_id: str, national_allowed: bool) -> StatsAnswer:
        """The figures a partner asked for: its own, or (an election agency only) the nation's."""
        first, last = query.window(self.calendar)
        if query.scope is Scope.NATIONAL and not national_allowed:
            raise ScopeRefused("scope=national is for election agencies (Bawaslu, KPU) only")
        scope = NATIONAL if query.scope is Scope.NATIONAL else scope_of_partner(partner_id)
        return answer(query.scope, first, last, query.groups, self.store.tallies(scope, first, last))


def days(first: date, last: date) -> Iterable[date]:
    """Every day from ``first`` to ``last``."""
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def weeks(first: date, last: date) -> list[str]:
    """The ISO weeks a range of days touches, in order."""
    return list(dict.fromkeys(iso_week(d) for d in days(first, last)))


# --- Files -------------------------------------------------------------------------------------------------

#: Every group key a row of the CSV may carry, in the order of its columns.
GROUP_COLUMNS = tuple(str(g) for g in GroupBy)


def csv_text(body: Mapping[str, Any]) -> str:
    """An answer (``StatsAnswer.body``) as CSV the way spreadsheets write it: RFC 4180 (comma, CRLF, quoted only
    where needed), a header row, a first row ``total`` and then one row per group; the group keys of the answer
    as columns (empty: none, or not decided). Numbers as JSON has them (a full stop before decimals). The byte
    order mark that Excel needs to read UTF-8 is the writer's (``csv_bytes``)."""
    import csv
    import io

    present = [c for c in GROUP_COLUMNS if any(c in g for g in body["groups"])]
    columns = ["row", "scope", "from", "to", *present, *FIGURES]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)

    def row(kind: str, values: Mapping[str, Any]) -> list[Any]:
        common = {"row": kind, "scope": body["scope"], "from": body["from"], "to": body["to"]}
        merged = {**common, **values}
        return ["" if merged.get(c) is None else merged[c] for c in columns]

    writer.writerow(row("total", body["totals"]))
    for group in body["groups"]:
        writer.writerow(row("group", group))
    return out.getvalue()


def csv_bytes(body: Mapping[str, Any]) -> bytes:
    """The CSV file: UTF-8 with a byte order mark, so that Excel (which otherwise assumes the ANSI code page)
    opens it as UTF-8."""
    return csv_text(body).encode("utf-8-sig")


def json_bytes(body: Mapping[str, Any]) -> bytes:
    """The JSON file: the answer as the API gives it, indented."""
    import json

    return (json.dumps(body, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
