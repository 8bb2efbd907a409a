"""docs/performance.md, written from the figures of the latest `make bench` run (do not edit it by hand:
change the text here, and run `make bench`)."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cost import ASSUMPTIONS, PRICES

DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"


def table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def figures(values: dict[str, Any], header: tuple[str, str] = ("figure", "value")) -> str:
    """A two-column Markdown table of named figures."""
    return table(list(header), [[name, value] for name, value in values.items()])


def cold_start(results: dict[str, Any]) -> str:
    rows = [
        [name, f"{r['median_s']:.3f}", f"{r['boto3_floor_s']:.3f}", f"**{r['ratio_vs_boto3']:.2f}**"]
        for name, r in results["cold_start"].items()
    ]
    costs = [[name, f"{seconds:.3f}"] for name, seconds in results.get("import_costs", {}).items()]
    return f"""## Cold start

A fresh process imports the function's handler module and makes the AWS clients it uses, with the
environment Lambda sets (`LAMBDA_TASK_ROOT`, ...); the floor is a fresh process that only imports boto3
and makes the same clients. Median of 15 each, in the same run. Goal: 1.25 or less.

{table(["function", "median s", "boto3 floor s", "ratio"], rows)}

What each import adds to a bare interpreter (fresh processes; shared dependencies make the sum overstate):

{table(["import", "s"], costs)}

What was done, and what is left:
- The functions make their clients with botocore alone (`kanal/adapters/aws.py`) and marshal DynamoDB
  attribute values themselves (`kanal/adapters/attributes.py`, checked against boto3's serializer by a
  property test): importing anything under `boto3` costs boto3 and s3transfer on every cold start.
- The intake function routes with a small router of its own (`kanal/entrypoints/routing.py`) instead of
  Powertools' resolver with validation (the last two rows above, each alone in a bare interpreter; in a
  process that already has Logger and pydantic, the resolver took about 45 ms more than the router,
  measured by hand, not by this benchmark); the OpenAPI document is built from the same route
  declarations, on its first request.
- botocore's data loader is told to check only the service asked for (`kanal/adapters/loader.py`): its
  own check lists every one of its ~400 service directories before it loads a model (about 30 ms of the
  first client, measured by hand, not by this benchmark; more on a slower disk).
- Each service, and the module it comes from, is made on first use (`kanal/wiring.py`): the authorizer
  loads neither the calendar nor the review or reminder rules.
- pydantic models build their validators on first use (`defer_build`), so a function pays only for the
  models it uses.
- No tracing SDK in the functions: Lambda's active tracing records invocations without one
  (`docs/tracing.md`); the X-Ray SDK that Powertools' Tracer imported cost the intake and the case
  builder the figures in "Tracing at cold start" below.
- Left: pydantic itself and Powertools' Logger and Metrics. Each is a requirement (validation,
  structured logs with correlation ids, metrics); what remains above the floor is their import. Where
  a ratio is still above 1.25, this is why: pydantic and the models add about 0.1 s and Powertools'
  Logger about 0.05 s to a bare interpreter, while the floor pays only boto3's own share over botocore.
  Meeting 1.25 everywhere would take functions without pydantic or Powertools' Logger; that was judged
  not worth it. Between runs these medians move by 0.05-0.1 s on this shared machine, so a ratio moves
  by 0.1-0.3: compare runs by their ratios, not one digit.
"""


def tracing(results: dict[str, Any]) -> str:
    found = results.get("tracing_cold_start")
    if not found:
        return "## Tracing at cold start\n\nNot measured in this run.\n"
    rows = [
        [
            name,
            f"{r['boto3_floor_s']:.3f}",
            f"{r['active_tracing_only_s']:.3f} (**{r['ratio_active_tracing_only']:.2f}**)",
            f"{r['xray_sdk_tracer_s']:.3f} (**{r['ratio_xray_sdk_tracer']:.2f}**)",
            f"{r['xray_sdk_tracer_adds_s']:.3f}",
        ]
        for name, r in found.items()
    ]
    header = ["function", "boto3 floor s", "active tracing alone s (ratio)", "with the X-Ray SDK's Tracer s (ratio)"]
    return f"""## Tracing at cold start

The two functions that had Powertools' Tracer, as they are now (Lambda's active tracing alone: no
tracing SDK in the process) and with that Tracer back (the X-Ray SDK imported and botocore patched, as
its decorator did at import), each against the same boto3 floor; 21 rounds of the three in fresh
processes, interleaved, the order rotated each round; medians. Lambda's own tracing adds nothing to
the process (it records from outside it). `docs/tracing.md` says why the Tracer went.

{table([*header, "the Tracer adds s"], rows)}
"""


def requests(results: dict[str, Any]) -> str:
    names = {
        "new_report_request_path": "new report, request path",
        "duplicate_request_path": "report on content that already has a case, request path",
        "report_on_decided_case_request_path": "report on a decided case, request path",
        "keyed_new_report_request_path": "new report with Idempotency-Key, request path",
        "keyed_retry_request_path": "retry with the same Idempotency-Key, request path",
        "new_report_after_answer": "new report, after the answer (case builder)",
        "decision": "decision (worker)",
        "reminder_run_one_overdue_case": "reminder sweep, one overdue case",
    }
    rows = []
    for key, label in names.items():
        counted = results["aws_requests"].get(key)
        if counted is None:
            continue
        calls = ", ".join(f"{op} {n}" for op, n in counted.items() if "." in op and not op.startswith("dynamodb_"))
        rows.append([label, counted["total"], calls, counted["dynamodb_write_units"], counted["dynamodb_read_units"]])
    sweep = results.get("reminder_sweep", {})
    return f"""## AWS requests and DynamoDB capacity per operation

Counted with botocore's events on moto, not timed: the same on every machine. Capacity units are
computed from item sizes and the indexes an item is in, as DynamoDB bills them (moto reports none).

{table(["operation", "requests", "calls", "write units", "read units"], rows)}

The goal was at most 2 requests on a new report's request path (met: one read of the case, one
conditional put of the report) and 1 for a duplicate (**not met: 2**). The case read stays because the
202 answer must carry the case's state: a report on a decided case is answered with that decision at
once (the intake issue asks for it), and a duplicate shares its case's `review_due_at`. No single
DynamoDB request writes one item and returns another. The one-request alternative that keeps the
decided-case answer, a `TransactWriteItems` of the report's put with a `ConditionCheck` that the case is
undecided (the case comes back only when the check fails), was considered and not built: a transactional
write bills two write units per KB where a plain put bills one, and the check bills on top (at least
$0.6 more per million reports, against the $0.06 the read costs), and every report on a viral video
would check the one case item that the case builder keeps updating, so on exactly the videos that draw
thousands of reports, partners would get transaction conflicts (503s to retry) instead of 202s. Dropping
the read altogether meets the count but breaks the decided-case answer; that choice is left to the
product owner. A new report's three write units are the report and its two index entries (by partner, by
case); the read is eventually consistent (half a unit).

Reminder sweep: {sweep.get("due", "?")} due among {sweep.get("open_cases", "?")} open cases read
{sweep.get("dynamodb_items_read", "?")} items in {sweep.get("dynamodb_requests", "?")} DynamoDB requests
(the sweep reads an index of due times, never the open cases).
"""


def ingest(results: dict[str, Any]) -> str:
    found = results.get("ingest")
    if not found:
        return "## Ingest through the local API\n\nNot measured in this run.\n"
    return f"""## Ingest through the local API

Partners, each with its own key, send reports at once through the local API (`kanal dev`: the
template's gateway, authorizer, intake, stream and case builder on one moto server); the raw floor is
the same moto server doing only one `put_item` and one `send_message` per report, from as many
threads, in the same run. Goal: `ratio_vs_raw_moto` 0.5 or more.

{figures(found)}

Memory of the local stack (`kanal dev`) under that load:

{figures(results.get("memory", {}))}
"""


BATCHES_HEADING = "## Batches of reports"


def batches(results: dict[str, Any]) -> str:
    found = results.get("batches")
    if not found:
        return f"{BATCHES_HEADING}\n\nNot measured in this run.\n"
    rows = [
        [
            name.replace("_", " "),
            counted["total"],
            counted["requests_per_report"],
            ", ".join(f"{op} {n}" for op, n in counted.items() if op.startswith("dynamodb.")),
            counted["write_units_per_report"],
        ]
        for name, counted in found["aws_requests"].items()
    ]
    single = results.get("aws_requests", {})
    alone = single.get("new_report_request_path", {}).get("total", "?")
    keyed = single.get("keyed_new_report_request_path", {}).get("total", "?")
    return f"""{BATCHES_HEADING}

AWS requests on the request path of `POST /v1/reports/batch` (new reports of distinct videos; "keyed": each with
its `idempotency_key`; "sent again": the same keyed batch once more, which stores nothing), counted with botocore's
events on moto as above, not timed. A single report takes {alone} requests ({keyed} with an Idempotency-Key): a
batch reads its distinct cases in one `BatchGetItem`, its keyed reports and their holds in one more per 50 keys,
and puts every report in one `TransactWriteItems` of conditional puts. Goal: at most 10 for 100 new reports.

{table(["batch", "requests", "per report", "calls", "write units per report"], rows)}

The price of the one request: a transaction bills two write units per KB where a put bills one, so a batched
report costs 6 write units (its item and its two index entries, doubled) against a single report's 3 (4 with an
Idempotency-Key, whose hold is one more put). At {PRICES["dynamodb_per_million_write_units"]} USD per million
write units, that is {2 * PRICES["dynamodb_per_million_write_units"]:.2f} to
{3 * PRICES["dynamodb_per_million_write_units"]:.2f} USD more per million reports, against one API Gateway request
and one Lambda invocation instead of up to a hundred ({PRICES["rest_api_per_million"]} USD per million requests
for the API alone). Unkeyed reports could go in `BatchWriteItem` instead (random ids never
collide: one unit a KB, 25 items a request, 4 requests for 100); not done, as every report of a batch would
then no longer be stored by one rule.

Reports per second through the local API (`kanal dev`, as in the ingest section: the load generator, the stack
and moto share these CPUs), single calls first, then batches of 100, for as long, by the same partners in the
same run:

{figures(found["throughput"])}
"""


def review(results: dict[str, Any]) -> str:
    found = results.get("review")
    if not found:
        return "## Review on a realistic mix\n\nNot measured in this run.\n"
    return f"""## Review on a realistic mix

{found["reports"]:,} reports over {found["videos"]:,} videos drawn from a Zipf distribution (exponent
{found["zipf_exponent"]}) by {found["partners"]} partners, through the intake and case builder handlers on
moto; then a worker with a scripted decider claims and decides cases through `Review` and the queues.
Its floor does, per case, only what any worker must: receive the message, read the case and its
reports, one conditional write, delete the message.
moto answers an index query by scanning the whole table, so with {found["reports"]:,} reports both the
worker and its floor are bound by those queries; on DynamoDB a query reads only its case's items.

{figures(found)}
"""


WEBHOOKS_HEADING = "## Webhook deliveries"


def webhooks(results: dict[str, Any], note: str = "") -> str:
    found = results.get("webhooks")
    if not found:
        return f"{WEBHOOKS_HEADING}\n\nNot measured in this run.\n"
    return f"""{WEBHOOKS_HEADING}

{note}One partner's webhook points at a receiver in the benchmark's process on a fresh `kanal dev`. The partner
sends {found["reports"]} reports of distinct videos one after the other (each a `report.received` delivery), then
{found["decisions"]} cases are decided through the reviewer API (each a `report.decided` delivery). The floor is
the stream trigger's own latency, measured in the same run: a new report's 202 to its case on a review queue
(the case builder, the stream's other consumer). A decision's delivery goes through the same stream, then
EventsFunction, the delivery queue, DeliveryFunction and HTTP; `ratio_p50_vs_stream_trigger` is its p50 over the
floor's. Both are bound by the local stack's stream polling (every 0.25 s when busy, 2 s when idle), not AWS's.

{figures(found)}
"""


VIRAL_HEADING = "## One viral video among many"
SIZE_HEADER = [
    "reports on the case",
    "item bytes (measured)",
    "old design: report id set bytes (computed)",
    "old design: item bytes (computed)",
]


def viral_video(results: dict[str, Any], note: str = "") -> str:
    found = results.get("viral_video")
    if not found:
        return f"{VIRAL_HEADING}\n\nNot measured in this run.\n"
    item = found["viral_case_item"]
    limit = item["dynamodb_item_limit_bytes"]
    sizes = [
        [
            f"{item[f'reports_{at}']:,}",
            f"{item[f'bytes_{at}']:,}",
            f"{item[f'old_design_report_ids_bytes_{at}_computed']:,}",
            f"{item[f'old_design_bytes_{at}_computed']:,}",
        ]
        for at in ("first", "end")
    ]
    counted, per = found["case_builder_writes"], found["case_builder_writes_per_report"]
    parts = ("viral", "others", "all")
    per_report = [
        [op.replace("_", " "), *(f"{counted[p].get(op, 0):,} ({per[p].get(op, 0):.5f})" for p in parts)]
        for op in counted["all"]
    ]
    checks = {k: v for k, v in found.items() if not isinstance(v, dict)}
    return f"""{VIRAL_HEADING}

{note}{found["viral_reports"]:,} reports of one video ({found["viral_url_spellings"]} spellings of its URL)
interleaved at random with {found["other_reports"]:,} reports of {found["other_videos"]:,} other videos, by
{found["partners"]} partners, go through the intake handler (API Gateway events) on moto, in this process;
then the stream's report records go to the case-builder handler in batches of 100, in stream order, as
Lambda's poller hands them over (`bench/viral.py`). Nothing is timed: these are counts and sizes, the
same on every machine.

An other video's report counts as reaching review when its case says it is queued (queue and ticket) and a
message with that queue and ticket is on that queue (every message on both queues, read from moto's store of
each queue: receiving 2,000 messages through moto's API takes minutes, as it scans the queue on every call).

{figures(checks)}

The viral case item's size, as DynamoDB counts it (`counts.item_size`: attribute name bytes plus value
bytes; a string its UTF-8 bytes, a number (significant digits // 2) + 2 bytes, at or just above DynamoDB's
"1 byte per two significant digits, plus 1", a set the sum of its members), read after the first batch
that took it to 1,000 reports or more, and at the end. The old design
kept every report id (28 bytes each) in a string set on the case: its figures are **computed** (this item
without `report_count`, plus the set), not measured. DynamoDB refuses an item over {limit:,} bytes; the
old design's item would have passed that at {item["old_design_over_limit_at_reports_computed"]:,} reports.
The measured size moves by a few bytes between runs: the case keeps the URL spelling of the report
that sorts first in its first transaction (by report id, which is random).

{table(SIZE_HEADER, sizes)}

The case builder's requests per report, counted with botocore's `before-call` event on the two clients its
handler uses (DynamoDB and SQS), split by whether the request names the viral case; "transaction items" are
the writes inside `TransactWriteItems` (a case's update and each report's `report_attached` entry),
"batch write items" the puts inside `BatchWriteItem`. Count (per report):

{table(["requests", "viral case", "other cases", "all"], per_report)}

moto's transactions run with `kanal_local.moto_transactions`' fix, as everywhere on the local stack: moto
alone copies the whole table once per item of every transaction (a tenth of this run, 2,200 reports, did
not finish in 10 minutes here).
"""


def cost(results: dict[str, Any]) -> str:
    found = results.get("cost_per_million_reports")
    if not found:
        return ""
    return f"""## Cost per million reports on AWS

From the counts above and the case mix of the review run, at list prices (US East; Jakarta,
ap-southeast-3, lists higher prices for most services: scale before budgeting). Streams read by
Lambda cost nothing; the authorizer runs once per key per cache period (`AuthorizerCacheTtl`), not per
report. Storage, partners' reads and reminders are left out (small next to this).

{figures(found, ("USD per million reports", "value"))}

Prices used (USD):

{figures(PRICES, ("price", "USD"))}

Assumptions (what moto cannot show):

{figures(ASSUMPTIONS, ("assumption", "value"))}

**Why a REST API and not an HTTP API**, though HTTP APIs cost $1.00 a million requests against $3.50:
the difference is {found["total_usd"] - found["total_usd_with_http_api"]:.2f} USD per million reports.
The 2024 channel helped remove 58,726 videos in 80 days; even at ten reports per removed video the
whole election costs a few dollars more. For that, the REST API gives what this channel relies on:
gateway responses of its own (every 401, 403, 413 and 429 is a problem document, as the partners'
integrations expect; HTTP APIs cannot customise them), AWS WAF (rate rules against a leaked key's
flood; HTTP APIs cannot attach a web ACL), usage plans and per-method throttling, and a REQUEST
authorizer whose answer is cached per key. If volume ever made the price matter, the cost above is
dominated by the API and DynamoDB; the request path's writes are already at their minimum.
"""


STATS_HEADING = "## The figures"


def stats(results: dict[str, Any], note: str = "") -> str:
    found = results.get("stats")
    if not found:
        return f"{STATS_HEADING}\n\nNot measured in this run.\n"
    replay, read, write = found["replay"], found["read"], found["write"]
    removed = [
        [policy, shown["stats"], shown["seeds_divided_by_100"]] for policy, shown in replay["removed_by_policy"].items()
    ]
    reads = [[size.replace("_", " "), cost["requests"], cost["items"]] for size, cost in read.items()]
    return f"""{STATS_HEADING}

{note}`bench/stats.py` replays a synthetic Pemilu 2024 window ({replay["days"]} days, 28 November 2023 to
15 February 2024) at one hundredth of the seeds' scale, with fixed seeds: {replay["reports"]} reports of
{replay["cases"]} cases, each at its own time, through IntakeFunction, CaseBuilderFunction and `Review` (claim,
decide) on moto; {replay["decisions"]} decisions, the removals in the seeds' proportions, the others
`no_violation` (and a few `restricted`, `labelled`); the busiest day {replay["peak_day_reports"]["day"]}
({replay["peak_day_reports"]["cases"]} cases, against a median day's {replay["peak_day_reports"]["median_day_cases"]}).
Then `GET /v1/stats?from=2023-11-28&to=2024-02-15&group_by=policy&scope=national` as an election agency:

{table(["policy", "removed (GET /v1/stats)", "the seeds' figure / 100"], removed)}

{figures(replay["totals"])}

**A read's cost** (the national read of the window above): measured on moto (which cuts a Query's page at 1 MB
as DynamoDB does) after the replay's decisions; computed from the cells' item sizes (one Query per ISO-week
partition, a page per 1 MB) for the replay, to check the computation against the measurement, and for 1,000,000
decisions of the same mix. Each decision adds to exactly one cell per scope, so the cells after a million
decisions are the distinct cells of a million draws from the mix: writing them one decision at a time would
read the same items. The bound is the number of cells (days times categories times provinces times the
policy-outcome pairs and "undecided"), not the number of decisions: the last row fills every one of them
(items of the million's average size), the most any number of decisions can cost this read.

{table(["size", "Query requests", "items read"], reads)}

**A decision's cost**: counting the first {write["decisions_measured"]} of the decisions (their stream records) made
{write["requests_per_decision"]} requests and {write["write_units_per_decision"]} write units per decision
(transactional writes, 2 units per item under 1 KB: the notice and one or two counter cells, for the nation and
each reporting partner); the largest counter item is {write["largest_counter_item_bytes"]} bytes.
"""


def render(results: dict[str, Any]) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}"
    startup = results.get("startup", {}).get("median", {})
    return "\n".join(
        [
            "# Performance and cost",
            "",
            f"Written by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC ({machine}); the text lives in",
            "`bench/report.py`, the raw figures in `bench/results.json`. These machines are shared and noisy:",
            "read the ratios (measured against a floor in the same run) and the counts, not the seconds.",
            "",
            cold_start(results),
            tracing(results),
            requests(results),
            ingest(results),
            batches(results),
            review(results),
            viral_video(results),
            webhooks(results),
            stats(results),
            cost(results),
            "## Local stack startup",
            "",
            f"`kanal dev` answers its first request {startup.get('first_answer_s', '?')} s after it starts "
            "(median of 5).",
            "",
        ]
    )


def write(results: dict[str, Any]) -> Path:
    """Write docs/performance.md."""
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render(results), encoding="utf-8")
    return DOC


def replace_section(text: str, section: str) -> str:
    """``text`` with the section that has ``section``'s heading replaced by ``section``; if there is none,
    ``section`` goes before the cost section (where ``render`` puts it), else at the end."""
    heading = section.split("\n", 1)[0]
    start = text.find(heading + "\n")
    if start < 0:
        before = text.find("## Cost per million reports")
        at = before if before >= 0 else len(text)
        return text[:at] + section.rstrip("\n") + "\n\n" + text[at:]
    end = text.find("\n## ", start + len(heading))
    return text[:start] + section.rstrip("\n") + "\n" + (text[end:] if end >= 0 else "")


def write_section(section: str) -> Path:
    """Put one section into docs/performance.md, leaving the others as the last full run wrote them."""
    DOC.write_text(replace_section(DOC.read_text(encoding="utf-8"), section), encoding="utf-8")
    return DOC
