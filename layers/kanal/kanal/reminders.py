"""Deadline reminders to the election agencies: what is due, to whom, said how, and sent once.

A frequent sweep reads only the timers that have come due (an index of send
times), so its work grows with what is due, not with the open cases. Every
reminder is recorded per (kind, subject, offset, partner) before it is sent;
a second run, or a retried one, finds the record and sends nothing new.
Time is always a parameter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from pydantic import Field

from kanal.calendar import Calendar
from kanal.models import Case, CaseEvent, CaseEventKind, CaseStatus, Model, Outcome, Partner, PartnerKind, Report

LEADS = "moderation-leads"
#: A milestone reminder not sent within this time of its send time is skipped (the next offset follows).
MILESTONE_GRACE = timedelta(hours=12)
WIB = ZoneInfo("Asia/Jakarta")
ZONE_NAMES = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}


class ReminderKind(StrEnum):
    """What a reminder is about."""

    INFO_DUE = "info_due"
    INFO_NOT_PROVIDED = "info_not_provided"
    REVIEW_OVERDUE = "review_overdue"
    ELECTION_MILESTONE = "election_milestone"
    STATUTORY_WINDOW = "statutory_window"
    DAILY_DIGEST = "daily_digest"


class Timer(Model):
    """A reminder to send at ``send_at`` about a deadline at ``due_at``."""

    kind: ReminderKind
    subject: str
    case_id: str | None = None
    offset: str
    send_at: datetime
    due_at: datetime
    partner_ids: list[str] = Field(default_factory=list)


class Reminder(Model):
    """A reminder as recorded when it is sent."""

    kind: ReminderKind
    partner_id: str
    subject: str
    case_id: str | None = None
    offset: str
    due_at: datetime
    sent_at: datetime
    text: str


class ReminderView(Model):
    """A reminder as its partner reads it through the API."""

    kind: ReminderKind
    case_id: str | None = None
    subject: str
    offset: str
    due_at: datetime
    sent_at: datetime
    text: str


@dataclass(frozen=True)
class ReminderRules:
    """Offsets and statutory windows, kept as data (``data/reminders.json``)."""

    offsets: dict[str, list[str]]
    windows: dict[str, dict[str, Any]]
    digest_hour: int

    def offsets_for(self, kind: ReminderKind) -> list[tuple[str, timedelta]]:
        """The offsets before a deadline at which ``kind`` is reminded."""
        return [(text, parse_offset(text)) for text in self.offsets.get(str(kind), [])]

    def window_end(self, start: datetime, election_type: str | None) -> datetime:
        """When an agency's window to act on a violation known since ``start`` closes (end of its last day, WIB)."""
        rule = self.windows.get(election_type or "default", self.windows["default"])
        day = start.astimezone(WIB).date()
        remaining = int(rule["days"])
        while remaining > 0:
            day += timedelta(days=1)
            if not rule.get("working_days") or day.weekday() < 5:
                remaining -= 1
        return datetime.combine(day, time(23, 59), WIB)


@cache
def default_rules() -> ReminderRules:
    """The rules shipped with the package."""
    data = json.loads((resources.files("kanal") / "data" / "reminders.json").read_text(encoding="utf-8"))
    return ReminderRules(data["offsets"], data["statutory_windows"], int(data["digest_hour_local"]))


def parse_offset(text: str) -> timedelta:
    """'24h', '3d', '30m' as a duration."""
    match = re.fullmatch(r"(\d+)([mhd])", text)
    if not match:
        raise ValueError(f"offset {text!r}: use a number with m, h or d")
    return timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]: int(match.group(1))})


def question_timers(case: Case, rules: ReminderRules) -> list[Timer]:
    """When a partner is asked: reminders before the answer is due, and the notice when it is not given."""
    assert case.question is not None
    due = case.question.due_at
    timers = [
        Timer(
            kind=ReminderKind.INFO_DUE,
            subject=case.case_id,
            case_id=case.case_id,
            offset=text,
            send_at=due - before,
            due_at=due,
            partner_ids=sorted(case.partners),
        )
        for text, before in rules.offsets_for(ReminderKind.INFO_DUE)
    ]
    timers.append(
        Timer(
            kind=ReminderKind.INFO_NOT_PROVIDED,
            subject=case.case_id,
            case_id=case.case_id,
            offset="0h",
            send_at=due,
            due_at=due,
            partner_ids=sorted(case.partners),
        )
    )
    return timers


def overdue_timer(case: Case) -> Timer:
    """When a case opens: the escalation if it is still undecided at its review deadline."""
    return Timer(
        kind=ReminderKind.REVIEW_OVERDUE,
        subject=case.case_id,
        case_id=case.case_id,
        offset="0h",
        send_at=case.review_due_at,
        due_at=case.review_due_at,
    )


def statutory_timers(case: Case, reports: Sequence[Report], calendar: Calendar, rules: ReminderRules) -> list[Timer]:
    """When a case is decided on national law or removed: each reporting agency's window to act, reminded."""
    decision = case.decision
    if decision is None or not (decision.ground == "national_law" or decision.outcome is Outcome.REMOVED):
        return []
    timers = []
    for report in reports:
        if report.partner_kind is not PartnerKind.ELECTION_AGENCY:
            continue
        election = calendar.election(report.election)
        closes = rules.window_end(report.observed_at or report.received_at, election.type if election else None)
        for text, before in rules.offsets_for(ReminderKind.STATUTORY_WINDOW):
            timers.append(
                Timer(
                    kind=ReminderKind.STATUTORY_WINDOW,
                    subject=report.report_id,
                    case_id=case.case_id,
                    offset=text,
                    send_at=closes - before,
                    due_at=closes,
                    partner_ids=[report.partner_id],
                )
            )
    return timers


def milestone_timers(calendar: Calendar, rules: ReminderRules, partners: Iterable[Partner]) -> list[Timer]:
    """Every election milestone's reminders, for every partner (computed from the calendar, never stored)."""
    everyone = sorted(p.partner_id for p in partners)
    return [
        Timer(
            kind=ReminderKind.ELECTION_MILESTONE,
            subject=f"{election.election_id}:{milestone.milestone_id}",
            offset=text,
            send_at=milestone.at - before,
            due_at=milestone.at,
            partner_ids=everyone,
        )
        for election in calendar.elections
        for milestone in election.milestones
        for text, before in rules.offsets_for(ReminderKind.ELECTION_MILESTONE)
    ]


def local_time(moment: datetime, zone: ZoneInfo = WIB) -> str:
    """'25-11-2024 09:00 WIB'."""
    return f"{moment.astimezone(zone):%d-%m-%Y %H:%M} {ZONE_NAMES.get(zone.key, zone.key)}"


def text_for(timer: Timer, calendar: Calendar, zone: ZoneInfo = WIB, detail: str = "") -> str:
    """The reminder's message: Bahasa Indonesia first, then English, times in the partner's zone."""
    due = local_time(timer.due_at, zone)
    case = timer.case_id or ""
    if timer.kind is ReminderKind.INFO_DUE:
        return (
            f"Pengingat: tim moderasi menunggu informasi tambahan Anda untuk kasus {case} paling lambat {due}. "
            f"Jawab melalui POST /v1/reports/{{report_id}}/info.\n"
            f"Reminder: the moderation team is waiting for your additional information on case {case} by {due}. "
            f"Answer through POST /v1/reports/{{report_id}}/info."
        )
    if timer.kind is ReminderKind.INFO_NOT_PROVIDED:
        return (
            f"Batas waktu informasi tambahan untuk kasus {case} ({due}) telah lewat; kasus dikembalikan ke antrean "
            f"peninjauan tanpa informasi tersebut.\n"
            f"The deadline for additional information on case {case} ({due}) has passed; the case is back in "
            f"review without it."
        )
    if timer.kind is ReminderKind.REVIEW_OVERDUE:
        return (
            f"Laporan Anda tentang kasus {case} terlambat ditinjau: batas waktu {due} telah lewat. Kami sedang "
            f"menanganinya.\nYour report on case {case} is delayed: its review deadline {due} has passed. "
            f"We are on it."
        )
    if timer.kind is ReminderKind.STATUTORY_WINDOW:
        return (
            f"Pengingat: jangka waktu untuk menindaklanjuti pelanggaran yang dilaporkan ({timer.subject}, kasus "
            f"{case}) berakhir {due}.\nReminder: the window to act on the reported violation ({timer.subject}, "
            f"case {case}) closes {due}."
        )
    if timer.kind is ReminderKind.ELECTION_MILESTONE:
        election_id, _, milestone_id = timer.subject.partition(":")
        election = calendar.election(election_id)
        milestone = next((m for m in election.milestones if m.milestone_id == milestone_id), None) if election else None
        name_id, name_en = (milestone.name_id, milestone.name_en) if milestone else (milestone_id, milestone_id)
        return (
            f"Pengingat {election_id}: {name_id} mulai {due}. Laporan pada masa tenang dan hari pemungutan suara "
            f"ditinjau dalam 4 jam; laporkan ajakan kampanye, iklan dan survei melalui kanal ini.\n"
            f"Reminder {election_id}: {name_en} at {due}. Reports in the quiet period and on voting day are "
            f"reviewed within 4 hours; report campaigning, ads and surveys through this channel."
        )
    return detail


class ReminderStore(Protocol):
    """Timers and the record of reminders sent."""

    def add_timers(self, timers: Sequence[Timer]) -> None:
        """Store timers (idempotent: a timer is keyed by kind, subject and offset)."""

    def due_timers(self, now: datetime) -> list[Timer]:
        """Timers whose send time has come and that are not finished, read from the index of send times."""

    def finish(self, timer: Timer, at: datetime) -> None:
        """Take a timer out of the index of due timers."""

    def claim(self, reminder: Reminder) -> bool:
        """Record a reminder before sending it; False if it was recorded already (sent before)."""

    def sent(self, partner_id: str | None = None) -> list[Reminder]:
        """Reminders sent (to one partner, or to everyone), newest first."""


class Notifier(Protocol):
    """Where reminders go: the partners' topic (filtered by partner) and the moderation leads' topic."""

    def notify(self, reminder: Reminder) -> None:
        """Deliver one reminder."""


class CaseClock(Protocol):
    """What the reminders need of cases."""

    def get(self, case_id: str) -> Case | None:
        """The case, or None."""


class QuestionExpiry(Protocol):
    """Returning a case whose question went unanswered to review."""

    def reopen(self, case_id: str, event: CaseEvent, question_due: datetime) -> Case:
        """needs_info back to received if the question due at ``question_due`` is still open (else CaseConflict)."""


@dataclass
class Run:
    """What one run of the reminders did."""

    sent: list[Reminder] = field(default_factory=list)
    skipped: int = 0


@dataclass(frozen=True)
class Reminders:
    """Sends everything due as of a moment, once."""

    store: ReminderStore
    notifier: Notifier
    cases: CaseClock
    expiry: QuestionExpiry
    calendar: Calendar
    rules: ReminderRules
    partners: Any  # PartnerDirectory
    digests: Any = None  # DigestSource, for daily_digest
    #: Where statutory-window reminders check their report (ReportRepository).
    reports: Any = None

    def run(self, now: datetime, dry_run: bool = False, *, timers: bool = True, digest: bool = True) -> Run:
        """Send every reminder due at ``now`` that was not sent before (timers and milestones, and digests)."""
        result = Run()
        directory = {p.partner_id: p for p in self.partners.list_partners()}
        if digest and self.digests is not None:
            self._digest(now, directory, result, dry_run)
        if not timers:
            return result
        milestones = [
            t
            for t in milestone_timers(self.calendar, self.rules, directory.values())
            if t.send_at <= now < min(t.due_at, t.send_at + MILESTONE_GRACE)
        ]
        # Milestones come from the calendar, never from the table: a stored one is not kanal's (forged or stale).
        stored = [t for t in self.store.due_timers(now) if t.kind is not ReminderKind.ELECTION_MILESTONE]
        for timer in [*stored, *milestones]:
            self._fire(timer, now, directory, result, dry_run)
        return result

    def _fire(self, timer: Timer, now: datetime, directory: dict[str, Partner], result: Run, dry_run: bool) -> None:
        checked = self._checked(timer, now, dry_run)
        if checked is None:
            result.skipped += 1
        else:
            timer, recipients = checked
            for partner_id in recipients:
                partner = directory.get(partner_id)
                zone = self.calendar.zone_for(partner.region_code) if partner and partner.region_code else WIB
                reminder = Reminder(
                    kind=timer.kind,
                    partner_id=partner_id,
                    subject=timer.subject,
                    case_id=timer.case_id,
                    offset=timer.offset,
                    due_at=timer.due_at,
                    sent_at=now,
                    text=text_for(timer, self.calendar, zone),
                )
                self._send(reminder, result, dry_run)
        if not dry_run and timer.kind is not ReminderKind.ELECTION_MILESTONE:
            self.store.finish(timer, now)

    def _checked(self, timer: Timer, now: datetime, dry_run: bool) -> tuple[Timer, list[str]] | None:
        """The timer as kanal would have made it from the case and its reports, with who gets it now; None when
        it no longer applies (decided, answered) or was never kanal's (a forged or stale item). Recipients,
        deadlines and subjects come from the case and its reports, never from what the timer item says."""
        if timer.kind is ReminderKind.ELECTION_MILESTONE:
            return timer, timer.partner_ids  # computed from the calendar in this run, never read from the table
        if timer.kind is ReminderKind.STATUTORY_WINDOW:
            return self._statutory(timer)
        case = self.cases.get(timer.case_id or "")
        if case is None:
            return None
        offsets = (
            dict(self.rules.offsets_for(timer.kind)) if timer.kind is ReminderKind.INFO_DUE else {"0h": timedelta()}
        )
        if timer.offset not in offsets or timer.send_at != timer.due_at - offsets[timer.offset]:
            return None  # not an offset kanal reminds at: each reminder goes once per real offset
        own = timer.model_copy(update={"subject": case.case_id, "case_id": case.case_id, "partner_ids": []})
        if timer.kind is ReminderKind.REVIEW_OVERDUE:
            if case.status is CaseStatus.DECIDED or case.review_due_at != timer.due_at:
                return None
            return own, [LEADS, *sorted(case.partners)]
        waiting = case.status is CaseStatus.NEEDS_INFO and case.question is not None
        if not waiting or case.question is None or case.question.due_at != timer.due_at:
            return None  # answered, decided, or asked again with another deadline
        if timer.kind not in (ReminderKind.INFO_DUE, ReminderKind.INFO_NOT_PROVIDED):
            return None
        if timer.kind is ReminderKind.INFO_NOT_PROVIDED and not dry_run:
            event = CaseEvent(case_id=case.case_id, kind=CaseEventKind.INFO_NOT_PROVIDED, actor="kanal", at=now)
            self.expiry.reopen(case.case_id, event, timer.due_at)
        return own, sorted(case.partners)

    def _statutory(self, timer: Timer) -> tuple[Timer, list[str]] | None:
        """A statutory window's reminder, only as ``statutory_timers`` makes it for a report of the decided case."""
        if self.reports is None:
            return None
        report = self.reports.get(timer.subject)
        case = self.cases.get(report.case_id) if report is not None else None
        if report is None or case is None:
            return None
        made = [
            t
            for t in statutory_timers(case, [report], self.calendar, self.rules)
            if t.offset == timer.offset and t.send_at == timer.send_at
        ]
        return (made[0], made[0].partner_ids) if made else None

    def _send(self, reminder: Reminder, result: Run, dry_run: bool) -> None:
        if dry_run:
            result.sent.append(reminder)
            return
        if self.store.claim(reminder):
            self.notifier.notify(reminder)
            result.sent.append(reminder)

    def _digest(self, now: datetime, directory: dict[str, Partner], result: Run, dry_run: bool) -> None:
        local = now.astimezone(WIB)
        if local.hour < self.rules.digest_hour:
            return
        day = local.date()
        since = datetime.combine(day, time(self.rules.digest_hour), WIB) - timedelta(days=1)
        for partner in directory.values():
            text = self.digests.digest(partner.partner_id, since, now)
            if text is None:
                continue
            reminder = Reminder(
                kind=ReminderKind.DAILY_DIGEST,
                partner_id=partner.partner_id,
                subject=day.isoformat(),
                offset="0h",
                due_at=datetime.combine(day, time(self.rules.digest_hour), WIB),
                sent_at=now,
                text=text,
            )
            self._send(reminder, result, dry_run)


def digest_text(day: date, reports: int, decisions: dict[str, int], questions: list[tuple[str, datetime]]) -> str:
    """A partner's daily digest, Bahasa Indonesia first, then English."""
    outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(decisions.items())) or "-"
    waiting = "; ".join(f"{case} ({local_time(due)})" for case, due in questions) or "-"
    return (
        f"Ringkasan harian {day:%d-%m-%Y}: {reports} laporan dikirim; keputusan: {outcomes}; pertanyaan yang menunggu "
        f"jawaban Anda: {waiting}.\n"
        f"Daily digest {day:%d-%m-%Y}: {reports} reports sent; decisions: {outcomes}; questions waiting for your "
        f"answer: {waiting}."
    )
