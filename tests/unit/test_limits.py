"""Each partner's fair share: the token bucket and quota the local gateway applies as API Gateway does (time is a
parameter: no clock is read), the limits set-limits computes, and the partners' usage keys."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kanal.limits import Limits, PlanLimits, QuotaPeriod, overridden
from kanal.models import PartnerKind
from kanal.partners import Partners
from kanal_local.limits import (
    INVALID_API_KEY,
    QUOTA_EXCEEDED,
    THROTTLED,
    Limiter,
    Plan,
    TokenBucket,
    period_end,
    period_start,
)
from pydantic import ValidationError

from tests.support.fakes import MemoryPartners

T0 = datetime(2024, 2, 14, 6, 0, tzinfo=UTC)  # voting day, 13:00 WIB


@given(
    rate=st.integers(1, 50),
    burst=st.integers(1, 100),
    gaps=st.lists(st.integers(0, 2_000), min_size=1, max_size=300),
)
def test_a_bucket_never_lets_more_through_than_its_burst_and_rate(rate: int, burst: int, gaps: list[int]) -> None:
    """Whatever the times of the requests: admitted <= burst + rate * elapsed, at any moment."""
    bucket = TokenBucket.full(rate, burst, T0)
    now, admitted = T0, 0
    for gap in gaps:
        now += timedelta(milliseconds=gap)
        admitted += bucket.take(now)
        assert admitted <= burst + rate * (now - T0).total_seconds() + 1e-9


@given(rate=st.integers(1, 50), burst=st.integers(1, 100), extra=st.integers(0, 30))
def test_a_bucket_lets_the_burst_at_once_then_one_per_tick_of_its_rate(rate: int, burst: int, extra: int) -> None:
    bucket = TokenBucket.full(rate, burst, T0)
    assert all(bucket.take(T0) for _ in range(burst))
    assert not bucket.take(T0)
    now = T0
    for _ in range(extra):  # requests spaced 1/rate apart (rounded up to the clock's microsecond) find their token
        now += timedelta(microseconds=math.ceil(1_000_000 / rate))
        assert bucket.take(now)
        assert not bucket.take(now)


def test_a_clock_going_back_adds_no_token() -> None:
    bucket = TokenBucket.full(1, 1, T0)
    assert bucket.take(T0)
    assert not bucket.take(T0 - timedelta(hours=1))
    assert not bucket.take(T0 + timedelta(milliseconds=999))
    assert bucket.take(T0 + timedelta(seconds=1))


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        (QuotaPeriod.DAY, datetime(2024, 2, 14, tzinfo=UTC), datetime(2024, 2, 15, tzinfo=UTC)),
        # 14 February 2024 is a Wednesday: API Gateway's week starts on Sunday.
        (QuotaPeriod.WEEK, datetime(2024, 2, 11, tzinfo=UTC), datetime(2024, 2, 18, tzinfo=UTC)),
        (QuotaPeriod.MONTH, datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC)),  # a leap year
    ],
)
def test_quota_periods_start_at_midnight_utc(period: QuotaPeriod, start: datetime, end: datetime) -> None:
    assert period_start(T0, period) == start
    assert period_end(start, period) == end
    # A moment in WIB just after midnight local time is still the day before in UTC.
    wib = datetime(2024, 2, 15, 0, 30, tzinfo=UTC) + timedelta(hours=-7)
    assert period_start(wib, QuotaPeriod.DAY) == datetime(2024, 2, 14, tzinfo=UTC)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 1), timezones=st.just(UTC)))
def test_every_moment_is_in_the_period_that_starts_before_it(now: datetime) -> None:
    for period in QuotaPeriod:
        start = period_start(now, period)
        assert start <= now < period_end(start, period)


def plan(rate: float = 1000, burst: int = 1000, quota: int | None = None, plan_id: str = "default") -> Plan:
    period = QuotaPeriod.DAY if quota is not None else None
    return Plan(plan_id, Limits(rate=rate, burst=burst, quota=quota, period=period))


def test_each_key_has_its_own_bucket_one_over_its_rate_leaves_another_served() -> None:
    limiter = Limiter(plans=lambda key: None)
    shared = plan(rate=1, burst=2)
    assert [limiter.admit_to("runaway", shared, T0) for _ in range(3)] == [None, None, THROTTLED]
    assert limiter.admit_to("other", shared, T0) is None
    assert limiter.admit_to("runaway", shared, T0 + timedelta(seconds=1)) is None


def test_a_quota_used_up_refuses_until_the_next_period_and_a_throttled_request_counts_for_nothing() -> None:
    limiter = Limiter(plans=lambda key: None)
    daily = plan(rate=1, burst=1, quota=2)
    assert limiter.admit_to("k", daily, T0) is None
    assert limiter.admit_to("k", daily, T0) == THROTTLED  # not counted
    assert limiter.admit_to("k", daily, T0 + timedelta(seconds=1)) is None
    assert limiter.admit_to("k", daily, T0 + timedelta(hours=1)) == QUOTA_EXCEEDED
    assert limiter.admit_to("k", daily, datetime(2024, 2, 15, tzinfo=UTC)) is None


def test_a_plan_changed_in_place_applies_from_the_next_request() -> None:
    limiter = Limiter(plans=lambda key: None)
    assert limiter.admit_to("k", plan(rate=1, burst=5), T0) is None
    # The 4 tokens left are over the new burst: one remains.
    assert [limiter.admit_to("k", plan(rate=1, burst=1), T0) for _ in range(2)] == [None, THROTTLED]
    assert limiter.admit_to("k", plan(rate=1, burst=1), T0 + timedelta(seconds=1)) is None


def test_a_key_in_no_plan_or_no_key_is_refused_as_api_gateway_does() -> None:
    known = {"value-1": ("id-1", plan())}
    limiter = Limiter(plans=known.get)
    assert limiter.admit("value-1", T0) is None
    assert limiter.admit("value-2", T0) == INVALID_API_KEY
    assert limiter.admit(None, T0) == INVALID_API_KEY


BASE = Limits(rate=50, burst=100, quota=100000, period=QuotaPeriod.DAY)


def test_set_limits_changes_what_is_given_and_keeps_the_rest() -> None:
    assert overridden(BASE, 5, None, None, None) == BASE.model_copy(update={"rate": 5})
    assert overridden(BASE, None, 7, 900, None) == Limits(rate=50, burst=7, quota=900, period=QuotaPeriod.DAY)
    assert overridden(BASE, None, None, None, "MONTH").period == QuotaPeriod.MONTH
    assert overridden(BASE, None, None, 0, None) == Limits(rate=50, burst=100)
    no_quota = Limits(rate=1, burst=1)
    assert overridden(no_quota, None, None, 10, None) == Limits(rate=1, burst=1, quota=10, period=QuotaPeriod.DAY)
    with pytest.raises(ValueError, match="needs a quota"):
        overridden(no_quota, None, None, None, "WEEK")
    with pytest.raises(ValidationError):
        overridden(BASE, None, 6000, None, None)


@dataclass
class MemoryPlans:
    """UsagePlans in dicts: a default plan, and partners' own."""

    default: Limits = BASE
    keys: dict[str, str] = field(default_factory=dict)  # key id -> value
    plan_of_key: dict[str, str] = field(default_factory=dict)  # key id -> plan id
    own: dict[str, Limits] = field(default_factory=dict)
    flushes: int = 0

    def create_key(self, partner_id: str) -> tuple[str, str]:
        key_id = f"key-{len(self.keys)}"
        self.keys[key_id] = f"value-of-{key_id}-for-{partner_id}"
        return key_id, self.keys[key_id]

    def delete_key(self, key_id: str) -> None:
        self.keys.pop(key_id)
        self.plan_of_key.pop(key_id, None)

    def plan_of(self, key_id: str) -> PlanLimits | None:
        plan_id = self.plan_of_key.get(key_id)
        if plan_id is None:
            return None
        own = plan_id != "default"
        return PlanLimits(plan_id=plan_id, own=own, limits=self.own[plan_id] if own else self.default)

    def default_limits(self) -> PlanLimits:
        return PlanLimits(plan_id="default", own=False, limits=self.default)

    def use_default(self, key_id: str) -> PlanLimits:
        self.own.pop(self.plan_of_key.get(key_id, "default"), None)
        self.plan_of_key[key_id] = "default"
        return self.default_limits()

    def use_own(self, key_id: str, partner_id: str, limits: Limits) -> PlanLimits:
        plan_id = f"own-{partner_id}"
        self.own[plan_id] = limits
        self.plan_of_key[key_id] = plan_id
        return PlanLimits(plan_id=plan_id, own=True, limits=limits)

    def flush_authorizer_cache(self) -> None:
        self.flushes += 1


def test_a_partner_gets_a_usage_key_in_the_default_plan_that_is_not_its_secret() -> None:
    plans, directory = MemoryPlans(), MemoryPartners()
    partners = Partners(directory, plans)
    issued = partners.create("Bawaslu RI", PartnerKind.ELECTION_AGENCY, T0)
    partner = issued.partner
    assert partner.usage_key_id is not None
    assert partner.usage_key is not None
    assert partner.usage_key != issued.api_key
    assert plans.plan_of_key[partner.usage_key_id] == "default"
    # Every key of the partner names the same usage key: its requests count together, whichever key it uses.
    again = partners.issue_key(partner.partner_id, T0)
    keys = directory.keys_of(partner.partner_id)
    assert {k.usage_key for k in keys} == {partner.usage_key}
    assert len(keys) == 2
    assert partners.authenticate(f"Bearer {again.api_key}").usage_key == partner.usage_key  # type: ignore[union-attr]


def test_set_limits_gives_an_own_plan_and_default_takes_it_back() -> None:
    plans, directory = MemoryPlans(), MemoryPartners()
    partners = Partners(directory, plans)
    partner_id = partners.create("Perludem", PartnerKind.CIVIL_SOCIETY, T0).partner.partner_id
    own = partners.set_limits(partner_id, rate=5)
    assert own.own
    assert own.limits == BASE.model_copy(update={"rate": 5})
    # From the partner's own plan, not the default: what was set before stays.
    assert partners.set_limits(partner_id, burst=7).limits == BASE.model_copy(update={"rate": 5, "burst": 7})
    assert partners.use_default_limits(partner_id) == plans.default_limits()
    assert partners.limits(partner_id) == plans.default_limits()


def test_a_partner_made_before_limits_is_brought_onto_the_api_by_set_limits() -> None:
    plans, directory = MemoryPlans(), MemoryPartners()
    legacy = Partners(directory).create("KPU RI", PartnerKind.ELECTION_AGENCY, T0)
    assert legacy.partner.usage_key is None
    assert Partners(directory, plans).limits(legacy.partner.partner_id) is None
    Partners(directory, plans).use_default_limits(legacy.partner.partner_id)
    stored = directory.get_partner(legacy.partner.partner_id)
    assert stored is not None
    assert stored.usage_key is not None
    assert {k.usage_key for k in directory.keys_of(stored.partner_id)} == {stored.usage_key}


def test_revoking_flushes_the_authorizer_cache_when_there_are_plans() -> None:
    plans, directory = MemoryPlans(), MemoryPartners()
    partners = Partners(directory, plans)
    issued = partners.create("Bawaslu RI", PartnerKind.ELECTION_AGENCY, T0)
    partners.revoke_key(issued.partner.partner_id, issued.key_id, T0)
    assert partners.flush() is True
    assert plans.flushes == 1
    assert partners.authenticate(f"Bearer {issued.api_key}") is None
    assert Partners(directory).flush() is False
