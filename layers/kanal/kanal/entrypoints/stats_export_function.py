"""The scheduled export (StatsExportFunction), fired by EventBridge Scheduler.

`{"job": "weekly"}` on Mondays writes the week before's national figures; `{"job": "elections"}` every day
writes those of the election windows that closed in the past week (``kanal.stats_export``). Safe to run twice:
a file is written again as a new version.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from kanal import clock, stats_export, wiring
from kanal.calendar import default_calendar
from kanal.observability import log_metrics, logger, metrics
from kanal.stats import wib_day


@logger.inject_lambda_context(log_event=True)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Run one export job as of now; answer the files written (the scheduler retries on an error)."""
    job = str(event.get("job", "weekly"))
    services = wiring.services()
    sink = services.export_sink()
    written: list[str] = []
    now = clock.now()
    for export in stats_export.due(job, wib_day(now), default_calendar()):
        written.extend(stats_export.write(services.stats_store, sink, export, now))
    metrics.add_metric(name="StatsFilesExported", unit=MetricUnit.Count, value=len(written))
    logger.info("figures exported", extra={"job": job, "files": written})
    return {"job": job, "files": written}
