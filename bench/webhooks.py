"""`make bench` webhooks: deliveries through the local stack to a receiver on this machine.

One partner registers a webhook pointing at a receiver in this process and sends reports of distinct videos,
one after the other; each becomes a ``report.received`` delivery. Then cases are decided through the reviewer
API, each becoming a ``report.decided`` delivery. Measured in the same run:

- deliveries per second: ``report.received`` deliveries over the time from the first report sent to the last
  delivery received;
- decision to delivery (p50/p95): from the reviewer API's answer to a decision to its ``report.decided``
  arriving; the path is the table's stream, EventsFunction, the delivery queue, DeliveryFunction, HTTP;
- the floor, the stream trigger's own latency (p50/p95): from a report's 202 to its case on a review queue,
  which the case builder, the stream's other consumer, records (read from the table).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import Api, percentiles, running

REPORTS = 60
DECISIONS = 20
VIDEO = "https://www.tiktok.com/@kabar.pemilu/video/73183012345{:08d}"


class Receiver(BaseHTTPRequestHandler):
    """Records when each event arrived (monotonic seconds)."""

    arrived: dict[str, tuple[float, dict[str, Any]]] = {}  # noqa: RUF012 - one receiver per run
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        event = json.loads(body)
        with Receiver.lock:
            Receiver.arrived.setdefault(event["id"], (time.monotonic(), event))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _wait(check: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def run(reports: int = REPORTS, decisions: int = DECISIONS) -> dict[str, Any]:
    """The figures above, from one fresh local stack."""
    Receiver.arrived.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with running() as stack:
            host, port = stack.api
            partner = stack.info["partners"][0]
            api = Api(host, port, partner["api_key"])
            status, made = api.call("POST", "/v1/webhooks", {"url": f"http://127.0.0.1:{server.server_address[1]}/"})
            if status != 201:
                raise RuntimeError(f"webhook not registered: {status} {made}")
            sent: dict[str, float] = {}
            cases: dict[str, str] = {}
            start = time.monotonic()
            for n in range(reports):
                body = {
                    "content_url": VIDEO.format(n),
                    "category": "misinformation",
                    "region_code": "31.71",
                    "description": "Video menyebarkan klaim palsu bahwa TPS dipindahkan.",
                }
                status, answer = api.call("POST", "/v1/reports", body)
                if status == 202:
                    sent[answer["report_id"]] = time.monotonic()
                    cases[answer["report_id"]] = answer["case_id"]

            def received() -> dict[str, float]:
                with Receiver.lock:
                    return {
                        e["data"]["report_id"]: at
                        for at, e in Receiver.arrived.values()
                        if e["type"] == "report.received"
                    }

            _wait(lambda: len(received()) >= len(sent), 120)
            got = received()
            last = max(got.values(), default=start)

            # The floor: the case builder (the stream's other consumer) queueing a new report's case, one report at
            # a time, from its 202 to the case's queue mark in the table.
            table = stack.client("dynamodb")
            name = stack.info["env"]["KANAL_TABLE_NAME"]
            queued: list[float] = []
            for n in range(decisions):
                body = {
                    "content_url": VIDEO.format(reports + n),
                    "category": "misinformation",
                    "region_code": "31.71",
                    "description": "Video menyebarkan klaim palsu bahwa TPS dipindahkan.",
                }
                status, answer = api.call("POST", "/v1/reports", body)
                at = time.monotonic()
                key = {"pk": {"S": f"CASE#{answer['case_id']}"}, "sk": {"S": "CASE"}}

                def on_queue(key: dict[str, Any] = key) -> bool:
                    return "queued" in table.get_item(TableName=name, Key=key).get("Item", {})

                if status == 202 and _wait(on_queue, 30):
                    queued.append(time.monotonic() - at)

            reviewer = Api(host, port, "", timeout=30)
            reviewer.headers = {"Content-Type": "application/json", "X-Kanal-Local-Reviewer": "bench"}
            decided_at: dict[str, float] = {}
            for _ in range(decisions):
                status, claimed = reviewer.call("POST", "/v1/review/next", {"wait_seconds": 5})
                if status != 200:
                    break
                case_id = claimed["case"]["case_id"]
                decision = {"outcome": "no_violation", "policy": "misinformation", "reason": "Bench: no violation."}
                status, _ = reviewer.call("POST", f"/v1/review/cases/{case_id}/decision", decision)
                if status == 200:
                    decided_at[case_id] = time.monotonic()

            def decided() -> dict[str, float]:
                with Receiver.lock:
                    return {
                        e["data"]["case_id"]: at for at, e in Receiver.arrived.values() if e["type"] == "report.decided"
                    }

            _wait(lambda: set(decided_at) <= set(decided()), 120)
            arrivals = decided()
            to_delivery = [arrivals[c] - at for c, at in decided_at.items() if c in arrivals]
    finally:
        server.shutdown()
        server.server_close()
    delivery = percentiles(to_delivery)
    floor = percentiles(queued)
    return {
        "reports": reports,
        "received_deliveries": len(got),
        "deliveries_per_s": round(len(got) / max(last - start, 1e-9), 1),
        "decisions": len(decided_at),
        "decided_deliveries": len(to_delivery),
        "decision_to_delivery_p50_ms": delivery["p50"],
        "decision_to_delivery_p95_ms": delivery["p95"],
        "report_to_queued_p50_ms": floor["p50"],
        "report_to_queued_p95_ms": floor["p95"],
        "ratio_p50_vs_stream_trigger": round(delivery["p50"] / floor["p50"], 2) if floor["p50"] else None,
    }


if __name__ == "__main__":
    from datetime import UTC, datetime

    import report

    measured = run()
    print(json.dumps(measured, indent=2))
    note = f"Measured alone (`python bench/webhooks.py`) on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. "
    print(f"written to {report.write_section(report.webhooks({'webhooks': measured}, note))}", file=sys.stderr)
