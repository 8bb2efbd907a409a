"""The shapes of POST /v1/reports/batch, and how its body is read: the batch as a whole by the schema (1 to 100
reports, 1 MB at most), each report on its own, exactly as POST /v1/reports reads its body.

A report that breaks the schema is that report's 422, never the batch's: its errors name its fields as POST
/v1/reports would (``category``, ``evidence_urls[2]``), relative to the report, whose place the answer's
``index`` gives. Only what makes the whole body unreadable (not JSON, no ``reports`` list, 0 or more than 100
reports, a member named twice outside the reports) refuses the request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, SkipValidation, ValidationError

from kanal.entrypoints.routing import (
    RepeatedMembers,
    field_errors,
    parse_noting_repeats,
    repeated_in,
)
from kanal.models import FieldError, Model, NewReport, Problem, ReportReceipt

#: The most reports one batch takes.
MAX_REPORTS = 100
#: The largest batch body (a report is at most about 30 KB, most are under 1 KB).
MAX_BATCH_BYTES = 1024 * 1024
IDEMPOTENCY_KEY = "idempotency_key"


class NewBatchReport(NewReport):
    """One report of a batch: the body of POST /v1/reports, and its own idempotency key."""

    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="As the Idempotency-Key header of POST /v1/reports, for this report: the same key and body "
        "within 24 h replay its answer and store nothing new; the same key with another body is this report's 422.",
    )

    def report(self) -> NewReport:
        """The report without its key (what POST /v1/reports would have validated: its fingerprint is the same)."""
        return NewReport.model_construct(**{name: getattr(self, name) for name in NewReport.model_fields})


def _no_header_key(value: str | None) -> str | None:
    if value is not None:
        raise ValueError(f"is not taken on a batch: give each report its own {IDEMPOTENCY_KEY}")
    return value


class BatchHeaders(Model):
    """The headers of POST /v1/reports/batch: an Idempotency-Key is refused, not ignored (a retried batch would
    store its unkeyed reports again)."""

    idempotency_key: Annotated[str | None, AfterValidator(_no_header_key)] = Field(
        default=None, alias="Idempotency-Key", description="Not taken: each report has its own idempotency_key."
    )


class NewBatch(Model):
    """The body of POST /v1/reports/batch."""

    model_config = ConfigDict(extra="forbid")

    # Validated one by one (``read_batch``), so that one report's errors are its own.
    reports: list[SkipValidation[NewBatchReport]] = Field(
        min_length=1, max_length=MAX_REPORTS, description=f"1 to {MAX_REPORTS} reports."
    )


@dataclass(frozen=True)
class ReadBatch:
    """A batch as read: each report, or the errors that refuse it."""

    reports: list[NewBatchReport | list[FieldError]]


def read_batch(model: type[NewBatch], raw: bytes) -> ReadBatch:
    """The batch's reports, each validated as POST /v1/reports validates its body (from JSON, a member named twice
    refused); ValidationError or RepeatedMembers for what refuses the whole batch."""
    batch = model.model_validate_json(raw)
    tree, repeating = parse_noting_repeats(raw)
    trees: list[Any] = tree.get("reports", []) if repeating and isinstance(tree, dict) else []
    if repeating:
        outside = repeated_in(tree, skip=lambda where: where is not None and where[1] == ("reports", None))
        if outside:
            raise RepeatedMembers(outside)
    read: list[NewBatchReport | list[FieldError]] = []
    for index, item in enumerate(batch.reports):
        repeated = repeated_in(trees[index]) if index < len(trees) and isinstance(trees[index], dict) else []
        if repeated:
            read.append([FieldError(field=name, message="appears more than once") for name in repeated])
            continue
        try:
            read.append(NewBatchReport.model_validate_json(json.dumps(item)))
        except ValidationError as error:
            read.append(field_errors(error.errors(include_url=False)))
    return ReadBatch(read)


class StoredEntry(Model):
    """A report of the batch that is stored (or was, under its idempotency key)."""

    index: int = Field(description="The report's place in the batch, from 0.")
    status: Literal[202]
    report: ReportReceipt = Field(description="What POST /v1/reports answers for this report.")


class RefusedEntry(Model):
    """A report of the batch that was refused; nothing of it was stored."""

    index: int = Field(description="The report's place in the batch, from 0.")
    status: Literal[409, 422] = Field(
        description="422: invalid (or its idempotency_key used with another body); 409: a request with its "
        "idempotency_key is still running (send it again in a moment)."
    )
    problem: Problem = Field(description="What POST /v1/reports answers for this report, its fields named as there.")


BatchEntry = Annotated[StoredEntry | RefusedEntry, Field(discriminator="status")]


class BatchAnswer(Model):
    """The answer to POST /v1/reports/batch: one entry per report, in the batch's order."""

    results: list[BatchEntry]
