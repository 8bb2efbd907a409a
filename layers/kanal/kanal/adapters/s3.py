"""The stack's export bucket (implements stats_export.Sink)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class S3Sink:
    """Files in one bucket, each write a new version (the bucket is versioned)."""

    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def put(self, key: str, body: bytes, content_type: str) -> None:
        """One PutObject (the bucket's default encryption applies)."""
        self._client.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType=content_type)
