"""Election phases, zones and review deadlines, with time as a parameter."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from kanal.calendar import Phase, default_calendar, load_calendar

WIB = timezone(timedelta(hours=7))
WIT = timezone(timedelta(hours=9))


@pytest.mark.parametrize(
    ("moment", "phase", "election"),
    [
        (datetime(2023, 11, 27, 23, 59, tzinfo=WIB), Phase.NONE, None),
        (datetime(2023, 11, 28, 0, 0, tzinfo=WIB), Phase.CAMPAIGN, "pemilu-2024"),
        (datetime(2024, 2, 11, 0, 0, tzinfo=WIB), Phase.QUIET, "pemilu-2024"),
        (datetime(2024, 2, 14, 12, 0, tzinfo=WIB), Phase.VOTING, "pemilu-2024"),
        (datetime(2024, 2, 15, 0, 0, tzinfo=WIB), Phase.NONE, None),
        (datetime(2024, 11, 25, 8, 0, tzinfo=WIB), Phase.QUIET, "pilkada-2024"),
        (datetime(2024, 11, 27, 8, 0, tzinfo=WIB), Phase.VOTING, "pilkada-2024"),
    ],
)
def test_phase_in_jakarta(moment: datetime, phase: Phase, election: str | None) -> None:
    assert default_calendar().phase_at(moment, "31.71") == (phase, election)


def test_phase_follows_the_regions_zone() -> None:
    # 16:30 UTC on 10 Feb is still the campaign's last day in Jakarta but already the quiet period in Jayapura.
    moment = datetime(2024, 2, 10, 16, 30, tzinfo=UTC)
    calendar = default_calendar()
    assert calendar.phase_at(moment, "31")[0] is Phase.CAMPAIGN
    assert calendar.phase_at(moment, "91.01")[0] is Phase.QUIET
    assert calendar.zone_for("51.71").key == "Asia/Makassar"
    assert calendar.zone_for("94").key == "Asia/Jayapura"


def test_named_election_restricts_the_phase() -> None:
    moment = datetime(2024, 2, 12, 9, 0, tzinfo=WIB)
    assert default_calendar().phase_at(moment, "31", "pilkada-2024") == (Phase.NONE, None)


@pytest.mark.parametrize(
    ("category", "phase", "hours"),
    [
        ("misinformation", Phase.NONE, 72),
        ("misinformation", Phase.CAMPAIGN, 24),
        ("hate_speech", Phase.QUIET, 4),
        ("other", Phase.VOTING, 4),
        ("synthetic_media", Phase.NONE, 12),
        ("synthetic_media", Phase.CAMPAIGN, 12),
        ("synthetic_media", Phase.QUIET, 4),
    ],
)
def test_review_deadline_by_category_and_phase(category: str, phase: Phase, hours: int) -> None:
    received = datetime(2024, 2, 12, 9, 0, tzinfo=WIT)
    assert default_calendar().review_due(received, category, phase) == received + timedelta(hours=hours)


def test_adding_an_election_is_data() -> None:
    calendar = load_calendar(
        {
            "elections": [
                {
                    "id": "pemilu-2029",
                    "name": "Pemilu 2029",
                    "type": "pemilu",
                    "phases": {"voting": {"start": "2029-02-14", "end": "2029-02-14"}},
                }
            ]
        },
        {"default": {"none": 48, "campaign": 24, "quiet": 2, "voting": 2}, "overrides": {}},
        {"default": "Asia/Jakarta", "provinces": {}},
    )
    assert calendar.ids() == {"pemilu-2029"}
    assert calendar.phase_at(datetime(2029, 2, 14, 10, tzinfo=WIB), "31") == (Phase.VOTING, "pemilu-2029")
    assert calendar.review_hours("other", Phase.NONE) == 48
