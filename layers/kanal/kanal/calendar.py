"""The election calendar, election phases and review deadlines: rules kept as data.

Every rule here takes the moment it is about as a parameter; nothing reads
the wall clock. Phases are local calendar days in the zone of the report's
region (WIB, WITA or WIT), as the election law counts them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from kanal import regions


class Phase(StrEnum):
    """Where a moment falls in an election: ordered from least to most pressing."""

    NONE = "none"
    CAMPAIGN = "campaign"
    QUIET = "quiet"
    VOTING = "voting"


_PRESSURE = {Phase.NONE: 0, Phase.CAMPAIGN: 1, Phase.QUIET: 2, Phase.VOTING: 3}


@dataclass(frozen=True)
class Milestone:
    """A moment of an election that partners are reminded of."""

    milestone_id: str
    at: datetime
    name_id: str
    name_en: str


@dataclass(frozen=True)
class Election:
    """One election of the calendar and the local dates of its phases."""

    election_id: str
    name: str
    type: str
    phases: dict[Phase, tuple[date, date]]
    milestones: tuple[Milestone, ...] = ()

    def phase_on(self, day: date) -> Phase:
        """The phase that a local calendar day falls in."""
        for phase, (first, last) in self.phases.items():
            if first <= day <= last:
                return phase
        return Phase.NONE

    def starts(self, phase: Phase, zone: ZoneInfo) -> datetime:
        """When a phase begins in a zone."""
        return datetime.combine(self.phases[phase][0], time.min, zone)


@dataclass(frozen=True)
class Calendar:
    """Elections, zones and the review SLA, loaded from the package's data files."""

    elections: tuple[Election, ...]
    zones: dict[str, str]
    default_zone: str
    sla_default: dict[Phase, int]
    sla_overrides: dict[str, dict[Phase, int]]

    def election(self, election_id: str | None) -> Election | None:
        """The election with this id, or None."""
        return next((e for e in self.elections if e.election_id == election_id), None)

    def ids(self) -> set[str]:
        """The ids of every election in the calendar."""
        return {e.election_id for e in self.elections}

    def zone_for(self, region_code: str) -> ZoneInfo:
        """The time zone of a region: WIB, WITA or WIT."""
        return ZoneInfo(self.zones.get(regions.province_of(region_code), self.default_zone))

    def phase_at(self, at: datetime, region_code: str, election_id: str | None = None) -> tuple[Phase, str | None]:
        """The most pressing phase of any election (or of ``election_id``) at a moment in a region."""
        day = at.astimezone(self.zone_for(region_code)).date()
        best: tuple[Phase, str | None] = (Phase.NONE, None)
        for election in self.elections:
            if election_id is not None and election.election_id != election_id:
                continue
            phase = election.phase_on(day)
            if _PRESSURE[phase] > _PRESSURE[best[0]]:
                best = (phase, election.election_id)
        return best

    def review_hours(self, category: str, phase: Phase) -> int:
        """Hours from arrival to the review deadline for a category in a phase."""
        return self.sla_overrides.get(category, {}).get(phase, self.sla_default[phase])

    def review_due(self, received_at: datetime, category: str, phase: Phase) -> datetime:
        """The review deadline of a report that arrived at ``received_at``."""
        return received_at + timedelta(hours=self.review_hours(category, phase))


def _phases(raw: dict[str, Any]) -> dict[Phase, tuple[date, date]]:
    return {
        Phase(name): (date.fromisoformat(span["start"]), date.fromisoformat(span["end"])) for name, span in raw.items()
    }


def _hours(raw: dict[str, int]) -> dict[Phase, int]:
    return {Phase(name): int(hours) for name, hours in raw.items()}


def load_calendar(elections: dict[str, Any], sla: dict[str, Any], zones: dict[str, Any]) -> Calendar:
    """Build a calendar from the three data documents (see ``kanal/data``)."""
    return Calendar(
        elections=tuple(
            Election(
                e["id"],
                e["name"],
                e["type"],
                _phases(e["phases"]),
                tuple(
                    Milestone(m["id"], datetime.fromisoformat(m["at"]), m["name_id"], m["name_en"])
                    for m in e.get("milestones", [])
                ),
            )
            for e in elections["elections"]
        ),
        zones=dict(zones["provinces"]),
        default_zone=zones["default"],
        sla_default=_hours(sla["default"]),
        sla_overrides={category: _hours(hours) for category, hours in sla["overrides"].items()},
    )


def _data(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((resources.files("kanal") / "data" / name).read_text(encoding="utf-8"))
    return result


@cache
def default_calendar() -> Calendar:
    """The calendar shipped with the package."""
    return load_calendar(_data("elections.json"), _data("sla.json"), _data("timezones.json"))
