"""DynamoDB's typed attribute values to and from plain Python values.

The same mapping as boto3's TypeSerializer/TypeDeserializer (numbers as Decimal, sets of strings or
numbers, bytes as B), written here so that the functions need botocore only: importing anything
under ``boto3`` imports boto3 itself and s3transfer, about a tenth of a second of every cold start.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from decimal import Context, Decimal, Inexact, Rounded
from typing import Any

#: DynamoDB's number limits: 38 digits of precision, exponents from -130 to 125; nothing rounded silently.
_NUMBERS = Context(Emin=-128, Emax=126, prec=38, traps=[Inexact, Rounded])


def _number(value: int | Decimal) -> str:
    return str(_NUMBERS.create_decimal(value))


def to_attribute(value: Any) -> dict[str, Any]:
    """One plain value as a DynamoDB attribute value (floats are refused: use int or Decimal)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | Decimal):
        return {"N": _number(value)}
    if isinstance(value, bytes | bytearray):
        return {"B": bytes(value)}
    if isinstance(value, Mapping):
        return {"M": {str(k): to_attribute(v) for k, v in value.items()}}
    if isinstance(value, Set):
        return _set(value)
    if isinstance(value, list | tuple):
        return {"L": [to_attribute(v) for v in value]}
    raise TypeError(f"cannot store a {type(value).__name__} in DynamoDB: {value!r}")


def _set(values: Set[Any]) -> dict[str, Any]:
    if values and all(isinstance(v, str) for v in values):
        return {"SS": sorted(values)}
    if values and all(isinstance(v, int | Decimal) and not isinstance(v, bool) for v in values):
        return {"NS": sorted(_number(v) for v in values)}
    if values and all(isinstance(v, bytes | bytearray) for v in values):
        return {"BS": sorted(bytes(v) for v in values)}
    raise TypeError(f"a DynamoDB set holds strings, numbers or bytes, not empty or mixed: {values!r}")


def from_attribute(attribute: Mapping[str, Any]) -> Any:
    """One DynamoDB attribute value as a plain value (numbers as Decimal)."""
    ((kind, value),) = attribute.items()
    if kind == "S":
        return value
    if kind == "N":
        return Decimal(value)
    if kind == "BOOL":
        return bool(value)
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: from_attribute(v) for k, v in value.items()}
    if kind == "L":
        return [from_attribute(v) for v in value]
    if kind == "SS":
        return set(value)
    if kind == "NS":
        return {Decimal(v) for v in value}
    if kind == "B":
        return bytes(value)
    if kind == "BS":
        return {bytes(v) for v in value}
    raise TypeError(f"unknown DynamoDB attribute type {kind!r}")
