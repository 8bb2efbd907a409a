"""Evidence files as partners and reviewers read them: the partner's view never shows the kept object version; the
reviewer's case shows each file's status and hash, a link only to a verified one, and, on the terminal, every
stored text neutralised (a file name is a partner's text like any other)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from kanal import casefile
from kanal.entrypoints.intake_function import view
from kanal.models import EvidenceFile, EvidenceStatus, EvidenceType, Report
from kanal_cli.reviewer import _show_report

from tests.support.console import DANGEROUS, HOSTILE
from tests.support.reports import NOW


def report_with(*files: EvidenceFile) -> Report:
    return Report(
        report_id="r_1",
        partner_id="p_1",
        case_id="c_1",
        content_key="tiktok:video:1",
        content_url="https://www.tiktok.com/@a/video/1",
        category="misinformation",
        region_code="31.71",
        description="Klaim palsu.",
        received_at=NOW,
        review_due_at=NOW + timedelta(hours=24),
        body_hash="0" * 64,
        evidence=list(files),
    )


def file(status: EvidenceStatus, filename: str = "bukti.png", reason: str | None = None) -> EvidenceFile:
    return EvidenceFile(
        evidence_id=f"e_{status}",
        filename=filename,
        content_type=EvidenceType.PNG,
        size=48_213,
        sha256="ab" * 32,
        status=status,
        reason=reason,
        created_at=NOW,
        checked_at=NOW if status is not EvidenceStatus.PENDING else None,
        version_id="v1" if status is EvidenceStatus.VERIFIED else None,
    )


def test_the_partner_sees_its_files_but_not_the_kept_version() -> None:
    shown = view(report_with(file(EvidenceStatus.VERIFIED), file(EvidenceStatus.PENDING)), None)
    dumped = shown.model_dump(mode="json")
    assert [f["status"] for f in dumped["evidence"]] == ["verified", "pending"]
    assert all("version_id" not in f for f in dumped["evidence"])


def test_a_reviewer_gets_a_link_to_verified_files_only() -> None:
    def links(report: Report, found: EvidenceFile) -> str | None:
        return "https://bucket.example/link" if found.status is EvidenceStatus.VERIFIED else None

    files = [
        file(EvidenceStatus.VERIFIED),
        file(EvidenceStatus.REJECTED, reason="SHA-256 differs"),
        file(EvidenceStatus.PENDING),
    ]
    shown = casefile.report_document(report_with(*files), links)
    assert [(f["status"], f["link"]) for f in shown["evidence"]] == [
        ("verified", "https://bucket.example/link"),
        ("rejected", None),
        ("pending", None),
    ]
    assert all("version_id" not in f for f in shown["evidence"])
    assert casefile.report_document(report_with(*files))["evidence"][0]["link"] is None  # no signer: no link


def lines_of(document: dict[str, Any]) -> list[str]:
    shown: list[str] = []
    _show_report(document, shown.append)
    return shown


@given(name=st.text(min_size=1), reason=st.text())
def test_stored_file_names_and_reasons_reach_the_terminal_neutralised(name: str, reason: str) -> None:
    files = [file(EvidenceStatus.VERIFIED, filename=name + HOSTILE), file(EvidenceStatus.REJECTED, name, reason)]
    document = casefile.report_document(report_with(*files), lambda r, f: "https://bucket.example/x?a=1&b=\x1b[2J")
    shown = "\n".join(lines_of(document))
    assert not DANGEROUS & set(shown)
    assert "sha256 " + "ab" * 32 in shown
    assert "open within 5 minutes: https://bucket.example/x?a=1&b=⟦U+001B⟧[2J" in shown
