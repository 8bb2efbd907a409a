"""In-memory fakes of the evidence ports: the files recorded in their reports (``MemoryEvidence``) and a versioned
bucket (``MemoryBucket``), for testing kanal.evidence's rules without AWS."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from kanal.evidence import Inspection, inspect
from kanal.models import EvidenceFile, EvidenceStatus, EvidenceType


class MemoryEvidence:
    """EvidenceStore in a dict: (report id) -> (partner id, files by id)."""

    def __init__(self) -> None:
        self.reports: dict[str, tuple[str, dict[str, EvidenceFile]]] = {}

    def add(self, report_id: str, partner_id: str, record: EvidenceFile, limit: int) -> bool:
        owner, files = self.reports.setdefault(report_id, (partner_id, {}))
        if owner != partner_id or len(files) >= limit:
            return False
        files[record.evidence_id] = record
        return True

    def get(self, report_id: str, partner_id: str, evidence_id: str) -> EvidenceFile | None:
        owner, files = self.reports.get(report_id, ("", {}))
        return files.get(evidence_id) if owner == partner_id else None

    def settle(
        self,
        report_id: str,
        partner_id: str,
        evidence_id: str,
        status: EvidenceStatus,
        reason: str | None,
        version_id: str,
        at: datetime,
    ) -> EvidenceFile | None:
        found = self.get(report_id, partner_id, evidence_id)
        if found is None or found.status is not EvidenceStatus.PENDING:
            return found
        settled = found.model_copy(
            update={"status": status, "reason": reason, "version_id": version_id, "checked_at": at}
        )
        self.reports[report_id][1][evidence_id] = settled
        return settled


class MemoryBucket:
    """EvidenceObjects over a dict of versions: (key) -> {version id: bytes}."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, bytes]] = {}
        self.forms: list[tuple[str, EvidenceType, int]] = []
        self._ids = itertools.count(1)

    def put(self, key: str, content: bytes) -> str:
        """An upload: a new version of ``key``."""
        version = f"v{next(self._ids)}"
        self.objects.setdefault(key, {})[version] = content
        return version

    def presign_upload(
        self, key: str, content_type: EvidenceType, size: int, valid_for: timedelta
    ) -> tuple[str, dict[str, str]]:
        self.forms.append((key, content_type, size))
        return "https://bucket.example/", {"key": key, "Content-Type": str(content_type)}

    def read(self, key: str, version_id: str | None) -> tuple[str, Inspection] | None:
        versions = self.objects.get(key, {})
        version = version_id or (list(versions)[-1] if versions else None)
        if version is None or version not in versions:
            return None
        content = versions[version]
        return version, inspect(content[i : i + 7] for i in range(0, len(content), 7))

    def delete(self, key: str, version_id: str | None) -> None:
        if version_id is None:
            self.objects.pop(key, None)
        else:
            self.objects.get(key, {}).pop(version_id, None)

    def delete_under(self, prefix: str) -> int:
        gone = [k for k in self.objects if k.startswith(prefix)]
        return sum(len(self.objects.pop(k)) for k in gone)

    def link(self, key: str, version_id: str, content_type: EvidenceType, valid_for: timedelta) -> str:
        return f"https://bucket.example/{key}?versionId={version_id}&expires={int(valid_for.total_seconds())}"
