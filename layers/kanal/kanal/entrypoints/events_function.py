"""The events function (EventsFunction): trail entries and reminders from the table's stream become partners'
events, in their feeds and on the webhook delivery queue.

The stream is the outbox kanal already has: every change partners are told of is a trail entry written in the
same transaction as the change (or a reminder's record, written before it is sent). The function's event
source mapping lets through only those (filter criteria in template.yaml). Each record gives its events
(``kanal.events``), and the publisher appends them and queues their deliveries; a record that fails is
delivered again from there (partial batch response), which appends nothing twice and queues deliveries with
the same ids. A record that cannot be read is skipped and counted (``EventRecordsUnreadable``): it is not an
entry partners are told of.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from kanal import clock, wiring
from kanal.adapters.dynamodb import from_item
from kanal.entrypoints.streams import sequence
from kanal.events import Addressed, from_reminder, from_trail
from kanal.models import Case, CaseEvent, Report
from kanal.observability import log_metrics, logger, metrics, safe_text
from kanal.reminders import Reminder

#: The trail entries partners are told of (the event source mapping's filter lets only these through).
TOLD = ("report_attached", "info_requested", "decided", "reopened")


def events_of(
    record: dict[str, Any],
    reports_of: Callable[[str], list[Report]],
    due_of: Callable[[str, datetime], datetime],
) -> list[Addressed]:
    """The events one stream record gives (none for a record partners are not told of)."""
    image = from_item((record.get("dynamodb") or {}).get("NewImage") or {})
    source = f"{image.get('pk')}|{image.get('sk')}"
    if str(image.get("pk", "")).startswith("REMINDER#"):
        return from_reminder(source, Reminder.model_validate({k: image.get(k) for k in Reminder.model_fields}))
    entry = CaseEvent.model_validate({k: image.get(k) for k in CaseEvent.model_fields if k in image})
    if str(entry.kind) not in TOLD:
        return []
    return from_trail(source, entry, reports_of(entry.case_id), due_of(entry.case_id, entry.at))


@logger.inject_lambda_context(log_event=False)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Publish each record's events, in order; report the first record that failed and those after it."""
    services = wiring.services()
    publisher = services.publisher()
    reports: dict[str, list[Report]] = {}
    cases: dict[str, Case | None] = {}

    def reports_of(case_id: str) -> list[Report]:  # read once per case and batch
        if case_id not in reports:
            reports[case_id] = services.trail.reports_of(case_id)
        return reports[case_id]

    def due_of(case_id: str, at: datetime) -> datetime:
        if case_id not in cases:
            cases[case_id] = services.cases.get(case_id)
        case = cases[case_id]
        return case.review_due_at if case is not None else at

    records = event.get("Records", [])
    published = 0
    for position, record in enumerate(records):
        try:
            events = events_of(record, reports_of, due_of)
        except (KeyError, ValueError, TypeError, ValidationError) as error:
            metrics.add_metric(name="EventRecordsUnreadable", unit=MetricUnit.Count, value=1)
            logger.error("stream record skipped", extra={"sequence": sequence(record), "why": safe_text(error)})
            continue
        try:
            published += publisher.publish(events, clock.now())
        except Exception:
            logger.exception("events not published; the records are retried", extra={"sequence": sequence(record)})
            return {"batchItemFailures": [{"itemIdentifier": sequence(r)} for r in records[position:]]}
        metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=len(events))
    metrics.add_metric(name="DeliveriesQueued", unit=MetricUnit.Count, value=published)
    return {"batchItemFailures": []}
