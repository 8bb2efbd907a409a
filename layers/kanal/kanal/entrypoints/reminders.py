"""The reminder function (ReminderFunction), fired by EventBridge Scheduler.

`{"job": "sweep"}` every 15 minutes sends what timers and the election calendar make due;
`{"job": "digest"}` at 08:00 Asia/Jakarta sends the daily digests. Both are safe to run twice.
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
    reminders = wiring.services().reminders()
    run = reminders.run(clock.now(), timers=job == "sweep", digest=job == "digest")
    for reminder in run.sent:
        metrics.add_metric(name=f"Reminders.{reminder.kind}", unit=MetricUnit.Count, value=1)
    logger.info("reminders sent", extra={"job": job, "sent": len(run.sent), "skipped": run.skipped})
    return {"job": job, "sent": [r.model_dump(mode="json", exclude={"text"}) for r in run.sent], "skipped": run.skipped}
