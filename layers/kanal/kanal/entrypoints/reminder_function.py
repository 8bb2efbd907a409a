"""The reminder function (ReminderFunction), fired by EventBridge Scheduler.

`{"job": "sweep"}` every 15 minutes sends what timers and the election calendar make due;
`{"job": "digest"}` at 08:00 Asia/Jakarta sends the daily digests; `{"job": "reconcile"}` every 5 minutes puts
back in review any case found on no queue (``kanal.reconciler``). All are safe to run twice.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from kanal import clock, wiring
from kanal.observability import log_metrics, logger, metrics


@logger.inject_lambda_context(log_event=True)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Run one job as of now; answer what was sent (the scheduler retries on an error)."""
    job = str(event.get("job", "sweep"))
    if job == "reconcile":
        requeued = wiring.services().reconciler().run(clock.now())
        metrics.add_metric(name="CasesRequeued", unit=MetricUnit.Count, value=len(requeued))
        for case in requeued:
            logger.warning("case requeued", extra={"case_id": case.case_id, "queue": case.priority, "why": case.reason})
        return {"job": job, "requeued": [{"case_id": c.case_id, "queue": str(c.priority)} for c in requeued]}
    reminders = wiring.services().reminders()
    run = reminders.run(clock.now(), timers=job == "sweep", digest=job == "digest")
    for reminder in run.sent:
        metrics.add_metric(name=f"Reminders.{reminder.kind}", unit=MetricUnit.Count, value=1)
    logger.info("reminders sent", extra={"job": job, "sent": len(run.sent), "skipped": run.skipped})
    return {"job": job, "sent": [r.model_dump(mode="json", exclude={"text"}) for r in run.sent], "skipped": run.skipped}
