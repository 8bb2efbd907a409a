"""AWS clients, made lazily and once per process, with timeouts that suit a request path."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, Literal, overload

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

#: Fail fast on the request path: API Gateway gives up after 29 s and partners retry anyway.
_CONFIG: dict[str, Any] = {
    "connect_timeout": 2,
    "read_timeout": 5,
    "retries": {"mode": "standard", "max_attempts": 3},
}


@overload
def client(service: Literal["dynamodb"], endpoint_url: str | None = None) -> DynamoDBClient: ...
@overload
def client(service: Literal["dynamodbstreams"], endpoint_url: str | None = None) -> DynamoDBStreamsClient: ...
@overload
def client(service: Literal["sqs"], endpoint_url: str | None = None) -> SQSClient: ...
@overload
def client(service: Literal["sns"], endpoint_url: str | None = None) -> SNSClient: ...
@overload
def client(service: Literal["kms"], endpoint_url: str | None = None) -> KMSClient: ...
@overload
def client(service: Literal["s3"], endpoint_url: str | None = None) -> S3Client: ...
@overload
def client(service: Literal["cloudformation"], endpoint_url: str | None = None) -> CloudFormationClient: ...
def client(service: str, endpoint_url: str | None = None) -> Any:
    """A shared client for ``service``, typed by boto3-stubs so that mypy checks every call's parameters
    (AWS_ENDPOINT_URL is honoured by botocore itself).

    Made with botocore alone: importing boto3 would add boto3 and s3transfer, for nothing the functions use
    (about 17-20 ms on top of botocore's session and client, measured by hand in one process; ``make bench``
    shows only each import's cost in a bare interpreter: boto3 0.16 s, botocore's session and client 0.14 s).
    """
    return _client(service, endpoint_url)


@cache
def _client(service: str, endpoint_url: str | None) -> Any:
    from botocore.config import Config  # imported here so that modules that never call AWS do not pay for it

    return _session().create_client(service, endpoint_url=endpoint_url, config=Config(**_CONFIG))


@cache
def _session() -> Any:
    """One botocore session per process: its loaded service models are shared by every client."""
    from botocore.session import get_session

    from kanal.adapters import loader

    session = get_session()
    loader.install(session)
    return session


def credentials_and_region() -> tuple[Any, str | None]:
    """The caller's AWS credentials (None if there are none) and region, found as every client finds them."""
    session = _session()
    return session.get_credentials(), session.get_config_variable("region")


def reset() -> None:
    """Forget the clients and the session (tests and the local stack change the environment they read)."""
    _client.cache_clear()
    _session.cache_clear()
