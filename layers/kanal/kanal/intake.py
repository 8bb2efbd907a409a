"""Receiving a report: the rules between a valid request body and a stored report.

The request path makes two AWS requests (three with an Idempotency-Key): it reads the report's case
(to answer a decided case with its decision) and writes the report with one
conditional put. Opening and updating the case happens after the answer, in
the case builder, from the table's stream: contention on a viral video's case
never reaches a partner, and a report answered 202 is already durable.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from kanal import content
from kanal.calendar import Calendar, Phase
from kanal.errors import IdempotencyInProgress, IdempotencyKeyReused, InvalidRequest
from kanal.models import (
    OBSERVED_AT_RANGE,
    Case,
    CaseStatus,
    Category,
    NewReport,
    PartnerKind,
    Report,
    ReportReceipt,
)
from kanal.ports import CaseRepository, ReportRepository

#: Tolerated clock difference between a partner's system and ours for ``observed_at``.
CLOCK_SKEW = timedelta(minutes=5)
#: How far back ``observed_at`` may be: two five-year election cycles, so that a partner may still report
#: what it saw during the previous cycle's campaign; longer ago is a typo (TikTok launched in 2017).
OBSERVED_AT_MAX_AGE = timedelta(days=3653)
#: How long a request holds its Idempotency-Key while it runs (longer than the function's timeout).
IN_FLIGHT = timedelta(seconds=30)

_URGENT_PHASES = {Phase.QUIET: "quiet_period", Phase.VOTING: "voting_day"}


def new_report_id() -> str:
    """A fresh random report id (128 bits)."""
    return "r_" + _b32(secrets.token_bytes(16))


def idempotent_report_id(partner_id: str, idempotency_key: str) -> str:
    """The report id that a partner's Idempotency-Key always maps to."""
    return "r_" + _b32(hashlib.sha256(f"{partner_id}\0{idempotency_key}".encode()).digest())


def body_hash(report: NewReport) -> str:
    """A fingerprint of a request body, to tell a retry from a different report under one key."""
    canonical = json.dumps(report.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def urgent_reasons(category: Category, phase: Phase) -> list[str]:
    """Why a report on its own makes its case urgent (a second partner is the case's own reason)."""
    reasons = [_URGENT_PHASES[phase]] if phase in _URGENT_PHASES else []
    if category is Category.SYNTHETIC_MEDIA:
        reasons.append("synthetic_media")
    return reasons


@dataclass(frozen=True)
class Submission:
    """The outcome of submitting a report."""

    receipt: ReportReceipt
    #: False when an Idempotency-Key replayed an earlier answer (nothing was stored).
    stored: bool
    #: True when the content already had a case (the report attaches to it).
    duplicate: bool


@dataclass(frozen=True)
class Intake:
    """Receives partners' reports."""

    reports: ReportRepository
    cases: CaseRepository
    calendar: Calendar
    #: Where a report without an Idempotency-Key gets its id (random; a test may make it repeatable).
    new_id: Callable[[], str] = new_report_id

    def submit(
        self,
        partner_id: str,
        body: NewReport,
        now: datetime,
        idempotency_key: str | None = None,
        partner_kind: PartnerKind | None = None,
        partner_name: str | None = None,
    ) -> Submission:
        """Store a report and tell the partner where it stands."""
        if body.observed_at is not None and not now - OBSERVED_AT_MAX_AGE <= body.observed_at <= now + CLOCK_SKEW:
            raise InvalidRequest("observed_at", OBSERVED_AT_RANGE)
        fingerprint = body_hash(body)
        report_id = idempotent_report_id(partner_id, idempotency_key) if idempotency_key else self.new_id()
        if idempotency_key and not self.reports.begin(report_id, now, now + IN_FLIGHT):
            # Another request with this key is running, or finished: the stored report tells which.
            done = self.reports.get(report_id)
            if done is None:
                raise IdempotencyInProgress()
            return self._replay(done, partner_id, fingerprint)
        try:
            who = (partner_kind, str(partner_name) if partner_name else None)
            return self._store(report_id, partner_id, body, now, fingerprint, who, idempotency_key)
        except Exception:
            if idempotency_key:
                self.reports.release(report_id)  # a retry may run at once instead of waiting out the hold
            raise

    def _store(
        self,
        report_id: str,
        partner_id: str,
        body: NewReport,
        now: datetime,
        fingerprint: str,
        who: tuple[PartnerKind | None, str | None],
        idempotency_key: str | None,
    ) -> Submission:
        key = content.content_key(body.content_url)
        case_id = content.case_id_for(key)
        case = self.cases.get(case_id)
        phase, election = self.calendar.phase_at(now, body.region_code, body.election)
        due = case.review_due_at if case else self.calendar.review_due(now, body.category, phase)
        report = Report(
            report_id=report_id,
            partner_id=partner_id,
            partner_kind=who[0],
            partner_name=who[1],
            case_id=case_id,
            content_key=key,
            received_at=now,
            review_due_at=due,
            urgent_reasons=urgent_reasons(body.category, phase),
            body_hash=fingerprint,
            idempotency_key=idempotency_key,
            **body.model_dump(exclude={"election"}),
            election=body.election or election,
        )
        existing = self.reports.add(report)
        if existing is not None:
            return self._replay(existing, partner_id, fingerprint, case)
        return Submission(receipt(report, case), stored=True, duplicate=case is not None)

    def _replay(self, existing: Report, partner_id: str, fingerprint: str, case: Case | None = None) -> Submission:
        """The stored answer for a repeated Idempotency-Key, if the body is the same."""
        if existing.body_hash != fingerprint or existing.partner_id != partner_id:
            raise IdempotencyKeyReused()
        case = case or self.cases.get(existing.case_id)
        return Submission(receipt(existing, case), stored=False, duplicate=True)


def receipt(report: Report, case: Case | None) -> ReportReceipt:
    """What a partner is told about its report, given the state of its case."""
    covered = case is not None and case.covers(report)
    if covered:
        status = CaseStatus.DECIDED
    elif case is None or case.status is CaseStatus.DECIDED:  # not yet attached, or reopening its case
        status = CaseStatus.RECEIVED
    else:
        status = case.status
    return ReportReceipt(
        report_id=report.report_id,
        case_id=report.case_id,
        status=status,
        received_at=report.received_at,
        review_due_at=report.review_due_at,
        decision=case.decision.view() if covered and case and case.decision else None,
    )


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().lower().rstrip("=")[:26]
