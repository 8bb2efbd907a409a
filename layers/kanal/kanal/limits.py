"""Each partner's fair share of the partner API: a rate, a burst and a quota per period.

API Gateway enforces them (a usage plan per stage holds them; each partner's API Gateway key counts against
its plan with a token bucket and a quota of its own). The default plan is the template's (PartnerRateLimit,
PartnerBurstLimit, PartnerQuotaLimit, PartnerQuotaPeriod); ``kanal partners set-limits`` gives one partner a
plan of its own. The local gateway enforces the same plans (kanal_local.limits).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class QuotaPeriod(StrEnum):
    """What a quota counts over; API Gateway starts each at 00:00 UTC (a week on Sunday, a month on the 1st)."""

    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


class Limits(BaseModel):
    """A partner's limits: ``rate`` requests per second once ``burst`` (the bucket's size) is spent; at most
    ``quota`` requests per ``period`` (None: no quota)."""

    model_config = ConfigDict(frozen=True)

    rate: float = Field(gt=0, le=10000, description="Requests per second, steady.")
    burst: int = Field(ge=1, le=5000, description="Requests at once (the token bucket's size).")
    quota: int | None = Field(default=None, ge=1, description="Requests per period; None: no quota.")
    period: QuotaPeriod | None = Field(default=None, description="The quota's period.")

    @model_validator(mode="after")
    def _quota_has_period(self) -> Limits:
        if (self.quota is None) != (self.period is None):
            raise ValueError("a quota needs its period, and a period its quota")
        return self


class PlanLimits(BaseModel):
    """A usage plan as it applies to a partner: its id, whether it is the partner's own, and its limits."""

    model_config = ConfigDict(frozen=True)

    plan_id: str
    own: bool
    limits: Limits


def overridden(base: Limits, rate: float | None, burst: int | None, quota: int | None, period: str | None) -> Limits:
    """``base`` with what is given changed (a quota of 0 removes the quota; a quota without a period keeps
    ``base``'s period, or DAY). ValueError (pydantic's) for limits out of range."""
    values = base.model_dump()
    if rate is not None:
        values["rate"] = rate
    if burst is not None:
        values["burst"] = burst
    if quota == 0:
        values["quota"] = values["period"] = None
    elif quota is not None:
        values["quota"] = quota
        values["period"] = period or base.period or QuotaPeriod.DAY
    elif period is not None:
        if base.quota is None:
            raise ValueError("--quota-period needs a quota (--quota)")
        values["period"] = period
    return Limits.model_validate(values)
