"""The figures' test helpers: an in-memory StatsStore with the table's conditional semantics, histories of cases
(reports arriving, decisions, reopenings) as the case builder sees them, and the figures computed directly from
such a history (exact hours, exact percentiles) to compare the counters with."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from kanal import regions
from kanal.models import Case, CaseStatus, Category, Decision, Ground, Outcome, Policy, Report, report_position
from kanal.stats import (
    NATIONAL,
    Applied,
    Cell,
    Change,
    Notice,
    Tally,
    iso_week,
    scope_of_partner,
    wib_day,
)


@dataclass
class MemoryStats:
    """Counters, notices and report markers in memory; ``apply`` is all or nothing, as the table's transaction."""

    cells: dict[tuple[str, Cell], Tally] = field(default_factory=dict)
    notice_items: dict[tuple[str, str], Notice] = field(default_factory=dict)
    markers: set[str] = field(default_factory=set)

    def notices(self, case_id: str, scopes: Iterable[str]) -> dict[str, Notice]:
        return {s: self.notice_items[(case_id, s)] for s in scopes if (case_id, s) in self.notice_items}

    def apply(self, change: Change) -> Applied:
        if change.report_id is not None and change.report_id in self.markers:
            return Applied.COUNTED
        for before, after in change.notices:
            stored = self.notice_items.get((after.case_id, after.scope))
            if (before is None) != (stored is None) or (stored and before and stored.version != before.version):
                return Applied.CONFLICT
        if change.report_id is not None:
            self.markers.add(change.report_id)
        for _, after in change.notices:
            self.notice_items[(after.case_id, after.scope)] = after
        for key, tally in change.deltas().items():
            self.cells[key] = self.cells.get(key, Tally()) + tally
        return Applied.DONE

    def tallies(self, scope: str, first: date, last: date) -> list[tuple[Cell, Tally]]:
        return [
            (cell, tally)
            for (s, cell), tally in sorted(self.cells.items())
            if s == scope and first <= cell.day <= last and not tally.empty
        ]


@dataclass
class ReportsByCase:
    """The trail's reports of each case (what the by_case index holds)."""

    reports: dict[str, list[Report]] = field(default_factory=dict)

    def reports_of(self, case_id: str) -> list[Report]:
        return sorted(self.reports.get(case_id, []), key=lambda r: report_position(r.received_at, r.report_id))


START = datetime(2024, 2, 1, 1, 0, tzinfo=UTC)
REGIONS = ("31.71", "32.73", "35", "51.71", "94")


def report(case_id: str, number: int, partner: str, at: datetime, category: Category, region: str) -> Report:
    """A stored report of a history."""
    return Report(
        report_id=f"r{case_id}-{number}",
        partner_id=partner,
        case_id=case_id,
        content_key=f"tiktok:{case_id}",
        content_url=f"https://www.tiktok.com/@a/video/{case_id}",
        category=category,
        region_code=region,
        description="Video berisi klaim palsu.",
        received_at=at,
        review_due_at=at + timedelta(hours=24),
        body_hash="h",
    )


def decision(at: datetime, outcome: Outcome, policy: Policy) -> Decision:
    """A decision of a history."""
    return Decision(
        outcome=outcome,
        policy=policy,
        ground=Ground.COMMUNITY_GUIDELINES,
        statement_of_reasons="Melanggar kebijakan misinformasi pemilu.",
        reviewer="reviewer@example.org",
        decided_at=at,
    )


@dataclass
class History:
    """What happened to cases, in real-time order, as records the case builder receives: each report with its
    case as attached, each decision with its case as decided."""

    records: list[tuple[str, Any, Case]] = field(default_factory=list)
    reports: ReportsByCase = field(default_factory=ReportsByCase)
    cases: dict[str, Case] = field(default_factory=dict)

    def arrive(self, r: Report, *, reopens: bool = False) -> None:
        """A report attached to its case (reopening a decided case if ``reopens``)."""
        case = self.cases.get(r.case_id) or Case(
            case_id=r.case_id,
            content_key=r.content_key,
            content_url=r.content_url,
            first_reported_at=r.received_at,
            review_due_at=r.review_due_at,
        )
        status = CaseStatus.RECEIVED if reopens else case.status
        case = case.model_copy(
            update={
                "partners": case.partners | {r.partner_id},
                "categories": case.categories | {str(r.category)},
                "report_count": case.report_count + 1,
                "status": status,
            }
        )
        self.cases[r.case_id] = case
        self.reports.reports.setdefault(r.case_id, []).append(r)
        self.records.append(("report", r, case))

    def decide(self, case_id: str, made: Decision) -> None:
        """The case decided (again)."""
        case = self.cases[case_id].model_copy(update={"status": CaseStatus.DECIDED, "decision": made})
        self.cases[case_id] = case
        self.records.append(("decision", made, case))


def expected_notices(history: History) -> dict[tuple[str, str], dict[str, Any]]:
    """Each notice as the rules define it, computed from the whole history at once: the scope's earliest report,
    and the latest decision the scope saw (a decision made while the scope's partner was on the case, or the case
    as one of its reports found it)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for kind, what, case in history.records:
        scopes = (
            [NATIONAL, scope_of_partner(what.partner_id)]
            if kind == "report"
            else [
                NATIONAL,
                *(scope_of_partner(p) for p in case.partners),
            ]
        )
        for scope in scopes:
            entry = found.setdefault((case.case_id, scope), {"reports": [], "decision": None, "due": None})
            if kind == "report":
                entry["reports"].append(what)
            seen = case.decision if case.status is CaseStatus.DECIDED else None
            if seen is not None and (entry["decision"] is None or seen.decided_at > entry["decision"].decided_at):
                entry["decision"], entry["due"] = seen, case.review_due_at
            entry["case_due"] = case.review_due_at
    for (case_id, scope), entry in found.items():
        if not entry["reports"]:  # a decision's partner whose own report is in the trail only
            entry["reports"] = [
                r for r in history.reports.reports_of(case_id) if scope_of_partner(r.partner_id) == scope
            ]
        entry["first"] = min(entry["reports"], key=lambda r: report_position(r.received_at, r.report_id))
    return found


def direct_figures(history: History, scope: str, first: date, last: date, key: Any = None) -> dict[Any, dict[str, Any]]:
    """The figures by ``key(cell-like dict)`` (None: totals under key None), straight from the history."""
    rows: dict[Any, list[dict[str, Any]]] = {}
    for (_, s), entry in expected_notices(history).items():
        if s != scope:
            continue
        r0: Report = entry["first"]
        day = wib_day(r0.received_at)
        if not first <= day <= last:
            continue
        made: Decision | None = entry["decision"]
        hours = None
        within = None
        if made is not None:
            hours = max(0.0, (made.decided_at - r0.received_at).total_seconds() / 3600)
            within = made.decided_at <= max(entry["due"], r0.received_at)
        notice = {
            "category": str(r0.category),
            "region": regions.province_of(r0.region_code),
            "week": iso_week(day),
            "policy": str(made.policy) if made else None,
            "outcome": str(made.outcome) if made else None,
            "reports": len({r.report_id for r in entry["reports"]}),
            "hours": hours,
            "within": within,
        }
        rows.setdefault(key(notice) if key else None, []).append(notice)
    return {k: _figures(v) for k, v in rows.items()}


def nearest_rank(values: Sequence[float], q: float) -> float | None:
    """The exact ``q`` quantile by nearest rank."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def _figures(notices: list[dict[str, Any]]) -> dict[str, Any]:
    decided = [n for n in notices if n["outcome"] is not None]
    hours = [n["hours"] for n in decided]
    return {
        "reports": sum(n["reports"] for n in notices),
        "cases": len(notices),
        "decided": len(decided),
        **{o.value: sum(1 for n in decided if n["outcome"] == o.value) for o in Outcome},
        "pending": len(notices) - len(decided),
        "median_hours_to_decision": nearest_rank(hours, 0.5),
        "p90_hours_to_decision": nearest_rank(hours, 0.9),
        "decided_within_sla_share": (sum(1 for n in decided if n["within"]) / len(decided)) if decided else None,
    }


def case_builder_records(dynamodb: Any, table: str) -> dict[str, Any]:
    """Every record of the table's stream that the case builder's mapping lets through (its FilterCriteria in
    template.yaml, applied as the local stack applies them), as one batch."""
    import json

    from kanal_local.template import load
    from kanal_local.triggers import matches

    from tests.support.lambdas import stream_records

    mapping = load()["Resources"]["CaseBuilderFunction"]["Properties"]["Events"]["NewReports"]["Properties"]
    patterns = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    records = [r for r in stream_records(dynamodb, table) if any(matches(p, r) for p in patterns)]
    return {"Records": records}
