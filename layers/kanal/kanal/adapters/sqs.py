"""The review queues, the case builder's parking and the webhook delivery queue, on SQS."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from kanal.adapters.dynamodb import stamp
from kanal.events import Event
from kanal.models import Case, Priority
from kanal.ports import ReviewMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

    from kanal.webhooks import Webhook


class SqsReviewQueue:
    """Sends a case to the urgent or the normal review queue."""

    def __init__(self, client: SQSClient, urgent_url: str, normal_url: str) -> None:
        self._client = client
        self._urls = {Priority.URGENT: urgent_url, Priority.NORMAL: normal_url}

    def publish(self, case: Case, priority: Priority, ticket: int, at: datetime, delay_seconds: int = 0) -> str:
        """The body names the case and the message's ticket; consumers read the case's current state."""
        body = {"case_id": case.case_id, "priority": str(priority), "ticket": ticket, "queued_at": stamp(at)}
        answer = self._client.send_message(
            QueueUrl=self._urls[priority], MessageBody=json.dumps(body), DelaySeconds=max(0, min(delay_seconds, 900))
        )
        return str(answer["MessageId"])


def read_body(body: str) -> tuple[str | None, int | None]:
    """The case id and ticket a review message names (None, None for a body that is not one)."""
    try:
        parsed = json.loads(body)
        case_id = str(parsed["case_id"])
    except (ValueError, KeyError, TypeError):
        return None, None
    ticket = parsed.get("ticket")
    return case_id, ticket if isinstance(ticket, int) and not isinstance(ticket, bool) else None


class SqsReviewInbox:
    """Receives from the review queues, urgent before normal (implements ReviewInbox)."""

    #: Long-poll slices on the urgent queue; the normal queue is asked (without waiting) between slices.
    SLICE_SECONDS = 2

    def __init__(self, client: SQSClient, urgent_url: str, normal_url: str) -> None:
        self._client = client
        self._urls = {Priority.URGENT: urgent_url, Priority.NORMAL: normal_url}

    def receive(self, wait_seconds: int) -> ReviewMessage | None:
        """Long-poll the urgent queue a slice at a time and ask the normal one between slices, until a message
        comes or time is up: a worker already waiting gets an urgent case before a normal one of the same moment
        (a normal message waits at most a slice)."""
        remaining = max(wait_seconds, 0)
        while True:
            for queue, wait in ((Priority.URGENT, min(self.SLICE_SECONDS, remaining)), (Priority.NORMAL, 0)):
                delivery = self._receive_one(queue, wait)
                if delivery is not None:
                    return delivery
            remaining -= self.SLICE_SECONDS
            if remaining <= 0:
                return None

    def _receive_one(self, queue: Priority, wait: int) -> ReviewMessage | None:
        answer = self._client.receive_message(
            QueueUrl=self._urls[queue],
            MaxNumberOfMessages=1,
            WaitTimeSeconds=wait,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        for message in answer.get("Messages", []):
            case_id, ticket = read_body(message.get("Body", ""))
            count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            return ReviewMessage(
                case_id=case_id,
                queue=queue,
                handle=message["ReceiptHandle"],
                receive_count=count,
                ticket=ticket,
                message_id=str(message.get("MessageId", "")),
            )
        return None

    def acknowledge(self, queue: Priority, handle: str) -> None:
        """Delete the message; a handle that expired meanwhile is harmless (the next delivery is stale)."""
        try:
            self._client.delete_message(QueueUrl=self._urls[queue], ReceiptHandle=handle)
        except self._client.exceptions.ReceiptHandleIsInvalid:
            return

    def extend(self, queue: Priority, handle: str, seconds: int) -> None:
        """Change the message's visibility: the lease, or 0 to return the case to its queue now."""
        self._client.change_message_visibility(
            QueueUrl=self._urls[queue], ReceiptHandle=handle, VisibilityTimeout=seconds
        )


#: The body's ``kind`` of a record parked by the case builder (Lambda's own failure records carry none).
PARKED = "kanal.parked_record"


class SqsParking:
    """The case builder's failure queue: stream records that no retry can fix, with the reason."""

    def __init__(self, client: SQSClient, url: str) -> None:
        self._client = client
        self._url = url

    def park(self, record: dict[str, Any], reason: str, detail: str) -> None:
        """Put the whole record on the queue (it holds the report: the queue is encrypted like the table)."""
        body = {"kind": PARKED, "reason": reason, "detail": detail, "record": record}
        self._client.send_message(QueueUrl=self._url, MessageBody=json.dumps(body, default=str))


class SqsDeadLetters:
    """The review queues' dead-letter queues (implements reconciler.DeadLetters)."""

    def __init__(self, client: SQSClient, urgent_dlq_url: str, normal_dlq_url: str) -> None:
        self._client = client
        self._urls = {Priority.URGENT: urgent_dlq_url, Priority.NORMAL: normal_dlq_url}

    def receive(self) -> list[ReviewMessage]:
        """Up to ten from each dead-letter queue, hidden five minutes while the run deals with them."""
        found = []
        for queue, url in self._urls.items():
            answer = self._client.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300, WaitTimeSeconds=0
            )
            for message in answer.get("Messages", []):
                case_id, ticket = read_body(message.get("Body", ""))
                found.append(
                    ReviewMessage(
                        case_id=case_id,
                        queue=queue,
                        handle=message["ReceiptHandle"],
                        receive_count=1,
                        ticket=ticket,
                        message_id=str(message.get("MessageId", "")),
                    )
                )
        return found

    def acknowledge(self, delivery: ReviewMessage) -> None:
        """Delete the dead letter."""
        self._client.delete_message(QueueUrl=self._urls[delivery.queue], ReceiptHandle=delivery.handle)

    def set_aside(self, delivery: ReviewMessage, seconds: int) -> None:
        """Leave it in its queue (where it alarms), out of the next runs' way for a while. SQS refuses to hide a
        message past 12 hours in all (an old dead letter may be close to that): it then stays as it is, hidden
        until the receive's own visibility ends, and a later run sets it aside again."""
        try:
            self._client.change_message_visibility(
                QueueUrl=self._urls[delivery.queue],
                ReceiptHandle=delivery.handle,
                VisibilityTimeout=min(seconds, 43200),
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in (
                "InvalidParameterValue",
                "InvalidParameterValueException",
            ):
                raise


class SqsDeliveries:
    """The webhook delivery queue (implements Deliveries). Each message is one event for one webhook, sent with
    its partner as the message group: SQS fair queues then keep one partner's backlog from delaying the others'
    deliveries."""

    def __init__(self, client: SQSClient, url: str) -> None:
        self._client = client
        self._url = url

    def enqueue(self, deliveries: Sequence[tuple[Webhook, Event]]) -> None:
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {
                "Id": str(i),
                "MessageBody": json.dumps(
                    {"partner_id": w.partner_id, "webhook_id": w.webhook_id, "event": e.model_dump(mode="json")}
                ),
                "MessageGroupId": w.partner_id,
            }
            for i, (w, e) in enumerate(deliveries)
        ]
        for start in range(0, len(entries), 10):
            batch = entries[start : start + 10]
            for _ in range(3):  # what SQS failed on its side is sent again, twice at most
                answer = self._client.send_message_batch(QueueUrl=self._url, Entries=batch)
                failed = {f["Id"] for f in answer.get("Failed", [])}
                batch = [entry for entry in batch if entry["Id"] in failed]
                if not batch:
                    break
            if batch:  # the stream record is retried: deliveries queued twice carry the same webhook-id
                raise RuntimeError(f"the delivery queue did not take {len(batch)} message(s)")


def read_delivery(body: str) -> tuple[str, str, Event]:
    """(partner id, webhook id, event) of a delivery message."""
    found = json.loads(body)
    return str(found["partner_id"]), str(found["webhook_id"]), Event.model_validate(found["event"])
