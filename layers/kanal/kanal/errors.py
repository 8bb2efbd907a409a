"""Domain errors: what can go wrong in the domain's words. Entry points map them to answers."""

from __future__ import annotations

from typing import Any


class KanalError(Exception):
    """Base of every domain error."""


class InvalidRequest(KanalError):
    """A request that passed its schema but breaks a rule; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class IdempotencyKeyReused(InvalidRequest):
    """The same Idempotency-Key came with another body."""

    def __init__(self, field: str = "Idempotency-Key") -> None:
        """``field``: where the key came from (the header, or a batch item's ``idempotency_key``)."""
        super().__init__(field, "this key was already used with a different body; use a new key for a new report")


class IdempotencyInProgress(KanalError):
    """A request with the same Idempotency-Key is still running."""


class ReportNotFound(KanalError):
    """No report with that id for this partner (another partner's report looks the same)."""


class PartnerNotFound(KanalError):
    """No partner with that id."""


class KeyNotFound(KanalError):
    """No API key with that id for the partner."""


class StoreUnavailable(KanalError):
    """The database failed or throttled; nothing was written and the caller may retry."""


class CaseNotFound(KanalError):
    """No case with that id."""


class CaseConflict(KanalError):
    """A review action whose condition did not hold: decided already, held by another reviewer, not held."""


class ReviewRefused(KanalError):
    """A review action refused, with a message for the reviewer."""


class NewReports(ReviewRefused):
    """A decision refused because reports arrived after the reviewer's view; ``reports`` are the new ones."""

    def __init__(self, case_id: str, reports: list[Any], arrived: int) -> None:
        super().__init__(f"{arrived} report(s) arrived on case {case_id} since you looked; read them and decide again")
        self.case_id = case_id
        self.reports = reports


class WebhookNotFound(KanalError):
    """No webhook with that id for this partner (another partner's webhook looks the same)."""


class TooManyWebhooks(KanalError):
    """The partner has as many webhooks as it may have; delete one first."""


class TooManyEvidenceFiles(KanalError):
    """The report has as many evidence files as a report may have."""
