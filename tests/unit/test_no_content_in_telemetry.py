"""No partner content reaches the logs, the rule: a logged validation error names fields, never the values (every
handler's traces and logs, in a process of its own: tests/component/test_no_content_in_telemetry.py)."""

from __future__ import annotations

import json
import uuid

import pytest
from kanal.models import InfoReply
from kanal.observability import logger
from pydantic import ValidationError


def test_a_logged_validation_error_names_fields_not_values(caplog: pytest.LogCaptureFixture) -> None:
    """logger.exception of a pydantic error (and of an error raised from one) keeps where and what, not the input."""
    secret = "PENANDA-JAWABAN-" + uuid.uuid4().hex
    try:
        try:
            InfoReply.model_validate({"message": [secret], "evidence_urls": [f"http://{secret}.example"]})
        except ValidationError as invalid:
            raise RuntimeError("answer not stored") from invalid
    except RuntimeError:
        logger.exception("unexpected error")
    # Formatted as the function's handler formats it (Powertools' handler holds the stdout of its import).
    logged = json.loads(logger.registered_formatter.format(caplog.records[-1]))
    assert secret not in json.dumps(logged)
    assert "validation error(s) for InfoReply: message: string_type; evidence_urls.0:" in logged["exception"]
    assert "The above exception was the direct cause" in logged["exception"]
    assert logged["exception"].rstrip().endswith("RuntimeError: answer not stored")
    assert logged["stack_trace"]["value"] == "answer not stored"
    assert logged["stack_trace"]["frames"]
