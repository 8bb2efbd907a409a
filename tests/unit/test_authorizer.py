"""The authorizer's rules: API keys are long and random, and one allowance covers every route of the API."""

from __future__ import annotations

from kanal.entrypoints.authorizer_function import api_arn_pattern
from kanal.partners import bearer_key


def test_keys_are_long_and_random() -> None:
    from kanal.partners import KEY_PREFIX, new_key

    keys = {new_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(k.startswith(KEY_PREFIX) and len(k) >= len(KEY_PREFIX) + 43 for k in keys)
    assert bearer_key("Bearer  " + next(iter(keys))) is not None


def test_arn_pattern_covers_every_route() -> None:
    arn = "arn:aws:execute-api:ap-southeast-3:1:abc/dev/GET/v1/reports/r_1"
    assert api_arn_pattern(arn) == "arn:aws:execute-api:ap-southeast-3:1:abc/dev/*"
