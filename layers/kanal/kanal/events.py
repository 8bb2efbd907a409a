"""Events: what partners are told about their own reports, derived from the case trail and the reminders sent.

Every event concerns one partner and names only that partner's reports; a decision on a case with reports from
three partners is three ``report.decided`` events, each with its own report ids. The trail is the source (it is
written in the same transactions as the changes it records, and the table's stream carries it), so an event is
derived from one trail entry, or one reminder record, and the reports of its case:

| trail entry / record | event | to whom |
|---|---|---|
| ``report_attached`` | ``report.received`` (case id, review deadline) | the report's partner |
| ``info_requested`` | ``report.info_requested`` (question, due time) | every partner with a report on the case then |
| ``decided`` | ``report.decided`` (outcome, policy, ground, statement of reasons) | every partner with a report then |
| ``reopened`` | ``report.reopened`` (why) | every partner with a report then |
| a reminder sent to a partner | ``reminder.sent`` (kind, text) | that partner |

An event's id derives from its source (the trail entry's key or the reminder's) and its partner, so a stream
record delivered twice gives the same event, and a webhook redelivery carries the same ``webhook-id``.
"""

from __future__ import annotations

import base64
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from kanal.models import CaseEvent, CaseEventKind, Model, PartnerEvent, Report
from kanal.reminders import LEADS, Reminder


class EventType(StrEnum):
    """Every kind of event a partner can be told about (and subscribe a webhook to)."""

    REPORT_RECEIVED = "report.received"
    REPORT_INFO_REQUESTED = "report.info_requested"
    REPORT_DECIDED = "report.decided"
    REPORT_REOPENED = "report.reopened"
    REMINDER_SENT = "reminder.sent"
    #: Sent on request to one webhook only (``POST /v1/webhooks/{id}/test``); never in the feed.
    WEBHOOK_TEST = "webhook.test"


#: What a webhook may subscribe to, and gets when it names none: every type of the feed.
FEED_TYPES: tuple[EventType, ...] = tuple(t for t in EventType if t is not EventType.WEBHOOK_TEST)


class Event(Model):
    """One event as a partner receives it, in the feed and in a webhook's body."""

    id: str = Field(pattern=r"^evt_[a-z2-7]{26}$")
    type: EventType
    created_at: datetime
    data: dict[str, Any]


class Addressed(Model):
    """An event and the one partner it is for (the partner is never in the event's body)."""

    partner_id: str
    event: Event


def event_id(source: str, partner_id: str) -> str:
    """A stable id: the same source (a trail entry's or a reminder's key) and partner give the same id."""
    digest = hashlib.sha256(f"{source}\x00{partner_id}".encode()).digest()
    return "evt_" + base64.b32encode(digest).decode().lower()[:26]


def _by_partner(reports: Iterable[Report], until: datetime) -> dict[str, list[str]]:
    """Each partner's report ids on the case at ``until`` (a report received later is not part of it)."""
    own: dict[str, list[str]] = defaultdict(list)
    for report in sorted(reports, key=lambda r: (r.received_at, r.report_id)):
        if report.received_at <= until:
            own[report.partner_id].append(report.report_id)
    return dict(own)


def _event(source: str, partner_id: str, kind: EventType, at: datetime, data: dict[str, Any]) -> Addressed:
    return Addressed(
        partner_id=partner_id, event=Event(id=event_id(source, partner_id), type=kind, created_at=at, data=data)
    )


def from_trail(source: str, entry: CaseEvent, reports: Sequence[Report], review_due_at: datetime) -> list[Addressed]:
    """The events one trail entry gives, one per partner concerned; an entry partners are not told of gives none.

    ``source`` is the entry's key (stable across redeliveries), ``reports`` the case's reports and
    ``review_due_at`` its review deadline (for ``report.received``).
    """
    detail = entry.detail
    case = {"case_id": entry.case_id}
    if entry.kind is CaseEventKind.REPORT_ATTACHED:
        data = {"report_id": detail["report_id"], **case, "review_due_at": review_due_at.isoformat()}
        return [_event(source, entry.actor, EventType.REPORT_RECEIVED, entry.at, data)]
    shared: dict[str, Any]
    if entry.kind is CaseEventKind.INFO_REQUESTED:
        kind, shared = EventType.REPORT_INFO_REQUESTED, {"question": detail["question"], "due_at": detail["due_at"]}
    elif entry.kind is CaseEventKind.DECIDED:
        kind = EventType.REPORT_DECIDED
        # Entries from before the decision's ground and reasons were on the trail give them as null.
        shared = {name: detail.get(name) for name in ("outcome", "policy", "ground", "statement_of_reasons")}
        shared["decided_at"] = entry.at.isoformat()
    elif entry.kind is CaseEventKind.REOPENED:
        kind, shared = EventType.REPORT_REOPENED, {"reasons": detail.get("reasons", "").split(",")}
    else:
        return []
    return [
        _event(source, partner, kind, entry.at, {**case, "report_ids": ids, **shared})
        for partner, ids in sorted(_by_partner(reports, entry.at).items())
    ]


def from_reminder(source: str, reminder: Reminder) -> list[Addressed]:
    """The event of a reminder sent to a partner (reminders to the moderation leads are not partners' events)."""
    if reminder.partner_id == LEADS:
        return []
    data = {"kind": str(reminder.kind), "text": reminder.text, "case_id": reminder.case_id}
    return [_event(source, reminder.partner_id, EventType.REMINDER_SENT, reminder.sent_at, data)]


#: Trail entries a partner sees in its report's history (GET /v1/reports/{id}) from its first report on: the
#: case's progress. Other partners' reports and answers, and escalations (which another partner's report causes),
#: are never shown; a decision is shown even when it came before the partner's report (it answers that report).
_PROGRESS = frozenset(
    {
        CaseEventKind.RECEIVED,
        CaseEventKind.CLAIMED,
        CaseEventKind.RELEASED,
        CaseEventKind.REQUEUED,
        CaseEventKind.INFO_REQUESTED,
        CaseEventKind.INFO_NOT_PROVIDED,
        CaseEventKind.REOPENED,
    }
)
_OWN = frozenset({CaseEventKind.REPORT_ATTACHED, CaseEventKind.INFO_PROVIDED})
#: Never shown: an escalation tells that another partner (an election agency) reported the same content.
_HIDDEN = frozenset({CaseEventKind.ESCALATED})


def seen_by(entries: Sequence[CaseEvent], partner_id: str) -> list[CaseEvent]:
    """A case's trail as one of its partners may see it: its own reports and answers, the case's progress since
    its first report, and the decision; nothing another partner did, nothing from before it reported."""
    own = [e.at for e in entries if e.kind is CaseEventKind.REPORT_ATTACHED and e.actor == partner_id]
    joined = min(own, default=None)
    shown = []
    for entry in entries:
        if entry.kind in _OWN:
            visible = entry.actor == partner_id
        elif entry.kind in _PROGRESS:
            visible = joined is not None and entry.at >= joined
        else:
            visible = entry.kind is CaseEventKind.DECIDED  # every other kind is in _HIDDEN (a test checks)
        if visible:
            shown.append(entry)
    return shown


def partner_history(entries: Sequence[CaseEvent], partner_id: str) -> list[PartnerEvent]:
    """The history ``GET /v1/reports/{id}`` shows: what ``seen_by`` keeps, without who did it."""
    return [PartnerEvent(kind=e.kind, at=e.at) for e in seen_by(entries, partner_id)]
