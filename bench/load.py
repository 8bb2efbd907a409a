"""`make load`: N partners sending M reports each, all at once, to a freshly started local stack; then checks.

The reports are stack.draft's: videos from a pool where a few are reported often, and a video going viral
every second that all partners report while its case is being opened; several categories and regions.

Checks, after a bounded wait for the table's stream to catch up:

- no answer was a 5xx (or a failed connection), and every report was accepted (202);
- every accepted report is readable by its partner (GET /v1/reports/{id}: same report, case and URL);
- reports on one video share one case, and different videos have different cases;
- every case holds all its reports and reached a queue: the case records ``queued``, that queue holds a
  message for it, and a case reported by two partners or for an urgent reason is in the urgent queue.

Prints one summary line (and, on failure, a few examples of each failed check); exits 1 if a check fails.
Everything runs on 127.0.0.1, bounded by ``--timeout`` seconds in all.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kanal.case_builder import priority_of
from kanal.models import Case, Priority

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import Api, Stack, StackFailed, Videos, draft, drain_queue, percentiles, running, seeded, wait_for_cases


@dataclass(frozen=True)
class Sent:
    """One POST and its answer."""

    partner: int
    video: int
    status: int
    took: float
    report_id: str | None = None
    case_id: str | None = None
    content_url: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Read:
    """What GET /v1/reports/{id} answered to the report's own partner."""

    status: int
    report_id: str | None = None
    case_id: str | None = None
    content_url: str | None = None


@dataclass
class Outcome:
    """The checks' results: counts for the summary, and examples of what failed."""

    sent: int = 0
    accepted: int = 0
    server_errors: int = 0
    refused: dict[int, int] = field(default_factory=dict)
    readable: int = 0
    videos: int = 0
    cases: int = 0
    queued: int = 0
    failures: dict[str, list[str]] = field(default_factory=dict)

    def fail(self, check: str, example: str) -> None:
        """Record a failure of ``check`` (its first few examples are kept)."""
        examples = self.failures.setdefault(check, [])
        if len(examples) < 5:
            examples.append(example)
        else:
            examples[-1] = "..."

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return not self.failures


def check(
    sent: Sequence[Sent],
    planned: int,
    reads: dict[str, Read],
    cases: dict[str, Case],
    messages: dict[str, list[dict[str, Any]]],
    now: datetime,
) -> Outcome:
    """Every check on what was sent, read back, stored as cases and found in the queues (by queue name); a
    case's queue is the one the case builder's rule (``priority_of``) gives it at ``now``."""
    out = Outcome(sent=len(sent))
    if len(sent) < planned:
        out.fail("sent", f"{planned - len(sent)} of {planned} reports not sent before the timeout")
    accepted = [s for s in sent if s.status == 202 and s.report_id and s.case_id]
    out.accepted = len(accepted)
    for s in sent:
        if s.status >= 500 or s.status == 0:
            out.server_errors += 1
            out.fail("5xx", f"partner {s.partner} video {s.video}: {s.status or 'connection failed'} {s.error or ''}")
        elif s.status != 202:
            out.refused[s.status] = out.refused.get(s.status, 0) + 1
            out.fail("accepted", f"partner {s.partner} video {s.video}: {s.status}")

    for s in accepted:
        read = reads.get(str(s.report_id))
        if read is None or read.status != 200:
            out.fail("readable", f"{s.report_id} of partner {s.partner}: {read.status if read else 'not read'}")
        elif (read.report_id, read.case_id, read.content_url) != (s.report_id, s.case_id, s.content_url):
            out.fail("readable", f"{s.report_id} of partner {s.partner} reads as {read.report_id} in {read.case_id}")
        else:
            out.readable += 1

    cases_of_video: dict[int, set[str]] = defaultdict(set)
    videos_of_case: dict[str, set[int]] = defaultdict(set)
    reports_of_case: dict[str, set[str]] = defaultdict(set)
    for s in accepted:
        cases_of_video[s.video].add(str(s.case_id))
        videos_of_case[str(s.case_id)].add(s.video)
        reports_of_case[str(s.case_id)].add(str(s.report_id))
    out.videos, out.cases = len(cases_of_video), len(videos_of_case)
    for video, case_ids in cases_of_video.items():
        if len(case_ids) > 1:
            out.fail("one case per video", f"video {video} in {len(case_ids)} cases: {sorted(case_ids)}")
    for case_id, videos in videos_of_case.items():
        if len(videos) > 1:
            out.fail("one case per video", f"case {case_id} holds {len(videos)} videos: {sorted(videos)}")

    in_queue: dict[str, set[str]] = defaultdict(set)
    for queue, bodies in messages.items():
        for body in bodies:
            in_queue[str(body.get("case_id"))].add(queue)
    for case_id, report_ids in reports_of_case.items():
        case = cases.get(case_id)
        if case is None:
            out.fail("queued", f"case {case_id} was never built")
            continue
        missing = len(report_ids) - case.report_count  # the case counts its reports (each once); ids are indexed
        if missing > 0:
            out.fail("queued", f"case {case_id} lacks {missing} of its {len(report_ids)} reports")
            continue
        marked = case.queued
        if marked is None:
            out.fail("queued", f"case {case_id} is not marked queued")
        elif marked not in in_queue[case_id]:
            out.fail("queued", f"case {case_id} marked {marked} but no {marked} message names it")
        elif priority_of(case, now) is Priority.URGENT and marked is not Priority.URGENT:
            out.fail("queued", f"case {case_id} ({len(case.partners)} partners) is in the {marked} queue")
        else:
            out.queued += 1
    return out


def summary(out: Outcome, partners: int, seconds: float, extra: str = "") -> str:
    """The one line `make load` prints."""
    rate = out.accepted / seconds if seconds else 0.0
    refused = f", refused {sum(out.refused.values())} ({out.refused})" if out.refused else ""
    queued = "all queued" if out.queued == out.cases else f"{out.queued} queued"
    videos = "ok" if "one case per video" not in out.failures else "FAILED"
    line = (
        f"load: {out.accepted} reports from {partners} partners in {seconds:.1f} s ({rate:.0f}/s){refused}, "
        f"{out.server_errors} 5xx, {out.readable}/{out.accepted} readable, {out.cases} cases {queued}, "
        f"videos→one case each: {videos}{extra}"
    )
    return line + ("" if out.ok else f"  FAILED: {', '.join(out.failures)}")


def send_all(stack: Stack, keys: list[str], reports: int, videos: Videos, deadline: float) -> tuple[list[Sent], float]:
    """Every partner sends its ``reports`` back to back, all partners starting together; stops at ``deadline``."""
    host, port = stack.api
    sent: list[list[Sent]] = [[] for _ in keys]
    barrier = threading.Barrier(len(keys) + 1)

    def partner(index: int) -> None:
        rng = seeded(index)
        api = Api(host, port, keys[index])
        barrier.wait()
        for number in range(reports):
            if time.monotonic() > deadline:
                break
            report = draft(rng, videos.pick(rng), index, number)
            started = time.perf_counter()
            status, answer = api.call("POST", "/v1/reports", report.body, report.headers)
            took = time.perf_counter() - started
            if status == 202:
                sent[index].append(
                    Sent(
                        index,
                        report.video,
                        status,
                        took,
                        answer["report_id"],
                        answer["case_id"],
                        report.body["content_url"],
                    )
                )
            else:
                error = str(answer.get("error") or answer.get("detail") or "") if isinstance(answer, dict) else None
                sent[index].append(Sent(index, report.video, status, took, error=error))
        api.close()

    threads = [threading.Thread(target=partner, args=(i,), daemon=True) for i in range(len(keys))]
    for thread in threads:
        thread.start()
    videos.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + 15)  # a request in flight has its own 10 s timeout
    return [s for partner_sent in sent for s in partner_sent], time.perf_counter() - started


def read_back(stack: Stack, keys: list[str], sent: list[Sent], deadline: float) -> dict[str, Read]:
    """GET every accepted report with its own partner's key, the partners in parallel."""
    host, port = stack.api
    reads: dict[str, Read] = {}

    def partner(index: int) -> None:
        api = Api(host, port, keys[index])
        for s in sent:
            if s.partner != index or s.status != 202 or time.monotonic() > deadline:
                continue
            status, answer = api.call("GET", f"/v1/reports/{s.report_id}")
            ok = status == 200 and isinstance(answer, dict)
            reads[str(s.report_id)] = (
                Read(status, answer.get("report_id"), answer.get("case_id"), answer.get("content_url"))
                if ok
                else Read(status)
            )
        api.close()

    threads = [threading.Thread(target=partner, args=(i,), daemon=True) for i in range(len(keys))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + 15)
    return reads


def queue_messages(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    """Every message in the review queues, by queue (urgent, normal)."""
    sqs = stack.client("sqs")
    return {queue: drain_queue(sqs, stack.env[f"{queue.upper()}_QUEUE_URL"]) for queue in ("urgent", "normal")}


def loopback(stack: Stack) -> None:
    """Refuse to load anything but 127.0.0.1."""
    for url in (stack.info["api_url"], stack.info["aws_endpoint"]):
        host = url.removeprefix("http://").rsplit(":", 1)[0]
        if not ipaddress.ip_address(host).is_loopback:
            raise StackFailed(f"{url} is not on the loopback interface")


def main(argv: Sequence[str] | None = None) -> int:
    """Start a stack, send, read back, wait for the cases, check, print one line."""
    parser = argparse.ArgumentParser(prog="make load", description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=8, help="partners sending at once (default 8)")
    parser.add_argument("--reports", type=int, default=50, help="reports each partner sends (default 50)")
    parser.add_argument("--timeout", type=float, default=180, help="seconds for everything (default 180)")
    parser.add_argument("--videos", type=int, help="distinct videos to pick from (default: 3 reports per video)")
    args = parser.parse_args(argv)
    if not (1 <= args.partners <= 100 and 1 <= args.reports <= 10_000 and args.timeout > 0):
        parser.error("--partners 1..100, --reports 1..10000, --timeout > 0")
    deadline = time.monotonic() + args.timeout
    videos = Videos(args.videos or max(1, args.partners * args.reports // 3))
    try:
        with running(timeout=min(60, args.timeout)) as stack:
            loopback(stack)
            keys = [p["api_key"] for p in stack.ensure_partners(args.partners, max(1.0, deadline - time.monotonic()))]
            sent, seconds = send_all(stack, keys, args.reports, videos, deadline)
            reading = time.perf_counter()
            reads = read_back(stack, keys, sent, deadline)
            read_seconds = time.perf_counter() - reading
            expected: dict[str, set[str]] = defaultdict(set)
            for s in sent:
                if s.status == 202:
                    expected[str(s.case_id)].add(str(s.report_id))
            cases, waited = wait_for_cases(stack, expected, deadline)
            messages = queue_messages(stack)
            logged = stack.failures_logged()
    except (StackFailed, OSError, TimeoutError) as error:
        print(f"load: the local stack failed: {error}", file=sys.stderr)
        return 1
    out = check(sent, args.partners * args.reports, reads, cases, messages, datetime.now(UTC))
    latency = percentiles([s.took for s in sent])
    print(
        summary(
            out,
            args.partners,
            seconds,
            f" (POST p50 {latency['p50']:.0f} ms, p99 {latency['p99']:.0f} ms;"
            f" {len(reads)} GETs in {read_seconds:.1f} s; "
            + (
                f"cases complete {waited:.1f} s after the GETs)"
                if waited is not None
                else "cases incomplete at the timeout)"
            ),
        )
    )
    for name, examples in out.failures.items():
        for example in examples:
            print(f"  {name}: {example}")
    for line in logged[:5]:
        print(f"  stack log: {line[:300]}")
    return 0 if out.ok else 1


if __name__ == "__main__":
    sys.exit(main())
