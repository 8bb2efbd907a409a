"""Election phases, zones and review deadlines, with time as a parameter."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
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


zones = st.sampled_from(["31.71", "51.71", "73.71", "91.01", "94"])  # WIB, WITA, WITA, WIT, WIT
moments = st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2025, 12, 31), timezones=st.just(UTC))
categories = st.sampled_from(
    ["misinformation", "election_integrity", "synthetic_media", "hate_speech", "campaign_violation", "other"]
)


@given(moments, zones, categories)
def test_property_deadline_follows_phase_and_category(moment: datetime, region: str, category: str) -> None:
    calendar = default_calendar()
    phase, election = calendar.phase_at(moment, region)
    due = calendar.review_due(moment, category, phase)
    hours = (due - moment) / timedelta(hours=1)
    expected = {Phase.NONE: 72, Phase.CAMPAIGN: 24, Phase.QUIET: 4, Phase.VOTING: 4}[phase]
    if category == "synthetic_media":
        expected = min(expected, 12)
    assert hours == expected
    assert (election is None) == (phase is Phase.NONE)
    local_day = moment.astimezone(calendar.zone_for(region)).date()
    if phase is not Phase.NONE:
        first, last = calendar.election(election).phases[phase]  # type: ignore[union-attr]
        assert first <= local_day <= last  # the phase is read on the region's own calendar day


@given(moments)
def test_property_later_zones_enter_a_phase_no_later(moment: datetime) -> None:
    calendar = default_calendar()
    order = [Phase.NONE, Phase.CAMPAIGN, Phase.QUIET, Phase.VOTING]
    west = calendar.phase_at(moment, "31")[0]
    east = calendar.phase_at(moment, "91")[0]
    # Jayapura's day starts two hours before Jakarta's; across a phase change it is never behind it.
    if {west, east} <= {Phase.CAMPAIGN, Phase.QUIET, Phase.VOTING}:
        assert order.index(east) >= order.index(west)
