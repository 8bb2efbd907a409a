"""S3: evidence files (implements ports.EvidenceObjects: a versioned bucket, objects under the partner's prefix),
and the stack's export bucket (implements stats_export.Sink).

Presigning (the partner's upload form, a reviewer's link) sends nothing to AWS: it signs with the function's own
credentials, so what the form or link may do is what the function's role allows on that key (template.yaml).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from kanal.evidence import MAX_EVIDENCE_BYTES, Inspection, inspect
from kanal.models import EvidenceType

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: How much of an object one read takes (the check streams it: a 50 MB video never sits in memory whole).
CHUNK = 1024 * 1024
#: DeleteObjects takes at most this many keys.
DELETE_BATCH = 1000
_GONE = {"NoSuchKey", "NoSuchVersion", "404", "InvalidArgument"}


class S3EvidenceObjects:
    """Evidence files' bytes in one bucket."""

    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def presign_upload(
        self, key: str, content_type: EvidenceType, size: int, valid_for: timedelta
    ) -> tuple[str, dict[str, str]]:
        """A POST policy that S3 itself enforces: this key, this Content-Type, exactly ``size`` bytes."""
        post = self._client.generate_presigned_post(
            Bucket=self._bucket,
            Key=key,
            Fields={"Content-Type": str(content_type)},
            Conditions=[{"Content-Type": str(content_type)}, ["content-length-range", size, size]],
            ExpiresIn=int(valid_for.total_seconds()),
        )
        return str(post["url"]), {str(k): str(v) for k, v in post["fields"].items()}

    def read(self, key: str, version_id: str | None) -> tuple[str, Inspection] | None:
        """One version's id and what its bytes are (an object larger than any evidence is not read at all)."""
        request: dict[str, Any] = {"Bucket": self._bucket, "Key": key}
        if version_id:
            request["VersionId"] = version_id
        try:
            answer = self._client.get_object(**request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _GONE:
                return None
            raise
        body = answer["Body"]
        version = str(answer.get("VersionId") or version_id or "null")
        length = int(answer.get("ContentLength", 0))
        try:
            if length > MAX_EVIDENCE_BYTES:
                return version, Inspection(length, "", b"")
            return version, inspect(_chunks(body))
        finally:
            body.close()

    def delete(self, key: str, version_id: str | None) -> None:
        """Delete one version for good (a versioned bucket keeps no delete marker for it); None: all of the key's."""
        if version_id is None:
            self._delete_versions([v for v in self._versions(key) if v["Key"] == key])
            return
        self._client.delete_object(Bucket=self._bucket, Key=key, VersionId=version_id)

    def delete_under(self, prefix: str) -> int:
        """Every version and delete marker under ``prefix``, deleted; how many."""
        versions = list(self._versions(prefix))
        self._delete_versions(versions)
        return len(versions)

    def link(self, key: str, version_id: str, content_type: EvidenceType, valid_for: timedelta) -> str:
        """A GET of exactly the checked version, served as its checked type."""
        return str(
            self._client.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self._bucket,
                    "Key": key,
                    "VersionId": version_id,
                    "ResponseContentType": str(content_type),
                },
                ExpiresIn=int(valid_for.total_seconds()),
            )
        )

    def _versions(self, prefix: str) -> Iterator[dict[str, str]]:
        request: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix}
        while True:
            page = self._client.list_object_versions(**request)
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                yield {"Key": str(entry["Key"]), "VersionId": str(entry["VersionId"])}
            if not page.get("IsTruncated"):
                return
            request["KeyMarker"] = page["NextKeyMarker"]
            request["VersionIdMarker"] = page["NextVersionIdMarker"]

    def _delete_versions(self, versions: list[dict[str, str]]) -> None:
        for start in range(0, len(versions), DELETE_BATCH):
            batch = versions[start : start + DELETE_BATCH]
            answer = self._client.delete_objects(
                Bucket=self._bucket,
                Delete={"Objects": [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in batch], "Quiet": True},
            )
            if answer.get("Errors"):
                failed = answer["Errors"][0]
                raise RuntimeError(
                    f"could not delete {len(answer['Errors'])} evidence version(s): {failed.get('Code')}"
                )


def _chunks(body: Any) -> Iterator[bytes]:
    while chunk := body.read(CHUNK):
        yield chunk


class S3Sink:
    """Files in one bucket, each write a new version (the bucket is versioned)."""

    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def put(self, key: str, body: bytes, content_type: str) -> None:
        """One PutObject (the bucket's default encryption applies)."""
        self._client.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType=content_type)
