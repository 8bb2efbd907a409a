"""Settings: each declared once — its field, its environment variable, the stack output the CLI reads it from —
and read once from the environment when first needed (never at import).

``SETTINGS`` is the one list: ``Settings.from_env`` reads it, the CLI finds a deployed stack's values through
its outputs, the local stack writes it to ``.kanal/dev.json``, and the contract tests check it against the
template (every variable the template gives a function is declared here, every output named here exists).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, Field


@dataclass(frozen=True)
class Setting:
    """Where one ``Settings`` field comes from: its environment variable, and where else it may come from.

    Written once, on the field itself (``Annotated[type, Setting(...)]``); ``SETTINGS`` collects them in order.
    """

    variable: str
    #: The stack output the CLI reads it from on a deployed stack (None: not an output).
    output: str | None = None
    #: Other variables the CLI also takes for it (never set by the template).
    aliases: tuple[str, ...] = ()
    #: The ``Settings`` field (filled in when ``SETTINGS`` is collected).
    field: str = ""


class Settings(BaseModel):
    """What a function (or the CLI) needs to know about its stack."""

    table_name: Annotated[str, Setting("TABLE_NAME", "TableName", aliases=("KANAL_TABLE_NAME",))] = Field(
        description="The DynamoDB table."
    )
    urgent_queue_url: Annotated[str | None, Setting("URGENT_QUEUE_URL", "UrgentQueueUrl")] = Field(
        default=None, description="The urgent review queue."
    )
    normal_queue_url: Annotated[str | None, Setting("NORMAL_QUEUE_URL", "NormalQueueUrl")] = Field(
        default=None, description="The normal review queue."
    )
    failure_queue_url: Annotated[
        str | None, Setting("CASE_BUILDER_FAILURE_QUEUE_URL", "CaseBuilderFailureQueueUrl")
    ] = Field(default=None, description="Where the case builder parks stream records that cannot succeed.")
    urgent_dlq_url: Annotated[str | None, Setting("URGENT_DLQ_URL", "UrgentDLQUrl")] = Field(
        default=None, description="The urgent queue's dead letters."
    )
    normal_dlq_url: Annotated[str | None, Setting("NORMAL_DLQ_URL", "NormalDLQUrl")] = Field(
        default=None, description="The normal queue's dead letters."
    )
    partner_topic_arn: Annotated[str | None, Setting("PARTNER_TOPIC_ARN", "PartnerTopicArn")] = Field(
        default=None, description="Partners' reminders."
    )
    leads_topic_arn: Annotated[str | None, Setting("LEADS_TOPIC_ARN", "ModerationLeadsTopicArn")] = Field(
        default=None, description="Moderation leads' escalations."
    )
    delivery_queue_url: Annotated[str | None, Setting("DELIVERY_QUEUE_URL", "WebhookDeliveryQueueUrl")] = Field(
        default=None, description="Webhook deliveries to make."
    )
    webhook_key_id: Annotated[str | None, Setting("WEBHOOK_KEY_ID")] = Field(
        default=None, description="The KMS key that seals webhook secrets."
    )
    evidence_bucket: Annotated[str | None, Setting("EVIDENCE_BUCKET", "EvidenceBucketName")] = Field(
        default=None, description="The S3 bucket of reports' evidence files."
    )
    stats_export_bucket: Annotated[str | None, Setting("STATS_EXPORT_BUCKET", "StatsExportBucketName")] = Field(
        default=None, description="Where the scheduled exports of the national figures go."
    )
    retention_days: Annotated[int, Setting("KANAL_RETENTION_DAYS")] = Field(
        default=730, ge=1, description="How long reports are kept (parameter RetentionDays)."
    )
    review_api_url: Annotated[str | None, Setting("KANAL_REVIEW_API_URL", "ReviewApiUrl")] = Field(
        default=None, description="The reviewer API, for `kanal review`."
    )
    api_url: Annotated[str | None, Setting("KANAL_API_URL", "ApiUrl")] = Field(
        default=None, description="The partner API, for `kanal smoke`."
    )
    usage_plan_id: Annotated[str | None, Setting("KANAL_USAGE_PLAN_ID", "UsagePlanId")] = Field(
        default=None, description="The partners' default usage plan (and through it the partner API's stage)."
    )
    endpoint_url: Annotated[str | None, Setting("AWS_ENDPOINT_URL")] = Field(
        default=None, description="The AWS endpoint of the local stack."
    )

    @property
    def local(self) -> bool:
        """Whether this is the local stack (AWS emulated on this machine): only there do webhooks reach loopback."""
        host = urlsplit(self.endpoint_url).hostname if self.endpoint_url else None
        return host in {"127.0.0.1", "localhost"}

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


#: Every setting, in the order of the fields, each with its field name: the one list the CLI, the local stack and
#: the contract tests read.
SETTINGS: tuple[Setting, ...] = tuple(
    replace(meta, field=name)
    for name, info in Settings.model_fields.items()
    for meta in info.metadata
    if isinstance(meta, Setting)
)

#: Variables the template gives functions that Powertools reads, not kanal.
POWERTOOLS_VARIABLES = ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL")


def variables() -> list[str]:
    """Every environment variable a setting is read from (aliases included)."""
    return [name for s in SETTINGS for name in (s.variable, *s.aliases)]
