"""The case builder (CaseBuilderFunction): new reports from the table's stream become cases in review queues.

It also sees a partner's answer to a question (an ``info_provided`` trail
entry) and puts the case back in its queue.

A case whose write or publish fails fails the stream records of its reports
only; Lambda delivers those again (partial batch response) and every step is
idempotent, so retries neither lose nor double anything.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from kanal import clock, wiring
from kanal.adapters.dynamodb import report_from_item
from kanal.models import Report
from kanal.observability import log_metrics, logger, metrics


def reports_in(
    records: list[dict[str, Any]],
) -> tuple[dict[str, list[tuple[str, Report]]], dict[str, list[str]], list[str]]:
    """Reports by case id (each with its record's sequence number), answered cases, and unreadable records."""
    by_case: dict[str, list[tuple[str, Report]]] = defaultdict(list)
    answered: dict[str, list[str]] = defaultdict(list)
    unreadable: list[str] = []
    for record in records:
        sequence = record["dynamodb"]["SequenceNumber"]
        image = record["dynamodb"].get("NewImage", {})
        if image.get("kind", {}).get("S") in ("info_provided", "info_not_provided"):
            answered[image["case_id"]["S"]].append(sequence)
            continue
        try:
            report = report_from_item(record["dynamodb"]["NewImage"])
        except (KeyError, ValueError):
            logger.exception("stream record is not a report", extra={"sequence": sequence})
            unreadable.append(sequence)
            continue
        by_case[report.case_id].append((sequence, report))
    return dict(by_case), dict(answered), unreadable


@logger.inject_lambda_context(log_event=False)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Attach a batch of reports; report the records of failed cases for redelivery."""
    builder = wiring.services().case_builder()
    by_case, answered, failures = reports_in(event.get("Records", []))
    now = clock.now()
    for case_id, sequences in answered.items():
        try:
            builder.requeue(case_id, now)
        except Exception:
            logger.exception("answered case not queued; its records will be retried", extra={"case_id": case_id})
            failures.extend(sequences)
    for case_id, entries in by_case.items():
        try:
            case = builder.attach_to_case(case_id, [report for _, report in entries], now)
        except Exception:
            logger.exception("case not updated; its records will be retried", extra={"case_id": case_id})
            failures.extend(sequence for sequence, _ in entries)
            continue
        metrics.add_metric(name="ReportsAttached", unit=MetricUnit.Count, value=len(entries))
        logger.info("reports attached", extra={"case_id": case_id, "reports": len(entries), "queued": case.queued})
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failures]}
