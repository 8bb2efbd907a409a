"""Builds the rules with their AWS adapters, lazily and once per process; tests may replace them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from kanal.adapters.aws import client
from kanal.adapters.dynamodb import DynamoCases, DynamoPartners, DynamoReports
from kanal.adapters.sqs import SqsReviewQueue
from kanal.calendar import default_calendar
from kanal.cases import CaseBuilder
from kanal.intake import Intake
from kanal.partners import Partners
from kanal.ports import CaseRepository, ReportRepository
from kanal.settings import Settings


@dataclass(frozen=True)
class Services:
    """Everything the entry points call."""

    settings: Settings
    reports: ReportRepository
    cases: CaseRepository
    intake: Intake
    partners: Partners

    def case_builder(self) -> CaseBuilder:
        """The case builder, which alone needs the queues."""
        settings = self.settings
        if not (settings.urgent_queue_url and settings.normal_queue_url):
            raise RuntimeError("URGENT_QUEUE_URL and NORMAL_QUEUE_URL must be set for the case builder")
        sqs = client("sqs", settings.endpoint_url)
        return CaseBuilder(
            self.cases, SqsReviewQueue(sqs, settings.urgent_queue_url, settings.normal_queue_url), settings.retention
        )


def build(settings: Settings) -> Services:
    """Services over the AWS resources that ``settings`` name."""
    dynamodb = client("dynamodb", settings.endpoint_url)
    reports = DynamoReports(dynamodb, settings.table_name)
    cases = DynamoCases(dynamodb, settings.table_name)
    return Services(
        settings=settings,
        reports=reports,
        cases=cases,
        intake=Intake(reports, cases, default_calendar()),
        partners=Partners(DynamoPartners(dynamodb, settings.table_name)),
    )


@cache
def services() -> Services:
    """The process's services, from the environment."""
    return build(Settings.from_env())
