"""The partner API client the partner-facing commands share (kanal_cli.partner_client), against a stand-in on
127.0.0.1: the key as a bearer token, JSON both ways, and every answer that is not a 2xx turned into one line."""

from __future__ import annotations

import pytest
from kanal_cli import partner_client
from kanal_cli.partner_client import PartnerApi, PartnerApiFailed, PartnerApiRefused

from tests.support.stats import StatsApi, stats_api

pytestmark = pytest.mark.timeout(60)


def test_a_post_sends_json_with_the_key_and_the_callers_headers() -> None:
    api = StatsApi({})
    with stats_api(api) as url:
        client = PartnerApi(url + "/", "kanal_k")
        answer = client.post("/v1/reports", {"url": "https://vt.tiktok.com/x"}, {"Idempotency-Key": "b-1"})
        assert client.request("GET", "/v1/stats", query={"group_by": None, "scope": "own"}).status == 401
    assert answer == {"path": "/v1/reports", "body": {"url": "https://vt.tiktok.com/x"}}
    headers = api.asked[0][1]
    assert headers["authorization"] == "Bearer kanal_k"
    assert headers["content-type"] == "application/json"
    assert headers["idempotency-key"] == "b-1"
    assert api.asked[1][0] == {"scope": "own"}, "a parameter that is None is left out"


def test_a_problem_document_is_one_line_with_its_fields() -> None:
    problem = {
        "title": "Unprocessable Content",
        "detail": "1 field is invalid",
        "errors": [{"field": "url", "message": "must be a TikTok video URL"}, "not a mapping"],
    }
    refused = PartnerApiRefused(422, problem)
    assert str(refused) == (
        "the partner API refused (422 Unprocessable Content): 1 field is invalid; url: must be a TikTok video URL"
    )
    assert refused.problem == problem
    shown = partner_client.describe(400, {"detail": "x\x1b[31m\nred"})  # a terminal gets no control character
    assert shown == "the partner API refused (400 refused): x\u27e6U+001B\u27e7[31m\u27e6U+000A\u27e7red"


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ((200, b"<html>a proxy's page</html>"), "answered 200 but not JSON"),
        ((502, b"<html>Bad Gateway</html>"), "the partner API failed (502 failed): <html>Bad Gateway</html>"),
    ],
)
def test_an_answer_that_is_not_json_is_a_failure(raw: tuple[int, bytes], said: str) -> None:
    with stats_api(StatsApi({}, raw=raw)) as url, pytest.raises(PartnerApiFailed) as failed:
        PartnerApi(url, "k").get("/v1/stats")
    assert said in str(failed.value)


def test_an_empty_answer_is_none_and_a_huge_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with stats_api(StatsApi({}, raw=(204, b""))) as url:
        assert PartnerApi(url, "k").get("/v1/stats") is None
    monkeypatch.setattr(partner_client, "MAX_ANSWER", 10)
    with stats_api(StatsApi({}, raw=(200, b"[" + b"1," * 20 + b"1]"))) as url, pytest.raises(PartnerApiFailed):
        PartnerApi(url, "k").get("/v1/stats")
