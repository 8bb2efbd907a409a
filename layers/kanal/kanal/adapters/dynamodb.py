"""DynamoDB implementations of the repositories: one table, keys named by what they hold.

| item    | pk           | sk                  | gsi1 (by_owner)                       | gsi2 (by_case)              |
|---------|--------------|---------------------|---------------------------------------|-----------------------------|
| partner | PARTNER#<id> | PARTNER             | PARTNERS / <name>#<id>                |                             |
| api key | KEY#<sha256> | KEY                 | PARTNER#<id> / KEY#<key id>           |                             |
| report  | REPORT#<id>  | REPORT              | PARTNER#<id> / REPORT#<received>#<id> | CASE#<id> / <received>#<id> |
| case    | CASE#<id>    | CASE                |                                       |                             |
| event   | CASE#<id>    | EVENT#<at>#<kind>.. |                                       |                             |

A report's evidence files are a map by id in the report's own item (``evidence``; dynamodb_evidence.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from typing_extensions import Unpack

from kanal.adapters.attributes import from_attribute, to_attribute
from kanal.errors import CaseConflict, KeyNotFound, StoreUnavailable
from kanal.models import (
    ApiKey,
    Case,
    CaseEvent,
    Claim,
    Decision,
    Partner,
    Priority,
    Question,
    Report,
    attached_event,
    report_position,
)
from kanal.ports import Suspect

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef, TransactWriteItemTypeDef

#: How long a case is kept after its last report or decision (the template's RetentionDays sets it).
DEFAULT_RETENTION = timedelta(days=730)
#: Items about a case carry an expiry of their own, this many retention periods after they were written: a
#: backstop only. They are deleted with their case when TTL deletes it (``DynamoPurge``).
BACKSTOP = 2


def backstop(moment: datetime, retention: timedelta) -> int:
    """The TTL of an item about a case, as Unix seconds: long after its case's, which deletes it first."""
    return int((moment + BACKSTOP * retention).timestamp())


#: DynamoDB's limit on the items of one transaction.
TRANSACTION_ITEMS = 100
#: Reports per attach transaction: with the case's update, 100 items, DynamoDB's limit for one transaction.
ATTACH_CHUNK = TRANSACTION_ITEMS - 1
#: How often a batch of reports is put again after a conflict with another transaction on one of its items.
CONFLICT_RETRIES = 2
OWNER_INDEX = "by_owner"
CASE_INDEX = "by_case"

_UNAVAILABLE = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
}
T = TypeVar("T")


def stamp(moment: datetime) -> str:
    """A sortable UTC timestamp for keys and attributes."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Marshal plain values (None and empty collections dropped) into DynamoDB's typed form."""
    return {k: to_attribute(v) for k, v in values.items() if v is not None and v != [] and v != set()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """Unmarshal a DynamoDB item into plain values."""
    return {k: from_attribute(v) for k, v in item.items()}


@contextmanager
def unavailable_on_failure() -> Iterator[None]:
    """Turn throttling, server errors and network failures into StoreUnavailable."""
    try:
        yield
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _UNAVAILABLE:
            raise StoreUnavailable(str(error)) from error
        raise
    except BotoCoreError as error:
        raise StoreUnavailable(str(error)) from error


def report_item(report: Report) -> dict[str, Any]:
    """A report as a table item."""
    # Evidence files are added to the stored item one by one (DynamoEvidence), never written with the report.
    values = report.model_dump(mode="json", exclude={"evidence"})
    received = stamp(report.received_at)
    values.update(
        pk=f"REPORT#{report.report_id}",
        sk="REPORT",
        received_at=received,
        review_due_at=stamp(report.review_due_at),
        observed_at=stamp(report.observed_at) if report.observed_at else None,
        gsi1pk=f"PARTNER#{report.partner_id}",
        gsi1sk=f"REPORT#{received}#{report.report_id}",
        gsi2pk=f"CASE#{report.case_id}",
        gsi2sk=report_position(report.received_at, report.report_id),
    )
    return to_item(values)


def report_from_item(item: dict[str, Any]) -> Report:
    """A table item as a report."""
    return Report.model_validate(from_item(item))


def case_from_item(item: dict[str, Any]) -> Case:
    """A table item as a case."""
    return Case.model_validate(from_item(item))


class DynamoReports:
    """Reports in DynamoDB (implements ReportRepository)."""

    def __init__(self, client: DynamoDBClient, table: str, retention: timedelta = DEFAULT_RETENTION) -> None:
        self._client = client
        self._table = table
        self._retention = retention

    def add(self, report: Report) -> Report | None:
        """One conditional put; a taken id gives back the stored report (an idempotent retry)."""
        with unavailable_on_failure():
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item={
                        **report_item(report),
                        **to_item({"expires_at": backstop(report.received_at, self._retention)}),
                    },
                    ConditionExpression="attribute_not_exists(pk)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                old: dict[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
                return report_from_item(old) if old else self.get(report.report_id)
        return None

    def begin(self, report_id: str, now: datetime, hold_until: datetime) -> bool:
        """A marker that the request for this idempotent id runs; an expired marker is taken over."""
        with unavailable_on_failure():
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=to_item(
                        {
                            "pk": f"IDEMPOTENCY#{report_id}",
                            "sk": "IDEMPOTENCY",
                            "hold_until": stamp(hold_until),
                            "expires_at": int(hold_until.timestamp()) + 86_400,
                        }
                    ),
                    ConditionExpression="attribute_not_exists(pk) OR hold_until < :now",
                    ExpressionAttributeValues=to_item({":now": stamp(now)}),
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    return False
                raise
        return True

    def release(self, report_id: str) -> None:
        """Drop the marker; if even that fails, it expires after its hold."""
        try:
            self._client.delete_item(
                TableName=self._table, Key=to_item({"pk": f"IDEMPOTENCY#{report_id}", "sk": "IDEMPOTENCY"})
            )
        except (ClientError, BotoCoreError):
            return

    def get(self, report_id: str) -> Report | None:
        """The report, or None."""
        with unavailable_on_failure():
            answer = self._client.get_item(
                TableName=self._table, Key=to_item({"pk": f"REPORT#{report_id}", "sk": "REPORT"})
            )
        return report_from_item(answer["Item"]) if "Item" in answer else None

    def lookup(self, report_ids: Sequence[str], now: datetime) -> tuple[dict[str, Report], set[str]]:
        """Each id's report and Idempotency-Key hold in one BatchGetItem per 50 ids (100 keys, its limit)."""
        keys = [
            to_item({"pk": f"{kind}#{report_id}", "sk": kind})
            for report_id in dict.fromkeys(report_ids)
            for kind in ("REPORT", "IDEMPOTENCY")
        ]
        reports: dict[str, Report] = {}
        holds: set[str] = set()
        for item in batch_get(self._client, self._table, keys):
            if item["sk"]["S"] == "REPORT":
                report = report_from_item(item)
                reports[report.report_id] = report
            elif str(from_attribute(item["hold_until"])) >= stamp(now):
                holds.add(item["pk"]["S"].removeprefix("IDEMPOTENCY#"))
        return reports, holds - set(reports)

    def add_many(self, reports: Sequence[Report]) -> dict[str, Report]:
        """One transaction of conditional puts (at most 100, DynamoDB's limit; a batch's 1 MB body stays well
        under its 4 MB). When it is cancelled, the reports whose id was taken are read from the cancellation
        reasons and the rest is put again; a conflict with another transaction is tried again, twice."""
        if len(reports) > TRANSACTION_ITEMS:
            raise ValueError(f"at most {TRANSACTION_ITEMS} reports in one transaction")
        taken: dict[str, Report] = {}
        pending, conflicts = list(reports), 0
        while pending:
            codes, old = self._put_all(pending)
            if not codes:
                break
            for report, code, item in zip(pending, codes, old, strict=True):
                if code == "ConditionalCheckFailed":
                    taken[report.report_id] = report_from_item(item) if item else self._stored(report.report_id)
            conflicts += "TransactionConflict" in codes
            settled = len(pending) - len([r for r in pending if r.report_id not in taken])
            if (
                conflicts > CONFLICT_RETRIES
                or not (settled or "TransactionConflict" in codes)
                or any(code not in (None, "None", "ConditionalCheckFailed", "TransactionConflict") for code in codes)
            ):
                raise StoreUnavailable(f"storing a batch of reports was cancelled: {codes}")
            pending = [r for r in pending if r.report_id not in taken]
        return taken

    def _put_all(self, reports: Sequence[Report]) -> tuple[list[str | None], list[dict[str, Any] | None]]:
        """One transaction; ([], []) when it wrote, else each put's cancellation code and the item in its way."""
        puts: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {**report_item(r), **to_item({"expires_at": backstop(r.received_at, self._retention)})},
                    "ConditionExpression": "attribute_not_exists(pk)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
            for r in reports
        ]
        with unavailable_on_failure():
            try:
                self._client.transact_write_items(TransactItems=puts)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons: list[dict[str, Any]] = error.response.get("CancellationReasons", [])  # type: ignore[assignment]
                if len(reasons) != len(reports):
                    raise StoreUnavailable(f"storing a batch of reports was cancelled: {reasons}") from error
                return [r.get("Code") for r in reasons], [r.get("Item") for r in reasons]
        return [], []

    def _stored(self, report_id: str) -> Report:
        found = self.get(report_id)
        if found is None:  # taken a moment ago, gone now: only a deletion does that
            raise StoreUnavailable(f"report {report_id} was taken and then deleted")
        return found

    def page_for_partner(
        self, partner_id: str, limit: int, after: tuple[datetime, str] | None
    ) -> tuple[list[Report], bool]:
        """A partner's reports, newest first; the start key is rebuilt from the partner's own id."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": OWNER_INDEX,
            "KeyConditionExpression": "gsi1pk = :owner AND begins_with(gsi1sk, :kind)",
            "ExpressionAttributeValues": to_item({":owner": f"PARTNER#{partner_id}", ":kind": "REPORT#"}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if after is not None:
            received, report_id = stamp(after[0]), after[1]
            query["ExclusiveStartKey"] = to_item(
                {
                    "pk": f"REPORT#{report_id}",
                    "sk": "REPORT",
                    "gsi1pk": f"PARTNER#{partner_id}",
                    "gsi1sk": f"REPORT#{received}#{report_id}",
                }
            )
        with unavailable_on_failure():
            answer = self._client.query(**query)
        return [report_from_item(i) for i in answer.get("Items", [])], "LastEvaluatedKey" in answer


class DynamoCases:
    """Cases in DynamoDB (implements CaseRepository)."""

    def __init__(self, client: DynamoDBClient, table: str, retention: timedelta = DEFAULT_RETENTION) -> None:
        self._client = client
        self._table = table
        self._retention = retention

    @staticmethod
    def _key(case_id: str) -> dict[str, Any]:
        return to_item({"pk": f"CASE#{case_id}", "sk": "CASE"})

    def get(self, case_id: str, consistent: bool = False) -> Case | None:
        """The case, or None (an eventually consistent read is enough where the stream lags anyway)."""
        with unavailable_on_failure():
            answer = self._client.get_item(TableName=self._table, Key=self._key(case_id), ConsistentRead=consistent)
        return case_from_item(answer["Item"]) if "Item" in answer else None

    def get_many(self, case_ids: Iterable[str]) -> dict[str, Case]:
        """The existing cases among ``case_ids``, in batches of 100."""
        keys = [self._key(c) for c in sorted(set(case_ids))]
        cases = (case_from_item(item) for item in batch_get(self._client, self._table, keys))
        return {case.case_id: case for case in cases}

    def attach(self, case_id: str, reports: Sequence[Report], expires_at: datetime) -> Case:
        """Counts and bounded sets on the case, each report's trail entry beside it, in one transaction per
        99 reports; a report whose entry exists was counted before (a redelivery) and is left out. The case
        item's size does not grow with its reports. The expiry is set when the case opens and after that only
        moved later, to the next whole day (so an extension costs one write a day at most)."""
        expiry = _whole_day(expires_at)
        pending = sorted(reports, key=lambda r: (r.received_at, r.report_id))
        while pending:
            chunk, pending = pending[:ATTACH_CHUNK], pending[ATTACH_CHUNK:]
            while chunk:
                left_out = self._attach_chunk(case_id, chunk, expiry)
                if left_out is None:
                    break
                chunk = [r for i, r in enumerate(chunk) if i not in left_out]
        case = self.get(case_id, consistent=True)
        if case is None:  # every report was attached before to a case that has expired since
            raise StoreUnavailable(f"case {case_id} vanished while attaching")
        if case.expires_at is None or case.expires_at < expiry:
            self._extend(case_id, expiry)
            case = case.model_copy(update={"expires_at": expiry})
        return case

    def _attach_chunk(self, case_id: str, reports: Sequence[Report], expiry: datetime) -> set[int] | None:
        """One transaction; None when it wrote, else the positions of the reports attached before."""
        first = reports[0]
        values: dict[str, Any] = {
            ":case_id": case_id,
            ":key": first.content_key,
            ":url": first.content_url,
            ":received": "received",
            ":first": stamp(first.received_at),
            ":due": stamp(min(r.review_due_at for r in reports)),
            ":expires": int(expiry.timestamp()),
            ":count": len(reports),
            ":partners": {r.partner_id for r in reports},
            ":categories": {str(r.category) for r in reports},
        }
        adds = "report_count :count, partners :partners, categories :categories"
        reasons = {reason for r in reports for reason in r.urgent_reasons}
        if reasons:
            values[":reasons"] = reasons
            adds += ", urgent_reasons :reasons"
        update: TransactWriteItemTypeDef = {
            "Update": {
                "TableName": self._table,
                "Key": self._key(case_id),
                "UpdateExpression": (
                    "SET case_id = :case_id, content_key = if_not_exists(content_key, :key), "
                    "content_url = if_not_exists(content_url, :url), #status = if_not_exists(#status, :received), "
                    "first_reported_at = if_not_exists(first_reported_at, :first), "
                    "review_due_at = if_not_exists(review_due_at, :due), "
                    f"expires_at = if_not_exists(expires_at, :expires) ADD {adds}"
                ),
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": to_item(values),
            }
        }
        entries: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": event_item(attached_event(r), self._retention),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for r in reports
        ]
        with unavailable_on_failure():
            try:
                self._client.transact_write_items(TransactItems=[update, *entries])
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                codes = [r.get("Code") for r in error.response.get("CancellationReasons", [])]  # type: ignore[attr-defined]
                seen = {i - 1 for i, code in enumerate(codes) if i > 0 and code == "ConditionalCheckFailed"}
                if not seen or any(code not in (None, "None", "ConditionalCheckFailed") for code in codes):
                    raise StoreUnavailable(f"attaching to case {case_id} was cancelled: {codes}") from error
                return seen
        return None

    def _extend(self, case_id: str, expiry: datetime) -> None:
        """Move the case's expiry later (never earlier: a late batch of old reports cannot shorten it)."""
        with unavailable_on_failure():
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=self._key(case_id),
                    UpdateExpression="SET expires_at = :expires",
                    ConditionExpression=(
                        "attribute_exists(pk) AND (attribute_not_exists(expires_at) OR expires_at < :expires)"
                    ),
                    ExpressionAttributeValues=to_item({":expires": int(expiry.timestamp())}),
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise

    def reopen_decided(self, case_id: str, reasons: Sequence[str], at: datetime) -> Case | None:
        """A decided case back to review (its decision kept on record, its queue mark gone so that it is queued
        again), with why; None if it is not decided (someone reopened it already)."""
        try:
            return self._conditional(
                case_id,
                "SET #status = :received, reopened_at = :at ADD urgent_reasons :reasons REMOVE queued",
                "#status = :decided",
                {":at": stamp(at), ":reasons": set(reasons), ":decided": "decided", ":received": "received"},
            )
        except CaseConflict:
            return None

    def mark_queued(self, case_id: str, priority: Priority, ticket: int, at: datetime) -> None:
        """Record the queue and ticket of the newest message; a lower ticket never overwrites a higher one."""
        with unavailable_on_failure():
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=self._key(case_id),
                    UpdateExpression="SET queued = :priority, queued_at = :at, ticket = :ticket",
                    ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(ticket) OR ticket < :ticket)",
                    ExpressionAttributeValues=to_item(
                        {":priority": str(priority), ":at": stamp(at), ":ticket": ticket}
                    ),
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise

    def claim(self, case_id: str, claim: Claim, now: datetime) -> Case:
        """Hold an open case unless another reviewer holds an unexpired claim."""
        return self._conditional(
            case_id,
            "SET claim = :claim",
            "#status = :received AND (attribute_not_exists(claim) OR claim.expires_at < :now "
            "OR claim.reviewer = :reviewer)",
            {
                ":claim": {**claim.model_dump(mode="json"), "expires_at": stamp(claim.expires_at)},
                ":now": stamp(now),
                ":reviewer": claim.reviewer,
            },
        )

    def decide(self, case_id: str, decision: Decision) -> Case:
        """Write the decision once, by the holder of the case; the case is then kept a retention period from
        the decision (so that it stays reviewable), unless it is kept longer already."""
        decided = self._conditional(
            case_id,
            "SET decision = :decision, #status = :decided REMOVE claim",
            "#status = :received AND claim.reviewer = :reviewer",
            {":decision": decision.model_dump(mode="json"), ":decided": "decided", ":reviewer": decision.reviewer},
        )
        expiry = _whole_day(decision.decided_at + self._retention)
        if decided.expires_at is None or decided.expires_at < expiry:
            self._extend(case_id, expiry)
            decided = decided.model_copy(update={"expires_at": expiry})
        return decided

    def ask(self, case_id: str, reviewer: str, question: Question) -> Case:
        """needs_info: the claim and the queue mark go, so that the answer queues the case again."""
        return self._conditional(
            case_id,
            "SET question = :question, #status = :needs_info REMOVE claim, queued",
            "#status = :received AND claim.reviewer = :reviewer",
            {
                ":question": {**question.model_dump(mode="json"), "due_at": stamp(question.due_at)},
                ":needs_info": "needs_info",
                ":reviewer": reviewer,
            },
        )

    def release(self, case_id: str, reviewer: str) -> Case:
        """Let go of a held case."""
        return self._conditional(case_id, "REMOVE claim", "claim.reviewer = :reviewer", {":reviewer": reviewer})

    def reopen(self, case_id: str, event: CaseEvent, question_due: datetime | None = None) -> Case:
        """Back to review with the event on the trail, in one transaction; the event's stream record requeues it.

        With ``question_due``, only if the open question is still the one due then (an unanswered question).
        """
        condition = "#status = :needs_info"
        values: dict[str, Any] = {":received": "received", ":needs_info": "needs_info"}
        if question_due is not None:
            condition += " AND question.due_at = :due"
            values[":due"] = stamp(question_due)
        with unavailable_on_failure():
            try:
                self._client.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": self._table,
                                "Key": self._key(case_id),
                                "UpdateExpression": "SET #status = :received REMOVE question, queued",
                                "ConditionExpression": condition,
                                "ExpressionAttributeNames": {"#status": "status"},
                                "ExpressionAttributeValues": to_item(values),
                            }
                        },
                        {"Put": {"TableName": self._table, "Item": reopened_item(event, self._retention)}},
                    ]
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                raise CaseConflict(case_id) from error
        case = self.get(case_id)
        assert case is not None
        return case

    def _conditional(self, case_id: str, update: str, condition: str, values: dict[str, Any]) -> Case:
        with unavailable_on_failure():
            try:
                answer = self._client.update_item(
                    TableName=self._table,
                    Key=self._key(case_id),
                    UpdateExpression=update,
                    ConditionExpression=f"attribute_exists(pk) AND {condition}",
                    ExpressionAttributeNames={"#status": "status"} if "#status" in update + condition else {},
                    ExpressionAttributeValues=to_item({":received": "received", **values})
                    if ":received" in condition
                    else to_item(values),
                    ReturnValues="ALL_NEW",
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                raise CaseConflict(case_id) from error
        return case_from_item(answer["Attributes"])


def event_item(event: CaseEvent, retention: timedelta = DEFAULT_RETENTION) -> dict[str, Any]:
    """A trail entry as a table item; the key makes recording the same event twice harmless."""
    suffix = f"#{event.detail['report_id']}" if "report_id" in event.detail else ""
    values = event.model_dump(mode="json")
    values.update(
        pk=f"CASE#{event.case_id}",
        sk=f"EVENT#{stamp(event.at)}#{event.kind}{suffix}",
        at=stamp(event.at),
        expires_at=backstop(event.at, retention),
    )
    return to_item(values)


#: The index partition (by_owner, one per UTC day) of reopenings the reconciler has not checked yet.
REOPENED = "REOPENED#"


def reopened_item(event: CaseEvent, retention: timedelta = DEFAULT_RETENTION) -> dict[str, Any]:
    """The trail entry of a reopening, also listed for the reconciler until it has checked the case."""
    item = event_item(event, retention)
    at = stamp(event.at)
    item.update(to_item({"gsi1pk": f"{REOPENED}{at[:10]}", "gsi1sk": f"{at}#{event.case_id}"}))
    return item


class DynamoSuspects:
    """Reopenings not yet checked by the reconciler (implements reconciler.Suspects)."""

    #: How far back a run looks (a missed run, a long outage).
    LOOKBACK = timedelta(days=8)

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def reopened(self, until: datetime) -> list[Suspect]:
        """One query per UTC day of the lookback, reading only the reopenings up to ``until``."""
        return [
            Suspect(case_id=str(item["case_id"]), key=(str(item["pk"]), str(item["sk"])))
            for item in query_days(self._client, self._table, REOPENED, until, self.LOOKBACK)
        ]

    def checked(self, suspect: Suspect) -> None:
        """The reopening leaves the index; its trail entry stays."""
        with unavailable_on_failure():
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"pk": suspect.key[0], "sk": suspect.key[1]}),
                UpdateExpression="REMOVE gsi1pk, gsi1sk",
            )


def _whole_day(moment: datetime) -> datetime:
    """The next UTC midnight at or after ``moment``."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day if day == moment.astimezone(UTC) else day + timedelta(days=1)


class DynamoTrail:
    """Case history and a case's reports in DynamoDB (implements Trail)."""

    def __init__(self, client: DynamoDBClient, table: str, retention: timedelta = DEFAULT_RETENTION) -> None:
        self._client = client
        self._table = table
        self._retention = retention

    def record(self, events: Sequence[CaseEvent]) -> None:
        """Batch-write events, 25 at a time, retrying what DynamoDB left unprocessed."""
        batch_write(
            self._client, self._table, [{"PutRequest": {"Item": event_item(e, self._retention)}} for e in events]
        )

    def history(self, case_id: str) -> list[CaseEvent]:
        """A case's events, oldest first."""
        return [
            CaseEvent.model_validate(i)
            for i in query_all(
                self._client,
                TableName=self._table,
                KeyConditionExpression="pk = :case AND begins_with(sk, :event)",
                ExpressionAttributeValues=to_item({":case": f"CASE#{case_id}", ":event": "EVENT#"}),
            )
        ]

    def count_reports(self, case_id: str) -> int:
        """How many reports the case has on the by_case index now (stored, attached or not yet)."""
        total, start = 0, None
        while True:
            with unavailable_on_failure():
                query: QueryInputTypeDef = {
                    "TableName": self._table,
                    "IndexName": CASE_INDEX,
                    "KeyConditionExpression": "gsi2pk = :case",
                    "ExpressionAttributeValues": to_item({":case": f"CASE#{case_id}"}),
                    "Select": "COUNT",
                }
                if start:
                    query["ExclusiveStartKey"] = start
                answer = self._client.query(**query)
            total += int(answer.get("Count", 0))
            start = answer.get("LastEvaluatedKey")
            if not start:
                return total

    def reports_after(self, case_id: str, position: str) -> list[Report]:
        """The case's reports after ``position`` (what arrived since a reviewer's view), oldest first."""
        return [
            Report.model_validate(i)
            for i in query_all(
                self._client,
                TableName=self._table,
                IndexName=CASE_INDEX,
                KeyConditionExpression="gsi2pk = :case AND gsi2sk > :after",
                ExpressionAttributeValues=to_item({":case": f"CASE#{case_id}", ":after": position}),
            )
        ]

    def reports_of(self, case_id: str) -> list[Report]:
        """Every report of a case, oldest first (every position, a UTC time first, sorts after "0")."""
        return self.reports_after(case_id, "0")


class DynamoPartners:
    """Partners and key hashes in DynamoDB (implements PartnerDirectory)."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def add_partner(self, partner: Partner) -> None:
        """Store a partner (its id is new, so the put is conditional on that)."""
        values = partner.model_dump(mode="json")
        values.update(
            pk=f"PARTNER#{partner.partner_id}",
            sk="PARTNER",
            gsi1pk="PARTNERS",
            gsi1sk=f"{partner.name.lower()}#{partner.partner_id}",
        )
        if not put_new(self._client, self._table, values):
            raise StoreUnavailable("an id collided; retry")  # 64 random bits: practically never

    def get_partner(self, partner_id: str) -> Partner | None:
        """The partner, or None."""
        with unavailable_on_failure():
            answer = self._client.get_item(
                TableName=self._table, Key=to_item({"pk": f"PARTNER#{partner_id}", "sk": "PARTNER"})
            )
        return Partner.model_validate(from_item(answer["Item"])) if "Item" in answer else None

    def list_partners(self) -> list[Partner]:
        """Every partner, by name."""
        return [Partner.model_validate(i) for i in self._query_owner("PARTNERS", None)]

    def add_key(self, key: ApiKey, partner: Partner) -> None:
        """Store a key's hash; the partner's kind, name and usage key ride along so the authorizer needs one read."""
        values = key.model_dump(mode="json")
        values.update(
            pk=f"KEY#{key.key_hash}",
            sk="KEY",
            partner_kind=str(partner.kind),
            partner_name=partner.name,
            usage_key=partner.usage_key,
            gsi1pk=f"PARTNER#{key.partner_id}",
            gsi1sk=f"KEY#{key.key_id}",
        )
        if not put_new(self._client, self._table, values):
            raise StoreUnavailable("an id collided; retry")  # 64 random bits: practically never

    def find_key(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, or None."""
        with unavailable_on_failure():
            answer = self._client.get_item(TableName=self._table, Key=to_item({"pk": f"KEY#{key_hash}", "sk": "KEY"}))
        return ApiKey.model_validate(from_item(answer["Item"])) if "Item" in answer else None

    def keys_of(self, partner_id: str) -> list[ApiKey]:
        """A partner's keys."""
        return [ApiKey.model_validate(i) for i in self._query_owner(f"PARTNER#{partner_id}", "KEY#")]

    def revoke_key(self, partner_id: str, key_id: str, at: datetime) -> ApiKey:
        """Revoke a key by its id; revoking twice keeps the first time."""
        key = next((k for k in self.keys_of(partner_id) if k.key_id == key_id), None)
        if key is None:
            raise KeyNotFound(key_id)
        if key.revoked_at is not None:
            return key
        with unavailable_on_failure():
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"pk": f"KEY#{key.key_hash}", "sk": "KEY"}),
                UpdateExpression="SET revoked_at = :at",
                ExpressionAttributeValues=to_item({":at": stamp(at)}),
            )
        return key.model_copy(update={"revoked_at": at})

    def set_usage_key(self, partner: Partner, usage_key_id: str, usage_key: str) -> Partner:
        """Record the partner's API Gateway key on its item and on each of its keys' (revoked ones too: harmless)."""
        with unavailable_on_failure():
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"pk": f"PARTNER#{partner.partner_id}", "sk": "PARTNER"}),
                UpdateExpression="SET usage_key_id = :id, usage_key = :key",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=to_item({":id": usage_key_id, ":key": usage_key}),
            )
            for key in self.keys_of(partner.partner_id):
                self._client.update_item(
                    TableName=self._table,
                    Key=to_item({"pk": f"KEY#{key.key_hash}", "sk": "KEY"}),
                    UpdateExpression="SET usage_key = :key",
                    ExpressionAttributeValues=to_item({":key": usage_key}),
                )
        return partner.model_copy(update={"usage_key_id": usage_key_id, "usage_key": usage_key})

    def _query_owner(self, owner: str, prefix: str | None) -> list[dict[str, Any]]:
        condition = "gsi1pk = :owner" + (" AND begins_with(gsi1sk, :prefix)" if prefix else "")
        values = {":owner": owner, ":prefix": prefix} if prefix else {":owner": owner}
        return list(
            query_all(
                self._client,
                TableName=self._table,
                IndexName=OWNER_INDEX,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=to_item(values),
            )
        )


def query_all(client: DynamoDBClient, **query: Unpack[QueryInputTypeDef]) -> Iterator[dict[str, Any]]:
    """Every item a query matches, page after page, unmarshalled."""
    start: dict[str, Any] | None = None
    while True:
        with unavailable_on_failure():
            answer = client.query(**query, **({"ExclusiveStartKey": start} if start else {}))
        yield from (from_item(i) for i in answer.get("Items", []))
        start = answer.get("LastEvaluatedKey")
        if not start:
            return


def query_days(
    client: DynamoDBClient, table: str, prefix: str, until: datetime, lookback: timedelta
) -> Iterator[dict[str, Any]]:
    """The items of a by_owner index bucketed by UTC day (partitions ``<prefix><day>``, sort keys starting with
    a timestamp) from ``lookback`` before ``until`` up to ``until``: one query per day, reading only those."""
    day = (until - lookback).astimezone(UTC).date()
    while day <= until.astimezone(UTC).date():
        yield from query_all(
            client,
            TableName=table,
            IndexName=OWNER_INDEX,
            KeyConditionExpression="gsi1pk = :day AND gsi1sk <= :until",
            ExpressionAttributeValues=to_item({":day": f"{prefix}{day}", ":until": f"{stamp(until)}~"}),
        )
        day += timedelta(days=1)


def batch_write(client: DynamoDBClient, table: str, requests: Sequence[dict[str, Any]]) -> None:
    """Put and delete requests, 25 at a time, retrying what DynamoDB left unprocessed."""
    for start in range(0, len(requests), 25):
        request: dict[str, Any] = {table: list(requests[start : start + 25])}
        while request:
            with unavailable_on_failure():
                answer = client.batch_write_item(RequestItems=request)
            request = answer.get("UnprocessedItems") or {}


def batch_get(client: DynamoDBClient, table: str, keys: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The items that exist among ``keys``, 100 keys a request, retrying what DynamoDB left unprocessed (as stored:
    not unmarshalled)."""
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {table: {"Keys": list(keys[start : start + 100])}}
        while request:
            with unavailable_on_failure():
                answer = client.batch_get_item(RequestItems=request)
            yield from answer.get("Responses", {}).get(table, [])
            request = answer.get("UnprocessedKeys") or {}


def put_new(client: DynamoDBClient, table: str, values: dict[str, Any]) -> bool:
    """Put an item unless one with its key exists; whether it was put."""
    with unavailable_on_failure():
        try:
            client.put_item(TableName=table, Item=to_item(values), ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
    return True
