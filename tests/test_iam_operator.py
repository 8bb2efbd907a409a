"""OperatorRole against what the operator commands call (tests/operator_flows.py drives them in tests/test_iam.py's
recording): each of its actions is needed, and none of the reviewer API is among them."""

from __future__ import annotations

from typing import Any

import pytest
from kanal_local.template import Stack, load

from tests import iam, test_iam

# The recording of tests/test_iam.py (one run of every flow, the operator commands' included), and what it needs.
recorded = test_iam.recorded
clock = test_iam.clock
reminders = test_iam.reminders

Recorded = tuple[iam.Conformance, list[iam.Call]]


def operator_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = template["Resources"]["OperatorRole"]["Properties"]["Policies"][0][
        "PolicyDocument"
    ]["Statement"]
    return statements


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return list(action) if isinstance(action, list) else [action]


#: Every action OperatorRole grants, with the call that needs it (what the recording must show denied without it).
NEEDED_BY = {
    "cloudformation:DescribeStacks": "cloudformation.DescribeStacks",
    "dynamodb:GetItem": "dynamodb.GetItem",
    "dynamodb:PutItem": "dynamodb.",
    "dynamodb:UpdateItem": "dynamodb.",
    "dynamodb:Query": "dynamodb.Query",
    "dynamodb:BatchWriteItem": "dynamodb.BatchWriteItem",
    "dynamodb:DeleteItem": "dynamodb.DeleteItem",
    "dynamodb:GetShardIterator": "dynamodbstreams.GetShardIterator",
    "dynamodb:GetRecords": "dynamodbstreams.GetRecords",
    "sqs:ReceiveMessage": "sqs.ReceiveMessage",
    "sqs:DeleteMessage": "sqs.DeleteMessage",
    "sqs:SendMessage": "sqs.SendMessage",
    "sns:Subscribe": "sns.Subscribe",
}


def test_operator_role_grants_what_the_commands_call_and_nothing_of_review(recorded: Recorded) -> None:
    checks, calls = recorded
    mine = [c for c in calls if c.principal == "operator"]
    assert checks.denied(mine) == []
    granted = {a for s in operator_statements(load()) for a in actions_of(s)}
    assert granted == set(NEEDED_BY)
    # The operator never calls the reviewer API: `kanal smoke`'s reviewer steps are the reviewer profile's.
    assert not [c for c in mine if c.service == "execute-api"]
    smoke_reviewing = [c for c in calls if c.principal == "reviewer" and "decision" in str(c.params.get("path"))]
    assert smoke_reviewing, "the smoke's decision was not made through the reviewer API as the reviewer"


@pytest.mark.parametrize("action", sorted(NEEDED_BY))
def test_removing_any_action_from_operator_role_denies_an_operator_command(
    stack: Stack, recorded: Recorded, action: str
) -> None:
    _, calls = recorded
    source = load()
    statements = operator_statements(source)
    for statement in statements:
        statement["Action"] = [a for a in actions_of(statement) if a != action]
    statements[:] = [s for s in statements if s["Action"]]
    mine = [c for c in calls if c.principal == "operator"]
    denied = iam.Conformance.of(stack, template=iam.translate(source)).denied(mine)
    assert denied, f"OperatorRole without {action} denied no operator command"
    assert all(d.startswith(f"operator may not {action} on ") for d in denied), denied
    assert any(f": {NEEDED_BY[action]}" in d for d in denied), denied


def test_a_reviewer_api_grant_on_operator_role_is_reported_unused(stack: Stack, recorded: Recorded) -> None:
    """Separation of duties, checked: OperatorRole given the reviewer API (which the smoke's reviewer steps use, with
    the reviewer's own credentials) is a grant no operator call uses."""
    _, calls = recorded
    widened = load()
    operator_statements(widened).append(
        {
            "Effect": "Allow",
            "Action": "execute-api:Invoke",
            "Resource": {"Fn::Sub": "arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:${ReviewApi}/*/v1/review/*"},
        }
    )
    unused = iam.Conformance.of(stack, template=iam.translate(widened)).unused(calls)
    assert [u for u in unused if u.startswith("operator:")] == [
        u for u in unused if u.startswith("operator: no call uses execute-api:Invoke on arn:aws:execute-api:")
    ]
    assert any(u.startswith("operator: no call uses execute-api:Invoke") for u in unused), unused
