"""S3's browser-upload (POST Object) checks, in front of moto, which stores a form's file without reading its policy.

A presigned POST is a form whose ``policy`` (base64 JSON: an expiration and conditions) is signed with the signer's
secret key (SigV4, service s3). S3 refuses the upload unless the signature is the policy's, the policy has not
expired, every form field is allowed by a condition (``{"field": value}`` or ``["eq", "$field", value]``,
``["starts-with", "$field", prefix]``) and the file's length is within ``content-length-range``. The local stack
checks the same (signatures with the local stack's own credentials), so an upload that S3 would refuse is refused
here too: another size, another type, another key, a changed field, a late upload.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from html import escape  # text content of the XML error: &, < and > (XML is written here, never parsed)
from typing import Any

#: Form fields no condition needs to name (S3's rule), besides those starting with x-ignore-.
_EXEMPT = frozenset({"policy", "x-amz-signature", "file", "bucket"})

WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


class Refused(Exception):
    """An upload S3 refuses: its status, code and message."""

    def __init__(self, status: str, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def signing_key(secret: str, date: str, region: str, service: str = "s3") -> bytes:
    """SigV4's signing key for a day, region and service."""
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def check(fields: Mapping[str, str], length: int, bucket: str, secrets: Mapping[str, str], now: datetime) -> None:
    """Refused unless S3 would take a form with ``fields`` and a file of ``length`` bytes into ``bucket``;
    ``secrets``: access key id -> secret key of whoever may have signed it."""
    lowered = {k.lower(): v for k, v in fields.items()}
    policy_text = lowered.get("policy")
    if not policy_text:
        return  # not a presigned form: moto's own rules apply
    credential = lowered.get("x-amz-credential", "")
    access_key, _, rest = credential.partition("/")
    date, region = [*rest.split("/"), "", ""][:2]
    secret = secrets.get(access_key)
    if secret is None:
        raise Refused("403 Forbidden", "InvalidAccessKeyId", "The AWS access key Id you provided does not exist.")
    expected = hmac.new(signing_key(secret, date, region), policy_text.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, lowered.get("x-amz-signature", "")):
        raise Refused("403 Forbidden", "SignatureDoesNotMatch", "The request signature does not match the policy.")
    policy = json.loads(base64.b64decode(policy_text))
    expires = datetime.fromisoformat(str(policy["expiration"]).replace("Z", "+00:00"))
    if expires <= now:
        raise Refused("403 Forbidden", "AccessDenied", "Invalid according to Policy: Policy expired.")
    values = {**lowered, "bucket": bucket}
    covered = set()
    for condition in policy.get("conditions", []):
        covered |= _holds(condition, values, length)
    loose = sorted(f for f in lowered if f not in covered and f not in _EXEMPT and not f.startswith("x-ignore-"))
    if loose:
        raise Refused(
            "403 Forbidden", "AccessDenied", f"Invalid according to Policy: Extra input fields: {', '.join(loose)}"
        )


def _holds(condition: Any, values: Mapping[str, str], length: int) -> set[str]:
    """The fields a condition covers, or Refused if it does not hold."""
    if isinstance(condition, dict):
        ((name, wanted),) = condition.items()
        operator, field = "eq", str(name).lower()
    else:
        operator, *arguments = condition
        operator = str(operator).lower()
        if operator == "content-length-range":
            low, high = (int(a) for a in arguments)
            if length < low:
                raise Refused("400 Bad Request", "EntityTooSmall", "Your proposed upload is smaller than allowed.")
            if length > high:
                raise Refused("400 Bad Request", "EntityTooLarge", "Your proposed upload exceeds the maximum allowed.")
            return set()
        field, wanted = str(arguments[0]).lstrip("$").lower(), arguments[1]
    found = values.get(field)
    if found is None:
        raise Refused("403 Forbidden", "AccessDenied", f"Invalid according to Policy: Policy Condition failed: {field}")
    if (operator == "eq" and found != wanted) or (operator == "starts-with" and not found.startswith(str(wanted))):
        raise Refused(
            "403 Forbidden",
            "AccessDenied",
            f"Invalid according to Policy: Policy Condition failed: [{operator}, ${field}]",
        )
    return {field}


def enforcing(
    app: WsgiApp, secrets: Callable[[], Mapping[str, str]], now: Callable[[], datetime] | None = None
) -> WsgiApp:
    """``app`` (moto's) behind S3's checks of POST uploads to a bucket (multipart forms to ``/<bucket>``)."""
    from werkzeug.formparser import parse_form_data

    clock = now or (lambda: datetime.now(UTC))

    def answer(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", "")).strip("/")
        form = str(environ.get("CONTENT_TYPE", "")).startswith("multipart/form-data")
        if (
            environ.get("REQUEST_METHOD") != "POST"
            or not form
            or not path
            or "/" in path
            or environ.get("QUERY_STRING")
        ):
            return app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        copy = {**environ, "wsgi.input": io.BytesIO(body)}
        _, fields, files = parse_form_data(copy)
        upload = files.get("file")
        length = len(upload.read()) if upload is not None else 0
        try:
            check(dict(fields.items()), length, path, secrets(), clock())
        except Refused as refused:
            xml = (
                f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{refused.code}</Code>"
                f"<Message>{escape(str(refused), quote=False)}</Message></Error>"
            ).encode()
            start_response(refused.status, [("Content-Type", "application/xml"), ("Content-Length", str(len(xml)))])
            return [xml]
        environ["wsgi.input"] = io.BytesIO(body)
        return app(environ, start_response)

    return answer
