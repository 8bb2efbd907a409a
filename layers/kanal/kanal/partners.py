"""Partners and their API keys: creating, authenticating and revoking; and each partner's limits.

A key is 32 random bytes shown once; only its SHA-256 is stored. A slow
password hash is not needed: a 256-bit random key cannot be guessed from its
hash, and a fast hash keeps the authorizer on the request path cheap.

Each partner also has one API Gateway API key (its usage key): the authorizer names it as the request's
usageIdentifierKey, so every request of the partner, whichever of its keys it uses, counts against its usage
plan (kanal.limits). The partner never sees or sends it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from kanal.errors import PartnerNotFound
from kanal.limits import PlanLimits, QuotaPeriod, overridden
from kanal.models import ApiKey, Partner, PartnerKind
from kanal.ports import PartnerDirectory, UsagePlans

KEY_PREFIX = "kanal_"
KEY_BYTES = 32


def hash_key(key: str) -> str:
    """The stored form of an API key."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh API key: a prefix (so that secret scanners recognise it) and 32 random bytes."""
    return KEY_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode().rstrip("=")


def bearer_key(authorization: str | None) -> str | None:
    """The key in an ``Authorization: Bearer <key>`` header, or None."""
    if not authorization:
        return None
    scheme, _, key = authorization.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    return key


@dataclass(frozen=True)
class IssuedKey:
    """A key as it is shown, once, to whoever created it."""

    partner: Partner
    key_id: str
    api_key: str


@dataclass(frozen=True)
class Partners:
    """Partner administration and authentication."""

    directory: PartnerDirectory
    #: The partner API's usage plans; None where the stack names none (then partners get no usage key).
    plans: UsagePlans | None = None

    def create(self, name: str, kind: PartnerKind, now: datetime, region_code: str | None = None) -> IssuedKey:
        """Register a partner with its first key, and (with usage plans) its usage key in the default plan."""
        partner_id = "p_" + secrets.token_hex(8)
        usage_key_id = usage_key = None
        if self.plans is not None:
            usage_key_id, usage_key = self.plans.create_key(partner_id)
        partner = Partner(
            partner_id=partner_id,
            name=name,
            kind=kind,
            created_at=now,
            region_code=region_code,
            usage_key_id=usage_key_id,
            usage_key=usage_key,
        )
        self.directory.add_partner(partner)
        issued = self._issue(partner, now)
        if self.plans is not None and usage_key_id is not None:
            self.plans.use_default(usage_key_id)
        return issued

    def _plans(self) -> UsagePlans:
        if self.plans is None:
            raise RuntimeError("the stack names no usage plan (output UsagePlanId, KANAL_USAGE_PLAN_ID)")
        return self.plans

    def _with_usage_key(self, partner_id: str) -> tuple[Partner, str]:
        """The partner and its usage key's id, made now for a partner created before limits."""
        partner = self.directory.get_partner(partner_id)
        if partner is None:
            raise PartnerNotFound(partner_id)
        if partner.usage_key_id is None:
            plans = self._plans()
            usage_key_id, usage_key = plans.create_key(partner_id)
            partner = self.directory.set_usage_key(partner, usage_key_id, usage_key)
            # The authorizer's cached answers for its keys name no usage key (so API Gateway refuses them): the
            # next request is authorized afresh and names this one.
            plans.flush_authorizer_cache()
        assert partner.usage_key_id is not None
        return partner, partner.usage_key_id

    def limits(self, partner_id: str) -> PlanLimits | None:
        """The plan the partner's requests count against (None: it has no usage key, or its key is in no plan)."""
        partner = self.directory.get_partner(partner_id)
        if partner is None:
            raise PartnerNotFound(partner_id)
        return self._plans().plan_of(partner.usage_key_id) if partner.usage_key_id else None

    def set_limits(
        self,
        partner_id: str,
        rate: float | None = None,
        burst: int | None = None,
        quota: int | None = None,
        period: QuotaPeriod | None = None,
    ) -> PlanLimits:
        """Give the partner a plan of its own: its current limits (its own plan's, else the default's) with what
        is given changed (``quota`` 0: no quota). ValueError for limits out of range."""
        plans = self._plans()
        _, usage_key_id = self._with_usage_key(partner_id)
        current = plans.plan_of(usage_key_id)
        base = current if current is not None and current.own else plans.default_limits()
        return plans.use_own(usage_key_id, partner_id, overridden(base.limits, rate, burst, quota, period))

    def use_default_limits(self, partner_id: str) -> PlanLimits:
        """Put the partner back on the default plan (making its usage key first if it was created before
        limits: the way to bring such a partner onto the API)."""
        _, usage_key_id = self._with_usage_key(partner_id)
        return self._plans().use_default(usage_key_id)

    def revoke_key(self, partner_id: str, key_id: str, now: datetime) -> ApiKey:
        """Revoke a key. The authorizer's cached answers still let it in until ``flush`` (or AuthorizerCacheTtl)."""
        return self.directory.revoke_key(partner_id, key_id, now)

    def flush(self) -> bool:
        """Make the API authorize every key afresh (a revoked key stops at once); False without usage plans."""
        if self.plans is None:
            return False
        self.plans.flush_authorizer_cache()
        return True

    def issue_key(self, partner_id: str, now: datetime) -> IssuedKey:
        """Give an existing partner another key (for rotation)."""
        partner = self.directory.get_partner(partner_id)
        if partner is None:
            raise PartnerNotFound(partner_id)
        return self._issue(partner, now)

    def _issue(self, partner: Partner, now: datetime) -> IssuedKey:
        key = new_key()
        stored = ApiKey(
            key_id="k_" + secrets.token_hex(6), partner_id=partner.partner_id, key_hash=hash_key(key), created_at=now
        )
        self.directory.add_key(stored, partner)
        return IssuedKey(partner=partner, key_id=stored.key_id, api_key=key)

    def authenticate(self, authorization: str | None) -> ApiKey | None:
        """The active key behind an Authorization header, or None.

        Missing, malformed, unknown and revoked keys look alike to the caller.
        """
        key = bearer_key(authorization)
        if key is None:
            return None
        stored = self.directory.find_key(hash_key(key))
        if stored is None or not stored.active:
            return None
        return stored
