"""Reminder timers, the record of reminders sent and digests, on DynamoDB (delivery is adapters.sns).

- timer: pk TIMER#<kind>#<subject>, sk <offset>; gsi1 DUE#<UTC day of send_at> / <send_at>#...
- reminder: pk REMINDER#<kind>#<subject>#<offset>#<partner>; gsi1 PARTNER#<id> / REMINDER#<sent_at>#...;
  gsi2 REMINDERS / <sent_at>#...

A finished timer loses its gsi1 keys and so leaves the index of due timers: a sweep reads only what is due.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from kanal.adapters.dynamodb import (
    CASE_INDEX,
    DEFAULT_RETENTION,
    OWNER_INDEX,
    DynamoCases,
    DynamoReports,
    backstop,
    batch_write,
    put_new,
    query_all,
    query_days,
    stamp,
    to_item,
    unavailable_on_failure,
)
from kanal.models import Case, CaseStatus
from kanal.reminders import (
    LEADS,
    RULES,
    Reminder,
    ReminderKind,
    ReminderRules,
    Subject,
    Timer,
    digest_text,
    offsets_of,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: How far back a sweep looks for timers that are due but not finished (a missed run, a late timer).
LOOKBACK = timedelta(days=8)
#: How far back a digest looks for a partner's open questions.
QUESTION_HORIZON = timedelta(days=30)


class DynamoReminders:
    """Timers and sent reminders in the table (implements ReminderStore)."""

    def __init__(self, client: DynamoDBClient, table: str, retention: timedelta = DEFAULT_RETENTION) -> None:
        self._client = client
        self._table = table
        self._retention = retention

    def add_timers(self, timers: Sequence[Timer]) -> None:
        """Put each timer once: an existing (maybe finished) timer is left as it is."""
        for timer in timers:
            values = timer.model_dump(mode="json")
            send_at = stamp(timer.send_at)
            values.update(
                pk=f"TIMER#{timer.kind}#{timer.subject}",
                sk=timer.offset,
                send_at=send_at,
                due_at=stamp(timer.due_at),
                gsi1pk=f"DUE#{send_at[:10]}",
                gsi1sk=f"{send_at}#{timer.kind}#{timer.subject}#{timer.offset}",
                expires_at=backstop(timer.due_at, self._retention),
            )
            put_new(self._client, self._table, values)  # an existing (maybe finished) timer is kept

    def due_timers(self, now: datetime) -> list[Timer]:
        """Unfinished timers with send_at <= now: one query per day of the lookback, reading only due items."""
        return [Timer.model_validate(item) for item in query_days(self._client, self._table, "DUE#", now, LOOKBACK)]

    def finish(self, timer: Timer, at: datetime) -> None:
        """Take the timer out of the index of due timers."""
        with unavailable_on_failure():
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"pk": f"TIMER#{timer.kind}#{timer.subject}", "sk": timer.offset}),
                UpdateExpression="SET finished_at = :at REMOVE gsi1pk, gsi1sk",
                ExpressionAttributeValues=to_item({":at": stamp(at)}),
            )

    def record_once(self, reminder: Reminder) -> bool:
        """Record the reminder unless it was recorded before: the exactly-once check."""
        sent = stamp(reminder.sent_at)
        key = f"{reminder.kind}#{reminder.subject}#{reminder.offset}#{reminder.partner_id}"
        values = reminder.model_dump(mode="json")
        values.update(
            pk=f"REMINDER#{key}",
            sk="REMINDER",
            sent_at=sent,
            gsi1pk=f"PARTNER#{reminder.partner_id}",
            gsi1sk=f"REMINDER#{sent}#{key}",
            gsi2pk="REMINDERS",
            gsi2sk=f"{sent}#{key}",
            # About a case: deleted with it (its backstop is long after). About no case (digests, milestones):
            # kept one retention period.
            expires_at=backstop(reminder.sent_at, self._retention)
            if reminder.case_id
            else int((reminder.sent_at + self._retention).timestamp()),
        )
        return put_new(self._client, self._table, values)

    def sent(self, partner_id: str | None = None) -> list[Reminder]:
        """Reminders sent, newest first: one partner's (by_owner) or everyone's (by_case, key REMINDERS)."""
        if partner_id is None:
            index, condition, values = CASE_INDEX, "gsi2pk = :all", {":all": "REMINDERS"}
        else:
            index, condition = OWNER_INDEX, "gsi1pk = :owner AND begins_with(gsi1sk, :kind)"
            values = {":owner": f"PARTNER#{partner_id}", ":kind": "REMINDER#"}
        return [
            Reminder.model_validate(item)
            for item in query_all(
                self._client,
                TableName=self._table,
                IndexName=index,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=to_item(values),
                ScanIndexForward=False,
            )
        ]


class DynamoDigests:
    """What a partner's daily digest says, from its recent reports and their cases."""

    def __init__(self, reports: DynamoReports, cases: DynamoCases, client: DynamoDBClient, table: str) -> None:
        self._reports = reports
        self._cases = cases
        self._client = client
        self._table = table

    def digest(self, partner_id: str, since: datetime, now: datetime) -> str | None:
        """The digest text, or None when the partner had no activity and has no open question."""
        horizon = stamp(now - QUESTION_HORIZON)
        items = list(
            query_all(
                self._client,
                TableName=self._table,
                IndexName=OWNER_INDEX,
                KeyConditionExpression="gsi1pk = :owner AND gsi1sk BETWEEN :from AND :to",
                ExpressionAttributeValues=to_item(
                    {":owner": f"PARTNER#{partner_id}", ":from": f"REPORT#{horizon}", ":to": f"REPORT#{stamp(now)}~"}
                ),
            )
        )
        recent = [i for i in items if i["received_at"] >= stamp(since)]
        cases = self._cases.get_many({i["case_id"] for i in items})
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


class DynamoPurge:
    """Deletes everything about a case once TTL has deleted the case: its reports (found through the by_case
    index) with their idempotency holds, its trail, its timers and the reminders sent about it. Only what
    came before the case's expiry goes: a report of the same video after it belongs to a new case."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        rules: ReminderRules,
        evidence: Callable[[str, str], int] | None = None,
    ) -> None:
        self._client = client
        self._table = table
        self._rules = rules
        #: Deletes a report's evidence files (partner id, report id -> versions deleted); None: no bucket.
        self._evidence = evidence

    def purge(self, case: Case, until: datetime) -> int:
        """Delete what belongs to ``case`` up to ``until``; how many keys were deleted (absent ones count)."""
        upto = f"{stamp(until)}~"
        keys: list[tuple[str, str]] = []
        offsets = {kind: [text for text, _ in offsets_of(kind, self._rules)] for kind in ReminderKind}
        partners = {*case.partners, LEADS}
        # What is about the case or its reports goes with it; milestones and digests are about no case.
        kinds = {subject: [kind for kind in ReminderKind if RULES[kind].subject is subject] for subject in Subject}
        for item in query_all(
            self._client,
            TableName=self._table,
            IndexName=CASE_INDEX,
            KeyConditionExpression="gsi2pk = :case AND gsi2sk <= :until",
            ExpressionAttributeValues=to_item({":case": f"CASE#{case.case_id}", ":until": upto}),
            ProjectionExpression="report_id, partner_id, evidence",
        ):
            report_id, partner_id = str(item["report_id"]), str(item["partner_id"])
            if "evidence" in item:
                # The files first: should this fail, the report is still there for the purge's retry to find.
                if self._evidence is None:
                    raise RuntimeError(f"report {report_id} has evidence files and no bucket is configured")
                self._evidence(partner_id, report_id)
            keys += [(f"REPORT#{report_id}", "REPORT"), (f"IDEMPOTENCY#{report_id}", "IDEMPOTENCY")]
            for kind in kinds[Subject.REPORT]:
                for offset in offsets[kind]:
                    keys.append((f"TIMER#{kind}#{report_id}", offset))
                    keys.append((f"REMINDER#{kind}#{report_id}#{offset}#{partner_id}", "REMINDER"))
        keys += [
            (str(item["pk"]), str(item["sk"]))
            for item in query_all(
                self._client,
                TableName=self._table,
                KeyConditionExpression="pk = :case AND sk BETWEEN :first AND :last",
                ExpressionAttributeValues=to_item(
                    {":case": f"CASE#{case.case_id}", ":first": "EVENT#", ":last": f"EVENT#{upto}"}
                ),
                ProjectionExpression="pk, sk",
            )
        ]
        for kind in kinds[Subject.CASE]:
            for offset in offsets[kind]:
                keys.append((f"TIMER#{kind}#{case.case_id}", offset))
                keys += [(f"REMINDER#{kind}#{case.case_id}#{offset}#{p}", "REMINDER") for p in sorted(partners)]
        unique = sorted(set(keys))
        batch_write(
            self._client, self._table, [{"DeleteRequest": {"Key": to_item({"pk": pk, "sk": sk})}} for pk, sk in unique]
        )
        return len(unique)
