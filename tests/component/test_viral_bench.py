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
from kanal.stats import TOGETHER


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
    # The case's own transactions (one per batch, a second when it races) and the figures' counting: one change per
    # TOGETHER of a batch's reports of the case (kanal.stats), not one per report.
    transactions = round(writes["viral"]["TransactWriteItems"] * 300)
    batches = found["case_builder_batches"]
    counting = -(-300 // TOGETHER)  # at the least: every batch's reports in full chunks
    assert batches + counting <= transactions <= 2 * batches + counting + batches
    section = report.viral_video({"viral_video": found})
    assert section.startswith(report.VIRAL_HEADING)
    assert "(computed)" in section
