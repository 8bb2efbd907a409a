"""Evidence files on `kanal dev`, over HTTP as a partner's client and a reviewer's terminal use them: the declaration,
the upload to the presigned form (the local S3 checks it as S3 does), the evidence function run on the upload, the
partner reading the outcome, and the reviewer opening the verified file through its 5-minute link."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import requests

from tests.support.local_stack import Running, eventually, kanal

VIDEO = "https://www.tiktok.com/@akun.contoh/video/7318301234567890555"

#: Every test here waits on `kanal dev` (tests/integration/conftest.py starts it): a hang guard, not a timing.
pytestmark = pytest.mark.timeout(180)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40


def report(stack: Running, partner: str) -> dict[str, Any]:
    answer = stack.post(
        partner,
        {"content_url": VIDEO, "category": "misinformation", "region_code": "31.71", "description": "Klaim palsu."},
    )
    assert answer.status_code == 202, answer.text
    receipt: dict[str, Any] = answer.json()
    return receipt


def declare(stack: Running, partner: str, report_id: str, content: bytes, content_type: str) -> requests.Response:
    body = {
        "filename": "tangkapan-layar.png",
        "content_type": content_type,
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    return requests.post(
        f"{stack.url}/v1/reports/{report_id}/evidence",
        json=body,
        headers={"Authorization": f"Bearer {stack.keys[partner]}"},
        timeout=10,
    )


def upload(made: dict[str, Any], content: bytes) -> requests.Response:
    """What a partner's client does with the form: its fields, then the file, as multipart/form-data."""
    form = made["upload"]
    return requests.post(form["url"], data=form["fields"], files={"file": ("bukti", content)}, timeout=30)


def settled(stack: Running, partner: str, report_id: str) -> list[dict[str, Any]] | None:
    files: list[dict[str, Any]] = stack.get(partner, f"/v1/reports/{report_id}").json()["evidence"]
    return files if files and all(f["status"] != "pending" for f in files) else None


def test_a_file_uploaded_to_its_form_is_verified_and_the_reviewer_opens_it(stack: Running) -> None:
    receipt = report(stack, "Bawaslu RI")
    declared = declare(stack, "Bawaslu RI", receipt["report_id"], PNG, "image/png")
    assert declared.status_code == 201, declared.text
    made = declared.json()
    assert upload(made, PNG).status_code == 204
    files = eventually(lambda: settled(stack, "Bawaslu RI", receipt["report_id"]), 30)
    assert files is not None, "the upload was never checked"
    assert [(f["status"], f["sha256"], f["size"]) for f in files] == [
        ("verified", hashlib.sha256(PNG).hexdigest(), len(PNG))
    ]
    # The reviewer claims the case and opens the file through the link the reviewer API signed.
    shown = kanal(stack, "review", "next", "--json", "--wait", "20", "--reviewer", "ana")
    assert shown.returncode == 0, shown.stderr
    case = json.loads(shown.stdout)
    assert case["case_id"] == receipt["case_id"]
    (file,) = [f for r in case["reports"] for f in r["evidence"]]
    assert file["evidence_id"] == made["evidence_id"]
    opened = requests.get(file["link"], timeout=10)
    assert (opened.status_code, opened.content, opened.headers["Content-Type"]) == (200, PNG, "image/png")
    # A lead sees the same in `kanal cases show`.
    lead = kanal(stack, "cases", "show", receipt["case_id"])
    assert lead.returncode == 0, lead.stderr
    assert made["evidence_id"] in lead.stdout
    assert "X-Amz-Signature" in lead.stdout


def test_a_file_that_lies_about_its_type_is_rejected_and_deleted(stack: Running) -> None:
    receipt = report(stack, "KPU RI")
    made = declare(stack, "KPU RI", receipt["report_id"], PNG, "application/pdf").json()
    assert upload(made, PNG).status_code == 204
    files = eventually(lambda: settled(stack, "KPU RI", receipt["report_id"]), 30)
    assert files is not None, "the upload was never checked"
    assert [(f["status"], f["reason"]) for f in files] == [
        ("rejected", "its first bytes are not those of application/pdf")
    ]
    key = made["upload"]["fields"]["key"]
    bucket = made["upload"]["url"].rstrip("/").rsplit("/", 1)[1]
    listed = stack.client("s3").list_object_versions(Bucket=bucket, Prefix=key)
    assert listed.get("Versions", []) == []
    assert listed.get("DeleteMarkers", []) == []


def test_the_form_refuses_another_size_and_another_partner_gets_404(stack: Running) -> None:
    receipt = report(stack, "Perludem")
    made = declare(stack, "Perludem", receipt["report_id"], PNG, "image/png").json()
    refused = upload(made, PNG + b"!")
    assert (refused.status_code, "<Code>EntityTooLarge</Code>" in refused.text) == (400, True)
    assert upload(made, PNG[:-1]).status_code == 400
    assert [f["status"] for f in stack.get("Perludem", f"/v1/reports/{receipt['report_id']}").json()["evidence"]] == [
        "pending"
    ]
    other = declare(stack, "Bawaslu RI", receipt["report_id"], PNG, "image/png")
    assert other.status_code == 404
    assert other.headers["Content-Type"] == "application/problem+json"


def test_kanal_evidence_add_declares_uploads_and_waits_for_the_check(stack: Running) -> None:
    receipt = report(stack, "KPU RI")
    path = stack.folder / "tangkapan layar.png"
    path.write_bytes(PNG)
    added = kanal(stack, "evidence", "add", receipt["report_id"], str(path), "--partner", "KPU RI")
    assert added.returncode == 0, added.stderr
    record = json.loads(added.stdout)
    assert (record["status"], record["filename"], record["sha256"]) == (
        "verified",
        "tangkapan layar.png",
        hashlib.sha256(PNG).hexdigest(),
    )
    lied = kanal(
        stack, "evidence", "add", receipt["report_id"], str(path), "--type", "video/mp4", "--partner", "KPU RI"
    )
    assert lied.returncode == 1
    assert "rejected: its first bytes are not those of video/mp4" in lied.stderr
    text = stack.folder / "catatan.txt"
    text.write_text("bukan gambar")
    refused = kanal(stack, "evidence", "add", receipt["report_id"], str(text), "--partner", "KPU RI")
    assert (refused.returncode, "not a PNG, JPEG, WebP, MP4 or PDF file" in refused.stderr) == (2, True)
    other = kanal(stack, "evidence", "add", receipt["report_id"], str(path), "--partner", "Perludem")
    assert (other.returncode, "(404)" in other.stderr) == (1, True)
