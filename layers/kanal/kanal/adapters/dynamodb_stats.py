"""The figures' counters in the table (implements stats.StatsStore).

| item            | pk                      | sk                                           |
|-----------------|-------------------------|----------------------------------------------|
| counter cell    | STATS#<scope>#<ISO week> | <WIB day>#<category>#<province>#<policy>#<outcome> |
| notice          | STATS#CASE#<case id>    | NOTICE#<scope>                               |
| report's marker | STATS#REPORT#<report id> | COUNTED                                     |

A scope is ``national`` or ``partner:<id>``; policy and outcome are ``-`` while a case is undecided. A counter
cell holds numbers only (``reports``, ``cases``, ``decided``, ``within_sla``, ``h<bucket>``), updated with ADD
in the transaction that writes the notice it moves (``stats.Change``): a cell item stays well under 1 KB
(at most 37 buckets), so each item of such a transaction costs 2 write units. A read queries one partition
per ISO week of its range, a 1 MB page at a time.

Notices and markers expire with the case (a backstop TTL, as the case's other items); the counters do not:
they are aggregates, naming no report, case or partner (a partner's own scope names only that partner, and is
read only by it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from kanal.adapters.dynamodb import DEFAULT_RETENTION, backstop, from_item, stamp, to_item, unavailable_on_failure
from kanal.errors import StoreUnavailable
from kanal.stats import Applied, Cell, Change, Notice, Tally, iso_week, weeks

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


def counter_key(scope: str, cell: Cell) -> dict[str, Any]:
    """The key of a counter cell."""
    return to_item({"pk": f"STATS#{scope}#{iso_week(cell.day)}", "sk": cell.key()})


def notice_key(case_id: str, scope: str) -> dict[str, Any]:
    """The key of a case's notice for a scope."""
    return to_item({"pk": f"STATS#CASE#{case_id}", "sk": f"NOTICE#{scope}"})


def marker_key(report_id: str) -> dict[str, Any]:
    """The key of the marker that a report was counted."""
    return to_item({"pk": f"STATS#REPORT#{report_id}", "sk": "COUNTED"})


class DynamoStats:
    """Counters, notices and report markers in the table."""

    def __init__(self, client: DynamoDBClient, table: str, retention: timedelta = DEFAULT_RETENTION) -> None:
        self._client = client
        self._table = table
        self._retention = retention
        #: Requests made by ``tallies`` and the items they read, since this object was made (for the bench).
        self.read_requests = 0
        self.read_items = 0

    def notices(self, case_id: str, scopes: Iterable[str]) -> dict[str, Notice]:
        """One strongly consistent batch read of the notices."""
        wanted = list(dict.fromkeys(scopes))
        request: dict[str, Any] = {
            self._table: {"Keys": [notice_key(case_id, s) for s in wanted], "ConsistentRead": True}
        }
        found: dict[str, Notice] = {}
        while request:
            with unavailable_on_failure():
                answer = self._client.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(self._table, []):
                notice = Notice.model_validate(from_item(item))
                found[notice.scope] = notice
            request = dict(answer.get("UnprocessedKeys") or {})
        return found

    def _notice_item(self, notice: Notice) -> dict[str, Any]:
        values = notice.model_dump(mode="json")
        values.update(
            pk=f"STATS#CASE#{notice.case_id}",
            sk=f"NOTICE#{notice.scope}",
            opened_at=stamp(notice.opened_at),
            review_due_at=stamp(notice.review_due_at),
            decided_at=stamp(notice.decided_at) if notice.decided_at else None,
            expires_at=backstop(notice.opened_at, self._retention),
        )
        return to_item(values)

    def apply(self, change: Change) -> Applied:
        """One transaction: the report's marker (if absent), each notice (if still at the version read), and
        an ADD to every counter cell the notices move between."""
        items: list[TransactWriteItemTypeDef] = []
        if change.report_id is not None:
            first = min(after.opened_at for _, after in change.notices)
            marker = {**marker_key(change.report_id), **to_item({"expires_at": backstop(first, self._retention)})}
            items.append(
                {"Put": {"TableName": self._table, "Item": marker, "ConditionExpression": "attribute_not_exists(pk)"}}
            )
        for before, after in change.notices:
            put: dict[str, Any] = {"TableName": self._table, "Item": self._notice_item(after)}
            if before is None:
                put["ConditionExpression"] = "attribute_not_exists(pk)"
            else:
                put["ConditionExpression"] = "version = :version"
                put["ExpressionAttributeValues"] = to_item({":version": before.version})
            items.append({"Put": put})  # type: ignore[typeddict-item]
        for (scope, cell), tally in sorted(change.deltas().items()):
            counters = tally.counters()
            names = {f"#c{i}": name for i, name in enumerate(counters)}
            values = {f":c{i}": n for i, n in enumerate(counters.values())}
            items.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": counter_key(scope, cell),
                        "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(counters))),
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": to_item(values),
                    }
                }
            )
        with unavailable_on_failure():
            try:
                self._client.transact_write_items(TransactItems=items)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = error.response.get("CancellationReasons", [])  # type: ignore[attr-defined]
                codes = [str(r.get("Code")) for r in reasons]
                if change.report_id is not None and codes[:1] == ["ConditionalCheckFailed"]:
                    return Applied.COUNTED
                if any(code in ("ConditionalCheckFailed", "TransactionConflict") for code in codes):
                    return Applied.CONFLICT
                raise StoreUnavailable(f"counting was cancelled: {codes}") from error
        return Applied.DONE

    def tallies(self, scope: str, first: date, last: date) -> list[tuple[Cell, Tally]]:
        """Query each ISO week's partition of the scope for the days of the range."""
        return list(self._tallies(scope, first, last))

    def _tallies(self, scope: str, first: date, last: date) -> Iterator[tuple[Cell, Tally]]:
        for week in weeks(first, last):
            start: dict[str, Any] | None = None
            while True:
                with unavailable_on_failure():
                    answer = self._client.query(
                        TableName=self._table,
                        KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :last",
                        ExpressionAttributeValues=to_item(
                            {":pk": f"STATS#{scope}#{week}", ":first": first.isoformat(), ":last": f"{last}~"}
                        ),
                        **({"ExclusiveStartKey": start} if start else {}),  # type: ignore[arg-type]
                    )
                self.read_requests += 1
                items = answer.get("Items", [])
                self.read_items += len(items)
                for item in items:
                    values = from_item(item)
                    tally = Tally.from_counters(values)
                    if not tally.empty:
                        yield Cell.from_key(str(values["sk"])), tally
                start = answer.get("LastEvaluatedKey")
                if not start:
                    break

    def forget(self, case_id: str, scopes: Iterable[str], report_ids: Iterable[str]) -> int:
        """Take a case out of the figures (``kanal smoke``'s own case, when its run cleans up): each notice's
        contribution subtracted from its cell in one transaction with the notice's deletion, the reports' markers
        deleted, and the cells left at zero deleted (only if still zero). How many notices were forgotten."""
        forgotten = 0
        touched: set[tuple[str, Cell]] = set()
        for notice in self.notices(case_id, scopes).values():
            counters = (-notice.tally()).counters()
            names = {f"#c{i}": name for i, name in enumerate(counters)}
            values = {f":c{i}": n for i, n in enumerate(counters.values())}
            with unavailable_on_failure():
                self._client.transact_write_items(
                    TransactItems=[
                        {
                            "Delete": {
                                "TableName": self._table,
                                "Key": notice_key(case_id, notice.scope),
                                "ConditionExpression": "version = :version",
                                "ExpressionAttributeValues": to_item({":version": notice.version}),
                            }
                        },
                        {
                            "Update": {
                                "TableName": self._table,
                                "Key": counter_key(notice.scope, notice.cell),
                                "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(counters))),
                                "ExpressionAttributeNames": names,
                                "ExpressionAttributeValues": to_item(values),
                            }
                        },
                    ]
                )
            cell = notice.cell  # and the cell it was counted in before its decision, left at zero by the move
            touched |= {(notice.scope, cell), (notice.scope, Cell(cell.day, cell.category, cell.province))}
            forgotten += 1
        for report_id in report_ids:
            with unavailable_on_failure():
                self._client.delete_item(TableName=self._table, Key=marker_key(report_id))
        for scope, cell in sorted(touched):
            self._delete_if_zero(counter_key(scope, cell))
        return forgotten

    def _delete_if_zero(self, key: dict[str, Any]) -> None:
        with unavailable_on_failure():
            answer = self._client.batch_get_item(RequestItems={self._table: {"Keys": [key], "ConsistentRead": True}})
        items = answer.get("Responses", {}).get(self._table, [])
        if not items:
            return
        counters = {name: value for name, value in items[0].items() if "N" in value}
        if any(float(value["N"]) != 0 for value in counters.values()):
            return
        names = {f"#c{i}": name for i, name in enumerate(counters)}
        condition = " AND ".join(f"#c{i} = :zero" for i in range(len(counters))) or "attribute_exists(pk)"
        with unavailable_on_failure():
            try:
                self._client.delete_item(
                    TableName=self._table,
                    Key=key,
                    ConditionExpression=condition,
                    **({"ExpressionAttributeNames": names} if names else {}),  # type: ignore[arg-type]
                    ExpressionAttributeValues=to_item({":zero": 0}) if names else {},
                )
            except ClientError as error:  # counted meanwhile: it stays
                if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
