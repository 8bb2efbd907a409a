"""kanal.evidence's rules on in-memory fakes: what a file's first bytes are, reading a file in chunks, the verdict,
object keys, the declaration's fields, and checking uploads in any order and any number of times."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kanal.calendar import default_calendar
from kanal.errors import ReportNotFound, TooManyEvidenceFiles
from kanal.evidence import (
    HEAD_BYTES,
    LINK_VALIDITY,
    MAX_EVIDENCE_PER_REPORT,
    Evidence,
    NewEvidence,
    inspect,
    is_of_type,
    object_key,
    parse_key,
    verdict,
)
from kanal.intake import Intake
from kanal.models import EvidenceFile, EvidenceStatus, EvidenceType, NewReport
from pydantic import ValidationError

from tests.support.evidence_fakes import MemoryBucket, MemoryEvidence
from tests.support.fakes import MemoryCases, MemoryReports
from tests.support.reports import NOW, report_body

SIGNATURES = {
    EvidenceType.PNG: b"\x89PNG\r\n\x1a\n",
    EvidenceType.JPEG: b"\xff\xd8\xff",
    EvidenceType.WEBP: b"RIFF\x10\x00\x00\x00WEBP",
    EvidenceType.MP4: b"\x00\x00\x00\x20ftyp",
    EvidenceType.PDF: b"%PDF-",
}
TYPES = st.sampled_from(list(EvidenceType))


@given(kind=TYPES, tail=st.binary(max_size=64))
def test_each_type_is_known_by_its_first_bytes(kind: EvidenceType, tail: bytes) -> None:
    assert is_of_type(kind, SIGNATURES[kind] + tail)


@given(kind=TYPES, other=TYPES, tail=st.binary(max_size=64))
def test_no_type_passes_for_another(kind: EvidenceType, other: EvidenceType, tail: bytes) -> None:
    if kind != other:
        assert not is_of_type(other, SIGNATURES[kind] + tail)


@given(kind=TYPES, head=st.binary(max_size=HEAD_BYTES))
def test_bytes_short_of_a_signature_are_not_of_its_type(kind: EvidenceType, head: bytes) -> None:
    if not head.startswith(SIGNATURES[kind][:4]) and kind is not EvidenceType.MP4:
        assert not is_of_type(kind, head)
    assert not is_of_type(kind, SIGNATURES[kind][:-1])


@given(content=st.binary(max_size=2000), cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=20))
def test_a_file_read_in_any_chunks_has_its_size_hash_and_head(content: bytes, cuts: list[int]) -> None:
    edges = sorted({0, len(content), *(c for c in cuts if c <= len(content))})
    found = inspect(content[a:b] for a, b in itertools.pairwise(edges))
    assert (found.size, found.sha256, found.head) == (
        len(content),
        hashlib.sha256(content).hexdigest(),
        content[:HEAD_BYTES],
    )


def record(content: bytes, kind: EvidenceType, **changes: Any) -> EvidenceFile:
    values = {
        "evidence_id": "e_1",
        "filename": "bukti",
        "content_type": kind,
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "status": EvidenceStatus.PENDING,
        "created_at": NOW,
    }
    return EvidenceFile.model_validate(values | changes)


@given(kind=TYPES, tail=st.binary(max_size=200), size_off=st.integers(-2, 2), wrong_hash=st.booleans(), other=TYPES)
def test_the_verdict_takes_a_file_only_as_declared(
    kind: EvidenceType, tail: bytes, size_off: int, wrong_hash: bool, other: EvidenceType
) -> None:
    content = SIGNATURES[kind] + tail
    declared = record(content, other, size=max(1, len(content) + size_off))
    if wrong_hash:
        declared = declared.model_copy(update={"sha256": "f" * 64})
    found = verdict(declared, inspect([content]))
    matches = declared.size == len(content) and not wrong_hash and other == kind
    assert (found is None) == matches


@given(
    partner=st.from_regex(r"p_[a-z0-9]{1,64}", fullmatch=True),
    report=st.from_regex(r"r_[a-z0-9]{1,64}", fullmatch=True),
    evidence=st.from_regex(r"e_[a-z0-9]{1,64}", fullmatch=True),
)
def test_a_key_names_its_partner_report_and_file(partner: str, report: str, evidence: str) -> None:
    assert parse_key(object_key(partner, report, evidence)) == (partner, report, evidence)


@given(key=st.text(max_size=80))
def test_any_other_key_names_nothing_or_exactly_three_ids(key: str) -> None:
    named = parse_key(key)
    assert named is None or object_key(*named) == key


BASE = {"filename": "bukti.png", "content_type": "image/png", "size": 10, "sha256": "a" * 64}


@given(name=st.text(min_size=1, max_size=40), bad=st.sampled_from(["/", "\\", "\n", "\t", "\x1b", "\u202e", "\x00"]))
def test_a_file_name_with_a_path_separator_or_control_character_is_refused(name: str, bad: str) -> None:
    with pytest.raises(ValidationError) as refused:
        # inside the name: at its ends, whitespace is stripped (as in every body)
        NewEvidence.model_validate_json(json.dumps(BASE | {"filename": f"{name[:10]}x{bad}x{name[10:]}"}))
    assert {e["loc"] for e in refused.value.errors()} == {("filename",)}


@given(digest=st.text(max_size=70))
def test_only_a_lower_case_hex_sha256_is_taken(digest: str) -> None:
    ok = len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)
    try:
        NewEvidence.model_validate(BASE | {"sha256": digest})
    except ValidationError:
        assert not ok
    else:
        assert ok


# The rules over fakes ----------------------------------------------------------------------------------------


def service() -> tuple[Evidence, MemoryReports, MemoryEvidence, MemoryBucket]:
    reports, store, bucket = MemoryReports(), MemoryEvidence(), MemoryBucket()
    return Evidence(reports, store, bucket), reports, store, bucket


def stored_report(reports: MemoryReports, partner: str = "p_a", report_id: str = "r_1") -> None:
    """A report of ``partner`` stored through intake's rules."""
    intake = Intake(reports, MemoryCases(), default_calendar(), new_id=lambda: report_id)
    intake.submit(partner, NewReport.model_validate(report_body()), NOW)


def declaration(content: bytes, kind: EvidenceType, filename: str = "bukti") -> NewEvidence:
    return NewEvidence.model_validate(
        {
            "filename": filename,
            "content_type": kind,
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        }
    )


def test_only_the_reports_partner_declares_and_only_ten_files() -> None:
    evidence, reports, _, bucket = service()
    stored_report(reports)
    body = NewEvidence.model_validate(BASE)
    with pytest.raises(ReportNotFound):
        evidence.declare("p_other", "r_1", body, NOW)
    made = [evidence.declare("p_a", "r_1", body, NOW) for _ in range(MAX_EVIDENCE_PER_REPORT)]
    with pytest.raises(TooManyEvidenceFiles):
        evidence.declare("p_a", "r_1", body, NOW)
    assert len({m.evidence_id for m in made}) == MAX_EVIDENCE_PER_REPORT
    assert made[0].upload.expires_at == NOW + timedelta(minutes=15)
    assert bucket.forms[0] == (object_key("p_a", "r_1", made[0].evidence_id), EvidenceType.PNG, 10)


UPLOADS = st.lists(st.tuples(st.booleans(), st.integers(0, 3)), min_size=1, max_size=8)


@given(uploads=UPLOADS, order=st.randoms(use_true_random=False), redeliveries=st.integers(0, 3))
def test_checks_in_any_order_keep_exactly_the_first_checked_version_and_nothing_else(
    uploads: list[tuple[bool, int]], order: Any, redeliveries: int
) -> None:
    """Uploads through one form (true bytes or a lie), their events delivered in any order and any number of times:
    the file is settled once, by the first version checked; a verified file keeps that version alone, a rejected
    one keeps nothing."""
    evidence, reports, store, bucket = service()
    stored_report(reports)
    content = SIGNATURES[EvidenceType.PNG] + b"bukti"
    made = evidence.declare("p_a", "r_1", declaration(content, EvidenceType.PNG), NOW)
    key = object_key("p_a", "r_1", made.evidence_id)
    events = [bucket.put(key, content if true else content + b"x" * (1 + n)) for true, n in uploads]
    deliveries = events + [order.choice(events) for _ in range(redeliveries)]
    order.shuffle(deliveries)
    first = None
    for version in deliveries:
        if first is None and version in bucket.objects.get(key, {}):
            first = version
        evidence.check(key, version, NOW + timedelta(seconds=1))
    settled = store.get("r_1", "p_a", made.evidence_id)
    assert settled is not None
    assert settled.version_id == first
    kept = bucket.objects.get(key, {})
    if settled.status is EvidenceStatus.VERIFIED:
        assert list(kept) == [first]
        link = evidence.link("p_a", "r_1", settled)
        assert link is not None
        assert f"versionId={first}" in link
        assert f"expires={int(LINK_VALIDITY.total_seconds())}" in link
    else:
        assert settled.status is EvidenceStatus.REJECTED
        assert kept == {}
        assert evidence.link("p_a", "r_1", settled) is None


def test_a_pending_file_has_no_link() -> None:
    evidence, *_ = service()
    assert evidence.link("p_a", "r_1", record(b"x", EvidenceType.PNG)) is None


def test_times_are_the_callers() -> None:
    evidence, reports, store, bucket = service()
    stored_report(reports)
    content = SIGNATURES[EvidenceType.PDF] + b"1"
    made = evidence.declare("p_a", "r_1", declaration(content, EvidenceType.PDF), NOW)
    key = object_key("p_a", "r_1", made.evidence_id)
    later = datetime(2027, 1, 1, tzinfo=UTC)
    evidence.check(key, bucket.put(key, content), later)
    settled = store.get("r_1", "p_a", made.evidence_id)
    assert settled is not None
    assert (settled.created_at, settled.checked_at, settled.status) == (NOW, later, EvidenceStatus.VERIFIED)
