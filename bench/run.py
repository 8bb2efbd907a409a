"""`make bench`: every benchmark, printed as a table and written to bench/results.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import batches
import cold_start
import cost
import counts
import ingest
import report
import review
import startup
import stats
import viral
import webhooks

RESULTS = Path(__file__).resolve().parent / "results.json"


def rows(prefix: str, value: Any) -> list[tuple[str, Any]]:
    """Nested results as (dotted name, value) rows."""
    if isinstance(value, dict):
        return [row for key, inner in value.items() for row in rows(f"{prefix}.{key}" if prefix else key, inner)]
    return [(prefix, value)]


def main() -> None:
    """Run, print, write."""
    print("measuring: cold start of each function against boto3 alone, 15 fresh processes each ...", flush=True)
    results: dict[str, Any] = {"cold_start": cold_start.run()}
    print("measuring: tracing at cold start, active tracing alone vs the X-Ray SDK's Tracer, 21 rounds ...", flush=True)
    results["tracing_cold_start"] = cold_start.tracing()
    print("measuring: what each import costs, 7 fresh processes each ...", flush=True)
    results["import_costs"] = cold_start.import_costs()
    print("measuring: AWS requests per operation (counted on moto) ...", flush=True)
    results["aws_requests"] = counts.request_counts()
    print("measuring: reminder sweep over 100,000 open cases, 1,000 due (about a minute) ...", flush=True)
    results["reminder_sweep"] = counts.sweep_reads()
    print("measuring: local stack startup, 5 fresh processes ...", flush=True)
    results["startup"] = startup.run()
    print(
        "measuring: ingest through the local API, 8 partners for 20 s, against moto's raw floor (about a minute) ...",
        flush=True,
    )
    results.update(ingest.run())
    print(
        "measuring: batches, AWS requests per report for 1, 10 and 100; reports per second through the local API, "
        "single calls then batches of 100, 4 partners for 15 s each (about a minute) ...",
        flush=True,
    )
    results["batches"] = batches.run()
    print("measuring: review on a Zipf mix of 10,000 reports over 2,000 videos (several minutes) ...", flush=True)
    results["review"] = review.run()
    print(
        "measuring: one viral video, 20,000 reports among 2,000 of other videos, through intake and case builder "
        "(about 4 minutes) ...",
        flush=True,
    )
    results["viral_video"] = viral.run()
    print("measuring: webhook deliveries through the local stack to a local receiver (about a minute) ...", flush=True)
    results["webhooks"] = webhooks.run()
    print(
        "measuring: the figures: the seeds' window replayed at 1/100 through intake, case builder and review, and a "
        "read at that size and at 1,000,000 decisions (several minutes) ...",
        flush=True,
    )
    results["stats"] = stats.run()
    results["cost_per_million_reports"] = cost.per_million_reports(
        results["aws_requests"], results["review"]["cases_per_report"]
    )
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print()
    for name, value in rows("", results):
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"{name:<72} {shown:>10}")
    print(f"\nwritten to {RESULTS} and {report.write(results)}")


if __name__ == "__main__":
    main()
