"""Partners and their API keys: creating, authenticating and revoking.

A key is 32 random bytes shown once; only its SHA-256 is stored. A slow
password hash is not needed: a 256-bit random key cannot be guessed from its
hash, and a fast hash keeps the authorizer on the request path cheap.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from kanal.errors import PartnerNotFound
from kanal.models import ApiKey, Partner, PartnerKind
from kanal.ports import PartnerDirectory

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

    def create(self, name: str, kind: PartnerKind, now: datetime, region_code: str | None = None) -> IssuedKey:
        """Register a partner with its first key."""
        partner = Partner(
            partner_id="p_" + secrets.token_hex(8), name=name, kind=kind, created_at=now, region_code=region_code
        )
        self.directory.add_partner(partner)
        return self._issue(partner, now)

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
