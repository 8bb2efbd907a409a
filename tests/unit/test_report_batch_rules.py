"""A batch of reports against the rules of one report (in-memory fakes): over any mix of new, replayed, reused,
in-flight and out-of-range reports, the batch answers each exactly as POST /v1/reports would have answered it
alone, sent in the batch's order; it stores exactly the valid new ones; sent again, it stores nothing."""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from kanal.calendar import default_calendar
from kanal.errors import IdempotencyInProgress, IdempotencyKeyReused, InvalidRequest, KanalError
from kanal.intake import IN_FLIGHT, Intake, Submission, idempotent_report_id
from kanal.models import NewReport

from tests.support.fakes import MemoryCases, MemoryReports

WIB = timezone(timedelta(hours=7))
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=WIB)
PARTNER = "p_a"
KEYS = ["k-1", "k-2", "k-3", "k-held"]


@dataclass(frozen=True)
class Item:
    """One report of a drawn batch: which video, which text, whether it is out of range, its key."""

    video: int
    text: int
    future: bool
    key: str | None

    def body(self) -> NewReport:
        values: dict[str, Any] = {
            "content_url": f"https://www.tiktok.com/@akun/video/73345678901234567{self.video:02d}",
            "category": "misinformation",
            "region_code": "31.71",
            "description": f"Video hoaks nomor {self.text}.",
        }
        if self.future:
            values["observed_at"] = (NOW + timedelta(days=1)).isoformat()
        return NewReport.model_validate(values)


ITEMS = st.builds(
    Item,
    video=st.integers(0, 3),
    text=st.integers(0, 1),
    future=st.sampled_from([False, False, False, True]),
    key=st.none() | st.sampled_from(KEYS),
)
BATCHES = st.lists(ITEMS, min_size=1, max_size=12)
#: What was stored before the batch: (key, item) sent alone.
EARLIER = st.lists(st.tuples(st.sampled_from(KEYS[:3]), ITEMS), max_size=3)


def world(earlier: list[tuple[str, Item]]) -> tuple[Intake, MemoryReports]:
    """An intake with the earlier reports stored (alone), a key held by a request still running, and report ids
    drawn in a repeatable order."""
    reports = MemoryReports()
    counter = itertools.count()
    intake = Intake(reports, MemoryCases(), default_calendar(), new_id=lambda: f"r_new{next(counter)}")
    for key, item in earlier:
        with contextlib.suppress(KanalError):
            intake.submit(PARTNER, item.body(), NOW - timedelta(hours=1), key)
    reports.begin(idempotent_report_id(PARTNER, "k-held"), NOW, NOW + IN_FLIGHT)
    return intake, reports


def alone(intake: Intake, item: Item) -> Submission | KanalError:
    """What POST /v1/reports answers for the item (its key in the header)."""
    try:
        return intake.submit(PARTNER, item.body(), NOW, item.key)
    except KanalError as error:
        return error


def same(batch: Submission | KanalError, single: Submission | KanalError) -> bool:
    if isinstance(batch, Submission) and isinstance(single, Submission):
        return batch == single
    if isinstance(batch, IdempotencyKeyReused) and isinstance(single, IdempotencyKeyReused):
        return batch.field == "idempotency_key" and single.field == "Idempotency-Key"
    if isinstance(batch, InvalidRequest) and isinstance(single, InvalidRequest):
        return (batch.field, batch.message) == (single.field, single.message)
    return isinstance(batch, IdempotencyInProgress) and isinstance(single, IdempotencyInProgress)


@settings(max_examples=300, deadline=None)
@given(batch=BATCHES, earlier=EARLIER)
def test_a_batch_answers_each_report_as_it_would_have_been_answered_alone_in_order(
    batch: list[Item], earlier: list[tuple[str, Item]]
) -> None:
    batched, stored_by_batch = world(earlier)
    singly, stored_singly = world(earlier)
    before = set(stored_by_batch.items)
    outcomes = batched.submit_many(PARTNER, [(i.body(), i.key) for i in batch], NOW)
    expected = [alone(singly, item) for item in batch]
    assert len(outcomes) == len(batch)
    for outcome, single in zip(outcomes, expected, strict=True):
        assert same(outcome, single), (outcome, single)
    new = {i for i in stored_by_batch.items if i not in before}
    assert new == {o.receipt.report_id for o in outcomes if isinstance(o, Submission) and o.stored}
    assert stored_by_batch.items == stored_singly.items


@settings(max_examples=200, deadline=None)
@given(batch=BATCHES.map(lambda items: [Item(i.video, i.text, i.future, i.key or "k-1") for i in items]))
def test_a_keyed_batch_sent_again_stores_nothing_and_answers_the_same(batch: list[Item]) -> None:
    intake, reports = world([])
    first = intake.submit_many(PARTNER, [(i.body(), i.key) for i in batch], NOW)
    stored = dict(reports.items)
    again = intake.submit_many(
        PARTNER, [(i.body(), i.key) for i in batch], NOW + timedelta(seconds=10)
    )  # the hold still held
    assert reports.items == stored
    for one, two in zip(first, again, strict=True):
        if isinstance(one, Submission):
            assert isinstance(two, Submission)
            assert two.receipt == one.receipt
            assert not two.stored
        else:
            assert type(two) is type(one)
