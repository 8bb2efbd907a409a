"""Evidence files: screenshots, recordings and documents that a partner uploads with a report, so that the
evidence outlives the video (which is what kanal exists to have removed).

A partner declares a file (name, type, size, SHA-256) and gets a presigned S3 POST that takes exactly that
size and type, for 15 minutes; the object goes to ``<partner_id>/<report_id>/<evidence_id>``. When it is
created, the evidence function reads it and checks what was declared: the size, the SHA-256 and that its
first bytes are of the declared type. The evidence becomes ``verified`` (that one version of the object is
the evidence; any other version is deleted), or ``rejected`` with the reason, and the object is deleted.
Reviewers open verified files through links valid 5 minutes. The evidence is kept in its report's item, so it
goes when the report goes (the case's retention), and the purge deletes the objects with it.

Pure rules: no AWS here (``ports.EvidenceStore`` and ``ports.EvidenceObjects`` are the storage).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field

from kanal import terminal
from kanal.errors import ReportNotFound, TooManyEvidenceFiles

if TYPE_CHECKING:
    from kanal.ports import EvidenceObjects, EvidenceStore, ReportRepository

from kanal.models import EvidenceFile, EvidenceStatus, EvidenceType, Model

#: The largest file taken: 50 MB (MiB, as S3 counts bytes: 52,428,800).
MAX_EVIDENCE_BYTES = 50 * 1024 * 1024
#: Files per report, whatever became of them (a rejected file counts: it was an upload).
MAX_EVIDENCE_PER_REPORT = 10
#: How long a presigned upload may be used.
UPLOAD_VALIDITY = timedelta(minutes=15)
#: How long a reviewer's link to a verified file works.
LINK_VALIDITY = timedelta(minutes=5)
#: How many first bytes the type check reads (an MP4's ``ftyp`` box starts at offset 4).
HEAD_BYTES = 16

_SHA256 = re.compile(r"[0-9a-f]{64}")
_KEY = re.compile(r"(p_[a-z0-9]{1,64})/(r_[a-z0-9]{1,64})/(e_[a-z0-9]{1,64})")


def _filename(value: str) -> str:
    terminal.plain_text(value)
    if any(char in value for char in "/\\\n\t") or value in (".", ".."):
        raise ValueError("must be a file name: no path separators, newlines or tabs")
    return value


def _sha256(value: str) -> str:
    if not _SHA256.fullmatch(value):
        raise ValueError("must be the file's SHA-256 as 64 lower-case hexadecimal digits")
    return value


class NewEvidence(Model):
    """The body of POST /v1/reports/{report_id}/evidence: the file the partner is about to upload."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    filename: Annotated[str, AfterValidator(_filename)] = Field(
        min_length=1, max_length=255, description="The file's name, as the partner knows it.", examples=["bukti.png"]
    )
    content_type: EvidenceType = Field(description="The file's type: what its first bytes must be.")
    size: int = Field(ge=1, le=MAX_EVIDENCE_BYTES, strict=True, description="The file's size in bytes (at most 50 MB).")
    sha256: Annotated[str, AfterValidator(_sha256)] = Field(
        description="The file's SHA-256, 64 lower-case hex digits (`sha256sum FILE`).",
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    )


class Upload(Model):
    """A presigned S3 POST: send ``fields`` and then the file as multipart/form-data to ``url``."""

    url: str
    fields: dict[str, str]
    expires_at: datetime


class EvidenceUpload(Model):
    """The 201 answer to POST /v1/reports/{report_id}/evidence."""

    evidence_id: str
    upload: Upload


def new_evidence_id() -> str:
    """A fresh random evidence id (128 bits)."""
    return "e_" + secrets.token_hex(16)


def object_key(partner_id: str, report_id: str, evidence_id: str) -> str:
    """Where an evidence file is kept: under its partner's prefix, then its report's."""
    return f"{partner_id}/{report_id}/{evidence_id}"


def report_prefix(partner_id: str, report_id: str) -> str:
    """The prefix of every evidence object of a report."""
    return f"{partner_id}/{report_id}/"


def parse_key(key: str) -> tuple[str, str, str] | None:
    """(partner_id, report_id, evidence_id) of an evidence object's key; None for any other key."""
    match = _KEY.fullmatch(key)
    return (match.group(1), match.group(2), match.group(3)) if match else None


def _ftyp(head: bytes) -> bool:
    return head[4:8] == b"ftyp"


#: What the first bytes of each accepted type are (their signatures, as the formats define them).
SIGNATURES: Mapping[EvidenceType, Any] = {
    EvidenceType.PNG: lambda head: head.startswith(b"\x89PNG\r\n\x1a\n"),
    EvidenceType.JPEG: lambda head: head.startswith(b"\xff\xd8\xff"),
    EvidenceType.WEBP: lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP",
    EvidenceType.MP4: _ftyp,
    EvidenceType.PDF: lambda head: head.startswith(b"%PDF-"),
}


def is_of_type(content_type: EvidenceType, head: bytes) -> bool:
    """Whether a file's first bytes are those of ``content_type``."""
    return bool(SIGNATURES[content_type](head))


@dataclass(frozen=True)
class Inspection:
    """What a file's bytes are: how many, their SHA-256, and the first HEAD_BYTES of them."""

    size: int
    sha256: str
    head: bytes


def inspect(chunks: Iterable[bytes]) -> Inspection:
    """Read a file a chunk at a time (a 50 MB video never sits in memory whole)."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    for chunk in chunks:
        if len(head) < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - len(head)]
        digest.update(chunk)
        size += len(chunk)
    return Inspection(size, digest.hexdigest(), head)


def verdict(declared: EvidenceFile, found: Inspection) -> str | None:
    """Why the file is refused (None: it is what was declared)."""
    if found.size != declared.size:
        return f"size is {found.size} bytes, not the {declared.size} declared"
    if found.sha256 != declared.sha256:
        return "SHA-256 differs from the one declared"
    if not is_of_type(declared.content_type, found.head):
        return f"its first bytes are not those of {declared.content_type}"
    return None


@dataclass(frozen=True)
class Outcome:
    """What checking one object version did."""

    status: EvidenceStatus | None
    deleted: bool
    reason: str | None = None


@dataclass(frozen=True)
class Evidence:
    """Partners' evidence files: declared through the API, checked when uploaded, opened by reviewers."""

    reports: ReportRepository
    store: EvidenceStore
    objects: EvidenceObjects

    def declare(self, partner_id: str, report_id: str, body: NewEvidence, now: datetime) -> EvidenceUpload:
        """Record a pending file on one of the partner's reports and presign its upload (ReportNotFound for
        another partner's report; TooManyEvidenceFiles past the limit)."""
        report = self.reports.get(report_id)
        if report is None or report.partner_id != partner_id:
            raise ReportNotFound(report_id)
        record = EvidenceFile(
            evidence_id=new_evidence_id(),
            filename=body.filename,
            content_type=body.content_type,
            size=body.size,
            sha256=body.sha256,
            status=EvidenceStatus.PENDING,
            created_at=now,
        )
        if not self.store.add(report_id, partner_id, record, MAX_EVIDENCE_PER_REPORT):
            raise TooManyEvidenceFiles(
                f"A report takes at most {MAX_EVIDENCE_PER_REPORT} evidence files; this one has them already."
            )
        key = object_key(partner_id, report_id, record.evidence_id)
        expires = now + UPLOAD_VALIDITY
        url, fields = self.objects.presign_upload(key, record.content_type, record.size, UPLOAD_VALIDITY)
        return EvidenceUpload(evidence_id=record.evidence_id, upload=Upload(url=url, fields=fields, expires_at=expires))

    def check(self, key: str, version_id: str | None, now: datetime) -> Outcome:
        """Check one uploaded version of an evidence object against its declaration, once: a redelivered event
        changes nothing. The first version checked decides; any other version is deleted (the evidence is the
        version that was checked); an object no declaration names is deleted."""
        named = parse_key(key)
        record = self.store.get(named[1], named[0], named[2]) if named else None
        if named is None or record is None:
            self.objects.delete(key, version_id)
            return Outcome(None, deleted=True, reason="no evidence is declared under this key")
        partner_id, report_id, evidence_id = named
        if record.status is not EvidenceStatus.PENDING:
            if record.status is EvidenceStatus.VERIFIED and record.version_id == version_id:
                return Outcome(record.status, deleted=False)  # the same event again
            self.objects.delete(key, version_id)
            return Outcome(record.status, deleted=True, reason="the evidence was already checked")
        found = self.objects.read(key, version_id)
        if found is None:  # deleted meanwhile (an earlier delivery rejected it)
            return Outcome(record.status, deleted=True)
        version, inspection = found
        reason = verdict(record, inspection)
        status = EvidenceStatus.VERIFIED if reason is None else EvidenceStatus.REJECTED
        decided = self.store.settle(report_id, partner_id, evidence_id, status, reason, version, now)
        if decided is None or decided.status is not EvidenceStatus.VERIFIED or decided.version_id != version:
            self.objects.delete(key, version)
            return Outcome(decided.status if decided else None, deleted=True, reason=reason)
        return Outcome(decided.status, deleted=False)

    def link(self, partner_id: str, report_id: str, record: EvidenceFile) -> str | None:
        """A reviewer's link to a verified file's checked version, valid LINK_VALIDITY (None unless verified)."""
        if record.status is not EvidenceStatus.VERIFIED or record.version_id is None:
            return None
        key = object_key(partner_id, report_id, record.evidence_id)
        return self.objects.link(key, record.version_id, record.content_type, LINK_VALIDITY)
