"""The figures over HTTP on `kanal dev`: a report, its decision by a reviewer (`kanal review`), then GET /v1/stats
and `kanal stats export` as partners use them."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from tests.support.local_stack import Running, eventually, kanal

#: Every test here waits on `kanal dev` (the first also starts it): a hang guard, not a timing.
pytestmark = pytest.mark.timeout(240)

WIB = timezone(timedelta(hours=7))
VIDEO = "https://www.tiktok.com/@angka/video/7300000000000001616"


def test_a_decision_reaches_the_figures_and_the_export(stack: Running) -> None:
    sent = stack.post(
        "Bawaslu RI",
        {
            "content_url": VIDEO,
            "category": "synthetic_media",
            "region_code": "35.78",
            "description": "Video suara kandidat hasil rekayasa AI.",
        },
    )
    assert sent.status_code == 202, sent.text
    case_id = sent.json()["case_id"]
    day = datetime.fromisoformat(sent.json()["received_at"]).astimezone(WIB).date().isoformat()
    for _ in range(10):  # other cases may come first: decide them until ours comes
        shown = kanal(stack, "review", "next", "--json", "--wait", "5", "--reviewer", "ana")
        assert shown.returncode == 0, shown.stderr
        claimed = json.loads(shown.stdout) if shown.stdout.strip() else None
        assert claimed is not None
        outcome = "labelled" if claimed["case_id"] == case_id else "no_violation"
        decide = ["review", "decide", claimed["case_id"], "--outcome", outcome, "--policy", "synthetic_media"]
        assert kanal(stack, *decide, "--reason", "Konten sintetis tanpa label.", "--reviewer", "ana").returncode == 0
        if claimed["case_id"] == case_id:
            break
    window = {"from": day, "to": day, "group_by": "policy,outcome,region"}

    def labelled() -> dict[str, object] | None:
        answer = stack.get("Bawaslu RI", "/v1/stats", scope="national", **window)
        assert answer.status_code == 200, answer.text
        found = [g for g in answer.json()["groups"] if g["outcome"] == "labelled" and g["region"] == "35"]
        return found[0] if found else None

    group = eventually(labelled, 60)  # the decision reaches the counters through the stream
    assert group is not None
    assert (group["policy"], group["cases"], group["decided"], group["pending"]) == ("synthetic_media", 1, 1, 0)
    assert group["median_hours_to_decision"] is not None
    refused = stack.get("Perludem", "/v1/stats", scope="national", **window)
    assert refused.status_code == 403
    assert refused.headers["Content-Type"] == "application/problem+json"
    mine = stack.get("Perludem", "/v1/stats", **window).json()
    assert mine["scope"] == "own"
    assert not any(g["outcome"] == "labelled" and g["region"] == "35" for g in mine["groups"])

    out = stack.folder / "figures.csv"
    exported = kanal(
        stack, "stats", "export", "--partner", "Bawaslu RI", "--scope", "national", "--from", day, "--to", day,
        "--group-by", "outcome,region", "--out", str(out),
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    assert {(r["outcome"], r["region"], r["cases"]) for r in rows if r["row"] == "group"} >= {("labelled", "35", "1")}
