"""Each partner's fair share, on the moto stack through the local gateway and the real handlers: the authorizer
names the partner's usage key, `kanal partners set-limits` writes the plan the gateway reads (a partner over its
rate or quota gets 429 as a problem document with Retry-After while another stays served), a partner made before
limits is refused until it is brought onto the API, `revoke-key` flushes the authorizer cache (the key stops at
once), and the template's optional source-IP allow-list and WAF."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.client import HTTPConnection
from typing import Any
from urllib.parse import urlsplit

import pytest
from kanal import clock, wiring
from kanal.models import PartnerKind
from kanal.partners import IssuedKey, Partners
from kanal_local.gateway import Api, make_server
from kanal_local.template import Stack, describe, translate

from tests.support.lambdas import event
from tests.support.operator_flows import partner_api, run_cli

pytestmark = pytest.mark.timeout(120)  # a hang guard: each request takes milliseconds


@pytest.fixture
def url(stack: Stack) -> Iterator[str]:
    with partner_api(stack) as served:
        yield served


def call(url: str, key: str, path: str = "/v1/reports") -> tuple[int, dict[str, str], Any]:
    where = urlsplit(url)
    connection = HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=30)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {key}"})
        answer = connection.getresponse()
        body = answer.read()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, json.loads(body) if body else None
    finally:
        connection.close()


def partner(name: str) -> IssuedKey:
    return wiring.services().partners.create(name, PartnerKind.ELECTION_AGENCY, clock.now())


def cli(*argv: str) -> Any:
    code, out, err = run_cli(*argv)
    assert code == 0, err
    return json.loads(out)


def test_the_authorizer_names_the_partners_usage_key_never_its_secret(stack: Stack, authorizer: Any) -> None:
    issued = partner("Bawaslu RI")
    request = event("authorizer")
    request["headers"]["Authorization"] = f"Bearer {issued.api_key}"
    answer = authorizer(request)
    assert answer["usageIdentifierKey"] == issued.partner.usage_key
    assert issued.partner.usage_key
    assert issued.partner.usage_key not in issued.api_key
    legacy = Partners(wiring.services().partners.directory).create("KPU", PartnerKind.ELECTION_AGENCY, clock.now())
    request["headers"]["Authorization"] = f"Bearer {legacy.api_key}"
    assert "usageIdentifierKey" not in authorizer(request)


def test_a_partner_over_its_rate_gets_429_while_another_stays_served(url: str) -> None:
    runaway, other = partner("Panwaslu Skrip"), partner("Perludem")
    # One token a thousand seconds: after its burst of 2 the runaway script is refused, however slow the machine.
    limits = cli(
        "partners", "set-limits", "--partner-id", runaway.partner.partner_id, "--rate", "0.001", "--burst", "2"
    )
    assert limits["own"] is True
    assert limits["limits"]["burst"] == 2
    statuses = [call(url, runaway.api_key)[0] for _ in range(5)]
    assert statuses == [200, 200, 429, 429, 429]
    status, headers, problem = call(url, runaway.api_key)
    assert status == 429
    assert headers["retry-after"] == "1"
    assert headers["content-type"] == "application/problem+json"
    assert problem["type"] == "urn:kanal:problem:too-many-requests"
    assert problem["status"] == 429
    assert [call(url, other.api_key)[0] for _ in range(10)] == [200] * 10
    # Back on the default plan (50 a second, burst 100): a fresh bucket, served again.
    cli("partners", "set-limits", "--partner-id", runaway.partner.partner_id, "--default")
    assert call(url, runaway.api_key)[0] == 200


def test_a_partner_over_its_quota_gets_429_quota_exceeded(url: str) -> None:
    counted = partner("Bawaslu Jateng")
    cli("partners", "set-limits", "--partner-id", counted.partner.partner_id, "--quota", "3", "--quota-period", "MONTH")
    assert [call(url, counted.api_key)[0] for _ in range(3)] == [200] * 3
    status, headers, problem = call(url, counted.api_key)
    assert (status, headers["retry-after"]) == (429, "3600")
    assert "quota" in problem["detail"]
    assert problem["type"] == "urn:kanal:problem:too-many-requests"


def test_a_partner_made_before_limits_is_refused_until_set_limits_brings_it_on(url: str) -> None:
    directory = wiring.services().partners.directory
    legacy = Partners(directory).create("Panwaslu Lama", PartnerKind.ELECTION_AGENCY, clock.now())
    status, _, problem = call(url, legacy.api_key)
    assert (status, problem["type"]) == (403, "urn:kanal:problem:forbidden")
    cli("partners", "set-limits", "--partner-id", legacy.partner.partner_id, "--default")
    # The authorizer's cached answer (no usage key) was flushed with it: served from the next request.
    assert call(url, legacy.api_key)[0] == 200


def test_revoke_key_flushes_the_authorizer_cache_so_the_key_stops_at_once(url: str) -> None:
    issued = partner("Bawaslu DKI")
    assert call(url, issued.api_key)[0] == 200  # its answer is now cached for AuthorizerCacheTtl (60 s)
    # Revoked in the table alone, the cached answer still lets the key in: the cache is real.
    wiring.services().partners.directory.revoke_key(issued.partner.partner_id, issued.key_id, clock.now())
    assert call(url, issued.api_key)[0] == 200
    code, _, err = run_cli(
        "partners", "revoke-key", "--partner-id", issued.partner.partner_id, "--key-id", issued.key_id
    )
    assert code == 0
    assert "flushed" in err
    status, _, problem = call(url, issued.api_key)
    assert (status, problem["type"]) == (401, "urn:kanal:problem:unauthorized")


def test_set_limits_refuses_what_api_gateway_would_and_changes_nothing(stack: Stack) -> None:
    issued = partner("Perludem")
    partner_id = issued.partner.partner_id
    before = cli("partners", "limits", "--partner-id", partner_id)
    for argv in (["--rate", "0"], ["--burst", "9000"], ["--quota", "-1"], ["--quota-period", "YEAR"], []):
        code, _, err = run_cli("partners", "set-limits", "--partner-id", partner_id, *argv)
        assert (code, err.count("\n")) == (2, 1), (argv, err)
    code, _, err = run_cli("partners", "set-limits", "--partner-id", partner_id, "--default", "--rate", "5")
    assert code == 2
    code, _, err = run_cli("partners", "set-limits", "--partner-id", "p_0000000000000000", "--rate", "5")
    assert code == 1
    assert "no partner" in err
    assert cli("partners", "limits", "--partner-id", partner_id) == before
    assert before["own"] is False
    assert before["limits"] == {"rate": 50.0, "burst": 100, "quota": 100000, "period": "DAY"}


def openapi(api: Api) -> int:
    """GET /v1/openapi.json (no authorizer, no API key) through the gateway from 127.0.0.1."""
    server = make_server([api], lambda function, e: {"statusCode": 200, "body": "{}"}, "127.0.0.1", 0, print)
    import threading

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        connection = HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
        connection.request("GET", "/v1/openapi.json")
        answer = connection.getresponse()
        answer.read()
        return answer.status
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize(("cidrs", "status"), [("", 200), ("10.0.0.0/8,192.168.0.0/16", 403), ("127.0.0.0/8", 200)])
def test_the_source_ip_allow_list_is_the_apis_resource_policy_and_the_local_gateway_honours_it(
    cidrs: str, status: int
) -> None:
    parameters = {"AllowedSourceCidrs": cidrs}
    translated = translate(parameters=parameters)
    policy = translated["Resources"]["Api"]["Properties"]["Body"]["x-amazon-apigateway-policy"]
    assert len(policy["Statement"]) == 2  # Allow (always) and the Deny (with its condition)
    api = Api.from_stack(describe(translated, parameters=parameters), "Api")
    assert api.sources is None if not cidrs else [str(n) for n in api.sources or ()] == cidrs.split(",")
    assert openapi(api) == status


@pytest.mark.parametrize("waf", ["true", "false"])
def test_the_waf_is_made_only_when_asked_and_answers_its_rate_rule_with_429(waf: str) -> None:
    parameters = {"WafEnabled": waf}
    stack = describe(translate(parameters=parameters), parameters=parameters)
    acls = stack.of_type("AWS::WAFv2::WebACL")
    associations = stack.of_type("AWS::WAFv2::WebACLAssociation")
    if waf == "false":
        assert not acls
        assert not associations
        return
    (acl,) = acls.values()
    props = stack.resolve(acl["Properties"])
    assert props["Scope"] == "REGIONAL"
    names = [r["Statement"].get("ManagedRuleGroupStatement", {}).get("Name") for r in props["Rules"]]
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= set(names)
    rate = next(r for r in props["Rules"] if "RateBasedStatement" in r["Statement"])
    assert rate["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    response = rate["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 429
    assert {"Name": "Retry-After", "Value": "300"} in response["ResponseHeaders"]
    body = json.loads(props["CustomResponseBodies"][response["CustomResponseBodyKey"]]["Content"])
    assert body["status"] == 429
    (association,) = associations.values()
    assert stack.resolve(association["Properties"]["ResourceArn"]).endswith("::/restapis/Api/stages/prod")


def test_every_429_and_403_the_gateway_gives_is_a_problem_document_with_its_own_status() -> None:
    responses = translate()["Resources"]["Api"]["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]
    for kind, status in (("THROTTLED", 429), ("QUOTA_EXCEEDED", 429), ("INVALID_API_KEY", 403), ("WAF_FILTERED", 403)):
        spec = responses[kind]
        assert int(spec["statusCode"]) == status
        body = json.loads(spec["responseTemplates"]["application/json"])
        assert body["status"] == status
        assert body["type"].startswith("urn:kanal:problem:")
        headers = spec["responseParameters"]
        assert headers["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
        if status == 429:
            assert headers["gatewayresponse.header.Retry-After"].strip("'").isdigit()
