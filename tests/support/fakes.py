"""In-memory fakes of the ports, for testing rules without AWS."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from kanal.errors import CaseConflict, KeyNotFound
from kanal.models import (
    ApiKey,
    Case,
    CaseEvent,
    CaseStatus,
    Claim,
    Decision,
    Partner,
    Priority,
    Question,
    Report,
    report_position,
)


class MemoryReports:
    """ReportRepository in a dict."""

    def __init__(self) -> None:
        self.items: dict[str, Report] = {}
        self.holds: dict[str, datetime] = {}

    def add(self, report: Report) -> Report | None:
        if report.report_id in self.items:
            return self.items[report.report_id]
        self.items[report.report_id] = report
        return None

    def get(self, report_id: str) -> Report | None:
        return self.items.get(report_id)

    def begin(self, report_id: str, now: datetime, hold_until: datetime) -> bool:
        held = self.holds.get(report_id)
        if held is not None and held >= now:
            return False
        self.holds[report_id] = hold_until
        return True

    def release(self, report_id: str) -> None:
        self.holds.pop(report_id, None)

    def page_for_partner(
        self, partner_id: str, limit: int, after: tuple[datetime, str] | None
    ) -> tuple[list[Report], bool]:
        mine = sorted(
            (r for r in self.items.values() if r.partner_id == partner_id),
            key=lambda r: (r.received_at, r.report_id),
            reverse=True,
        )
        if after is not None:
            mine = [r for r in mine if (r.received_at, r.report_id) < after]
        return mine[:limit], len(mine) > limit


class MemoryCases:
    """CaseRepository in a dict; a report is counted once (the adapter's trail-entry condition)."""

    def __init__(self) -> None:
        self.items: dict[str, Case] = {}
        self.attached: set[str] = set()

    def get(self, case_id: str) -> Case | None:
        return self.items.get(case_id)

    def get_many(self, case_ids: Iterable[str]) -> dict[str, Case]:
        return {c: self.items[c] for c in case_ids if c in self.items}

    def attach(self, case_id: str, reports: Sequence[Report], expires_at: datetime) -> Case:
        fresh = [r for r in reports if r.report_id not in self.attached]
        self.attached.update(r.report_id for r in fresh)
        first = min(reports, key=lambda r: r.received_at)
        case = self.items.get(case_id) or Case(
            case_id=case_id,
            content_key=first.content_key,
            content_url=first.content_url,
            first_reported_at=first.received_at,
            review_due_at=min(r.review_due_at for r in reports),
        )
        case = case.model_copy(
            update={
                "report_count": case.report_count + len(fresh),
                "partners": case.partners | {r.partner_id for r in fresh},
                "categories": case.categories | {str(r.category) for r in fresh},
                "urgent_reasons": case.urgent_reasons | {x for r in fresh for x in r.urgent_reasons},
                "expires_at": max(expires_at, case.expires_at or expires_at),
            }
        )
        self.items[case_id] = case
        return case

    def reopen_decided(self, case_id: str, reasons: Sequence[str], at: datetime) -> Case | None:
        case = self.items[case_id]
        if case.status is not CaseStatus.DECIDED:
            return None
        update = {"status": CaseStatus.RECEIVED, "urgent_reasons": case.urgent_reasons | set(reasons), "queued": None}
        self.items[case_id] = case.model_copy(update=update)
        return self.items[case_id]

    def mark_queued(self, case_id: str, priority: Priority, ticket: int, at: datetime) -> None:
        case = self.items[case_id]
        if ticket > case.ticket:
            self.items[case_id] = case.model_copy(update={"queued": priority, "ticket": ticket})


class MemoryQueue:
    """ReviewQueue as a list of (case_id, priority); can be told to fail."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Priority]] = []
        self.failing = False

    def publish(self, case: Case, priority: Priority, ticket: int, at: datetime, delay_seconds: int = 0) -> str:
        if self.failing:
            raise ConnectionError("SQS unavailable")
        self.sent.append((case.case_id, priority))
        return f"m{len(self.sent)}"


class MemoryPartners:
    """PartnerDirectory in dicts."""

    def __init__(self) -> None:
        self.partners: dict[str, Partner] = {}
        self.keys: dict[str, ApiKey] = {}

    def add_partner(self, partner: Partner) -> None:
        self.partners[partner.partner_id] = partner

    def get_partner(self, partner_id: str) -> Partner | None:
        return self.partners.get(partner_id)

    def list_partners(self) -> list[Partner]:
        return sorted(self.partners.values(), key=lambda p: p.name.lower())

    def add_key(self, key: ApiKey, partner: Partner) -> None:
        self.keys[key.key_hash] = key

    def find_key(self, key_hash: str) -> ApiKey | None:
        return self.keys.get(key_hash)

    def keys_of(self, partner_id: str) -> list[ApiKey]:
        return [k for k in self.keys.values() if k.partner_id == partner_id]

    def revoke_key(self, partner_id: str, key_id: str, at: datetime) -> ApiKey:
        for key_hash, key in self.keys.items():
            if key.partner_id == partner_id and key.key_id == key_id:
                self.keys[key_hash] = key.model_copy(update={"revoked_at": key.revoked_at or at})
                return self.keys[key_hash]
        raise KeyNotFound(key_id)


class MemoryTrail:
    """Trail in a list; reports come from a MemoryReports."""

    def __init__(self, reports: MemoryReports) -> None:
        self.events: list[CaseEvent] = []
        self._reports = reports

    def record(self, events: Sequence[CaseEvent]) -> None:
        self.events.extend(e for e in events if e not in self.events)

    def history(self, case_id: str) -> list[CaseEvent]:
        return sorted((e for e in self.events if e.case_id == case_id), key=lambda e: e.at)

    def reports_of(self, case_id: str) -> list[Report]:
        mine = (r for r in self._reports.items.values() if r.case_id == case_id)
        return sorted(mine, key=lambda r: report_position(r.received_at, r.report_id))

    def count_reports(self, case_id: str) -> int:
        return len(self.reports_of(case_id))

    def reports_after(self, case_id: str, position: str) -> list[Report]:
        return [r for r in self.reports_of(case_id) if report_position(r.received_at, r.report_id) > position]


class MemoryCaseWrites:
    """CaseWrite on a MemoryCases, with the DynamoDB adapter's conditions (each raises CaseConflict)."""

    def __init__(self, cases: MemoryCases, trail: MemoryTrail) -> None:
        self._cases = cases
        self._trail = trail

    def _case(self, case_id: str) -> Case:
        case = self._cases.items.get(case_id)
        if case is None:
            raise CaseConflict(case_id)
        return case

    def _put(self, case: Case) -> Case:
        self._cases.items[case.case_id] = case
        return case

    def claim(self, case_id: str, claim: Claim, now: datetime) -> Case:
        case = self._case(case_id)
        held = case.claim is not None and case.claim.expires_at >= now and case.claim.reviewer != claim.reviewer
        if case.status is not CaseStatus.RECEIVED or held:
            raise CaseConflict(case_id)
        return self._put(case.model_copy(update={"claim": claim}))

    def decide(self, case_id: str, decision: Decision) -> Case:
        case = self._case(case_id)
        if case.status is not CaseStatus.RECEIVED or case.claim is None or case.claim.reviewer != decision.reviewer:
            raise CaseConflict(case_id)
        return self._put(case.model_copy(update={"decision": decision, "status": CaseStatus.DECIDED, "claim": None}))

    def ask(self, case_id: str, reviewer: str, question: Question) -> Case:
        case = self._case(case_id)
        if case.status is not CaseStatus.RECEIVED or case.claim is None or case.claim.reviewer != reviewer:
            raise CaseConflict(case_id)
        update = {"question": question, "status": CaseStatus.NEEDS_INFO, "claim": None, "queued": None}
        return self._put(case.model_copy(update=update))

    def release(self, case_id: str, reviewer: str) -> Case:
        case = self._case(case_id)
        if case.claim is None or case.claim.reviewer != reviewer:
            raise CaseConflict(case_id)
        return self._put(case.model_copy(update={"claim": None}))

    def reopen(self, case_id: str, event: CaseEvent, question_due: datetime | None = None) -> Case:
        case = self._case(case_id)
        if case.status is not CaseStatus.NEEDS_INFO:
            raise CaseConflict(case_id)
        if question_due is not None and (case.question is None or case.question.due_at != question_due):
            raise CaseConflict(case_id)
        self._trail.record([event])
        return self._put(case.model_copy(update={"status": CaseStatus.RECEIVED, "question": None, "queued": None}))
