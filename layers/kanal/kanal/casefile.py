"""A case as the moderation team reads it: what the review API answers and ``kanal cases show`` prints.

Times are in the reviewers' zone (WIB) to the second; regions as people write them; each report names
its partner and the partner's kind. Who holds a case is shown only to its holder and to leads (who read
the table with their own rights): a reviewer learns that a case is held and until when, never by whom.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from kanal import regions
from kanal.cases import urgency
from kanal.models import Case, CaseEvent, Report
from kanal.review import questions_asked

#: The reviewers' time zone (the moderation team works in WIB).
ZONE = ZoneInfo("Asia/Jakarta")


def when(moment: datetime) -> str:
    """A time as reviewers read it in JSON: their zone, to the second."""
    return moment.astimezone(ZONE).isoformat(timespec="seconds")


def claim_document(case: Case, viewer: str | None) -> dict[str, Any] | None:
    """The case's claim: whole for a lead (``viewer`` None), else whether it is the viewer's and until when."""
    claim = case.claim
    if claim is None:
        return None
    if viewer is None:
        return claim.model_dump(mode="json", exclude={"receipt"})
    return {"held_by_you": claim.reviewer == viewer, "expires_at": when(claim.expires_at)}


def case_document(
    case: Case,
    reports: list[Report],
    now: datetime,
    history: list[CaseEvent] | None = None,
    viewer: str | None = None,
) -> dict[str, Any]:
    """A case with everything needed to decide it; ``viewer`` is the reviewer it is shown to (None: a lead)."""
    left = case.review_due_at - now
    return {
        "case_id": case.case_id,
        "status": str(case.status),
        "content_url": case.content_url,
        "categories": sorted(case.categories),
        "urgent_reasons": urgency(case, now),
        "report_count": case.report_count,
        "first_reported_at": when(case.first_reported_at),
        "review_due_at": when(case.review_due_at),
        "seconds_left": int(left.total_seconds()),
        "claim": claim_document(case, viewer),
        "question": case.question.model_dump(mode="json") if case.question else None,
        "decision": decision_document(case, viewer),
        "questions": [
            {k: when(datetime.fromisoformat(v)) if k.endswith("_at") and v else v for k, v in q.items()}
            for q in questions_asked(history or [])
        ],
        "reports": [report_document(r) for r in reports],
    }


def decision_document(case: Case, viewer: str | None) -> dict[str, Any] | None:
    """The decision; for a reviewer other than the one who made it, without the decider's identity."""
    if case.decision is None:
        return None
    shown = case.decision.model_dump(mode="json")
    if viewer is not None and case.decision.reviewer != viewer:
        shown.pop("reviewer")
    return shown


def report_document(r: Report) -> dict[str, Any]:
    """One report as a reviewer sees it."""
    return {
        "report_id": r.report_id,
        "partner_id": r.partner_id,
        "partner": r.partner_name,
        "partner_kind": str(r.partner_kind) if r.partner_kind else None,
        "category": str(r.category),
        "region_code": r.region_code,
        "region": regions.display_name(r.region_code),
        "description": r.description,
        "evidence_urls": r.evidence_urls,
        "legal_basis": r.legal_basis,
        "received_at": when(r.received_at),
    }
