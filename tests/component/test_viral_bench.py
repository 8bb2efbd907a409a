"""`make bench`'s viral_video (bench/viral.py), scaled down: 300 reports of one video among 30 others, through
the intake and case-builder handlers on moto. Counts and sizes only, nothing timed."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest
from kanal import clock

from tests.support import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import report
import viral


@pytest.fixture
def restored(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The bench sets the functions' environment and fixes the clock for its process: undo both."""
    saved = dict(os.environ)
    monkeypatch.setattr(clock, "now", clock.now)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_viral_video_scaled_down(restored: None) -> None:
    found = viral.run(viral=300, others=30, size_at=100)

    assert found["answers_202"] == found["stream_records"] == 330
    assert found["case_builder_record_failures"] == found["records_parked"] == 0
    assert found["viral_case_report_count"] == 300
    assert found["other_reports_case_reached_queue_share"] == 1.0
    assert found["cases_queued"] == 31  # the viral case and one per other video
    assert found["queued_cases_without_their_message"] == 0
    item = found["viral_case_item"]
    assert 100 <= item["reports_first"] < 300
    assert item["reports_end"] == 300
    assert item["bytes_end"] - item["bytes_first"] <= 2  # only report_count's digits may grow
    assert item["old_design_report_ids_bytes_end_computed"] == 300 * viral.REPORT_ID_BYTES
    writes = found["case_builder_writes_per_report"]
    # Each other video: its case's transaction (the update and the report's entry), its message, its queue
    # mark, its "received" entry, its overdue timer; and its counting in the figures, one transaction of five
    # items (the report's marker, the national and the partner's notice, a counter cell of each).
    assert writes["others"] == {
        "write_requests": 6.0,
        "BatchWriteItem": 1.0,
        "PutItem": 1.0,
        "SendMessage": 1.0,
        "TransactWriteItems": 2.0,
        "UpdateItem": 1.0,
        "batch_write_items": 1.0,
        "transaction_items": 7.0,
    }
    assert found["case_builder_writes"]["all"]["SendMessage"] == 31  # one message per case, none parked
    viral_transactions = writes["viral"]["TransactWriteItems"] * 300 - 300  # less one counting per report
    assert found["case_builder_batches"] <= round(viral_transactions) <= 2 * found["case_builder_batches"]
    # Counting a report is five items, or seven when an older report of a later batch moves its notice's cell.
    counted = writes["viral"]["transaction_items"] * 300 - 300 - viral_transactions
    assert 5 * 300 <= round(counted) <= 7 * 300
    section = report.viral_video({"viral_video": found})
    assert section.startswith(report.VIRAL_HEADING)
    assert "(computed)" in section
