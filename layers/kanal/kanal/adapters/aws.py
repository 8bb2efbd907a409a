"""boto3 clients, made lazily and once per process, with timeouts that suit a request path."""

from __future__ import annotations

from functools import cache
from typing import Any

#: Fail fast on the request path: API Gateway gives up after 29 s and partners retry anyway.
_CONFIG: dict[str, Any] = {
    "connect_timeout": 2,
    "read_timeout": 5,
    "retries": {"mode": "standard", "max_attempts": 3},
}


@cache
def client(service: str, endpoint_url: str | None = None) -> Any:
    """A shared boto3 client for ``service`` (AWS_ENDPOINT_URL is honoured by boto3 itself)."""
    import boto3  # imported here so that modules that never call AWS do not pay for it
    from botocore.config import Config

    session: Any = boto3.session.Session()
    return session.client(service, endpoint_url=endpoint_url, config=Config(**_CONFIG))
