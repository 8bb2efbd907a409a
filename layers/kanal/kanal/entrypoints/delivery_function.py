"""The delivery function (DeliveryFunction): one signed POST per message of the webhook delivery queue.

Each message is one event for one webhook. The attempts of a batch run side by side, each bounded by its
connect and read timeouts, so one partner's slow receiver does not hold up another's delivery in the same
batch; the queue's partner message groups (fair queues) keep one partner's backlog from delaying the others'.

A delivered message is done. A failed one is kept hidden for its retry wait (``kanal.webhooks.RETRY_DELAYS``,
with jitter: visibility changed on the message, then reported as failed), and after the last wait it is
reported failed without one: SQS moves it to the dead-letter queue on its next receive (the queue's
maxReceiveCount is one more than the number of waits), which alarms. The event stays in the partner's feed.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from kanal import clock, wiring
from kanal.adapters.aws import client
from kanal.adapters.sqs import read_delivery
from kanal.observability import log_metrics, logger, metrics, safe_text
from kanal.webhooks import Dispatched, Dispatcher

#: Attempts made at once: a batch is at most this many messages (BatchSize in template.yaml).
PARALLEL = 10


def attempt(record: dict[str, Any], dispatcher: Dispatcher) -> Dispatched:
    """One message's attempt; an unreadable message is dropped (no retry can make it readable)."""
    try:
        partner_id, webhook_id, event = read_delivery(record["body"])
    except (KeyError, ValueError, TypeError, ValidationError) as error:
        logger.error("delivery message dropped", extra={"message_id": record.get("messageId"), "why": safe_text(error)})
        return Dispatched(False, "unreadable message")
    count = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
    return dispatcher.dispatch(partner_id, webhook_id, event, count, clock.now())


@logger.inject_lambda_context(log_event=False)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Attempt every message of the batch; the ones to try again, hidden for their wait."""
    services = wiring.services()
    dispatcher = services.dispatcher()
    records = event.get("Records", [])
    # Each attempt runs in its thread in a copy of this one's context (the function's settings and log keys).
    contexts = [contextvars.copy_context() for _ in records]
    with ThreadPoolExecutor(max_workers=max(1, min(PARALLEL, len(records)))) as pool:
        results = list(pool.map(lambda r, c: c.run(attempt, r, dispatcher), records, contexts))
    sqs = client("sqs", services.settings.endpoint_url)
    failures = []
    for record, result in zip(records, results, strict=True):
        metrics.add_metric(
            name="WebhookDeliveries" if result.delivered else "WebhookAttemptsFailed", unit=MetricUnit.Count, value=1
        )
        logger.info(
            "delivery attempt",
            extra={"message_id": record.get("messageId"), "delivered": result.delivered, "outcome": result.outcome},
        )
        if result.delivered or (result.retry_after is None and not result.exhausted):
            continue
        if result.retry_after is not None:
            sqs.change_message_visibility(
                QueueUrl=services.settings.delivery_queue_url or "",
                ReceiptHandle=record["receiptHandle"],
                VisibilityTimeout=min(int(result.retry_after.total_seconds()), 43200),
            )
        failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
