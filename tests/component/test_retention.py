"""Retention: a case and everything about it expire together, and an expiry only ever moves later."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kanal import wiring
from kanal.models import InfoReply, Outcome, PartnerKind, Policy

from tests.support.lambdas import Invoke, env, stream_event
from tests.support.reports import REASON, VIDEO, body_of, post, report_body

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
ABOUT_A_CASE = ("REPORT#", "CASE#", "TIMER#", "REMINDER#", "IDEMPOTENCY#")


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kanal.clock.now", lambda: NOW)


def items(dynamodb: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = dynamodb.scan(TableName=env("TABLE_NAME"))["Items"]
    return found


def case_item(dynamodb: Any, case_id: str) -> dict[str, Any]:
    key = {"pk": {"S": f"CASE#{case_id}"}, "sk": {"S": "CASE"}}
    item: dict[str, Any] = dynamodb.get_item(TableName=env("TABLE_NAME"), Key=key)["Item"]
    return item


def expiry(dynamodb: Any, case_id: str) -> datetime:
    return datetime.fromtimestamp(int(case_item(dynamodb, case_id)["expires_at"]["N"]), UTC)


def a_whole_life(api: Invoke, case_builder: Invoke, dynamodb: Any) -> tuple[str, list[str]]:
    """Two partners report a video (one with an Idempotency-Key), it is claimed, asked about, answered, decided
    (removed: statutory timers for the agency), and reminders go out. The case id and report ids."""
    create = wiring.services().partners.create
    bawaslu = create("Bawaslu RI", PartnerKind.ELECTION_AGENCY, NOW).partner.partner_id
    perludem = create("Perludem", PartnerKind.CIVIL_SOCIETY, NOW).partner.partner_id
    first = body_of(api({**post(bawaslu, report_body(), key="k-1")}))
    second = body_of(api(post(perludem, report_body(content_url=VIDEO + "?lang=id"))))
    case_builder(stream_event(dynamodb, env("TABLE_NAME")))
    services = wiring.services()
    review = services.review()
    assert review.next("ana", 0, NOW) is not None
    review.ask(first["case_id"], "ana", "Di TPS mana kejadian ini terjadi?", timedelta(hours=48), NOW)
    assert services.reminders().run(NOW + timedelta(hours=47), digest=False).sent  # info_due, about the case
    services.answers.provide(bawaslu, first["report_id"], InfoReply(message="TPS 12, Menteng."), NOW)
    case_builder(stream_event(dynamodb, env("TABLE_NAME"), kinds=("info_provided",)))
    assert review.next("ana", 0, NOW) is not None
    review.decide(first["case_id"], "ana", Outcome.REMOVED, Policy.NATIONAL_LAW, REASON, NOW)
    return first["case_id"], [first["report_id"], second["report_id"]]


def test_every_item_about_a_case_expires(api: Invoke, case_builder: Invoke, dynamodb: Any) -> None:
    case_id, _ = a_whole_life(api, case_builder, dynamodb)
    about = [i for i in items(dynamodb) if i["pk"]["S"].startswith(ABOUT_A_CASE)]
    kinds = {i["pk"]["S"].split("#")[0] for i in about}
    assert kinds == {"REPORT", "CASE", "TIMER", "REMINDER", "IDEMPOTENCY"}
    assert [i["pk"]["S"] + " " + i["sk"]["S"] for i in about if "expires_at" not in i] == []
    case_expiry = int(case_item(dynamodb, case_id)["expires_at"]["N"])
    # The case goes first; everything else is deleted with it, its own expiry is only a backstop after it.
    assert all(
        int(i["expires_at"]["N"]) >= case_expiry for i in about if i["pk"]["S"].startswith(("REPORT#", "TIMER#"))
    )


def test_the_retention_is_the_templates_parameter(stack: Any) -> None:
    assert wiring.services().settings.retention == timedelta(days=730)  # RetentionDays' default, through the env


def test_an_expiry_only_moves_later(api: Invoke, case_builder: Invoke, dynamodb: Any) -> None:
    create = wiring.services().partners.create
    partner = create("Bawaslu RI", PartnerKind.ELECTION_AGENCY, NOW).partner.partner_id
    receipt = body_of(api(post(partner, report_body())))
    early = stream_event(dynamodb, env("TABLE_NAME"))
    case_builder(early)
    opened = expiry(dynamodb, receipt["case_id"])
    assert opened >= NOW + timedelta(days=730)
    later = NOW + timedelta(days=40)
    import kanal.clock

    kanal.clock.now = lambda: later  # type: ignore[assignment]
    try:
        api(post(partner, report_body(content_url=VIDEO + "?x=1")))
        case_builder(stream_event(dynamodb, env("TABLE_NAME")))
    finally:
        kanal.clock.now = lambda: NOW  # type: ignore[assignment]
    extended = expiry(dynamodb, receipt["case_id"])
    assert extended >= later + timedelta(days=730) > opened
    case_builder(early)  # a batch of old reports processed late: the case's life is not shortened
    assert expiry(dynamodb, receipt["case_id"]) == extended


def test_a_case_and_everything_about_it_expire_together(api: Invoke, case_builder: Invoke, dynamodb: Any) -> None:
    case_id, report_ids = a_whole_life(api, case_builder, dynamodb)
    case = case_item(dynamodb, case_id)
    untouched = [i for i in items(dynamodb) if not i["pk"]["S"].startswith(ABOUT_A_CASE)]
    gone = datetime.fromtimestamp(int(case["expires_at"]["N"]), UTC)
    # A report of the same video after the expiry belongs to a new case: it must stay.
    import kanal.clock

    kanal.clock.now = lambda: gone + timedelta(hours=1)  # type: ignore[assignment]
    try:
        partner = wiring.services().reports.get(report_ids[0])
        assert partner is not None
        newer = body_of(api(post(partner.partner_id, report_body(content_url=VIDEO + "?again=1"))))
    finally:
        kanal.clock.now = lambda: NOW  # type: ignore[assignment]
    dynamodb.delete_item(TableName=env("TABLE_NAME"), Key={"pk": case["pk"], "sk": case["sk"]})
    removal = {
        "eventName": "REMOVE",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        "dynamodb": {"SequenceNumber": "1", "Keys": {"pk": case["pk"], "sk": case["sk"]}, "OldImage": case},
    }
    assert case_builder(json.loads(json.dumps({"Records": [removal]}))) == {"batchItemFailures": []}
    left = [i for i in items(dynamodb) if i["pk"]["S"].startswith(ABOUT_A_CASE)]
    assert [i["pk"]["S"] for i in left] == [f"REPORT#{newer['report_id']}"]
    assert [i for i in items(dynamodb) if not i["pk"]["S"].startswith(ABOUT_A_CASE)] == untouched
