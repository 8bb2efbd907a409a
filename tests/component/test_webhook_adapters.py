"""The webhook and feed adapters on moto: DynamoDB items, KMS sealing, the delivery queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from kanal.adapters.dynamodb_webhooks import SETTLE, DynamoFeed, DynamoWebhooks
from kanal.adapters.kms import KmsBox
from kanal.adapters.sqs import SqsDeliveries, read_delivery
from kanal.errors import InvalidRequest
from kanal.events import Addressed, Event, EventType, event_id
from kanal.webhooks import MAX_WEBHOOKS, Secret, Webhook

from tests.support.lambdas import REGION, env

T0 = datetime(2024, 2, 10, 1, 0, tzinfo=UTC)


def webhook(n: int, partner: str = "p_bawaslu") -> Webhook:
    return Webhook(
        webhook_id=f"wh_{n}",
        partner_id=partner,
        url="https://hooks.example.org/k",
        created_at=T0 + timedelta(seconds=n),
        secrets=[Secret(sealed="sealed", created_at=T0)],
    )


def partner(dynamodb: Any, partner_id: str) -> None:
    dynamodb.put_item(TableName=env("TABLE_NAME"), Item={"pk": {"S": f"PARTNER#{partner_id}"}, "sk": {"S": "PARTNER"}})


def test_webhooks_are_counted_on_their_partner_and_the_limit_holds(stack: Any, dynamodb: Any) -> None:
    store = DynamoWebhooks(dynamodb, env("TABLE_NAME"))
    assert all(store.add(webhook(n), MAX_WEBHOOKS) for n in range(MAX_WEBHOOKS))
    assert not store.add(webhook(99), MAX_WEBHOOKS)
    assert [w.webhook_id for w in store.of("p_bawaslu")] == [f"wh_{n}" for n in range(MAX_WEBHOOKS)]
    assert store.remove("p_bawaslu", "wh_0")
    assert not store.remove("p_bawaslu", "wh_0")
    assert store.add(webhook(99), MAX_WEBHOOKS)
    assert store.add(webhook(1, "p_kpu"), MAX_WEBHOOKS)  # counted per partner
    assert store.get("p_kpu", "wh_2") is None  # another partner's key finds nothing
    changed = webhook(1).model_copy(update={"failing_since": T0})
    assert store.put(changed)
    assert store.get("p_bawaslu", "wh_1") == changed
    assert not store.put(webhook(0))  # deleted: not written back


def addressed(n: int, partner_id: str = "p_bawaslu") -> Addressed:
    event = Event(id=event_id(f"s{n}", partner_id), type=EventType.REPORT_DECIDED, created_at=T0, data={"n": n})
    return Addressed(partner_id=partner_id, event=event)


def test_the_feed_appends_once_pages_in_append_order_and_waits_for_appends_to_settle(stack: Any, dynamodb: Any) -> None:
    moments = iter([T0 + timedelta(seconds=s) for s in range(100)])
    feed = DynamoFeed(dynamodb, env("TABLE_NAME"), lambda: next(moments))
    assert len(feed.append([addressed(n) for n in range(3)], T0)) == 3
    assert [a.event.data["n"] for a in feed.append([addressed(1), addressed(3), addressed(0, "p_kpu")], T0)] == [3, 0]
    late = T0 + timedelta(minutes=1)
    first, cursor = feed.page("p_bawaslu", None, 2, late)
    assert [e.data["n"] for e in first] == [0, 1]
    rest, cursor = feed.page("p_bawaslu", cursor, 10, late)
    assert [e.data["n"] for e in rest] == [2, 3]
    empty, same = feed.page("p_bawaslu", cursor, 10, late)
    assert (empty, same) == ([], cursor)  # poll again from there
    assert [e.data["n"] for e in feed.page("p_kpu", None, 10, late)[0]] == [0]
    just_before = T0 + SETTLE - timedelta(microseconds=1)
    assert feed.page("p_bawaslu", None, 10, just_before)[0] == []  # appended at T0: not settled yet
    assert len(feed.page("p_bawaslu", None, 10, T0 + SETTLE)[0]) == 1
    for bad in ("not-a-cursor", "Zm9v", "\x89\xa7}}", "é"):
        with pytest.raises(InvalidRequest) as refused:
            feed.page("p_bawaslu", bad, 10, late)
        assert refused.value.field == "after"


def test_secrets_open_only_with_their_webhooks_context(stack: Any) -> None:
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    box = KmsBox(kms, key)
    sealed = box.seal("whsec_abc", {"partner_id": "p_bawaslu", "webhook_id": "wh_1"})
    assert "whsec_abc" not in sealed
    assert box.open(sealed, {"partner_id": "p_bawaslu", "webhook_id": "wh_1"}) == "whsec_abc"
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        KmsBox(kms, key).open(sealed, {"partner_id": "p_kpu", "webhook_id": "wh_1"})


def test_deliveries_are_queued_per_partner_group_and_read_back(stack: Any, sqs: Any) -> None:
    url = sqs.create_queue(QueueName="deliveries")["QueueUrl"]
    queued = [(webhook(n % 2, f"p_{n % 3}"), addressed(n, f"p_{n % 3}").event) for n in range(23)]
    SqsDeliveries(sqs, url).enqueue(queued)
    got = []
    while answer := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages"):
        for message in answer:
            got.append((message["Attributes"].get("MessageGroupId"), read_delivery(message["Body"])))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert len(got) == 23
    assert all(group == partner_id for group, (partner_id, _, _) in got)
    assert sorted(e.data["n"] for _, (_, _, e) in got) == list(range(23))
