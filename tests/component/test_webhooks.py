"""Partners are told, on the moto stack: the real handlers from a report to a signed delivery on a local receiver."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from kanal import wiring
from kanal.models import Outcome, PartnerKind, Policy
from kanal.settings import Settings
from kanal_local.template import Stack
from standardwebhooks import Webhook as Verifier

from tests.support.lambdas import Invoke, env, stream_event
from tests.support.reports import REASON, VIDEO, body_of, post, report_body
from tests.support.webhooks import (
    Receiver,
    deliveries,
    delivery_function,
    events_function,
    receiver,
    settle,
    told,
    webhook_request,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on the local stack: webhooks may point at this machine's loopback (only there). The clock is the real
    one: the standardwebhooks library checks a delivery's timestamp against it."""
    monkeypatch.setattr(Settings, "local", property(lambda self: True))


def register(api: Invoke, partner: str, url: str, events: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url, **({"events": events} if events else {})}
    answer = api(webhook_request(partner, "POST", "/v1/webhooks", body))
    assert answer["statusCode"] == 201, answer["body"]
    return dict(body_of(answer))


def two_partners_one_decision(api: Invoke, case_builder: Invoke, dynamodb: Any) -> tuple[str, str, dict[str, Any]]:
    """Bawaslu and Perludem report the same video; the case is decided."""
    create, now = wiring.services().partners.create, datetime.now(UTC)
    bawaslu = create("Bawaslu DKI", PartnerKind.ELECTION_AGENCY, now).partner.partner_id
    perludem = create("Perludem", PartnerKind.CIVIL_SOCIETY, now).partner.partner_id
    mine = body_of(api(post(bawaslu, report_body())))
    theirs = body_of(api(post(perludem, report_body(category="election_integrity"))))
    case_builder(stream_event(dynamodb, env("TABLE_NAME")))
    review = wiring.services().review()
    now = datetime.now(UTC)
    claimed = review.next("ana", 0, now)
    assert claimed is not None
    review.saw(claimed.case.case_id, "ana", claimed.reports, now)
    review.decide(claimed.case.case_id, "ana", Outcome.REMOVED, Policy.MISINFORMATION, REASON, now)
    return bawaslu, perludem, {"bawaslu": mine, "perludem": theirs}


def test_each_partner_is_told_of_its_own_reports_and_nobody_elses(
    stack: Stack, api: Invoke, case_builder: Invoke, dynamodb: Any, sqs: Any, local: None
) -> None:
    with receiver() as url:
        create = wiring.services().partners.create
        outsider = create("KPU", PartnerKind.ELECTION_AGENCY, datetime.now(UTC)).partner.partner_id
        register(api, outsider, url)
        bawaslu, perludem, sent = two_partners_one_decision(api, case_builder, dynamodb)
        hooks = {p: register(api, p, url) for p in (bawaslu, perludem)}
        assert events_function(stack)({"Records": told(stack, dynamodb)}) == {"batchItemFailures": []}
        batch = deliveries(sqs)
        settle(sqs, batch, delivery_function(stack)({"Records": batch}))

        got: dict[str, list[dict[str, Any]]] = {}
        for headers, body in Receiver.got:
            for partner, hook in hooks.items():
                try:
                    got.setdefault(partner, []).append(Verifier(hook["secret"]).verify(body, headers))
                except Exception:  # noqa: S112 - signed for the other partner: not this one's
                    continue
        assert len(Receiver.got) == sum(len(v) for v in got.values())  # every delivery verified with one secret
        for partner, name in ((bawaslu, "bawaslu"), (perludem, "perludem")):
            kinds = {e["type"]: e for e in got[partner]}
            assert set(kinds) == {"report.received", "report.decided"}
            assert kinds["report.decided"]["data"]["report_ids"] == [sent[name]["report_id"]]
            assert kinds["report.decided"]["data"]["outcome"] == "removed"
            assert kinds["report.received"]["data"]["report_id"] == sent[name]["report_id"]
        everything = json.dumps([json.loads(b) for _, b in Receiver.got])
        assert "ana" not in everything  # never the reviewer
        assert outsider not in everything

        later = datetime.now(UTC) + timedelta(minutes=1)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("kanal.clock.now", lambda: later)
            feed = body_of(api(webhook_request(bawaslu, "GET", "/v1/events")))
            assert {e["type"] for e in feed["items"]} == {"report.received", "report.decided"}
            assert body_of(api(webhook_request(outsider, "GET", "/v1/events")))["items"] == []
            following = api(webhook_request(bawaslu, "GET", "/v1/events", query={"after": feed["next_cursor"]}))
            assert body_of(following) == {"items": [], "next_cursor": feed["next_cursor"]}
            bad = api(webhook_request(bawaslu, "GET", "/v1/events", query={"after": "nonsense"}))
            assert bad["statusCode"] == 422
            assert body_of(bad)["errors"][0]["field"] == "after"


def test_a_failed_delivery_comes_again_with_the_same_id_and_is_signed_by_both_secrets_during_a_rotation(
    stack: Stack, api: Invoke, case_builder: Invoke, dynamodb: Any, sqs: Any, local: None
) -> None:
    with receiver() as url:
        created = wiring.services().partners.create("Bawaslu", PartnerKind.ELECTION_AGENCY, datetime.now(UTC))
        bawaslu = created.partner.partner_id
        hook = register(api, bawaslu, url, ["report.received"])
        api(post(bawaslu, report_body(content_url=VIDEO)))
        case_builder(stream_event(dynamodb, env("TABLE_NAME")))
        events_function(stack)({"Records": told(stack, dynamodb)})
        rotated = body_of(api(webhook_request(bawaslu, "POST", f"/v1/webhooks/{hook['webhook_id']}/rotate")))
        Receiver.answers[:] = [500]
        deliver = delivery_function(stack)
        batch = deliveries(sqs)
        answer = deliver({"Records": batch})
        assert [f["itemIdentifier"] for f in answer["batchItemFailures"]] == [batch[0]["messageId"]]
        settle(sqs, batch, answer)
        assert deliveries(sqs) == []  # hidden for its retry wait
        sqs.change_message_visibility(
            QueueUrl=env("DELIVERY_QUEUE_URL"), ReceiptHandle=batch[0]["receiptHandle"], VisibilityTimeout=0
        )
        again = deliveries(sqs)
        settle(sqs, again, deliver({"Records": again}))
        (first_headers, first_body), (headers, body) = Receiver.got
        assert first_headers["webhook-id"] == headers["webhook-id"]
        assert first_body == body
        assert len(headers["webhook-signature"].split(" ")) == 2
        for secret in (hook["secret"], rotated["secret"]):
            assert Verifier(secret).verify(body, headers)["type"] == "report.received"
        assert deliveries(sqs) == []


def test_the_webhook_routes_are_the_partners_own_and_bad_input_changes_nothing(
    stack: Stack, api: Invoke, local: None, capfd: pytest.CaptureFixture[str]
) -> None:
    create = wiring.services().partners.create
    bawaslu = create("Bawaslu", PartnerKind.ELECTION_AGENCY, datetime.now(UTC)).partner.partner_id
    kpu = create("KPU", PartnerKind.ELECTION_AGENCY, datetime.now(UTC)).partner.partner_id
    hook = register(api, bawaslu, "https://hooks.bawaslu.go.id/kanal")
    for method, path in (
        ("DELETE", f"/v1/webhooks/{hook['webhook_id']}"),
        ("POST", f"/v1/webhooks/{hook['webhook_id']}/rotate"),
        ("POST", f"/v1/webhooks/{hook['webhook_id']}/test"),
        ("POST", f"/v1/webhooks/{hook['webhook_id']}/enable"),
        ("DELETE", "/v1/webhooks/wh_unknown"),
    ):
        answer = api(webhook_request(kpu, method, path))
        assert answer["statusCode"] == 404, (method, path)
    assert body_of(api(webhook_request(kpu, "GET", "/v1/webhooks"))) == []
    for body, field in (
        ({"url": "https://169.254.169.254/latest"}, "url"),
        ({"url": "http://10.0.0.5:8080/x"}, "url"),
        ({"url": "https://hooks.example.org/x", "events": ["report.nope"]}, "events[0]"),
        ({"url": "https://hooks.example.org/x", "secret": "mine"}, "secret"),
    ):
        answer = api(webhook_request(kpu, "POST", "/v1/webhooks", body))
        assert answer["statusCode"] == 422, body
        assert field in [e["field"] for e in body_of(answer)["errors"]]
    assert body_of(api(webhook_request(kpu, "GET", "/v1/webhooks"))) == []
    listed = body_of(api(webhook_request(bawaslu, "GET", "/v1/webhooks")))
    assert [w["webhook_id"] for w in listed] == [hook["webhook_id"]]
    assert "secret" not in listed[0]
    for _ in range(4):
        register(api, bawaslu, "https://hooks.bawaslu.go.id/kanal")
    sixth = api(webhook_request(bawaslu, "POST", "/v1/webhooks", {"url": "https://hooks.bawaslu.go.id/kanal"}))
    assert sixth["statusCode"] == 409
    rotated = body_of(api(webhook_request(bawaslu, "POST", f"/v1/webhooks/{hook['webhook_id']}/rotate")))
    logged = capfd.readouterr()
    for secret in (hook["secret"], rotated["secret"]):  # shown to the partner once, never logged
        assert secret.removeprefix("whsec_") not in logged.out + logged.err
    stored = wiring.services().webhook_store.get(bawaslu, hook["webhook_id"])
    assert stored is not None
    assert all(rotated["secret"] not in s.sealed and hook["secret"] not in s.sealed for s in stored.secrets)


def test_one_partners_stuck_receiver_does_not_hold_up_anothers_delivery(
    stack: Stack, api: Invoke, sqs: Any, local: None
) -> None:
    """In one batch, the first partner's receiver answers only once the second partner's delivery has arrived:
    attempts made one after the other would wait for it forever (the test's timeout); side by side, both land."""
    arrived = threading.Event()

    class Stuck(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            held = arrived.wait(8)  # under the 10 s read timeout
            self.send_response(204 if held else 503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    stuck = ThreadingHTTPServer(("127.0.0.1", 0), Stuck)
    threading.Thread(target=stuck.serve_forever, daemon=True).start()
    try:
        with receiver() as url:
            create = wiring.services().partners.create
            slow = create("Lambat", PartnerKind.CIVIL_SOCIETY, datetime.now(UTC)).partner.partner_id
            quick = create("Cepat", PartnerKind.CIVIL_SOCIETY, datetime.now(UTC)).partner.partner_id
            slow_hook = register(api, slow, f"http://127.0.0.1:{stuck.server_address[1]}/hook")
            quick_hook = register(api, quick, url)
            for partner, hook in ((slow, slow_hook), (quick, quick_hook)):
                api(webhook_request(partner, "POST", f"/v1/webhooks/{hook['webhook_id']}/test"))
            batch = deliveries(sqs)
            assert len(batch) == 2
            batch.sort(key=lambda r: json.loads(r["body"])["partner_id"] != slow)  # the stuck one first

            original = Receiver.do_POST

            def noting(handler: Receiver) -> None:
                original(handler)
                arrived.set()

            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(Receiver, "do_POST", noting)
                answer = delivery_function(stack)({"Records": batch})
            assert answer == {"batchItemFailures": []}
            assert arrived.is_set()
    finally:
        stuck.shutdown()
        stuck.server_close()
