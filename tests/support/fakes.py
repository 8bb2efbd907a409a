"""In-memory fakes of the ports, for testing rules without AWS: reports, cases, the trail and review's conditional
writes; partners; review queues that behave as SQS does where it matters (visibility, handles, receive counts,
dead letters, delays), with the reconciler's suspects and dead letters; reminder timers and their record,
delivery, and digests. ``Desk`` wires kanal's rules over them as ``kanal.wiring`` does over AWS."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kanal.adapters.dynamodb_reminders import LOOKBACK, QUESTION_HORIZON
from kanal.calendar import Calendar, default_calendar
from kanal.case_builder import CaseBuilder
from kanal.errors import CaseConflict, KeyNotFound
from kanal.events import Addressed, Event
from kanal.intake import Intake
from kanal.models import (
    ApiKey,
    Case,
    CaseEvent,
    CaseEventKind,
    CaseStatus,
    Claim,
    Decision,
    NewReport,
    Partner,
    PartnerKind,
    Priority,
    Question,
    Report,
    report_position,
)
from kanal.ports import ReviewMessage, Suspect
from kanal.reminders import Reminder, ReminderRules, Reminders, Timer, default_rules, digest_text
from kanal.review import Answers, Review
from kanal.webhooks import Webhook


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

    def lookup(self, report_ids: Sequence[str], now: datetime) -> tuple[dict[str, Report], set[str]]:
        found = {i: self.items[i] for i in report_ids if i in self.items}
        return found, {i for i in report_ids if i not in found and self.holds.get(i, now - timedelta(1)) >= now}

    def add_many(self, reports: Sequence[Report]) -> dict[str, Report]:
        taken = {r.report_id: self.items[r.report_id] for r in reports if r.report_id in self.items}
        self.items.update((r.report_id, r) for r in reports if r.report_id not in taken)
        return taken

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
        self.keys[key.key_hash] = key.model_copy(update={"usage_key": partner.usage_key})

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

    def set_usage_key(self, partner: Partner, usage_key_id: str, usage_key: str) -> Partner:
        updated = partner.model_copy(update={"usage_key_id": usage_key_id, "usage_key": usage_key})
        self.partners[partner.partner_id] = updated
        for key_hash, key in self.keys.items():
            if key.partner_id == partner.partner_id:
                self.keys[key_hash] = key.model_copy(update={"usage_key": usage_key})
        return updated


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


# --- the review queues -------------------------------------------------------------------------------------

#: The review queues' visibility timeout and maxReceiveCount (template.yaml).
VISIBILITY = timedelta(seconds=900)
MAX_RECEIVES = 5


@dataclass
class Message:
    """One SQS message (``case_id`` None: a body that names no case)."""

    message_id: str
    case_id: str | None
    ticket: int | None
    queue: str
    visible_at: datetime
    receives: int = 0
    handle: str = ""


@dataclass
class MemoryReviewQueues:
    """The two review queues and their dead-letter queues, as SQS behaves (ReviewQueue and ReviewInbox): a
    received message is hidden for the visibility timeout and comes back unless deleted; a handle works only from
    its latest receive; a message received more than MAX_RECEIVES times moves to its dead-letter queue; a send
    may be delayed. ``clock[0]`` is the time; ``failing`` makes every send raise, as SQS down."""

    clock: list[datetime]
    messages: dict[str, Message] = field(default_factory=dict)
    dead: dict[str, Message] = field(default_factory=dict)
    failing: bool = False
    ids: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def now(self) -> datetime:
        return self.clock[0]

    def publish(self, case: Case, priority: str, ticket: int, at: datetime, delay_seconds: int = 0) -> str:
        return self.send(case.case_id, priority, ticket, delay_seconds)

    def send(self, case_id: str | None, queue: str, ticket: int | None = None, delay_seconds: int = 0) -> str:
        """Put a message on ``queue`` (a body naming ``case_id``, or none); its id."""
        if self.failing:
            raise ConnectionError("SQS unavailable")
        message_id = f"m{next(self.ids)}"
        visible = self.now + timedelta(seconds=delay_seconds)
        self.messages[message_id] = Message(message_id, case_id, ticket, str(queue), visible)
        return message_id

    def receive(self, wait_seconds: int) -> ReviewMessage | None:
        for queue in ("urgent", "normal"):  # the adapter asks urgent first
            for message in list(self.messages.values()):
                if message.queue != queue or message.visible_at > self.now:
                    continue
                message.receives += 1
                if message.receives > MAX_RECEIVES:  # the redrive policy moves it on this receive
                    self.dead[message.message_id] = self.messages.pop(message.message_id)
                    continue
                message.handle = f"{message.message_id}/{message.receives}"
                message.visible_at = self.now + VISIBILITY
                return self.delivery(message)
        return None

    @staticmethod
    def delivery(message: Message) -> ReviewMessage:
        return ReviewMessage(
            case_id=message.case_id,
            queue=message.queue,  # type: ignore[arg-type]
            handle=message.handle,
            receive_count=message.receives,
            ticket=message.ticket,
            message_id=message.message_id,
        )

    def _by_handle(self, handle: str) -> Message | None:
        found = self.messages.get(handle.split("/")[0])
        return found if found is not None and found.handle == handle else None  # only the latest handle works

    def acknowledge(self, queue: str, handle: str) -> None:
        message = self._by_handle(handle)
        if message is not None:
            del self.messages[message.message_id]

    def extend(self, queue: str, handle: str, seconds: int) -> None:
        message = self._by_handle(handle)
        if message is not None and message.visible_at > self.now:  # only a message in flight
            message.visible_at = self.now + timedelta(seconds=seconds)

    def on(self, queue: str) -> list[Message]:
        """The messages on ``queue``, visible or in flight (not the dead letters)."""
        return [m for m in self.messages.values() if m.queue == queue]


@dataclass
class MemorySuspects:
    """Reopenings not yet checked (reconciler.Suspects), read from a MemoryTrail."""

    trail: MemoryTrail
    checked_events: set[tuple[str, datetime]] = field(default_factory=set)

    def reopened(self, until: datetime) -> list[Suspect]:
        kinds = (CaseEventKind.INFO_PROVIDED, CaseEventKind.INFO_NOT_PROVIDED)
        return [
            Suspect(case_id=e.case_id, key=(e.case_id, e.at.isoformat()))
            for e in self.trail.events
            if e.kind in kinds and e.at <= until and (e.case_id, e.at) not in self.checked_events
        ]

    def checked(self, suspect: Suspect) -> None:
        self.checked_events.add((suspect.case_id, datetime.fromisoformat(suspect.key[1])))


@dataclass
class MemoryDeadLetters:
    """The dead-letter queues of a MemoryReviewQueues (reconciler.DeadLetters)."""

    queues: MemoryReviewQueues

    def receive(self) -> list[ReviewMessage]:
        found = [m for m in self.queues.dead.values() if m.visible_at <= self.queues.now]
        for message in found:
            message.handle = f"{message.message_id}/dead"
            message.visible_at = self.queues.now + timedelta(minutes=5)
        return [self.queues.delivery(m) for m in found]

    def acknowledge(self, delivery: ReviewMessage) -> None:
        self.queues.dead.pop(delivery.message_id, None)

    def set_aside(self, delivery: ReviewMessage, seconds: int) -> None:
        message = self.queues.dead.get(delivery.message_id)
        if message is not None:
            message.visible_at = self.queues.now + timedelta(seconds=seconds)


# --- reminders -----------------------------------------------------------------------------------------------


class MemoryTimers:
    """ReminderStore in dicts, as the DynamoDB adapter keeps it: a timer is keyed by kind, subject and offset (an
    existing one, finished or not, is kept); a sweep reads the unfinished ones sent from LOOKBACK's first UTC day
    on; a reminder is recorded once per (kind, subject, offset, partner)."""

    def __init__(self) -> None:
        self.timers: dict[tuple[str, str, str], Timer] = {}
        self.finished: dict[tuple[str, str, str], datetime] = {}
        self.records: dict[tuple[str, str, str, str], Reminder] = {}

    @staticmethod
    def key(timer: Timer) -> tuple[str, str, str]:
        return (str(timer.kind), timer.subject, timer.offset)

    def add_timers(self, timers: Sequence[Timer]) -> None:
        for timer in timers:
            self.timers.setdefault(self.key(timer), timer)

    def due_timers(self, now: datetime) -> list[Timer]:
        first_day = (now - LOOKBACK).astimezone(UTC).date()
        due = [
            t
            for k, t in self.timers.items()
            if k not in self.finished and first_day <= t.send_at.astimezone(UTC).date() and t.send_at <= now
        ]
        return sorted(due, key=lambda t: (t.send_at, str(t.kind), t.subject, t.offset))

    def finish(self, timer: Timer, at: datetime) -> None:
        self.finished[self.key(timer)] = at

    def record_once(self, reminder: Reminder) -> bool:
        key = (str(reminder.kind), reminder.subject, reminder.offset, reminder.partner_id)
        if key in self.records:
            return False
        self.records[key] = reminder
        return True

    def sent(self, partner_id: str | None = None) -> list[Reminder]:
        mine = [(k, r) for k, r in self.records.items() if partner_id is None or r.partner_id == partner_id]
        return [r for _, r in sorted(mine, key=lambda kr: (kr[1].sent_at, kr[0]), reverse=True)]


class MemoryNotifier:
    """Notifier into a list; ``failing`` makes a delivery raise, as SNS down."""

    def __init__(self) -> None:
        self.delivered: list[Reminder] = []
        self.failing = False

    def notify(self, reminder: Reminder) -> None:
        if self.failing:
            raise ConnectionError("SNS unavailable")
        self.delivered.append(reminder)


class MemoryDigests:
    """What a partner's daily digest says (the DigestSource of Reminders), from a MemoryReports and MemoryCases,
    as the DynamoDB adapter reads it: reports since the last digest, decisions since then, open questions."""

    def __init__(self, reports: MemoryReports, cases: MemoryCases) -> None:
        self._reports = reports
        self._cases = cases

    def digest(self, partner_id: str, since: datetime, now: datetime) -> str | None:
        horizon = now - QUESTION_HORIZON
        mine = [r for r in self._reports.items.values() if r.partner_id == partner_id and horizon <= r.received_at]
        mine = [r for r in mine if r.received_at <= now]
        recent = [r for r in mine if r.received_at >= since]
        cases = self._cases.get_many({r.case_id for r in mine})
        decisions = Counter(
            str(c.decision.outcome) for c in cases.values() if c.decision and since <= c.decision.decided_at <= now
        )
        questions = sorted(
            (c.case_id, c.question.due_at)
            for c in cases.values()
            if c.status is CaseStatus.NEEDS_INFO and c.question is not None
        )
        if not recent and not decisions and not questions:
            return None
        return digest_text(now.date(), len(recent), dict(decisions), questions)


# --- kanal over the fakes ---------------------------------------------------------------------------------------


class MemoryWebhooks:
    """WebhookStore in a dict."""

    def __init__(self) -> None:
        self.hooks: dict[tuple[str, str], Webhook] = {}

    def add(self, webhook: Webhook, limit: int) -> bool:
        if len(self.of(webhook.partner_id)) >= limit:
            return False
        self.hooks[(webhook.partner_id, webhook.webhook_id)] = webhook
        return True

    def get(self, partner_id: str, webhook_id: str) -> Webhook | None:
        return self.hooks.get((partner_id, webhook_id))

    def of(self, partner_id: str) -> list[Webhook]:
        return sorted((w for (p, _), w in self.hooks.items() if p == partner_id), key=lambda w: w.created_at)

    def put(self, webhook: Webhook) -> bool:
        key = (webhook.partner_id, webhook.webhook_id)
        if key not in self.hooks:
            return False
        self.hooks[key] = webhook
        return True

    def remove(self, partner_id: str, webhook_id: str) -> bool:
        return self.hooks.pop((partner_id, webhook_id), None) is not None


class ClearBox:
    """SecretBox that 'seals' by tagging with the context: opening with another context fails, as KMS does."""

    def seal(self, secret: str, context: Mapping[str, str]) -> str:
        return json.dumps({"secret": secret, "context": dict(context)})

    def open(self, sealed: str, context: Mapping[str, str]) -> str:
        found = json.loads(sealed)
        if found["context"] != dict(context):
            raise PermissionError("sealed for another context")
        return str(found["secret"])


class MemoryFeed:
    """Feed in a list, in order of appending."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Event]] = []

    def append(self, events: Sequence[Addressed], now: datetime) -> list[Addressed]:
        known = {e.id for _, e in self.items}
        new = [a for a in events if a.event.id not in known]
        self.items.extend((a.partner_id, a.event) for a in new)
        return new

    def page(self, partner_id: str, after: str | None, limit: int, now: datetime) -> tuple[list[Event], str | None]:
        own = [(i, e) for i, (p, e) in enumerate(self.items) if p == partner_id and (after is None or i > int(after))]
        page = own[:limit]
        return [e for _, e in page], str(page[-1][0]) if page else after


class MemoryDeliveries:
    """Deliveries in a list."""

    def __init__(self) -> None:
        self.queued: list[tuple[Webhook, Event]] = []

    def enqueue(self, deliveries: Sequence[tuple[Webhook, Event]]) -> None:
        self.queued.extend(deliveries)


class Desk:
    """kanal's rules over the fakes, wired as ``kanal.wiring`` wires them over AWS, on one clock (``clock[0]``):
    intake, the case builder (the stream delivering each report at once, unless told not to), review with its
    timers, partners' answers, the reminders."""

    def __init__(self, now: datetime, calendar: Calendar | None = None, rules: ReminderRules | None = None) -> None:
        self.clock = [now]
        self.calendar = calendar or default_calendar()
        self.rules = rules or default_rules()
        self.reports = MemoryReports()
        self.cases = MemoryCases()
        self.trail = MemoryTrail(self.reports)
        self.writes = MemoryCaseWrites(self.cases, self.trail)
        self.queues = MemoryReviewQueues(self.clock)
        self.timers = MemoryTimers()
        self.partners = MemoryPartners()
        self.notifier = MemoryNotifier()
        self.digests = MemoryDigests(self.reports, self.cases)
        ids = itertools.count()
        self.intake = Intake(self.reports, self.cases, self.calendar, new_id=lambda: f"r_{next(ids):026d}")
        self.builder = CaseBuilder(self.cases, self.queues, self.trail, timedelta(days=730), self.timers)  # type: ignore[arg-type]
        self.review = Review(
            self.cases,
            self.writes,
            self.trail,
            self.queues,  # type: ignore[arg-type]
            self.queues,  # type: ignore[arg-type]
            poison_backoff=timedelta(0),
            timers=self.timers,
            calendar=self.calendar,
        )
        self.answers = Answers(self.reports, self.cases, self.writes)
        self._partner_ids = itertools.count(1)

    @property
    def now(self) -> datetime:
        return self.clock[0]

    def at(self, moment: datetime) -> datetime:
        """Set the clock (the queues' too) to ``moment``."""
        self.clock[0] = moment
        return moment

    def later(self, **delta: float) -> datetime:
        """Move the clock on by ``timedelta(**delta)``."""
        return self.at(self.now + timedelta(**delta))

    def partner(
        self, name: str, kind: PartnerKind = PartnerKind.ELECTION_AGENCY, region_code: str | None = None
    ) -> str:
        """A partner in the directory; its id."""
        partner_id = f"p_{next(self._partner_ids):02d}"
        self.partners.add_partner(
            Partner(partner_id=partner_id, name=name, kind=kind, created_at=self.now, region_code=region_code)
        )
        return partner_id

    def report(self, partner_id: str, body: dict[str, Any], *, delivered: bool = True) -> Report:
        """``partner_id`` reports ``body`` (a NewReport's fields) now; the stream delivers it to the case builder
        unless ``delivered`` is False."""
        partner = self.partners.get_partner(partner_id)
        submitted = self.intake.submit(
            partner_id, NewReport.model_validate(body), self.now, partner_kind=partner.kind if partner else None
        )
        report = self.reports.items[submitted.receipt.report_id]
        if delivered:
            self.deliver(report)
        return report

    def deliver(self, report: Report) -> Case:
        """The table's stream delivers ``report`` to the case builder."""
        return self.builder.attach_to_case(report.case_id, [report], self.now)

    def reminders(self) -> Reminders:
        """The reminder sweep, delivering to ``notifier``."""
        return Reminders(
            store=self.timers,
            notifier=self.notifier,
            cases=self.cases,
            expiry=self.writes,
            calendar=self.calendar,
            rules=self.rules,
            partners=self.partners,
            digests=self.digests,
            reports=self.reports,
        )
