"""The local gateway's usage plans: each API key's token bucket and quota, as API Gateway applies them.

A plan holds a rate (tokens a second), a burst (the bucket's size) and optionally a quota per period (DAY,
WEEK or MONTH, from 00:00 UTC; a week from Sunday). Each API key in a plan has a bucket and a count of its
own: a request takes a token and counts once; with no token left it is THROTTLED, with the quota used up
QUOTA_EXCEEDED (429 both, as the API's gateway responses shape them); a key in no plan of the stage is
INVALID_API_KEY (403). The stage's own throttle (MethodSettings) is one more bucket, shared by every caller.

The plans are read where `kanal partners set-limits` writes them and the local stack made the template's:
API Gateway's usage plans and keys on the emulated endpoint (moto), on each request, so a change applies
from the next one. Time is a parameter of every rule (``now``); the gateway passes the clock.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from threading import Lock
from typing import Any

from kanal.limits import Limits, QuotaPeriod

THROTTLED = "THROTTLED"
QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
INVALID_API_KEY = "INVALID_API_KEY"


@dataclass
class TokenBucket:
    """``burst`` tokens at most, ``rate`` more each second; a request takes one."""

    rate: float
    burst: int
    tokens: float
    updated: datetime

    @classmethod
    def full(cls, rate: float, burst: int, now: datetime) -> TokenBucket:
        """A bucket with all its tokens (a key's first request may burst)."""
        return cls(rate, burst, float(burst), now)

    def refill(self, now: datetime) -> None:
        """Add what ``rate`` gave since the last look (never past ``burst``; a clock going back adds nothing)."""
        elapsed = max(0.0, (now - self.updated).total_seconds())
        self.tokens = min(float(self.burst), self.tokens + elapsed * self.rate)
        self.updated = max(self.updated, now)

    def take(self, now: datetime) -> bool:
        """Take a token if there is one; whether there was."""
        self.refill(now)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def change(self, rate: float, burst: int, now: datetime) -> None:
        """New limits (set-limits changed the plan): the tokens gathered so far stay, up to the new burst."""
        self.refill(now)
        self.rate, self.burst = rate, burst
        self.tokens = min(self.tokens, float(burst))


def period_start(now: datetime, period: QuotaPeriod) -> datetime:
    """The start of the quota period ``now`` is in: 00:00 UTC of the day, of the week's Sunday, of the month's 1st."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == QuotaPeriod.DAY:
        return day
    if period == QuotaPeriod.WEEK:
        return day - timedelta(days=(day.weekday() + 1) % 7)  # Monday is 0: Sunday is 6 days back from Saturday
    return day.replace(day=1)


def period_end(start: datetime, period: QuotaPeriod) -> datetime:
    """When the period that starts at ``start`` ends (and the count starts again)."""
    if period == QuotaPeriod.DAY:
        return start + timedelta(days=1)
    if period == QuotaPeriod.WEEK:
        return start + timedelta(days=7)
    return start + timedelta(days=calendar.monthrange(start.year, start.month)[1])


@dataclass
class Quota:
    """Requests counted in the current period."""

    used: int = 0
    start: datetime | None = None

    def roll(self, period: QuotaPeriod, now: datetime) -> None:
        """Start counting again if ``now`` is in a later period than the count's."""
        start = period_start(now, period)
        if self.start is None or start > self.start:
            self.start, self.used = start, 0


@dataclass(frozen=True)
class Plan:
    """A usage plan as the gateway applies it to a key."""

    plan_id: str
    limits: Limits


@dataclass
class Usage:
    """One key's use of one plan."""

    bucket: TokenBucket
    quota: Quota = field(default_factory=Quota)


@dataclass
class Limiter:
    """Each key's bucket and quota in its plan; ``plans(usage key) -> (key id, Plan) or None``."""

    plans: Callable[[str], tuple[str, Plan] | None]
    usage: dict[tuple[str, str], Usage] = field(default_factory=dict)
    lock: Lock = field(default_factory=Lock)

    def admit(self, usage_key: str | None, now: datetime) -> str | None:
        """None if the request may go on (it is counted); else the gateway response that refuses it."""
        found = self.plans(usage_key) if usage_key else None
        if found is None:
            return INVALID_API_KEY
        key_id, plan = found
        return self.admit_to(key_id, plan, now)

    def admit_to(self, key_id: str, plan: Plan, now: datetime) -> str | None:
        """The rule itself, for a key known to be in ``plan``: the quota first (a refused request counts for
        nothing), then a token."""
        limits = plan.limits
        with self.lock:
            usage = self.usage.get((plan.plan_id, key_id))
            if usage is None:
                usage = self.usage[(plan.plan_id, key_id)] = Usage(TokenBucket.full(limits.rate, limits.burst, now))
            elif (usage.bucket.rate, usage.bucket.burst) != (limits.rate, limits.burst):
                usage.bucket.change(limits.rate, limits.burst, now)
            quota, period = limits.quota, limits.period
            if quota is not None and period is not None:
                usage.quota.roll(period, now)
                if usage.quota.used >= quota:
                    return QUOTA_EXCEEDED
            if not usage.bucket.take(now):
                return THROTTLED
            usage.quota.used += 1  # counted whether or not the plan has a quota (one may be set later)
            return None


@dataclass
class EndpointPlans:
    """The usage plans of one API stage on the emulated endpoint: ``__call__(usage key) -> (key id, Plan)`` for
    the plan the key is in, None for a key that is unknown, disabled or in no plan of the stage."""

    api_id: str
    stage: str
    region: str
    client: Any = None
    #: API key value -> (id, enabled); values never change, so a key found stays found (until it is deleted).
    keys: dict[str, tuple[str, bool]] = field(default_factory=dict)

    def _apigateway(self) -> Any:
        if self.client is None:
            import boto3

            self.client = boto3.client("apigateway", region_name=self.region)  # AWS_ENDPOINT_URL: the local stack's
        return self.client

    def _refresh(self) -> None:
        found: dict[str, tuple[str, bool]] = {}
        for page in self._apigateway().get_paginator("get_api_keys").paginate(includeValues=True):
            for key in page.get("items", []):
                if key.get("value"):
                    found[str(key["value"])] = (str(key["id"]), bool(key.get("enabled", False)))
        self.keys = found

    def __call__(self, usage_key: str) -> tuple[str, Plan] | None:
        from kanal.adapters.apigateway import limits_of

        if usage_key not in self.keys:
            self._refresh()
        known = self.keys.get(usage_key)
        if known is None or not known[1]:
            return None
        key_id = known[0]
        for plan in self._apigateway().get_usage_plans(keyId=key_id).get("items", []):
            if any(s.get("apiId") == self.api_id and s.get("stage") == self.stage for s in plan.get("apiStages", [])):
                return key_id, Plan(str(plan["id"]), limits_of(plan))
        return None


def stage_bucket(rate: float | None, burst: int | None, now: Callable[[], datetime]) -> TokenBucket | None:
    """The stage's own throttle (its MethodSettings for every method), or None if it sets none."""
    if rate is None or burst is None:
        return None
    return TokenBucket.full(rate, burst, now())
