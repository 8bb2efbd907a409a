"""The review queues on SQS (implements ReviewQueue)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from kanal.adapters.dynamodb import stamp
from kanal.models import Case, Priority


class SqsReviewQueue:
    """Sends a case to the urgent or the normal review queue."""

    def __init__(self, client: Any, urgent_url: str, normal_url: str) -> None:
        self._client = client
        self._urls = {Priority.URGENT: urgent_url, Priority.NORMAL: normal_url}

    def publish(self, case: Case, priority: Priority, at: datetime) -> None:
        """One message per (case, priority); the body names the case, consumers read its current state."""
        body = {"case_id": case.case_id, "priority": str(priority), "queued_at": stamp(at)}
        self._client.send_message(QueueUrl=self._urls[priority], MessageBody=json.dumps(body))
