"""``kanal evidence add REPORT_ID FILE``: a partner's staff add a screenshot, recording or document to a report.

It does what a partner's own client does with the API: reads the file once for its size and SHA-256 (its type
from its first bytes, or ``--type``), declares it (``POST /v1/reports/{id}/evidence``), uploads it to the
presigned form it gets back (multipart/form-data, the form's fields first), and waits for the check's outcome
(``GET /v1/reports/{id}``), printing the file's record as JSON. Exit 1 when the file was rejected or is still
unchecked after ``--wait`` (or refused by the API or the form); 2 for a file kanal does not take (type, size) or a
bad argument.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

from kanal import terminal
from kanal.errors import KanalError
from kanal.evidence import HEAD_BYTES, MAX_EVIDENCE_BYTES, SIGNATURES
from kanal.models import EvidenceType

from kanal_cli import arguments


class EvidenceFailed(KanalError):
    """The API or the upload refused the file, or its check rejected it (the message says why)."""


def detect(head: bytes) -> EvidenceType | None:
    """The accepted type whose signature the file's first bytes have."""
    return next((kind for kind, test in SIGNATURES.items() if test(head)), None)


def form_data(fields: dict[str, str], filename: str, content: bytes, content_type: str) -> tuple[bytes, str]:
    """A multipart/form-data body with the form's fields, then the file (S3 reads fields after the file not at
    all); and its Content-Type header."""
    boundary = f"kanal-{uuid.uuid4().hex}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    safe = "".join(c for c in filename if c.isalnum() or c in "._-") or "file"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{safe}"\r\n'
    parts.append(f"{head}Content-Type: {content_type}\r\n\r\n".encode() + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def upload(url: str, fields: dict[str, str], filename: str, content: bytes, content_type: str) -> tuple[int, str]:
    """POST the form to S3 (or the local stack's); its status and answer."""
    from botocore.awsrequest import AWSRequest
    from botocore.httpsession import URLLib3Session

    body, kind = form_data(fields, filename, content, content_type)
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": kind})
    answer = URLLib3Session(timeout=120).send(request.prepare())
    return int(answer.status_code), answer.content.decode("utf-8", "replace")


def add(args: argparse.Namespace, show: Any = print, sleep: Any = time.sleep) -> None:
    """Declare, upload and wait for one file; print its record (EvidenceFailed unless it was verified)."""
    from kanal_cli.cli import UsageError
    from kanal_cli.partner_client import credentials
    from kanal_cli.review_client import http_send

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"{args.file}: no such file")
    size = path.stat().st_size
    if not 1 <= size <= MAX_EVIDENCE_BYTES:
        raise UsageError(f"{args.file}: {size} bytes; evidence files are 1 byte to 50 MB")
    content = path.read_bytes()
    kind = EvidenceType(args.type) if args.type else detect(content[:HEAD_BYTES])
    if kind is None:
        raise UsageError(f"{args.file}: not a PNG, JPEG, WebP, MP4 or PDF file (or pass --type)")
    api_url, key = credentials(args)
    send = http_send(api_url, lambda method, url, body, present: {"Authorization": f"Bearer {key}"}, name="the API")
    declared = {
        "filename": path.name[:255],
        "content_type": str(kind),
        "size": size,
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    status, made = send("POST", f"/v1/reports/{args.report_id}/evidence", declared)
    if status != 201:
        raise EvidenceFailed(f"the API refused the file ({status}): {json.dumps(made, ensure_ascii=True)}")
    code, text = upload(made["upload"]["url"], made["upload"]["fields"], path.name, content, str(kind))
    if code not in (200, 201, 204):
        raise EvidenceFailed(f"the upload was refused ({code}): {text[:300]}")
    deadline = time.monotonic() + args.wait
    while True:
        status, shown = send("GET", f"/v1/reports/{args.report_id}", None)
        found = next((f for f in (shown or {}).get("evidence", []) if f["evidence_id"] == made["evidence_id"]), None)
        if found is not None and (found["status"] != "pending" or time.monotonic() >= deadline):
            break
        sleep(1)
    show(terminal.json_text(found))
    if found is None or found["status"] == "pending":
        raise EvidenceFailed(f"uploaded, but not checked within {args.wait} s: GET the report later for its status")
    if found["status"] != "verified":
        raise EvidenceFailed(f"rejected: {found['reason']}")


def add_commands(commands: Any) -> None:
    """``kanal evidence add``."""
    evidence = commands.add_parser("evidence", help="evidence files of your reports, for partners' staff")
    actions = evidence.add_subparsers(dest="action", required=True, metavar="ACTION")
    adding = actions.add_parser("add", help="upload a screenshot, recording or document to one of your reports")
    adding.add_argument("report_id", type=arguments.identifier, help="the report's id")
    adding.add_argument("file", help="a PNG, JPEG, WebP, MP4 or PDF file of at most 50 MB")
    adding.add_argument("--type", choices=[str(t) for t in EvidenceType], help="its type (default: from its bytes)")
    adding.add_argument(
        "--wait", type=arguments.bounded_int(0, 120), default=30, help="seconds to wait for the check (0-120)"
    )
    adding.add_argument("--api-url", type=arguments.text(2048, lines=False), help="the partner API ($KANAL_API_URL)")
    adding.add_argument("--api-key", help="your partner API key ($KANAL_API_KEY)")
    adding.add_argument("--partner", help="on the local stack: the demo partner whose key to use (default: first)")
    adding.set_defaults(func=add)


__all__ = ["add", "add_commands", "detect", "form_data"]
