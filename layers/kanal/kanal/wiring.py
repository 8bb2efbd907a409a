"""Builds the rules with their AWS adapters, lazily and once per process; tests may replace them.

Each service, and the module it comes from, is made on first use: a function imports only what it
calls (the authorizer, for one, never loads the calendar, the review or the reminder rules).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

from kanal.adapters.aws import client
from kanal.settings import Settings

if TYPE_CHECKING:
    from kanal.adapters.dynamodb import DynamoCases, DynamoReports, DynamoTrail
    from kanal.adapters.dynamodb_reminders import DynamoPurge, DynamoReminders
    from kanal.adapters.dynamodb_stats import DynamoStats
    from kanal.adapters.dynamodb_webhooks import DynamoFeed, DynamoWebhooks
    from kanal.adapters.kms import KmsBox
    from kanal.adapters.s3 import S3Sink
    from kanal.adapters.sns import SnsNotifier
    from kanal.adapters.sqs import SqsDeliveries, SqsParking
    from kanal.case_builder import CaseBuilder
    from kanal.evidence import Evidence
    from kanal.intake import Intake
    from kanal.partners import Partners
    from kanal.reconciler import Reconciler
    from kanal.reminders import Reminders
    from kanal.review import Answers, Review
    from kanal.stats import Counters, Stats
    from kanal.webhooks import Dispatcher, Publisher, Webhooks


class Services:
    """Everything the entry points call, each made on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def _dynamodb(self) -> Any:
        return client("dynamodb", self.settings.endpoint_url)

    @cached_property
    def reports(self) -> DynamoReports:
        """Reports in the table."""
        from kanal.adapters.dynamodb import DynamoReports

        return DynamoReports(self._dynamodb, self.settings.table_name, self.settings.retention)

    @cached_property
    def cases(self) -> DynamoCases:
        """Cases in the table."""
        from kanal.adapters.dynamodb import DynamoCases

        return DynamoCases(self._dynamodb, self.settings.table_name, self.settings.retention)

    @cached_property
    def trail(self) -> DynamoTrail:
        """Cases' trails in the table."""
        from kanal.adapters.dynamodb import DynamoTrail

        return DynamoTrail(self._dynamodb, self.settings.table_name, self.settings.retention)

    @cached_property
    def timers(self) -> DynamoReminders:
        """Reminder timers in the table."""
        from kanal.adapters.dynamodb_reminders import DynamoReminders

        return DynamoReminders(self._dynamodb, self.settings.table_name, self.settings.retention)

    @cached_property
    def intake(self) -> Intake:
        """The intake rules."""
        from kanal.calendar import default_calendar
        from kanal.intake import Intake

        return Intake(self.reports, self.cases, default_calendar())

    @cached_property
    def partners(self) -> Partners:
        """Partners and their keys."""
        from kanal.adapters.dynamodb import DynamoPartners
        from kanal.partners import Partners

        directory = DynamoPartners(self._dynamodb, self.settings.table_name)
        if self.settings.usage_plan_id is None:  # the functions: they authenticate, and never manage limits
            return Partners(directory)
        from kanal.adapters.apigateway import ApiGatewayPlans

        plans = ApiGatewayPlans(client("apigateway", self.settings.endpoint_url), self.settings.usage_plan_id)
        return Partners(directory, plans)

    @cached_property
    def answers(self) -> Answers:
        """Partners' answers to reviewers' questions."""
        from kanal.review import Answers

        return Answers(self.reports, self.cases, self.cases)

    def _queue_urls(self) -> tuple[str, str]:
        settings = self.settings
        if not (settings.urgent_queue_url and settings.normal_queue_url):
            raise RuntimeError("URGENT_QUEUE_URL and NORMAL_QUEUE_URL must be set")
        return settings.urgent_queue_url, settings.normal_queue_url

    def case_builder(self) -> CaseBuilder:
        """The case builder, which sends to the queues."""
        from kanal.adapters.sqs import SqsReviewQueue
        from kanal.case_builder import CaseBuilder

        queue = SqsReviewQueue(client("sqs", self.settings.endpoint_url), *self._queue_urls())
        return CaseBuilder(self.cases, queue, self.trail, self.settings.retention, self.timers, self.counters())

    def purge(self) -> DynamoPurge:
        """Deleting what belonged to a case that TTL deleted."""
        from kanal.adapters.dynamodb_reminders import DynamoPurge
        from kanal.reminders import default_rules

        return DynamoPurge(self._dynamodb, self.settings.table_name, default_rules(), self.forget_evidence())

    def forget_evidence(self) -> Callable[[str, str], int] | None:
        """Deleting a report's evidence files (every version), for the purge; None without a bucket."""
        from kanal.adapters.s3 import S3EvidenceObjects
        from kanal.evidence import report_prefix

        if not self.settings.evidence_bucket:
            return None
        objects = S3EvidenceObjects(client("s3", self.settings.endpoint_url), self.settings.evidence_bucket)
        return lambda partner_id, report_id: objects.delete_under(report_prefix(partner_id, report_id))

    def parking(self) -> SqsParking:
        """The case builder's failure queue, for records that no retry can fix."""
        from kanal.adapters.sqs import SqsParking

        if not self.settings.failure_queue_url:
            raise RuntimeError("CASE_BUILDER_FAILURE_QUEUE_URL must be set")
        return SqsParking(client("sqs", self.settings.endpoint_url), self.settings.failure_queue_url)

    def reconciler(self) -> Reconciler:
        """The reconciler, which reads the suspects and the dead-letter queues and sends to the review queues."""
        from kanal.adapters.dynamodb import DynamoSuspects
        from kanal.adapters.sqs import SqsDeadLetters, SqsReviewQueue
        from kanal.reconciler import Reconciler

        settings = self.settings
        if not (settings.urgent_dlq_url and settings.normal_dlq_url):
            raise RuntimeError("URGENT_DLQ_URL and NORMAL_DLQ_URL must be set")
        sqs = client("sqs", settings.endpoint_url)
        return Reconciler(
            cases=self.cases,
            queue=SqsReviewQueue(sqs, *self._queue_urls()),
            trail=self.trail,
            suspects=DynamoSuspects(self._dynamodb, settings.table_name),
            dead_letters=SqsDeadLetters(sqs, settings.urgent_dlq_url, settings.normal_dlq_url),
        )

    def review(self) -> Review:
        """The reviewers' side, which receives from the queues."""
        from kanal.adapters.sqs import SqsReviewInbox, SqsReviewQueue
        from kanal.calendar import default_calendar
        from kanal.review import Review

        sqs = client("sqs", self.settings.endpoint_url)
        inbox = SqsReviewInbox(sqs, *self._queue_urls())
        queue = SqsReviewQueue(sqs, *self._queue_urls())
        return Review(self.cases, self.cases, self.trail, inbox, queue, timers=self.timers, calendar=default_calendar())

    def reminders(self) -> Reminders:
        """The reminder sweep, which publishes to the topics."""
        from kanal.adapters.dynamodb_reminders import DynamoDigests
        from kanal.calendar import default_calendar
        from kanal.reminders import Reminders, default_rules

        settings = self.settings
        return Reminders(
            store=self.timers,
            notifier=self._notifier(),
            cases=self.cases,
            expiry=self.cases,
            calendar=default_calendar(),
            rules=default_rules(),
            partners=self.partners.directory,
            digests=DynamoDigests(self.reports, self.cases, self._dynamodb, settings.table_name),
            reports=self.reports,
        )

    # Evidence files ---------------------------------------------------------------------------------------

    def evidence(self) -> Evidence:
        """Reports' evidence files: declared through the API, checked on upload, linked for reviewers."""
        from kanal.adapters.dynamodb_evidence import DynamoEvidence
        from kanal.adapters.s3 import S3EvidenceObjects
        from kanal.evidence import Evidence

        if not self.settings.evidence_bucket:
            raise RuntimeError("EVIDENCE_BUCKET must be set")
        objects = S3EvidenceObjects(client("s3", self.settings.endpoint_url), self.settings.evidence_bucket)
        return Evidence(self.reports, DynamoEvidence(self._dynamodb, self.settings.table_name), objects)

    # The figures (kanal.stats) -------------------------------------------------------------------------

    @cached_property
    def stats_store(self) -> DynamoStats:
        """The figures' counters and notices in the table."""
        from kanal.adapters.dynamodb_stats import DynamoStats

        return DynamoStats(self._dynamodb, self.settings.table_name, self.settings.retention)

    def counters(self) -> Counters:
        """Keeping the counters (the case builder)."""
        from kanal.stats import Counters

        return Counters(self.stats_store, self.trail, self.cases)

    def stats(self) -> Stats:
        """Reading the figures (GET /v1/stats, the scheduled export)."""
        from kanal.calendar import default_calendar
        from kanal.stats import Stats

        return Stats(self.stats_store, default_calendar())

    def export_sink(self) -> S3Sink:
        """The bucket the scheduled exports write to."""
        from kanal.adapters.s3 import S3Sink

        if not self.settings.stats_export_bucket:
            raise RuntimeError("STATS_EXPORT_BUCKET must be set")
        return S3Sink(client("s3", self.settings.endpoint_url), self.settings.stats_export_bucket)

    # Webhooks and the event feed -----------------------------------------------------------------------

    @cached_property
    def webhook_store(self) -> DynamoWebhooks:
        """Partners' webhooks in the table."""
        from kanal.adapters.dynamodb_webhooks import DynamoWebhooks

        return DynamoWebhooks(self._dynamodb, self.settings.table_name)

    @cached_property
    def feed(self) -> DynamoFeed:
        """Partners' event feeds in the table."""
        from kanal import clock
        from kanal.adapters.dynamodb_webhooks import DynamoFeed

        return DynamoFeed(self._dynamodb, self.settings.table_name, clock.now)

    @cached_property
    def _box(self) -> KmsBox:
        from kanal.adapters.kms import KmsBox

        if not self.settings.webhook_key_id:
            raise RuntimeError("WEBHOOK_KEY_ID must be set")
        return KmsBox(client("kms", self.settings.endpoint_url), self.settings.webhook_key_id)

    def _deliveries(self) -> SqsDeliveries:
        from kanal.adapters.sqs import SqsDeliveries

        if not self.settings.delivery_queue_url:
            raise RuntimeError("DELIVERY_QUEUE_URL must be set")
        return SqsDeliveries(client("sqs", self.settings.endpoint_url), self.settings.delivery_queue_url)

    def webhooks(self) -> Webhooks:
        """Partners' webhooks: register, rotate, test (the API)."""
        from kanal.webhooks import Webhooks

        return Webhooks(self.webhook_store, self._box, self._deliveries(), local=self.settings.local)

    def publisher(self) -> Publisher:
        """Events into the feeds and onto the delivery queue (the events function)."""
        from kanal.webhooks import Publisher

        return Publisher(self.feed, self.webhook_store, self._deliveries())

    def dispatcher(self) -> Dispatcher:
        """One delivery attempt at a time (the delivery function)."""
        from kanal.adapters.webhook_http import deliver
        from kanal.webhooks import Dispatcher

        local = self.settings.local

        def send(url: str, body: bytes, headers: dict[str, str]) -> tuple[bool, str]:
            attempt = deliver(url, body, headers, local=local)
            return attempt.delivered, attempt.outcome

        return Dispatcher(self.webhook_store, self._box, send, self.timers, self._notifier())

    def _notifier(self) -> SnsNotifier:
        from kanal.adapters.sns import SnsNotifier

        settings = self.settings
        if not (settings.partner_topic_arn and settings.leads_topic_arn):
            raise RuntimeError("PARTNER_TOPIC_ARN and LEADS_TOPIC_ARN must be set")
        return SnsNotifier(client("sns", settings.endpoint_url), settings.partner_topic_arn, settings.leads_topic_arn)


def build(settings: Settings) -> Services:
    """Services over the AWS resources that ``settings`` name (each made on first use)."""
    return Services(settings)


#: The environment of the function being invoked, where several share a process (the local stack, the tests):
#: each then reads its settings from its own variables only, as in Lambda, so a variable the template forgot
#: to give a function fails there too instead of being found in another function's environment.
_function_environment: ContextVar[tuple[tuple[str, str], ...] | None] = ContextVar("kanal_function_environment")


@contextmanager
def function_environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Run a function's handler with its own environment's settings (and this process's AWS endpoint)."""
    own = {**{k: v for k, v in os.environ.items() if k == "AWS_ENDPOINT_URL"}, **variables}
    token = _function_environment.set(tuple(sorted(own.items())))
    try:
        yield
    finally:
        _function_environment.reset(token)


def services() -> Services:
    """The services of this process (in Lambda: of its function), from the environment."""
    return _services(_function_environment.get(None))


@cache
def _services(environment: tuple[tuple[str, str], ...] | None) -> Services:
    return build(Settings.from_env(dict(environment) if environment is not None else None))


def reset() -> None:
    """Forget every process's services (tests and the local stack change the environment they read)."""
    _services.cache_clear()
