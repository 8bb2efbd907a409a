"""The review queues on SQS (implements ReviewQueue)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from kanal.adapters.dynamodb import stamp
from kanal.models import Case, Priority
from kanal.ports import Delivery


class SqsReviewQueue:
    """Sends a case to the urgent or the normal review queue."""

    def __init__(self, client: Any, urgent_url: str, normal_url: str) -> None:
        self._client = client
        self._urls = {Priority.URGENT: urgent_url, Priority.NORMAL: normal_url}

    def publish(self, case: Case, priority: Priority, at: datetime) -> None:
        """One message per (case, priority); the body names the case, consumers read its current state."""
        body = {"case_id": case.case_id, "priority": str(priority), "queued_at": stamp(at)}
        self._client.send_message(QueueUrl=self._urls[priority], MessageBody=json.dumps(body))


class SqsReviewInbox:
    """Receives from the review queues, urgent before normal (implements ReviewInbox)."""

    #: Long-poll slices: the urgent queue is asked again at least this often while waiting on the normal one.
    SLICE_SECONDS = 2

    def __init__(self, client: Any, urgent_url: str, normal_url: str) -> None:
        self._client = client
        self._urls = {Priority.URGENT: urgent_url, Priority.NORMAL: normal_url}

    def receive(self, wait_seconds: int) -> Delivery | None:
        """Poll urgent (without waiting) then normal (waiting a slice), until a message comes or time is up."""
        remaining = max(wait_seconds, 0)
        while True:
            for queue, wait in ((Priority.URGENT, 0), (Priority.NORMAL, min(self.SLICE_SECONDS, remaining))):
                delivery = self._receive_one(queue, wait)
                if delivery is not None:
                    return delivery
            remaining -= self.SLICE_SECONDS
            if remaining <= 0:
                return None

    def _receive_one(self, queue: Priority, wait: int) -> Delivery | None:
        answer = self._client.receive_message(
            QueueUrl=self._urls[queue],
            MaxNumberOfMessages=1,
            WaitTimeSeconds=wait,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        for message in answer.get("Messages", []):
            try:
                case_id = str(json.loads(message["Body"])["case_id"])
            except (ValueError, KeyError, TypeError):
                case_id = None
            count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            return Delivery(case_id=case_id, queue=queue, receipt=message["ReceiptHandle"], receive_count=count)
        return None

    def acknowledge(self, queue: Priority, receipt: str) -> None:
        """Delete the message; a receipt that expired meanwhile is harmless (the next delivery is stale)."""
        try:
            self._client.delete_message(QueueUrl=self._urls[queue], ReceiptHandle=receipt)
        except self._client.exceptions.ReceiptHandleIsInvalid:
            return

    def extend(self, queue: Priority, receipt: str, seconds: int) -> None:
        """Change the message's visibility: the lease, or 0 to return the case to its queue now."""
        self._client.change_message_visibility(
            QueueUrl=self._urls[queue], ReceiptHandle=receipt, VisibilityTimeout=seconds
        )
