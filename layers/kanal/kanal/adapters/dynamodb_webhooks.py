"""Partners' webhooks and event feeds in DynamoDB (the one table; every key leads with its partner).

| item          | pk             | sk                               | TTL               |
|---------------|----------------|----------------------------------|-------------------|
| webhook       | WEBHOOKS#<id>  | WEBHOOK#<webhook id>             |                   |
| count         | WEBHOOKS#<id>  | COUNT                            |                   |
| feed entry    | FEED#<id>      | <appended at, UTC µs>#<event id> | 30 days           |
| feed guard    | FEED#<id>      | ID#<event id>                    | 30 days           |

Webhooks have a leading key of their own, not the partner's (PARTNER#): the functions that write them may not
write partners or keys. The count item counts the partner's webhooks in the same transaction as each change,
so that the limit holds when two registrations race.

A feed entry is keyed by when it was appended, not when its event happened: a reader polling with a cursor
never misses an event appended later about something earlier. Entries are read only once they are ``SETTLE``
old, so that appends in flight (stamped a moment before they land) are not overtaken by a reader's cursor. The
guard item makes appending idempotent: the same event id is appended once.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from kanal.adapters.dynamodb import from_item, query_all, stamp, to_item, unavailable_on_failure
from kanal.errors import InvalidRequest
from kanal.events import Addressed, Event
from kanal.webhooks import Webhook

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: How long events stay in a partner's feed.
FEED_DAYS = 30
#: Feed entries younger than this are not read yet (appends in flight land within it).
SETTLE = timedelta(seconds=5)
#: Events per append transaction (two items each: DynamoDB takes 100 items per transaction).
APPEND_CHUNK = 50


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class DynamoWebhooks:
    """WebhookStore: a partner's webhooks under its partner key."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    @staticmethod
    def _key(partner_id: str, webhook_id: str) -> dict[str, Any]:
        return to_item({"pk": f"WEBHOOKS#{partner_id}", "sk": f"WEBHOOK#{webhook_id}"})

    @staticmethod
    def _count(partner_id: str) -> dict[str, Any]:
        return to_item({"pk": f"WEBHOOKS#{partner_id}", "sk": "COUNT"})

    def _item(self, webhook: Webhook) -> dict[str, Any]:
        values = webhook.model_dump(mode="json")
        values.update(pk=f"WEBHOOKS#{webhook.partner_id}", sk=f"WEBHOOK#{webhook.webhook_id}")
        return to_item(values)

    def add(self, webhook: Webhook, limit: int) -> bool:
        """Count it (refused at ``limit``) and store it, in one transaction."""
        partner = self._count(webhook.partner_id)
        with unavailable_on_failure():
            try:
                self._client.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": self._table,
                                "Key": partner,
                                "UpdateExpression": "SET webhook_count = if_not_exists(webhook_count, :zero) + :one",
                                "ConditionExpression": "attribute_not_exists(webhook_count) OR webhook_count < :limit",
                                "ExpressionAttributeValues": to_item({":zero": 0, ":one": 1, ":limit": limit}),
                            }
                        },
                        {
                            "Put": {
                                "TableName": self._table,
                                "Item": self._item(webhook),
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                    ]
                )
            except ClientError as error:
                if _code(error) != "TransactionCanceledException":
                    raise
                return False
        return True

    def get(self, partner_id: str, webhook_id: str) -> Webhook | None:
        with unavailable_on_failure():
            item = self._client.get_item(
                TableName=self._table, Key=self._key(partner_id, webhook_id), ConsistentRead=True
            ).get("Item")
        return Webhook.model_validate(from_item(item)) if item else None

    def of(self, partner_id: str) -> list[Webhook]:
        found = query_all(
            self._client,
            TableName=self._table,
            KeyConditionExpression="pk = :partner AND begins_with(sk, :webhook)",
            ExpressionAttributeValues=to_item({":partner": f"WEBHOOKS#{partner_id}", ":webhook": "WEBHOOK#"}),
        )
        return sorted((Webhook.model_validate(i) for i in found), key=lambda w: (w.created_at, w.webhook_id))

    def put(self, webhook: Webhook) -> bool:
        with unavailable_on_failure():
            try:
                self._client.put_item(
                    TableName=self._table, Item=self._item(webhook), ConditionExpression="attribute_exists(pk)"
                )
            except ClientError as error:
                if _code(error) != "ConditionalCheckFailedException":
                    raise
                return False
        return True

    def remove(self, partner_id: str, webhook_id: str) -> bool:
        """Delete it and count it off the partner, in one transaction."""
        with unavailable_on_failure():
            try:
                self._client.transact_write_items(
                    TransactItems=[
                        {
                            "Delete": {
                                "TableName": self._table,
                                "Key": self._key(partner_id, webhook_id),
                                "ConditionExpression": "attribute_exists(pk)",
                            }
                        },
                        {
                            "Update": {
                                "TableName": self._table,
                                "Key": self._count(partner_id),
                                "UpdateExpression": "SET webhook_count = webhook_count - :one",
                                "ConditionExpression": "webhook_count > :zero",
                                "ExpressionAttributeValues": to_item({":zero": 0, ":one": 1}),
                            }
                        },
                    ]
                )
            except ClientError as error:
                if _code(error) != "TransactionCanceledException":
                    raise
                return False
        return True


def _cursor(sk: str) -> str:
    return base64.urlsafe_b64encode(sk.encode()).decode().rstrip("=")


def _position(cursor: str) -> str:
    try:
        position = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError:  # binascii.Error, UnicodeDecodeError, and text that is not ASCII at all
        raise InvalidRequest("after", "is not a cursor this feed gave") from None
    if "#evt_" not in position:
        raise InvalidRequest("after", "is not a cursor this feed gave")
    return position


class DynamoFeed:
    """Feed: each partner's events, oldest appended first, kept ``FEED_DAYS``."""

    def __init__(self, client: DynamoDBClient, table: str, clock: Callable[[], datetime]) -> None:
        self._client = client
        self._table = table
        #: Read at each append attempt: an entry is stamped right before it is written.
        self._clock = clock

    def append(self, events: Sequence[Addressed], now: datetime) -> list[Addressed]:
        """Append each event once; the ones that were new."""
        new = []
        for start in range(0, len(events), APPEND_CHUNK):
            new.extend(self._append(list(events[start : start + APPEND_CHUNK])))
        return new

    def _append(self, events: list[Addressed]) -> list[Addressed]:
        pending = list({(a.partner_id, a.event.id): a for a in events}.values())
        while pending:
            appended_at = self._clock()
            expires = int((appended_at + timedelta(days=FEED_DAYS)).timestamp())
            items: list[Any] = []
            for n, addressed in enumerate(pending):
                feed, event = f"FEED#{addressed.partner_id}", addressed.event
                body = event.model_dump_json()
                guard = {"pk": feed, "sk": f"ID#{event.id}", "expires_at": expires}
                at = stamp(appended_at + timedelta(microseconds=n))  # a batch keeps its order
                entry = {"pk": feed, "sk": f"{at}#{event.id}", "event": body, "expires_at": expires}
                items.append(
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": to_item(guard),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    }
                )
                items.append({"Put": {"TableName": self._table, "Item": to_item(entry)}})
            with unavailable_on_failure():
                try:
                    self._client.transact_write_items(TransactItems=items)
                    return pending
                except ClientError as error:
                    if _code(error) != "TransactionCanceledException":
                        raise
                    reasons = error.response.get("CancellationReasons", [])
                    known = {i // 2 for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"}
                    if not known:
                        raise
                    # Some were appended before (a redelivered record): append the others, stamped again.
                    pending = [a for i, a in enumerate(pending) if i not in known]
        return []

    def page(self, partner_id: str, after: str | None, limit: int, now: datetime) -> tuple[list[Event], str | None]:
        """Up to ``limit`` events after the cursor, among those settled; the cursor to poll from next."""
        start = _position(after) if after else "0"  # "0" sorts before every stamp; ID# guards sort after them
        # Entries stamped at or before ``until``: "~" sorts after the "#<event id>" that follows a stamp.
        until = stamp(now - SETTLE) + "~"
        with unavailable_on_failure():
            answer = self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :feed AND sk BETWEEN :from AND :until",
                ExpressionAttributeValues=to_item({":feed": f"FEED#{partner_id}", ":from": start, ":until": until}),
                Limit=limit + 1 if after else limit,  # BETWEEN includes the cursor's own entry
                ConsistentRead=True,
            )
        entries = [i for i in (from_item(i) for i in answer.get("Items", [])) if i["sk"] != start][:limit]
        events = [Event.model_validate(json.loads(str(i["event"]))) for i in entries]
        return events, _cursor(str(entries[-1]["sk"])) if entries else after
