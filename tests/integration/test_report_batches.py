"""Batches and the CSV import over HTTP on a real `kanal dev`: the local gateway routes POST /v1/reports/batch
(its authorizer, its limits), each stored report reaches a review queue through the stream, and `kanal reports
import` finds the stack and a demo partner's key in .kanal/dev.json, as a partner's staff would run it."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
import requests

from tests.support.local_stack import Running, eventually, kanal

pytestmark = pytest.mark.timeout(240)

VIDEO = "https://www.tiktok.com/@kabar.pemilu/video/7318301234567892{:03d}"


def body(n: int, **changes: Any) -> dict[str, Any]:
    values = {
        "content_url": VIDEO.format(n),
        "category": "misinformation",
        "region_code": "31.71",
        "description": "Video menyebarkan klaim palsu bahwa TPS dipindahkan.",
    }
    return {**values, **changes}


def post_batch(stack: Running, partner: str, reports: Any, raw: str | None = None) -> requests.Response:
    return requests.post(
        f"{stack.url}/v1/reports/batch",
        data=raw if raw is not None else json.dumps({"reports": reports}),
        headers={"Authorization": f"Bearer {stack.keys[partner]}", "Content-Type": "application/json"},
        timeout=30,
    )


def queued(stack: Running, case_id: str) -> bool:
    key = {"pk": {"S": f"CASE#{case_id}"}, "sk": {"S": "CASE"}}
    item = stack.client("dynamodb").get_item(TableName=stack.info["env"]["KANAL_TABLE_NAME"], Key=key).get("Item", {})
    return "queued" in item


def test_a_mixed_batch_through_the_local_gateway_and_each_stored_report_reaches_review(stack: Running) -> None:
    answer = post_batch(stack, "Bawaslu RI", [body(1), body(2, category="spam"), body(3, idempotency_key="b-3")])
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [(r["index"], r["status"]) for r in results] == [(0, 202), (1, 422), (2, 202)]
    assert results[1]["problem"]["errors"][0]["field"] == "category"
    for stored in (results[0], results[2]):
        assert eventually(lambda s=stored: queued(stack, s["report"]["case_id"]), 60), stored
    again = post_batch(stack, "Bawaslu RI", [body(3, idempotency_key="b-3")])
    assert again.json()["results"][0]["report"] == results[2]["report"]
    too_big = post_batch(
        stack, "Bawaslu RI", None, raw=json.dumps({"reports": [body(4, description="x" * 5000)] * 250})
    )
    assert too_big.status_code == 413
    assert too_big.json()["status"] == 413
    unauthorized = requests.post(f"{stack.url}/v1/reports/batch", json={"reports": [body(5)]}, timeout=10)
    assert unauthorized.status_code == 401


def test_kanal_reports_import_sends_a_spreadsheets_file_once(stack: Running) -> None:
    rows = [
        body(10 + n, description=f"Temuan patroli siber ke-{n};\nsalinan tangkapan layar terlampir.") for n in range(3)
    ]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=";", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    (stack.folder / "temuan.csv").write_text(out.getvalue(), encoding="utf-8-sig", newline="")

    checked = kanal(stack, "reports", "import", "temuan.csv", "--dry-run")
    assert checked.returncode == 0, checked.stderr
    sent = kanal(stack, "reports", "import", "temuan.csv", "--partner", "KPU RI")
    assert sent.returncode == 0, sent.stderr
    assert "3/3 rows sent" in sent.stderr
    text = (stack.folder / "temuan.results.csv").read_text(encoding="utf-8-sig")
    results = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert [r["row"] for r in results] == ["2", "3", "4"]
    assert {r["status"] for r in results} == {"received"}
    for result in results:
        shown = stack.get("KPU RI", f"/v1/reports/{result['report_id']}")
        assert shown.status_code == 200
        assert shown.json()["description"].startswith("Temuan patroli siber")

    def count() -> int:
        return len(stack.get("KPU RI", "/v1/reports", limit="100").json()["items"])

    before = count()
    again = kanal(stack, "reports", "import", "temuan.csv", "--partner", "KPU RI")
    assert again.returncode == 0, again.stderr
    assert count() == before
    unknown = kanal(stack, "reports", "import", "temuan.csv", "--partner", "Nobody")
    assert unknown.returncode == 2
    assert "no demo partner named 'Nobody'" in unknown.stderr
