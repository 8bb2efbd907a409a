"""The webhook rules on in-memory fakes: registration, limits, ownership, rotation, publishing, delivery."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from kanal.errors import InvalidRequest, TooManyWebhooks, WebhookNotFound
from kanal.events import Addressed, Event, EventType, event_id
from kanal.reminders import ReminderKind
from kanal.webhooks import (
    DISABLE_AFTER,
    MAX_WEBHOOKS,
    RETRY_DELAYS,
    Dispatcher,
    Publisher,
    Webhooks,
)
from standardwebhooks import Webhook as Verifier

from tests.support.fakes import ClearBox, MemoryDeliveries, MemoryFeed, MemoryNotifier, MemoryTimers, MemoryWebhooks

T0 = datetime(2024, 2, 10, 1, 0, tzinfo=UTC)
URL = "https://hooks.bawaslu.go.id/kanal"


def service() -> tuple[Webhooks, MemoryWebhooks, MemoryDeliveries]:
    store, deliveries = MemoryWebhooks(), MemoryDeliveries()
    counter = iter(range(1000))
    return Webhooks(store, ClearBox(), deliveries, new_id=lambda: f"wh_{next(counter)}"), store, deliveries


def event(kind: EventType = EventType.REPORT_DECIDED, source: str = "s", partner: str = "p_bawaslu") -> Event:
    return Event(id=event_id(source, partner), type=kind, created_at=T0, data={"case_id": "c_1"})


def test_a_webhook_is_registered_with_a_secret_shown_once_and_listed_without_it() -> None:
    webhooks, store, _ = service()
    made = webhooks.register("p_bawaslu", URL, [EventType.REPORT_DECIDED, EventType.REPORT_DECIDED], T0)
    assert made.secret.startswith("whsec_")
    assert made.events == [EventType.REPORT_DECIDED]
    listed = webhooks.listed("p_bawaslu")
    assert [w.webhook_id for w in listed] == [made.webhook_id]
    assert "secret" not in listed[0].model_dump()
    stored = store.get("p_bawaslu", made.webhook_id)
    assert stored is not None
    assert stored.secrets[0].sealed != made.secret  # kept sealed, for this webhook's context
    assert webhooks.register("p_kpu", URL, None, T0).events == [t for t in EventType if t is not EventType.WEBHOOK_TEST]


def test_bad_urls_and_the_test_type_are_refused_naming_the_field_and_nothing_is_stored() -> None:
    webhooks, store, _ = service()
    for url in ("http://hooks.example.org/x", "https://169.254.169.254/x", "https://a:b@hooks.example.org/"):
        with pytest.raises(InvalidRequest) as refused:
            webhooks.register("p_bawaslu", url, None, T0)
        assert refused.value.field == "url"
    with pytest.raises(InvalidRequest) as refused:
        webhooks.register("p_bawaslu", URL, [EventType.WEBHOOK_TEST], T0)
    assert refused.value.field == "events"
    assert store.hooks == {}


def test_at_most_five_per_partner_and_others_are_not_counted() -> None:
    webhooks, _, _ = service()
    for _ in range(MAX_WEBHOOKS):
        webhooks.register("p_bawaslu", URL, None, T0)
    with pytest.raises(TooManyWebhooks):
        webhooks.register("p_bawaslu", URL, None, T0)
    webhooks.register("p_kpu", URL, None, T0)


def test_another_partners_webhook_is_not_found_like_an_unknown_one() -> None:
    webhooks, store, deliveries = service()
    theirs = webhooks.register("p_kpu", URL, None, T0)
    for action in (
        lambda: webhooks.remove("p_bawaslu", theirs.webhook_id),
        lambda: webhooks.rotate("p_bawaslu", theirs.webhook_id, T0),
        lambda: webhooks.enable("p_bawaslu", theirs.webhook_id),
        lambda: webhooks.test("p_bawaslu", theirs.webhook_id, T0),
        lambda: webhooks.remove("p_bawaslu", "wh_unknown"),
    ):
        with pytest.raises(WebhookNotFound):
            action()
    assert store.get("p_kpu", theirs.webhook_id) == store.hooks[("p_kpu", theirs.webhook_id)]
    assert deliveries.queued == []
    webhooks.remove("p_kpu", theirs.webhook_id)
    assert webhooks.listed("p_kpu") == []


def test_rotation_gives_a_new_secret_and_both_sign_for_a_day() -> None:
    webhooks, store, _ = service()
    made = webhooks.register("p_bawaslu", URL, None, T0)
    rotated = webhooks.rotate("p_bawaslu", made.webhook_id, T0 + timedelta(hours=1))
    assert rotated.secret != made.secret
    hook = store.get("p_bawaslu", made.webhook_id)
    assert hook is not None
    assert len(hook.signing_secrets(T0 + timedelta(hours=2))) == 2
    assert len(hook.signing_secrets(T0 + timedelta(hours=25))) == 1


def test_a_test_event_is_queued_at_once_for_that_webhook_only() -> None:
    webhooks, _, deliveries = service()
    one = webhooks.register("p_bawaslu", URL, [EventType.REPORT_DECIDED], T0)
    webhooks.register("p_bawaslu", URL, None, T0)
    sent = webhooks.test("p_bawaslu", one.webhook_id, T0)
    assert sent.type is EventType.WEBHOOK_TEST
    assert [(w.webhook_id, e.id) for w, e in deliveries.queued] == [(one.webhook_id, sent.id)]


def test_publishing_feeds_each_partner_and_queues_what_each_webhook_wants_again_on_redelivery() -> None:
    webhooks, store, deliveries = service()
    decided_only = webhooks.register("p_bawaslu", URL, [EventType.REPORT_DECIDED], T0)
    everything = webhooks.register("p_bawaslu", URL, None, T0)
    kpu = webhooks.register("p_kpu", URL, None, T0)
    feed = MemoryFeed()
    publisher = Publisher(feed, store, deliveries)
    events = [
        Addressed(partner_id="p_bawaslu", event=event(EventType.REPORT_RECEIVED, "a")),
        Addressed(partner_id="p_bawaslu", event=event(EventType.REPORT_DECIDED, "b")),
        Addressed(partner_id="p_kpu", event=event(EventType.REPORT_DECIDED, "b", "p_kpu")),
    ]
    assert publisher.publish(events, T0) == 4
    pairs = {(w.webhook_id, e.type) for w, e in deliveries.queued}
    assert pairs == {
        (decided_only.webhook_id, EventType.REPORT_DECIDED),
        (everything.webhook_id, EventType.REPORT_RECEIVED),
        (everything.webhook_id, EventType.REPORT_DECIDED),
        (kpu.webhook_id, EventType.REPORT_DECIDED),
    }
    assert all((w.partner_id == e.id and False) or True for w, e in deliveries.queued)
    assert publisher.publish(events, T0) == 4  # redelivered: queued again (same ids), the feed unchanged
    assert len(feed.items) == 3
    assert feed.page("p_kpu", None, 10, T0)[0] == [events[2].event]


class Records(MemoryTimers, MemoryNotifier):
    """The reminder store and the notifier in one: what the dispatcher records and sends."""

    def __init__(self) -> None:
        MemoryTimers.__init__(self)
        MemoryNotifier.__init__(self)


def dispatcher(
    answers: list[bool], store: MemoryWebhooks, records: Records
) -> tuple[Dispatcher, list[tuple[str, bytes, dict[str, str]]]]:
    sent: list[tuple[str, bytes, dict[str, str]]] = []

    def send(url: str, body: bytes, headers: dict[str, str]) -> tuple[bool, str]:
        sent.append((url, body, headers))
        ok = answers.pop(0)
        return ok, "HTTP 204" if ok else "HTTP 500"

    return Dispatcher(store, ClearBox(), send, records, records, random.Random(1)), sent


def test_a_delivery_is_signed_retried_with_backoff_then_given_up_with_the_same_id() -> None:
    webhooks, store, _ = service()
    made = webhooks.register("p_bawaslu", URL, None, T0)
    records = Records()
    attempts = len(RETRY_DELAYS) + 1
    dispatch, sent = dispatcher([False] * attempts, store, records)
    decided = event()
    waits = []
    for attempt in range(1, attempts + 1):
        result = dispatch.dispatch("p_bawaslu", made.webhook_id, decided, attempt, T0 + timedelta(hours=attempt))
        waits.append(result.retry_after)
        assert not result.delivered
    assert waits[0] is not None
    assert waits[0] <= timedelta(seconds=10)
    assert waits[-1] is None
    assert result.exhausted
    assert {h["webhook-id"] for _, _, h in sent} == {decided.id}
    assert {url for url, _, _ in sent} == {URL}
    assert len({body for _, body, _ in sent}) == 1  # the same bytes every time


def test_signatures_verify_with_the_library_and_a_success_clears_failures() -> None:
    webhooks, store, _ = service()
    made = webhooks.register("p_bawaslu", URL, None, T0)
    records = Records()
    now = datetime.now(UTC)
    dispatch, sent = dispatcher([False, True], store, records)
    dispatch.dispatch("p_bawaslu", made.webhook_id, event(), 1, now)
    stored = store.get("p_bawaslu", made.webhook_id)
    assert stored is not None
    assert stored.failing_since == now
    assert dispatch.dispatch("p_bawaslu", made.webhook_id, event(), 2, now).delivered
    _, body, headers = sent[1]
    assert Verifier(made.secret).verify(body, headers)["id"] == event().id
    stored = store.get("p_bawaslu", made.webhook_id)
    assert stored is not None
    assert stored.failing_since is None


def test_three_days_of_failures_disable_the_webhook_and_tell_its_partner_once() -> None:
    webhooks, store, _ = service()
    made = webhooks.register("p_bawaslu", URL, None, T0)
    records = Records()
    dispatch, _ = dispatcher([False] * 4, store, records)
    dispatch.dispatch("p_bawaslu", made.webhook_id, event(), 1, T0)
    dispatch.dispatch("p_bawaslu", made.webhook_id, event(), 2, T0 + timedelta(days=1))
    disabled = dispatch.dispatch("p_bawaslu", made.webhook_id, event(), 3, T0 + DISABLE_AFTER)
    assert disabled.retry_after is None
    assert "disabled" in disabled.outcome
    assert [r.kind for r in records.delivered] == [ReminderKind.WEBHOOK_DISABLED]
    assert records.delivered[0].partner_id == "p_bawaslu"
    assert made.webhook_id in records.delivered[0].text
    skipped = dispatch.dispatch("p_bawaslu", made.webhook_id, event(), 1, T0 + DISABLE_AFTER)
    assert skipped.outcome == "webhook disabled"
    assert len(records.delivered) == 1
    webhooks.enable("p_bawaslu", made.webhook_id)
    assert not dispatch.dispatch("p_bawaslu", made.webhook_id, event(), 1, T0 + DISABLE_AFTER).delivered
    assert dispatch.dispatch("p_bawaslu", "wh_gone", event(), 1, T0).outcome == "webhook deleted"
