"""The template reader: intrinsics and conditions resolve as CloudFormation would."""

from __future__ import annotations

from pathlib import Path

import pytest
from kanal_local.template import Stack, load


def stack(conditions: dict[str, object] | None = None) -> Stack:
    created = Stack({"Resources": {}, "Conditions": conditions or {}}, "ap-southeast-3", {"Stage": "dev", "Topic": ""})
    created.refs["Queue"] = "https://sqs/queue"
    created.attributes[("Queue", "Arn")] = "arn:aws:sqs:ap-southeast-3:123456789012:queue"
    return created


def test_intrinsics() -> None:
    s = stack(
        {
            "HasTopic": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Topic"}, ""]}]},
            "Both": {"Fn::And": [True, {"Fn::Or": [False, True]}]},
        }
    )
    assert s.resolve({"Ref": "Stage"}) == "dev"
    assert s.resolve({"Ref": "AWS::Region"}) == "ap-southeast-3"
    assert s.resolve({"Fn::GetAtt": ["Queue", "Arn"]}).endswith(":queue")
    assert s.resolve({"Fn::GetAtt": "Queue.Arn"}).endswith(":queue")
    assert s.resolve({"Fn::Sub": "${Queue.Arn}/x/${Stage}"}).endswith(":queue/x/dev")
    assert s.resolve({"Fn::Sub": ["${A}-${Stage}", {"A": "a"}]}) == "a-dev"
    assert s.resolve({"Fn::If": ["HasTopic", "yes", "no"]}) == "no"
    assert s.resolve({"Fn::If": ["Both", "yes", "no"]}) == "yes"
    assert s.resolve({"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]}) == "a-dev"
    assert s.resolve({"Fn::Select": [1, ["a", "b"]]}) == "b"
    assert s.resolve([{"Ref": "Stage"}, {"Key": {"Ref": "Stage"}}]) == ["dev", {"Key": "dev"}]


def test_unknown_condition_is_an_error() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        stack({"Odd": {"Fn::Contains": [["a"], "a"]}}).resolve({"Fn::If": ["Odd", 1, 2]})


def test_short_forms_load(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("A: !Ref X\nB: !GetAtt Y.Arn\nC: !Sub 'x-${Z}'\nD: !If [C, [1], !Ref AWS::NoValue]\n")
    assert load(path) == {
        "A": {"Ref": "X"},
        "B": {"Fn::GetAtt": ["Y", "Arn"]},
        "C": {"Fn::Sub": "x-${Z}"},
        "D": {"Fn::If": ["C", [1], {"Ref": "AWS::NoValue"}]},
    }
