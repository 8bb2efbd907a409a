"""Batches (POST /v1/reports/batch) against single reports (POST /v1/reports).

Requests per report: batches of 1, 10 and 100 new reports (of distinct videos, with and without idempotency
keys), and the same keyed batch sent again, through the intake handler on moto in this process; the AWS
requests on the request path counted with botocore's events (``counts.Requests``), with the DynamoDB capacity
they bill. Nothing is timed.

Reports per second: one fresh `kanal dev`; a few partners, each a thread with its own key and keep-alive
connection, first send single reports back to back for a while, then batches of 100 for as long, in the same
run (stack.draft's realistic bodies, half with a key). A report counts when its answer (the 202, or its
batch entry's 202) came back within the time.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from counts import NOW, Requests, aws_stack
from ingest import Sample, _together, merged
from stack import Api, Stack, Videos, draft, percentiles, running, seeded

PARTNERS = 4
BATCH = 100


def batch_event(partner_id: str, reports: list[dict[str, Any]]) -> dict[str, Any]:
    """A POST /v1/reports/batch event from events/ with these reports."""
    from kanal_local.template import default_template_path

    path = default_template_path().parent / "events" / "post_report_batch.json"
    event: dict[str, Any] = json.loads(path.read_text())
    event["requestContext"]["authorizer"] = {"principalId": partner_id, "partner_id": partner_id}
    event["body"] = json.dumps({"reports": reports})
    return event


def report(n: int, key: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "content_url": f"https://www.tiktok.com/@akun/video/73183{n:014d}",
        "category": "misinformation",
        "region_code": "31.71",
        "description": "Klaim palsu tentang TPS.",
    }
    return {**body, "idempotency_key": key} if key else body


def request_counts() -> dict[str, Any]:
    """AWS requests (and capacity) on the request path of a batch, in all and per report."""
    from kanal import wiring
    from kanal.models import PartnerKind

    results: dict[str, Any] = {}
    with aws_stack() as invoke:
        partner = wiring.services().partners.create("A", PartnerKind.ELECTION_AGENCY, NOW).partner.partner_id
        start = 0
        for keyed in (False, True):
            for size in (1, 10, 100):
                batch = [report(start + i, f"k-{start + i}" if keyed else None) for i in range(size)]
                start += size
                runs = [("", batch)] + ([("_sent_again", batch)] if keyed else [])
                for suffix, reports in runs:
                    with Requests().counting() as counted:
                        answer = invoke("IntakeFunction", batch_event(partner, reports))
                    statuses = {entry["status"] for entry in json.loads(answer["body"])["results"]}
                    if statuses != {202}:
                        raise RuntimeError(f"a batch of {size} was not stored: {answer['body'][:300]}")
                    totals = counted.totals()
                    name = f"batch_of_{size}{'_keyed' if keyed else ''}{suffix}"
                    results[name] = {
                        **totals,
                        "requests_per_report": round(totals["total"] / size, 3),
                        "write_units_per_report": round(totals["dynamodb_write_units"] / size, 2),
                    }
    return results


def singles(stack: Stack, keys: list[str], duration: float, videos: Videos) -> tuple[list[Sample], float]:
    """Every partner posting single reports back to back."""
    host, port = stack.api

    def work(index: int, deadline: float, sample: Sample) -> None:
        rng, api, number = seeded(3000 + index), Api(host, port, keys[index]), 0
        while time.perf_counter() < deadline:
            number += 1
            sent = draft(rng, videos.pick(rng), index, number)
            started = time.perf_counter()
            status, _ = api.call("POST", "/v1/reports", sent.body, sent.headers)
            sample.latencies.append(time.perf_counter() - started)
            sample.statuses[status] = sample.statuses.get(status, 0) + 1
            if status == 202:
                sample.accepted.append(("", ""))
        api.close()

    return _together(len(keys), duration, work)


def batched(stack: Stack, keys: list[str], duration: float, videos: Videos) -> tuple[list[Sample], float]:
    """Every partner posting batches of 100 back to back (the same drafts, each key in its report)."""
    host, port = stack.api

    def work(index: int, deadline: float, sample: Sample) -> None:
        rng, api, number = seeded(4000 + index), Api(host, port, keys[index], timeout=60), 0
        while time.perf_counter() < deadline:
            reports = []
            for _ in range(BATCH):
                number += 1
                sent = draft(rng, videos.pick(rng), index, number)
                key = sent.headers.get("Idempotency-Key")
                reports.append({**sent.body, **({"idempotency_key": key} if key else {})})
            started = time.perf_counter()
            status, answer = api.call("POST", "/v1/reports/batch", {"reports": reports})
            sample.latencies.append(time.perf_counter() - started)
            sample.statuses[status] = sample.statuses.get(status, 0) + 1
            if status == 200:
                for entry in answer["results"]:
                    sample.statuses[1000 + entry["status"]] = sample.statuses.get(1000 + entry["status"], 0) + 1
                    if entry["status"] == 202:
                        sample.accepted.append(("", ""))
            elif len(sample.errors) < 3:
                sample.errors.append(f"{status} {json.dumps(answer)[:300]}")
        api.close()

    return _together(len(keys), duration, work)


def throughput(duration: float = 15.0, partners: int = PARTNERS, videos: int = 1500) -> dict[str, Any]:
    """Reports per second through the local API: single calls, then batches of 100, on one fresh stack."""
    pool = Videos(videos)
    busy_before = os.getloadavg()[0]
    with running() as stack:
        keys = [p["api_key"] for p in stack.ensure_partners(partners)]
        pool.start()
        api = Api(*stack.api, keys[0])
        api.call("POST", "/v1/reports/batch", {"reports": [draft(seeded(1), pool.pick(seeded(1)), 0, 0).body]})
        api.close()
        one, one_time = singles(stack, keys, duration, pool)
        many, many_time = batched(stack, keys, duration, pool)
    single, batch = merged(one), merged(many)
    single_rate, batch_rate = len(single.accepted) / one_time, len(batch.accepted) / many_time
    entries = {k - 1000: v for k, v in batch.statuses.items() if k >= 1000}
    return {
        "duration_s_each": duration,
        "partners": partners,
        "single_reports": len(single.accepted),
        "single_reports_per_s": round(single_rate, 1),
        **{f"single_latency_{k}_ms": v for k, v in percentiles(single.latencies).items()},
        "batch_size": BATCH,
        "batched_reports": len(batch.accepted),
        "batched_reports_per_s": round(batch_rate, 1),
        **{f"batch_latency_{k}_ms": v for k, v in percentiles(batch.latencies).items()},
        "ratio_batched_vs_single": round(batch_rate / single_rate, 2) if single_rate else None,
        **{f"single_answers_{k or 'failed_connection'}": v for k, v in sorted(single.statuses.items())},
        **{f"batch_answers_{k or 'failed_connection'}": v for k, v in sorted(batch.statuses.items()) if k < 1000},
        **{f"batch_entries_{k}": v for k, v in sorted(entries.items())},
        "cpus": os.cpu_count(),
        "load_average_1m_before": round(busy_before, 2),
        **({"errors": (single.errors + batch.errors)[:5]} if single.errors or batch.errors else {}),
    }


def run() -> dict[str, Any]:
    """Both parts."""
    return {"aws_requests": request_counts(), "throughput": throughput()}


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--counts-only", action="store_true", help="only the request counts (no local stack)")
    args = parser.parse_args()
    found: dict[str, Any] = {"aws_requests": request_counts()}
    if not args.counts_only:
        found["throughput"] = throughput(args.duration)
    print(json.dumps(found, indent=2))
