"""Our DynamoDB attribute marshalling gives exactly what boto3's serializer gives, both ways."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from hypothesis import given
from hypothesis import strategies as st
from kanal.adapters.attributes import from_attribute, to_attribute

numbers = st.one_of(
    st.integers(min_value=-(10**37), max_value=10**37),
    st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-(10**20), max_value=10**20),
)
scalars = st.one_of(st.none(), st.booleans(), st.text(), numbers, st.binary(min_size=1))
values = st.recursive(
    st.one_of(
        scalars,
        st.sets(st.text(), min_size=1),
        st.sets(st.integers(min_value=-(10**20), max_value=10**20), min_size=1),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(), inner, max_size=4)),
    max_leaves=12,
)


def boto3_plain(value: Any) -> Any:
    """boto3 wraps bytes in Binary; ours are plain bytes."""
    if isinstance(value, Binary):
        return bytes(value)
    if isinstance(value, dict):
        return {k: boto3_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [boto3_plain(v) for v in value]
    if isinstance(value, set):
        return {boto3_plain(v) for v in value}
    return value


def canonical(attribute: Any) -> Any:
    """Set members in a fixed order (DynamoDB sets are unordered)."""
    if isinstance(attribute, dict):
        return {k: sorted(v) if k in ("SS", "NS", "BS") else canonical(v) for k, v in attribute.items()}
    if isinstance(attribute, list):
        return [canonical(v) for v in attribute]
    return attribute


@given(values)
def test_marshalling_matches_boto3(value: Any) -> None:
    ours = to_attribute(value)
    assert canonical(ours) == canonical(TypeSerializer().serialize(value))
    assert from_attribute(ours) == boto3_plain(TypeDeserializer().deserialize(ours))


@pytest.mark.parametrize("bad", [1.5, set(), {1, "a"}, object()])
def test_values_dynamodb_cannot_hold_are_refused(bad: Any) -> None:
    with pytest.raises(TypeError):
        to_attribute(bad)


def test_numbers_are_not_rounded_silently() -> None:
    with pytest.raises(ArithmeticError):
        to_attribute(Decimal("1." + "1" * 40))
    with pytest.raises(TypeError):
        from_attribute({"X": "?"})
