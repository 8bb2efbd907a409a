"""The authorizer on moto: keys are hashed, and missing, unknown and revoked keys look alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from kanal import wiring
from kanal.models import PartnerKind
from kanal.partners import hash_key

from tests.support.lambdas import Invoke, env, event

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def with_header(value: str | None) -> dict[str, Any]:
    e = event("authorizer")
    e["headers"].pop("Authorization")
    if value is not None:
        e["headers"]["authorization"] = value
    return e


def test_valid_key_allows_the_whole_api_for_its_partner(authorizer: Invoke, dynamodb: Any) -> None:
    issued = wiring.services().partners.create("KPU RI", PartnerKind.ELECTION_AGENCY, NOW)
    policy = authorizer(with_header(f"Bearer {issued.api_key}"))
    assert policy["principalId"] == issued.partner.partner_id
    assert policy["context"] == {
        "partner_id": issued.partner.partner_id,
        "key_id": issued.key_id,
        "partner_kind": "election_agency",
        "partner_name": "KPU RI",  # rides on the report, so that reviewers see who reported
    }
    statement = policy["policyDocument"]["Statement"][0]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == "arn:aws:execute-api:ap-southeast-3:123456789012:a1b2c3d4e5/prod/*"
    stored = str(dynamodb.scan(TableName=env("TABLE_NAME"))["Items"])
    assert issued.api_key not in stored
    assert hash_key(issued.api_key) in stored


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer kanal_unknownunknownunknownunknownunknown12345",
        "Bearer other_x",
    ],
)
def test_bad_keys_are_unauthorized(authorizer: Invoke, header: str | None) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer(with_header(header))


def test_revoked_key_is_unauthorized_and_other_keys_still_work(authorizer: Invoke) -> None:
    partners = wiring.services().partners
    first = partners.create("Perludem", PartnerKind.CIVIL_SOCIETY, NOW)
    second = partners.issue_key(first.partner.partner_id, NOW)
    partners.directory.revoke_key(first.partner.partner_id, first.key_id, NOW)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer(with_header(f"Bearer {first.api_key}"))
    assert authorizer(with_header(f"bearer {second.api_key}"))["principalId"] == first.partner.partner_id
