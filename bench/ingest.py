"""Ingest: reports per second and latency through the local API with 8 partners at once, against the floor of
the same moto server doing only what a report needs at the least (one put_item and one send_message), in
the same run; then the stack's peak resident memory.

One `kanal dev` process serves the API, the handlers, moto and the stream's case builder, as a user runs it.
First the raw floor: 8 threads of boto3 clients straight to the stack's moto, putting report-sized items in
the stack's own table (under a sort key the case builder's filter drops) and sending a message each to a
queue of its own on the same server. Then the API: each partner is a thread with its own key and a
keep-alive connection, sending realistic reports (stack.draft: a video pool where a few are reported often,
a video going viral every second, several categories and regions, half with an Idempotency-Key) back to
back, as long. After the load, the case builder's catch-up is timed (every answered report attached to its
case, every case queued) and VmHWM read from /proc.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from stack import Api, Stack, Videos, draft, incomplete, percentiles, running, seeded, wait_for_cases

PARTNERS = 8


@dataclass
class Sample:
    """What one thread saw."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    #: (case_id, report_id) of every 202.
    accepted: list[tuple[str, str]] = field(default_factory=list)
    with_key: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _together(threads: int, duration: float, work: Any) -> tuple[list[Sample], float]:
    """Run ``work(index, deadline, sample)`` in ``threads`` threads started at once; the samples and the time."""
    samples = [Sample() for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)
    times: list[float] = []

    def body(index: int) -> None:
        barrier.wait()
        work(index, times[0] + duration, samples[index])

    pool = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(threads)]
    for thread in pool:
        thread.start()
    times.append(time.perf_counter())
    barrier.wait()
    for thread in pool:
        thread.join()
    return samples, time.perf_counter() - times[0]


def api_load(stack: Stack, keys: list[str], duration: float, videos: Videos) -> tuple[list[Sample], float]:
    """Every partner posting reports back to back for ``duration`` seconds."""
    host, port = stack.api

    def work(index: int, deadline: float, sample: Sample) -> None:
        rng = seeded(1000 + index)
        api = Api(host, port, keys[index])
        number = 0
        while time.perf_counter() < deadline:
            number += 1
            report = draft(rng, videos.pick(rng), index, number)
            started = time.perf_counter()
            status, answer = api.call("POST", "/v1/reports", report.body, report.headers)
            took = time.perf_counter() - started
            sample.latencies.append(took)
            if report.headers:
                sample.with_key.append(took)
            sample.statuses[status] = sample.statuses.get(status, 0) + 1
            if status == 202:
                sample.accepted.append((answer["case_id"], answer["report_id"]))
            elif len(sample.errors) < 3:
                sample.errors.append(f"{status} {json.dumps(answer)[:300]}")
        api.close()

    videos.start()
    return _together(len(keys), duration, work)


def raw_item(rng: random.Random, videos: Videos, index: int, number: int) -> dict[str, Any]:
    """A report-sized item with the attributes a report item has, under sort key RAWFLOOR."""
    report = draft(rng, videos.pick(rng), index, number)
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    report_id = uuid.uuid4().hex
    values = {
        **{k: v for k, v in report.body.items() if isinstance(v, str)},
        "pk": f"RAWFLOOR#{report_id}",
        "sk": "RAWFLOOR",
        "report_id": report_id,
        "partner_id": f"p_raw{index}",
        "case_id": f"c_raw{report.video}",
        "content_key": f"tiktok:video:{report.video}",
        "received_at": now,
        "review_due_at": now,
        "body_hash": uuid.uuid4().hex * 2,
        "gsi1pk": f"PARTNER#p_raw{index}",
        "gsi1sk": f"REPORT#{now}#{report_id}",
        "gsi2pk": f"CASE#c_raw{report.video}",
        "gsi2sk": f"{now}#{report_id}",
    }
    item: dict[str, Any] = {k: {"S": v} for k, v in values.items()}
    if report.body.get("evidence_urls"):
        item["evidence_urls"] = {"L": [{"S": url} for url in report.body["evidence_urls"]]}
    return item


def raw_load(stack: Stack, threads: int, duration: float, videos: Videos) -> tuple[list[Sample], float]:
    """The floor: one put_item and one send_message per report, boto3 straight to moto, no kanal in between."""
    table = stack.env["KANAL_TABLE_NAME"]
    queue = stack.client("sqs").create_queue(QueueName="kanal-bench-raw-floor")["QueueUrl"]
    clients = [(stack.client("dynamodb"), stack.client("sqs")) for _ in range(threads)]

    def work(index: int, deadline: float, sample: Sample) -> None:
        rng = seeded(2000 + index)
        dynamodb, sqs = clients[index]
        number = 0
        while time.perf_counter() < deadline:
            number += 1
            item = raw_item(rng, videos, index, number)
            started = time.perf_counter()
            try:
                dynamodb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")
                sqs.send_message(
                    QueueUrl=queue,
                    MessageBody=json.dumps({"case_id": item["case_id"]["S"], "priority": "normal", "queued_at": ""}),
                )
            except Exception as error:
                sample.statuses[0] = sample.statuses.get(0, 0) + 1
                if len(sample.errors) < 3:
                    sample.errors.append(repr(error))
                continue
            sample.latencies.append(time.perf_counter() - started)
            sample.statuses[200] = sample.statuses.get(200, 0) + 1

    videos.start()
    return _together(threads, duration, work)


def catch_up(stack: Stack, accepted: list[tuple[str, str]], timeout: float) -> tuple[float | None, int]:
    """Seconds until every answered report is on its case and every case queued (None if not within timeout),
    and how many cases were still incomplete then."""
    expected: dict[str, set[str]] = {}
    for case_id, report_id in accepted:
        expected.setdefault(case_id, set()).add(report_id)
    cases, waited = wait_for_cases(stack, expected, time.monotonic() + timeout)
    return waited, len(incomplete(cases, expected))


def merged(samples: list[Sample]) -> Sample:
    """One sample of all threads."""
    total = Sample()
    for sample in samples:
        total.latencies += sample.latencies
        total.with_key += sample.with_key
        total.accepted += sample.accepted
        total.errors += sample.errors
        for status, count in sample.statuses.items():
            total.statuses[status] = total.statuses.get(status, 0) + count
    return total


def warm_up(stack: Stack, keys: list[str], videos: Videos) -> None:
    """One report per partner (the authorizer's cache, first imports and connections) before measuring."""
    host, port = stack.api
    rng = seeded(1)
    for index, key in enumerate(keys):
        api = Api(host, port, key)
        status, answer = api.call("POST", "/v1/reports", draft(rng, videos.pick(rng), index, 0).body)
        api.close()
        if status != 202:
            raise RuntimeError(f"warm-up report refused: {status} {answer}")


def run(
    duration: float = 20.0, partners: int = PARTNERS, videos: int = 1500, catch_up_timeout: float = 180
) -> dict[str, Any]:
    """Raw floor, then the API under load, on one fresh stack; the figures and the stack's memory."""
    pool = Videos(videos)
    busy_before = os.getloadavg()[0]
    with running() as stack:
        keys = [p["api_key"] for p in stack.ensure_partners(partners)]
        warm_up(stack, keys, pool)
        raw_samples, raw_time = raw_load(stack, partners, duration, pool)
        time.sleep(2)  # the stream trigger reads (and filters out) the floor's records before the API's turn
        api_samples, api_time = api_load(stack, keys, duration, pool)
        after_load = stack.status()
        caught_up, pending = catch_up(stack, merged(api_samples).accepted, catch_up_timeout)
        after_catch_up = stack.status()
        logged = stack.failures_logged()
    raw, api = merged(raw_samples), merged(api_samples)
    raw_rate = len(raw.latencies) / raw_time
    api_rate = len(api.accepted) / api_time
    cases = {case_id for case_id, _ in api.accepted}
    return {
        "ingest": {
            "duration_s": duration,
            "partners": partners,
            "reports": len(api.accepted),
            "reports_per_s": round(api_rate, 1),
            **{f"latency_{k}_ms": v for k, v in percentiles(api.latencies).items()},
            "p50_ms_with_idempotency_key": round(statistics.median(api.with_key) * 1000, 1) if api.with_key else None,
            **{f"answers_{k or 'failed_connection'}": v for k, v in sorted(api.statuses.items())},
            "cases": len(cases),
            "raw_moto_reports_per_s": round(raw_rate, 1),
            **{f"raw_moto_latency_{k}_ms": v for k, v in percentiles(raw.latencies).items()},
            "ratio_vs_raw_moto": round(api_rate / raw_rate, 3) if raw_rate else None,
            "case_builder_catch_up_s": round(caught_up, 1) if caught_up is not None else None,
            "cases_pending_after_catch_up_timeout": pending,
            # The load generator, the stack and moto share these CPUs; other work on them lowers every figure.
            "cpus": os.cpu_count(),
            "load_average_1m_before": round(busy_before, 2),
            **({"errors": (raw.errors + api.errors)[:5]} if raw.errors or api.errors else {}),
            **({"stack_log_failures": [line[:200] for line in logged[:5]]} if logged else {}),
        },
        "memory": {
            "peak_rss_mib_after_load": round(after_load["VmHWM"] / 1024, 1),
            "peak_rss_mib_after_catch_up": round(after_catch_up["VmHWM"] / 1024, 1),
            "rss_mib_after_catch_up": round(after_catch_up["VmRSS"] / 1024, 1),
        },
    }


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--partners", type=int, default=PARTNERS)
    args = parser.parse_args()
    print(json.dumps(run(args.duration, args.partners), indent=2))
