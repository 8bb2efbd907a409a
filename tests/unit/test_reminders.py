"""The reminders' rules without a stack: offsets and statutory windows (on moto: tests/component/test_reminders.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from kanal.reminders import ReminderKind, default_rules, parse_offset

WIB = timezone(timedelta(hours=7))


def test_offsets_and_windows() -> None:
    rules = default_rules()
    assert parse_offset("24h") == timedelta(hours=24)
    assert [o for o, _ in rules.offsets_for(ReminderKind.INFO_DUE)] == ["24h", "2h"]
    friday = datetime(2024, 2, 9, 10, tzinfo=WIB)
    assert rules.window_end(friday, "pemilu") == datetime(2024, 2, 16, 23, 59, tzinfo=WIB)
    working = type(rules)(rules.offsets, {"default": {"days": 7, "working_days": True}}, 8)
    assert working.window_end(friday, None) == datetime(2024, 2, 20, 23, 59, tzinfo=WIB)
    with pytest.raises(ValueError, match="offset"):
        parse_offset("soon")
