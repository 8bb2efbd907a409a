"""Builds the rules with their AWS adapters, lazily and once per process; tests may replace them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from kanal.adapters.aws import client
from kanal.adapters.dynamodb import DynamoCases, DynamoPartners, DynamoReports, DynamoTrail
from kanal.adapters.reminders import DynamoDigests, DynamoReminders, SnsNotifier
from kanal.adapters.sqs import SqsReviewInbox, SqsReviewQueue
from kanal.calendar import default_calendar
from kanal.cases import CaseBuilder
from kanal.intake import Intake
from kanal.partners import Partners
from kanal.reminders import Reminders, default_rules
from kanal.review import Answers, Review
from kanal.settings import Settings


@dataclass(frozen=True)
class Services:
    """Everything the entry points call."""

    settings: Settings
    reports: DynamoReports
    cases: DynamoCases
    trail: DynamoTrail
    timers: DynamoReminders
    intake: Intake
    partners: Partners
    answers: Answers

    def _queue_urls(self) -> tuple[str, str]:
        settings = self.settings
        if not (settings.urgent_queue_url and settings.normal_queue_url):
            raise RuntimeError("URGENT_QUEUE_URL and NORMAL_QUEUE_URL must be set")
        return settings.urgent_queue_url, settings.normal_queue_url

    def case_builder(self) -> CaseBuilder:
        """The case builder, which sends to the queues."""
        queue = SqsReviewQueue(client("sqs", self.settings.endpoint_url), *self._queue_urls())
        return CaseBuilder(self.cases, queue, self.trail, self.settings.retention, self.timers)

    def review(self) -> Review:
        """The reviewers' side, which receives from the queues."""
        inbox = SqsReviewInbox(client("sqs", self.settings.endpoint_url), *self._queue_urls())
        return Review(self.cases, self.cases, self.trail, inbox, timers=self.timers, calendar=default_calendar())

    def reminders(self) -> Reminders:
        """The reminder sweep, which publishes to the topics."""
        settings = self.settings
        if not (settings.partner_topic_arn and settings.leads_topic_arn):
            raise RuntimeError("PARTNER_TOPIC_ARN and LEADS_TOPIC_ARN must be set")
        notifier = SnsNotifier(
            client("sns", settings.endpoint_url), settings.partner_topic_arn, settings.leads_topic_arn
        )
        dynamodb = client("dynamodb", settings.endpoint_url)
        return Reminders(
            store=self.timers,
            notifier=notifier,
            cases=self.cases,
            expiry=self.cases,
            calendar=default_calendar(),
            rules=default_rules(),
            partners=self.partners.directory,
            digests=DynamoDigests(self.reports, self.cases, dynamodb, settings.table_name),
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
        trail=DynamoTrail(dynamodb, settings.table_name),
        timers=DynamoReminders(dynamodb, settings.table_name),
        intake=Intake(reports, cases, default_calendar()),
        partners=Partners(DynamoPartners(dynamodb, settings.table_name)),
        answers=Answers(reports, cases, cases),
    )


@cache
def services() -> Services:
    """The process's services, from the environment."""
    return build(Settings.from_env())
