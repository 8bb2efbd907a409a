"""One viral video among many: does its case stay small, do the other videos still reach review, and what does
the case builder write per report?

20,000 reports of one video (several spellings of its URL, a few partners) interleaved at random (seeded) with
2,000 reports of 2,000 other videos go through the intake handler (API Gateway events) on moto, in this process;
then the table's stream records of the reports go to the case-builder handler in batches of 100, in stream order,
as Lambda's poller hands them over (its BatchSize). Nothing here is timed: the figures are counts and sizes, the
same on every machine.

- The other videos' reports whose case reached its review queue: the case says it is queued (queue and ticket)
  and a message with that queue and ticket is on that queue.
- The viral case item's size as DynamoDB counts it (``counts.item_size``), at the first batch that takes it to
  1,000 reports or more and at the end; beside it, computed, what the old design's item (every report id in a
  string set) would have been.
- The case builder's write requests, counted with botocore's ``before-call`` event on the clients its handler
  uses, and the items inside its transactions, per report.

moto's TransactWriteItems runs with ``kanal_local.moto_transactions``' fix (installed by ``create_stack``):
without it, a transaction on a table of tens of thousands of items takes minutes here.
"""

from __future__ import annotations

import json
import os
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from counts import NOW, REGION, api_event, aws_stack, item_size
from review import CATEGORIES, REGIONS, stream_records

VIRAL_ID = 7_311_234_567_890_123_456
#: Spellings of the viral video's URL that partners paste (all one content key).
VIRAL_URLS = [
    f"https://www.tiktok.com/@akun.viral/video/{VIRAL_ID}",
    f"https://www.tiktok.com/@akun.viral/video/{VIRAL_ID}?is_from_webapp=1&sender_device=pc",
    f"https://m.tiktok.com/@akun.viral/video/{VIRAL_ID}/",
    f"https://tiktok.com/@Akun.Viral/video/{VIRAL_ID}?lang=id-ID#komentar",
]
PARTNERS = ["Bawaslu RI", "KPU RI", "Perludem", "Mafindo"]
#: Every write request the case builder may make.
WRITES = ("TransactWriteItems", "UpdateItem", "PutItem", "BatchWriteItem", "SendMessage")
BATCH_SIZE = 100  # the template's BatchSize for the stream
#: A report id ("r_" and 26 base32 characters), as the old design kept it in the case's string set.
REPORT_ID_BYTES = 28
OLD_SET_NAME = "report_ids"
ITEM_LIMIT = 400 * 1024  # DynamoDB's largest item, in bytes


def other_url(n: int) -> str:
    """The one URL of the ``n``-th other video."""
    return f"https://www.tiktok.com/@akun{n % 97}/video/{7_320_000_000_000_000_000 + n}"


def interleaving(viral: int, others: int, seed: int) -> list[int | None]:
    """The order of the reports: None for a viral report, else the other video's number."""
    order: list[int | None] = [None] * viral + list(range(others))
    random.Random(seed).shuffle(order)  # noqa: S311 - a reproducible mix, not a secret
    return order


class Writes:
    """Write requests by operation (and the items inside transactions and batch writes), split between those
    about one case (``case_id`` in the request) and the rest; counted on botocore's ``before-call``."""

    def __init__(self, case_id: str, parking_url: str) -> None:
        self.case_id = case_id
        self.parking_url = parking_url
        self.viral: Counter[str] = Counter()
        self.other: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()  # every request, reads too

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        operation = model.name
        self.requests[operation] += 1
        if operation not in WRITES:
            return
        body = params.get("body") or b"{}"
        text = body.decode() if isinstance(body, bytes) else str(body)
        sent = json.loads(text)
        counted = self.viral if self.case_id in text else self.other
        if operation == "SendMessage" and sent.get("QueueUrl") == self.parking_url:
            operation = "SendMessage (parked)"
        counted[operation] += 1
        if operation == "TransactWriteItems":
            counted["transaction items"] += len(sent["TransactItems"])
        elif operation == "BatchWriteItem":
            counted["batch write items"] += sum(len(requests) for requests in sent["RequestItems"].values())

    @contextmanager
    def hooked(self, clients: list[Any]) -> Iterator[Writes]:
        for c in clients:
            c.meta.events.register("before-call.*.*", self)
        try:
            yield self
        finally:
            for c in clients:
                c.meta.events.unregister("before-call.*.*", self)


def counts_of(counted: Counter[str]) -> dict[str, int]:
    """The counts, with the write requests' total first."""
    total = sum(n for op, n in counted.items() if op.split(" ")[0] in WRITES)
    return {"write_requests": total, **{op.replace(" ", "_"): counted[op] for op in sorted(counted)}}


def per_report(counted: Counter[str], reports: int) -> dict[str, float]:
    """Each count per report, with the write requests' total first."""
    return {name: round(n / reports, 5) for name, n in counts_of(counted).items()} if reports else {}


def old_design_size(item: dict[str, Any], reports: int) -> int:
    """Computed: the item with every report id in a string set instead of the count (what the old design kept)."""
    without_count = {name: value for name, value in item.items() if name != "report_count"}
    return item_size(without_count) + len(OLD_SET_NAME) + reports * REPORT_ID_BYTES


def over_limit_at(item: dict[str, Any]) -> int:
    """Computed: the number of reports at which the old design's item would have passed DynamoDB's limit."""
    return (ITEM_LIMIT - old_design_size(item, 0)) // REPORT_ID_BYTES + 1


def queued_messages(urls: dict[str, str]) -> dict[str, set[tuple[str, int]]]:
    """Every message on the review queues: case id -> {(queue, ticket)}. Read from moto's queue (its public
    ``messages``: those visible now), after GetQueueAttributes has said none is in flight or delayed, so that
    those are all of them: receiving them through the API scans the whole queue on every call in moto, and 2,000
    messages then take about six minutes (measured)."""
    from moto.sqs.models import sqs_backends

    sqs = boto3.client("sqs", region_name=REGION)
    found: dict[str, set[tuple[str, int]]] = {}
    for queue, url in urls.items():
        counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        hidden = int(counts["ApproximateNumberOfMessagesNotVisible"]) + int(
            counts["ApproximateNumberOfMessagesDelayed"]
        )
        assert hidden == 0, f"{queue}: {hidden} message(s) in flight or delayed would be missed"
        account, name = url.rstrip("/").split("/")[-2:]
        visible = sqs_backends[account][REGION].queues[name].messages
        assert len(visible) == int(counts["ApproximateNumberOfMessages"])
        for message in visible:
            body = json.loads(message.body)
            found.setdefault(body["case_id"], set()).add((queue, int(body["ticket"])))
    return found


def run(
    viral: int = 20_000,
    others: int = 2_000,
    seed: int = 2024,
    size_at: int = 1_000,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The figures of the run (see the module's docstring)."""
    from kanal import content, wiring
    from kanal.adapters.aws import client
    from kanal.models import PartnerKind

    say = progress or (lambda _: None)
    rng = random.Random(seed + 1)  # noqa: S311 - a reproducible mix, not a secret
    viral_keys = {content.content_key(url) for url in VIRAL_URLS}
    assert len(viral_keys) == 1, viral_keys
    viral_case = content.case_id_for(viral_keys.pop())
    order = interleaving(viral, others, seed)
    with aws_stack() as invoke:
        services = wiring.services()
        partners = [services.partners.create(n, PartnerKind.ELECTION_AGENCY, NOW).partner.partner_id for n in PARTNERS]
        accepted: Counter[int] = Counter()
        other_case: dict[int, str] = {}
        for n, other in enumerate(order):
            body = {
                "content_url": rng.choice(VIRAL_URLS) if other is None else other_url(other),
                "category": rng.choice(CATEGORIES),
                "region_code": rng.choice(REGIONS),
                "description": "Video diduga melanggar aturan kampanye.",
            }
            answer = invoke("IntakeFunction", api_event(rng.choice(partners), body))
            accepted[answer["statusCode"]] += 1
            if other is not None and answer["statusCode"] == 202:
                other_case[other] = json.loads(answer["body"])["case_id"]
            if (n + 1) % 5_000 == 0:
                say(f"  intake: {n + 1:,} of {len(order):,} reports")
        records = stream_records()
        say(f"  case builder: {len(records):,} stream records in batches of {BATCH_SIZE}")

        raw = boto3.client("dynamodb", region_name=REGION)  # not one of the handler's clients: not counted
        table = os.environ["TABLE_NAME"]

        def viral_item() -> dict[str, Any]:
            key = {"pk": {"S": f"CASE#{viral_case}"}, "sk": {"S": "CASE"}}
            found: dict[str, Any] = raw.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item", {})
            return found

        settings = services.settings
        writes = Writes(viral_case, settings.failure_queue_url or "")
        handler_clients = [client("dynamodb", settings.endpoint_url), client("sqs", settings.endpoint_url)]
        failed, batches = 0, 0
        first: dict[str, Any] = {}
        with writes.hooked(handler_clients):
            for start in range(0, len(records), BATCH_SIZE):
                answer = invoke("CaseBuilderFunction", {"Records": records[start : start + BATCH_SIZE]})
                failed += len(answer["batchItemFailures"])
                batches += 1
                if not first:
                    item = viral_item()
                    if item and int(item["report_count"]["N"]) >= size_at:
                        first = item
                if batches % 50 == 0:
                    say(f"  case builder: {batches} batches")
        last = viral_item()
        say("  checking the review queues against the cases")

        queues = {"urgent": settings.urgent_queue_url or "", "normal": settings.normal_queue_url or ""}
        sqs = boto3.client("sqs", region_name=REGION)
        on_queues = queued_messages(queues)
        parked = int(
            sqs.get_queue_attributes(
                QueueUrl=settings.failure_queue_url or "", AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]["ApproximateNumberOfMessages"]
        )
        cases = services.cases.get_many({*other_case.values(), viral_case})
        say("  checked")

    def reached(case_id: str) -> bool:
        case = cases.get(case_id)
        return bool(case and case.queued and (str(case.queued), case.ticket) in on_queues.get(case_id, set()))

    queued = [c for c in cases.values() if c.queued is not None]
    viral_case_now = cases.get(viral_case)
    first_count = int(first["report_count"]["N"]) if first else 0
    last_count = int(last["report_count"]["N"]) if last else 0
    other_reports = len(order) - viral
    reached_reports = sum(reached(c) for c in other_case.values())
    return {
        "viral_reports": viral,
        "other_reports": other_reports,
        "other_videos": others,
        "partners": len(PARTNERS),
        "viral_url_spellings": len(VIRAL_URLS),
        "answers_202": accepted[202],
        "stream_records": len(records),
        "case_builder_batches": batches,
        "case_builder_record_failures": failed,
        "records_parked": parked,
        "other_reports_case_reached_queue_share": round(reached_reports / other_reports, 4) if other_reports else 0.0,
        "cases_queued": len(queued),
        "queued_cases_without_their_message": sum(not reached(c.case_id) for c in queued),
        "cases_with_messages": len(on_queues),
        "messages_on_review_queues": sum(len(m) for m in on_queues.values()),
        "viral_case_report_count": viral_case_now.report_count if viral_case_now else 0,
        "viral_case_partners": len(viral_case_now.partners) if viral_case_now else 0,
        "viral_case_queue": str(viral_case_now.queued) if viral_case_now else None,
        "viral_case_item": {
            "reports_first": first_count,
            "bytes_first": item_size(first),
            "reports_end": last_count,
            "bytes_end": item_size(last),
            "json_chars_end": len(json.dumps(last, separators=(",", ":"))),
            "old_design_report_ids_bytes_first_computed": first_count * REPORT_ID_BYTES,
            "old_design_bytes_first_computed": old_design_size(first, first_count) if first else 0,
            "old_design_report_ids_bytes_end_computed": last_count * REPORT_ID_BYTES,
            "old_design_bytes_end_computed": old_design_size(last, last_count) if last else 0,
            "old_design_over_limit_at_reports_computed": over_limit_at(last) if last else 0,
            "dynamodb_item_limit_bytes": ITEM_LIMIT,
        },
        "case_builder_writes": {
            "viral": counts_of(writes.viral),
            "others": counts_of(writes.other),
            "all": counts_of(writes.viral + writes.other),
        },
        "case_builder_writes_per_report": {
            "viral": per_report(writes.viral, viral),
            "others": per_report(writes.other, other_reports),
            "all": per_report(writes.viral + writes.other, len(records)),
        },
        "case_builder_requests": dict(sorted(writes.requests.items())),
    }


def main(argv: list[str]) -> None:
    """``python bench/viral.py [VIRAL OTHERS] [--doc]``: the figures as JSON; with ``--doc``, also this section of
    docs/performance.md (the other sections are left as the last full `make bench` wrote them)."""
    import time
    from datetime import UTC, datetime

    import report

    sizes = dict(zip(("viral", "others"), (int(a) for a in argv if a.isdigit()), strict=False))
    started = time.perf_counter()
    figures = run(**sizes, progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps(figures, indent=2))
    print(f"(ran in {time.perf_counter() - started:.0f} s)", file=sys.stderr)
    if "--doc" in argv:
        note = (
            f"*Written by `python bench/viral.py --doc` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, one run of this "
            "part alone; the other sections are from the last full `make bench`.*\n\n"
        )
        print(f"written to {report.write_section(report.viral_video({'viral_video': figures}, note))}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
