"""Reminders delivered on SNS: partners' on the partner topic, escalations on the leads' topic."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from kanal.reminders import LEADS, Reminder

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


class SnsNotifier:
    """Partners' reminders on the partner topic (filtered by partner_id); escalations on the leads' topic."""

    def __init__(self, client: SNSClient, partner_topic: str, leads_topic: str) -> None:
        self._client = client
        self._partner_topic = partner_topic
        self._leads_topic = leads_topic

    def notify(self, reminder: Reminder) -> None:
        """Publish one reminder with the attributes that subscriptions filter on."""
        topic = self._leads_topic if reminder.partner_id == LEADS else self._partner_topic
        self._client.publish(
            TopicArn=topic,
            Subject=f"kanal: {reminder.kind}"[:100],
            Message=json.dumps(reminder.model_dump(mode="json"), ensure_ascii=False),
            MessageAttributes={
                "partner_id": {"DataType": "String", "StringValue": reminder.partner_id},
                "kind": {"DataType": "String", "StringValue": str(reminder.kind)},
            },
        )
