"""Settings: one model, read once from the environment when first needed (never at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta

from pydantic import BaseModel, Field


class Settings(BaseModel):
    """What a function needs to know about its stack."""

    table_name: str = Field(description="The DynamoDB table (TABLE_NAME).")
    urgent_queue_url: str | None = Field(default=None, description="URGENT_QUEUE_URL")
    normal_queue_url: str | None = Field(default=None, description="NORMAL_QUEUE_URL")
    failure_queue_url: str | None = Field(
        default=None, description="CASE_BUILDER_FAILURE_QUEUE_URL: where stream records that cannot succeed are parked."
    )
    urgent_dlq_url: str | None = Field(default=None, description="URGENT_DLQ_URL: the urgent queue's dead letters.")
    normal_dlq_url: str | None = Field(default=None, description="NORMAL_DLQ_URL: the normal queue's dead letters.")
    partner_topic_arn: str | None = Field(default=None, description="PARTNER_TOPIC_ARN: partners' reminders.")
    leads_topic_arn: str | None = Field(default=None, description="LEADS_TOPIC_ARN: moderation leads' escalations.")
    stage: str = Field(default="prod", description="KANAL_STAGE")
    retention_days: int = Field(default=730, ge=1, description="KANAL_RETENTION_DAYS: how long reports are kept.")
    endpoint_url: str | None = Field(default=None, description="AWS_ENDPOINT_URL, for the local stack.")
    review_api_url: str | None = Field(
        default=None, description="KANAL_REVIEW_API_URL: the reviewer API, for `kanal review` (output ReviewApiUrl)."
    )

    @property
    def retention(self) -> timedelta:
        """How long reports and cases are kept."""
        return timedelta(days=self.retention_days)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from environment variables."""
        env = os.environ if env is None else env
        values = {
            "table_name": env.get("TABLE_NAME"),
            "urgent_queue_url": env.get("URGENT_QUEUE_URL"),
            "normal_queue_url": env.get("NORMAL_QUEUE_URL"),
            "failure_queue_url": env.get("CASE_BUILDER_FAILURE_QUEUE_URL"),
            "urgent_dlq_url": env.get("URGENT_DLQ_URL"),
            "normal_dlq_url": env.get("NORMAL_DLQ_URL"),
            "partner_topic_arn": env.get("PARTNER_TOPIC_ARN"),
            "leads_topic_arn": env.get("LEADS_TOPIC_ARN"),
            "stage": env.get("KANAL_STAGE"),
            "retention_days": env.get("KANAL_RETENTION_DAYS"),
            "endpoint_url": env.get("AWS_ENDPOINT_URL"),
            "review_api_url": env.get("KANAL_REVIEW_API_URL"),
        }
        return cls.model_validate({k: v for k, v in values.items() if v is not None})
