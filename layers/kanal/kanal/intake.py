"""Receiving a report: the rules between a valid request body and a stored report.

The request path makes two AWS requests (three with an Idempotency-Key): it reads the report's case
(to answer a decided case with its decision) and writes the report with one
conditional put. Opening and updating the case happens after the answer, in
the case builder, from the table's stream: contention on a viral video's case
never reaches a partner, and a report answered 202 is already durable.

A batch (``Intake.submit_many``) applies the same rules to each of its reports, with its reads and writes
batched: one read of the distinct cases, one of the keyed reports and their holds, one transaction of
conditional puts (each report its own item, so its own stream record), whatever the batch's size up to 100.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from kanal import content
from kanal.calendar import Calendar, Phase
from kanal.errors import IdempotencyInProgress, IdempotencyKeyReused, InvalidRequest, KanalError
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
        check_observed_at(body, now)
        fingerprint = body_hash(body)
        report_id = idempotent_report_id(partner_id, idempotency_key) if idempotency_key else self.new_id()
        if idempotency_key and not self.reports.begin(report_id, now, now + IN_FLIGHT):
            # Another request with this key is running, or finished: the stored report tells which.
            done = self.reports.get(report_id)
            if done is None:
                raise IdempotencyInProgress()
            return self._replay(done, partner_id, fingerprint, self.cases.get(done.case_id))
        try:
            who = (partner_kind, str(partner_name) if partner_name else None)
            case = self.cases.get(case_of(body))
            report = self._report(report_id, partner_id, body, now, fingerprint, who, idempotency_key, case)
            existing = self.reports.add(report)
            if existing is not None:
                return self._replay(existing, partner_id, fingerprint, case)
            return Submission(receipt(report, case), stored=True, duplicate=case is not None)
        except Exception:
            if idempotency_key:
                self.reports.release(report_id)  # a retry may run at once instead of waiting out the hold
            raise

    def submit_many(
        self,
        partner_id: str,
        items: Sequence[tuple[NewReport, str | None]],
        now: datetime,
        partner_kind: PartnerKind | None = None,
        partner_name: str | None = None,
        key_field: str = "idempotency_key",
    ) -> list[Submission | KanalError]:
        """Store a batch of reports (each a body and its own idempotency key), each exactly as ``submit`` would:
        the outcome of each, in order, a Submission or the error ``submit`` would have raised for it alone.

        A key held by a request still running is that report's IdempotencyInProgress. A key given twice in the
        batch stores one report: a later item with the same body replays the first, one with another body is
        refused. Holds are not taken: the batch's puts are one transaction, never half-written, and the put's
        condition decides between this batch and any other request with the same key. StoreUnavailable (nothing
        of the batch was stored) is raised, not returned.
        """
        who = (partner_kind, str(partner_name) if partner_name else None)
        outcomes: list[Submission | KanalError | None] = [None] * len(items)
        drafts: list[_Draft] = []
        for index, (body, key) in enumerate(items):
            try:
                check_observed_at(body, now)
            except InvalidRequest as error:
                outcomes[index] = error
                continue
            report_id = idempotent_report_id(partner_id, key) if key else self.new_id()
            drafts.append(_Draft(index, body, key, report_id, body_hash(body)))
        firsts: dict[str, _Draft] = {}
        for draft in drafts:
            firsts.setdefault(draft.report_id, draft)
        keyed = [d.report_id for d in firsts.values() if d.key]
        done, held = self.reports.lookup(keyed, now) if keyed else ({}, set())
        asked = {case_of(d.body) for d in firsts.values()} | {r.case_id for r in done.values()}
        cases = self.cases.get_many(asked)
        new = [
            self._report(d.report_id, partner_id, d.body, now, d.fingerprint, who, d.key, cases.get(case_of(d.body)))
            for d in firsts.values()
            if d.report_id not in done and d.report_id not in held
        ]
        taken = self.reports.add_many(new) if new else {}
        stored = {r.report_id: r for r in new if r.report_id not in taken}
        owners = {**done, **taken, **stored}  # the report each id stands for now
        unread = {r.case_id for r in owners.values()} - asked  # a stored report of a case not asked for
        if unread:
            cases.update(self.cases.get_many(unread))
        for draft in drafts:
            owner = owners.get(draft.report_id)
            if owner is None:  # held by a request still running (the first with its key, or a later one)
                outcomes[draft.index] = IdempotencyInProgress()
            elif firsts[draft.report_id] is draft and draft.report_id in stored:
                case = cases.get(owner.case_id)
                outcomes[draft.index] = Submission(receipt(owner, case), stored=True, duplicate=case is not None)
            else:
                try:
                    outcomes[draft.index] = self._replay(owner, partner_id, draft.fingerprint, cases.get(owner.case_id))
                except IdempotencyKeyReused:
                    outcomes[draft.index] = IdempotencyKeyReused(key_field)
        answered = [outcome for outcome in outcomes if outcome is not None]
        assert len(answered) == len(items), "every report of the batch has an outcome"
        return answered

    def _report(
        self,
        report_id: str,
        partner_id: str,
        body: NewReport,
        now: datetime,
        fingerprint: str,
        who: tuple[PartnerKind | None, str | None],
        idempotency_key: str | None,
        case: Case | None,
    ) -> Report:
        """The report to store for a request body: its case's deadline if the case exists, else by the calendar."""
        key = content.content_key(body.content_url)
        phase, election = self.calendar.phase_at(now, body.region_code, body.election)
        due = case.review_due_at if case else self.calendar.review_due(now, body.category, phase)
        return Report(
            report_id=report_id,
            partner_id=partner_id,
            partner_kind=who[0],
            partner_name=who[1],
            case_id=content.case_id_for(key),
            content_key=key,
            received_at=now,
            review_due_at=due,
            urgent_reasons=urgent_reasons(body.category, phase),
            body_hash=fingerprint,
            idempotency_key=idempotency_key,
            **body.model_dump(exclude={"election"}),
            election=body.election or election,
        )

    @staticmethod
    def _replay(existing: Report, partner_id: str, fingerprint: str, case: Case | None) -> Submission:
        """The stored answer for a repeated Idempotency-Key, if the body is the same (``case``: the existing
        report's case as read, None if it has none yet)."""
        if existing.body_hash != fingerprint or existing.partner_id != partner_id:
            raise IdempotencyKeyReused()
        return Submission(receipt(existing, case), stored=False, duplicate=True)


@dataclass(frozen=True)
class _Draft:
    """One valid report of a batch, before it is stored: where it is in the batch, and its id."""

    index: int
    body: NewReport
    key: str | None
    report_id: str
    fingerprint: str


def check_observed_at(body: NewReport, now: datetime) -> None:
    """InvalidRequest unless ``observed_at`` (if given) is within the last 10 years and not in the future."""
    if body.observed_at is not None and not now - OBSERVED_AT_MAX_AGE <= body.observed_at <= now + CLOCK_SKEW:
        raise InvalidRequest("observed_at", OBSERVED_AT_RANGE)


def case_of(body: NewReport) -> str:
    """The id of the case a report body belongs to (one per piece of content)."""
    return content.case_id_for(content.content_key(body.content_url))


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
