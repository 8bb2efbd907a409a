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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, Protocol, assert_never
from zoneinfo import ZoneInfo

from pydantic import Field

from kanal.calendar import Calendar, Phase
from kanal.models import (
    Case,
    CaseEvent,
    CaseEventKind,
    CaseStatus,
    Category,
    Model,
    Outcome,
    Partner,
    PartnerKind,
    Report,
)

LEADS = "moderation-leads"
#: A milestone reminder not sent within this time of its send time is skipped (the next offset follows).
MILESTONE_GRACE = timedelta(hours=12)
WIB = ZoneInfo("Asia/Jakarta")
ZONE_NAMES = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}


class ReminderKind(StrEnum):
    """What a reminder is about. Each kind has one entry in ``rule_for``: when, to whom, what it says."""

    INFO_DUE = "info_due"
    INFO_NOT_PROVIDED = "info_not_provided"
    REVIEW_OVERDUE = "review_overdue"
    ELECTION_MILESTONE = "election_milestone"
    STATUTORY_WINDOW = "statutory_window"
    DAILY_DIGEST = "daily_digest"
    #: One of the partner's webhooks was disabled after three days of failed deliveries.
    WEBHOOK_DISABLED = "webhook_disabled"


class Audience(StrEnum):
    """To whom a kind of reminder goes."""

    #: The partners who reported the case.
    CASE_PARTNERS = "case_partners"
    #: The moderation leads' topic, and the partners who reported the case.
    LEADS_AND_CASE_PARTNERS = "leads_and_case_partners"
    #: The election agency that made the report (other kinds of partner have no statutory window).
    REPORTING_AGENCY = "reporting_agency"
    #: Every partner in the directory.
    EVERY_PARTNER = "every_partner"
    #: Every partner with something to report that day (reports sent, decisions, questions waiting).
    PARTNERS_WITH_ACTIVITY = "partners_with_activity"
    #: The partner whose webhook it is.
    WEBHOOK_OWNER = "webhook_owner"


class Subject(StrEnum):
    """What a reminder's ``subject`` names (and so what its timer and record are deleted with)."""

    CASE = "case"
    REPORT = "report"
    MILESTONE = "milestone"
    DAY = "day"
    WEBHOOK = "webhook"


#: A kind's message from its timer, in the partner's zone; ``detail`` is the text the sender composed
#: itself (only the daily digest has one: its figures come from the digest source).
Wording = Callable[["Timer", Calendar, ZoneInfo, str], str]
#: The offset of a reminder sent at its deadline.
AT_DEADLINE = ("0h", timedelta())


@dataclass(frozen=True)
class KindRule:
    """One kind of reminder: when it is sent, to whom, and what it says."""

    #: The deadline it is about, as the README's table says it.
    deadline: str
    #: True: sent at the offsets before the deadline that ``data/reminders.json`` lists for the kind;
    #: False: once, at the deadline (offset "0h").
    before: bool
    to: Audience
    subject: Subject
    text: Wording

    def offsets(self, kind: ReminderKind, rules: ReminderRules) -> list[tuple[str, timedelta]]:
        """The offsets before its deadline at which ``kind`` is sent."""
        return rules.offsets_for(kind) if self.before else [AT_DEADLINE]


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


def case_timers(kind: ReminderKind, case: Case, due: datetime, rules: ReminderRules) -> list[Timer]:
    """A case's timers of ``kind`` for a deadline at ``due``: one per offset its rule sends at."""
    rule = RULES[kind]
    assert rule.subject is Subject.CASE
    return [
        Timer(
            kind=kind,
            subject=case.case_id,
            case_id=case.case_id,
            offset=text,
            send_at=due - before,
            due_at=due,
            partner_ids=recipients(rule.to, case=case),
        )
        for text, before in rule.offsets(kind, rules)
    ]


def question_timers(case: Case, rules: ReminderRules) -> list[Timer]:
    """When a partner is asked: reminders before the answer is due, and the notice when it is not given."""
    assert case.question is not None
    due = case.question.due_at
    return [
        *case_timers(ReminderKind.INFO_DUE, case, due, rules),
        *case_timers(ReminderKind.INFO_NOT_PROVIDED, case, due, rules),
    ]


def overdue_timer(case: Case, rules: ReminderRules | None = None) -> Timer:
    """When a case opens: the escalation if it is still undecided at its review deadline (its recipients are
    found when it fires: the case's partners then)."""
    (timer,) = case_timers(ReminderKind.REVIEW_OVERDUE, case, case.review_due_at, rules or default_rules())
    return timer.model_copy(update={"partner_ids": []})


def statutory_timers(case: Case, reports: Sequence[Report], calendar: Calendar, rules: ReminderRules) -> list[Timer]:
    """When a case is decided on national law or removed: each reporting agency's window to act, reminded."""
    decision = case.decision
    if decision is None or not (decision.ground == "national_law" or decision.outcome is Outcome.REMOVED):
        return []
    kind = ReminderKind.STATUTORY_WINDOW
    rule = RULES[kind]
    timers = []
    for report in reports:
        to = recipients(rule.to, case=case, report=report)
        if not to:
            continue
        election = calendar.election(report.election)
        closes = rules.window_end(report.observed_at or report.received_at, election.type if election else None)
        for text, before in rule.offsets(kind, rules):
            timers.append(
                Timer(
                    kind=kind,
                    subject=report.report_id,
                    case_id=case.case_id,
                    offset=text,
                    send_at=closes - before,
                    due_at=closes,
                    partner_ids=to,
                )
            )
    return timers


def milestone_timers(calendar: Calendar, rules: ReminderRules, partners: Iterable[Partner]) -> list[Timer]:
    """Every election milestone's reminders, for every partner (computed from the calendar, never stored)."""
    kind = ReminderKind.ELECTION_MILESTONE
    rule = RULES[kind]
    to = recipients(rule.to, partners=(p.partner_id for p in partners))
    return [
        Timer(
            kind=kind,
            subject=f"{election.election_id}:{milestone.milestone_id}",
            offset=text,
            send_at=milestone.at - before,
            due_at=milestone.at,
            partner_ids=to,
        )
        for election in calendar.elections
        for milestone in election.milestones
        for text, before in rule.offsets(kind, rules)
    ]


def local_time(moment: datetime, zone: ZoneInfo = WIB) -> str:
    """'25-11-2024 09:00 WIB'."""
    return f"{moment.astimezone(zone):%d-%m-%Y %H:%M} {ZONE_NAMES.get(zone.key, zone.key)}"


def text_for(timer: Timer, calendar: Calendar, zone: ZoneInfo = WIB, detail: str = "") -> str:
    """The reminder's message: Bahasa Indonesia first, then English, times in the partner's zone."""
    return rule_for(timer.kind).text(timer, calendar, zone, detail)


def _info_due_text(timer: Timer, calendar: Calendar, zone: ZoneInfo, detail: str) -> str:
    due, case = local_time(timer.due_at, zone), timer.case_id or ""
    return (
        f"Pengingat: tim moderasi menunggu informasi tambahan Anda untuk kasus {case} paling lambat {due}. "
        f"Jawab melalui POST /v1/reports/{{report_id}}/info.\n"
        f"Reminder: the moderation team is waiting for your additional information on case {case} by {due}. "
        f"Answer through POST /v1/reports/{{report_id}}/info."
    )


def _info_not_provided_text(timer: Timer, calendar: Calendar, zone: ZoneInfo, detail: str) -> str:
    due, case = local_time(timer.due_at, zone), timer.case_id or ""
    return (
        f"Batas waktu informasi tambahan untuk kasus {case} ({due}) telah lewat; kasus dikembalikan ke antrean "
        f"peninjauan tanpa informasi tersebut.\n"
        f"The deadline for additional information on case {case} ({due}) has passed; the case is back in "
        f"review without it."
    )


def _review_overdue_text(timer: Timer, calendar: Calendar, zone: ZoneInfo, detail: str) -> str:
    due, case = local_time(timer.due_at, zone), timer.case_id or ""
    return (
        f"Laporan Anda tentang kasus {case} terlambat ditinjau: batas waktu {due} telah lewat. Kami sedang "
        f"menanganinya.\nYour report on case {case} is delayed: its review deadline {due} has passed. "
        f"We are on it."
    )


def _statutory_window_text(timer: Timer, calendar: Calendar, zone: ZoneInfo, detail: str) -> str:
    due, case = local_time(timer.due_at, zone), timer.case_id or ""
    return (
        f"Pengingat: jangka waktu untuk menindaklanjuti pelanggaran yang dilaporkan ({timer.subject}, kasus "
        f"{case}) berakhir {due}.\nReminder: the window to act on the reported violation ({timer.subject}, "
        f"case {case}) closes {due}."
    )


def urgent_review_hours(calendar: Calendar) -> dict[Phase, int]:
    """The longest review deadline of any category in the quiet period and on voting day (``data/sla.json``):
    what a partner may be promised for a report made then."""
    return {
        phase: max(calendar.review_hours(str(category), phase) for category in Category)
        for phase in (Phase.QUIET, Phase.VOTING)
    }


def _review_promise(calendar: Calendar) -> tuple[str, str]:
    """How soon reports in the quiet period and on voting day are reviewed, in Bahasa Indonesia and English."""
    hours = urgent_review_hours(calendar)
    quiet, voting = hours[Phase.QUIET], hours[Phase.VOTING]
    if quiet == voting:
        return (
            f"Laporan pada masa tenang dan hari pemungutan suara ditinjau dalam {quiet} jam",
            f"Reports in the quiet period and on voting day are reviewed within {quiet} hours",
        )
    return (
        f"Laporan pada masa tenang ditinjau dalam {quiet} jam dan pada hari pemungutan suara dalam {voting} jam",
        f"Reports in the quiet period are reviewed within {quiet} hours, and on voting day within {voting} hours",
    )


def _election_milestone_text(timer: Timer, calendar: Calendar, zone: ZoneInfo, detail: str) -> str:
    due = local_time(timer.due_at, zone)
    election_id, _, milestone_id = timer.subject.partition(":")
    election = calendar.election(election_id)
    milestone = next((m for m in election.milestones if m.milestone_id == milestone_id), None) if election else None
    name_id, name_en = (milestone.name_id, milestone.name_en) if milestone else (milestone_id, milestone_id)
    promise_id, promise_en = _review_promise(calendar)
    return (
        f"Pengingat {election_id}: {name_id} mulai {due}. {promise_id}; laporkan ajakan kampanye, iklan dan "
        f"survei melalui kanal ini.\n"
        f"Reminder {election_id}: {name_en} at {due}. {promise_en}; report campaigning, ads and surveys "
        f"through this channel."
    )


def _digest_wording(timer: Timer, calendar: Calendar, zone: ZoneInfo, detail: str) -> str:
    return detail  # composed by its sender: the digest source from the day's figures, or the delivery function


def rule_for(kind: ReminderKind) -> KindRule:
    """The one entry of each kind of reminder. A kind without one is a type error (mypy: ``assert_never``)."""
    match kind:
        case ReminderKind.INFO_DUE:
            return KindRule("a reviewer's question is due", True, Audience.CASE_PARTNERS, Subject.CASE, _info_due_text)
        case ReminderKind.INFO_NOT_PROVIDED:
            return KindRule(
                "a reviewer's question is due, unanswered",
                False,
                Audience.CASE_PARTNERS,
                Subject.CASE,
                _info_not_provided_text,
            )
        case ReminderKind.REVIEW_OVERDUE:
            return KindRule(
                "the case's review_due_at, undecided",
                False,
                Audience.LEADS_AND_CASE_PARTNERS,
                Subject.CASE,
                _review_overdue_text,
            )
        case ReminderKind.ELECTION_MILESTONE:
            return KindRule(
                "a milestone of data/elections.json",
                True,
                Audience.EVERY_PARTNER,
                Subject.MILESTONE,
                _election_milestone_text,
            )
        case ReminderKind.STATUTORY_WINDOW:
            return KindRule(
                "an agency's window to act closes (removed, or decided on national law)",
                True,
                Audience.REPORTING_AGENCY,
                Subject.REPORT,
                _statutory_window_text,
            )
        case ReminderKind.DAILY_DIGEST:
            return KindRule(
                "digest_hour_local (data/reminders.json), Asia/Jakarta",
                False,
                Audience.PARTNERS_WITH_ACTIVITY,
                Subject.DAY,
                _digest_wording,
            )
        case ReminderKind.WEBHOOK_DISABLED:
            return KindRule(
                "three days of failed deliveries to one of the partner's webhooks",
                False,
                Audience.WEBHOOK_OWNER,
                Subject.WEBHOOK,
                _digest_wording,  # composed by the delivery function (webhook_disabled_text)
            )
        case _:
            assert_never(kind)


#: Every kind's entry (built at import: a kind without one fails there, and in mypy before that).
RULES: dict[ReminderKind, KindRule] = {kind: rule_for(kind) for kind in ReminderKind}


def offsets_of(kind: ReminderKind, rules: ReminderRules) -> list[tuple[str, timedelta]]:
    """The offsets before its deadline at which ``kind`` is sent (its rule: from the data, or at the deadline)."""
    return RULES[kind].offsets(kind, rules)


def recipients(
    audience: Audience, case: Case | None = None, report: Report | None = None, partners: Iterable[str] = ()
) -> list[str]:
    """Who an audience is, for a case, a report or the partner directory (sorted; leads first)."""
    match audience:
        case Audience.CASE_PARTNERS:
            return sorted(case.partners) if case is not None else []
        case Audience.LEADS_AND_CASE_PARTNERS:
            return [LEADS, *(sorted(case.partners) if case is not None else [])]
        case Audience.REPORTING_AGENCY:
            agency = report is not None and report.partner_kind is PartnerKind.ELECTION_AGENCY
            return [report.partner_id] if report is not None and agency else []
        case Audience.EVERY_PARTNER | Audience.PARTNERS_WITH_ACTIVITY | Audience.WEBHOOK_OWNER:
            return sorted(partners)
        case _:
            assert_never(audience)


class ReminderStore(Protocol):
    """Timers and the record of reminders sent."""

    def add_timers(self, timers: Sequence[Timer]) -> None:
        """Store timers (idempotent: a timer is keyed by kind, subject and offset)."""

    def due_timers(self, now: datetime) -> list[Timer]:
        """Timers whose send time has come and that are not finished, read from the index of send times."""

    def finish(self, timer: Timer, at: datetime) -> None:
        """Take a timer out of the index of due timers."""

    def record_once(self, reminder: Reminder) -> bool:
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
            timer, to = checked
            for partner_id in to:
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
        rule = RULES[timer.kind]
        if rule.subject is not Subject.CASE:
            return None
        offsets = dict(rule.offsets(timer.kind, self.rules))
        if timer.offset not in offsets or timer.send_at != timer.due_at - offsets[timer.offset]:
            return None  # not an offset kanal reminds at: each reminder goes once per real offset
        own = timer.model_copy(update={"subject": case.case_id, "case_id": case.case_id, "partner_ids": []})
        if timer.kind is ReminderKind.REVIEW_OVERDUE:
            if case.status is CaseStatus.DECIDED or case.review_due_at != timer.due_at:
                return None
            return own, recipients(rule.to, case=case)
        waiting = case.status is CaseStatus.NEEDS_INFO and case.question is not None
        if not waiting or case.question is None or case.question.due_at != timer.due_at:
            return None  # answered, decided, or asked again with another deadline
        if timer.kind not in (ReminderKind.INFO_DUE, ReminderKind.INFO_NOT_PROVIDED):
            return None
        if timer.kind is ReminderKind.INFO_NOT_PROVIDED and not dry_run:
            event = CaseEvent(case_id=case.case_id, kind=CaseEventKind.INFO_NOT_PROVIDED, actor="kanal", at=now)
            self.expiry.reopen(case.case_id, event, timer.due_at)
        return own, recipients(rule.to, case=case)

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
        if self.store.record_once(reminder):
            self.notifier.notify(reminder)
            result.sent.append(reminder)

    def _digest(self, now: datetime, directory: dict[str, Partner], result: Run, dry_run: bool) -> None:
        local = now.astimezone(WIB)
        if local.hour < self.rules.digest_hour:
            return
        day = local.date()
        since = datetime.combine(day, time(self.rules.digest_hour), WIB) - timedelta(days=1)
        kind = ReminderKind.DAILY_DIGEST
        ((offset, _),) = offsets_of(kind, self.rules)
        for partner_id in recipients(RULES[kind].to, partners=directory):
            detail = self.digests.digest(partner_id, since, now)
            if detail is None:  # no activity: not among the partners this audience names today
                continue
            due = datetime.combine(day, time(self.rules.digest_hour), WIB)
            timer = Timer(kind=kind, subject=day.isoformat(), offset=offset, send_at=due, due_at=due)
            reminder = Reminder(
                kind=kind,
                partner_id=partner_id,
                subject=timer.subject,
                offset=offset,
                due_at=due,
                sent_at=now,
                text=text_for(timer, self.calendar, WIB, detail),
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
