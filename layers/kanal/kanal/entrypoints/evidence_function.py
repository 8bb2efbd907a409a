"""The evidence function (EvidenceFunction): checks each evidence file once it is uploaded.

EventBridge delivers the bucket's "Object Created" events (the bucket sends its events to EventBridge, so the
bucket and the function do not depend on each other in the template). Each names one version of one object:
``kanal.evidence.Evidence.check`` reads it, compares it with what the partner declared and records the file
verified, or rejected (and deletes it). A redelivered event changes nothing; a failure raises, and EventBridge
tries again (then its dead-letter queue, which alarms).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from kanal import clock, wiring
from kanal.observability import log_metrics, logger, metrics


@logger.inject_lambda_context(log_event=False)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Check the object version an "Object Created" event names; answer what became of it."""
    detail = event.get("detail") or {}
    found = detail.get("object") or {}
    key, version = str(found.get("key", "")), found.get("version-id")
    outcome = wiring.services().evidence().check(key, str(version) if version else None, clock.now())
    status = str(outcome.status) if outcome.status else None
    metrics.add_metric(name=f"Evidence.{status or 'unknown'}", unit=MetricUnit.Count, value=1)
    # Ids and outcomes only: the key is <partner_id>/<report_id>/<evidence_id>; the reason names sizes and types.
    logger.info("evidence checked", extra={"key": key, "status": status, "deleted": outcome.deleted})
    return {"key": key, "status": status, "deleted": outcome.deleted, "reason": outcome.reason}
