"""What the stream-triggered functions share about DynamoDB stream records."""

from __future__ import annotations

from typing import Any


def sequence(record: dict[str, Any]) -> str:
    """The record's sequence number: its identifier in a partial batch response."""
    return str((record.get("dynamodb") or {}).get("SequenceNumber", ""))
