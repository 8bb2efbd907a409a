"""The reviewer CLI's arguments, parsed: durations as reviewers type them."""

from __future__ import annotations

import argparse
from datetime import timedelta

import pytest
from kanal_cli.reviewer import parse_duration


def test_durations() -> None:
    assert parse_duration("48h") == timedelta(hours=48)
    assert parse_duration(" 30m ") == timedelta(minutes=30)
    assert parse_duration("2d") == timedelta(days=2)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration("soon")
