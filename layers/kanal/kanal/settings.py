"""Settings: each declared once — its field, its environment variable, the stack output the CLI reads it from —
and read once from the environment when first needed (never at import).

``SETTINGS`` is the one list: ``Settings.from_env`` reads it, the CLI finds a deployed stack's values through
its outputs, the local stack writes it to ``.kanal/dev.json``, and the contract tests check it against the
template (every variable the template gives a function is declared here, every output named here exists).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel, Field


@dataclass(frozen=True)
class Setting:
    """One setting: the ``Settings`` field, its environment variable, and where else it may come from."""

    field: str
    variable: str
    #: The stack output the CLI reads it from on a deployed stack (None: not an output).
    output: str | None = None
    #: Other variables the CLI also takes for it (never set by the template).
    aliases: tuple[str, ...] = ()


SETTINGS: tuple[Setting, ...] = (
    Setting("table_name", "TABLE_NAME", "TableName", aliases=("KANAL_TABLE_NAME",)),
    Setting("urgent_queue_url", "URGENT_QUEUE_URL", "UrgentQueueUrl"),
    Setting("normal_queue_url", "NORMAL_QUEUE_URL", "NormalQueueUrl"),
    Setting("failure_queue_url", "CASE_BUILDER_FAILURE_QUEUE_URL", "CaseBuilderFailureQueueUrl"),
    Setting("urgent_dlq_url", "URGENT_DLQ_URL", "UrgentDLQUrl"),
    Setting("normal_dlq_url", "NORMAL_DLQ_URL", "NormalDLQUrl"),
    Setting("partner_topic_arn", "PARTNER_TOPIC_ARN", "PartnerTopicArn"),
    Setting("leads_topic_arn", "LEADS_TOPIC_ARN", "ModerationLeadsTopicArn"),
    Setting("retention_days", "KANAL_RETENTION_DAYS"),
    Setting("review_api_url", "KANAL_REVIEW_API_URL", "ReviewApiUrl"),
    Setting("api_url", "KANAL_API_URL", "ApiUrl"),
    Setting("endpoint_url", "AWS_ENDPOINT_URL"),
)

#: Variables the template gives functions that Powertools reads, not kanal.
POWERTOOLS_VARIABLES = ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL")


class Settings(BaseModel):
    """What a function (or the CLI) needs to know about its stack."""

    table_name: str = Field(description="The DynamoDB table.")
    urgent_queue_url: str | None = Field(default=None, description="The urgent review queue.")
    normal_queue_url: str | None = Field(default=None, description="The normal review queue.")
    failure_queue_url: str | None = Field(
        default=None, description="Where the case builder parks stream records that cannot succeed."
    )
    urgent_dlq_url: str | None = Field(default=None, description="The urgent queue's dead letters.")
    normal_dlq_url: str | None = Field(default=None, description="The normal queue's dead letters.")
    partner_topic_arn: str | None = Field(default=None, description="Partners' reminders.")
    leads_topic_arn: str | None = Field(default=None, description="Moderation leads' escalations.")
    retention_days: int = Field(default=730, ge=1, description="How long reports are kept (parameter RetentionDays).")
    review_api_url: str | None = Field(default=None, description="The reviewer API, for `kanal review`.")
    api_url: str | None = Field(default=None, description="The partner API, for `kanal smoke`.")
    endpoint_url: str | None = Field(default=None, description="The AWS endpoint of the local stack.")

    @property
    def retention(self) -> timedelta:
        """How long reports and cases are kept."""
        return timedelta(days=self.retention_days)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from their environment variables."""
        env = os.environ if env is None else env
        values = {s.field: env.get(s.variable) for s in SETTINGS}
        return cls.model_validate({k: v for k, v in values.items() if v is not None})


def variables() -> list[str]:
    """Every environment variable a setting is read from (aliases included)."""
    return [name for s in SETTINGS for name in (s.variable, *s.aliases)]
