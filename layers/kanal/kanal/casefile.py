"""A case as the moderation team reads it: what the review API answers and ``kanal cases show`` prints.

Times are in the reviewers' zone (WIB) to the second; regions as people write them; each report names
its partner and the partner's kind. Who holds a case is shown only to its holder and to leads (who read
the table with their own rights): a reviewer learns that a case is held and until when, never by whom.

The documents are views of the models (``models.view_of``): a case's fields, its claim's, question's and
decision's, and each report's, with what the view adds; a field the models gain is shown unless it is
listed here as not shown, with the reason.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args, get_origin
from zoneinfo import ZoneInfo

from pydantic import Field, PlainSerializer, WithJsonSchema

from kanal import regions
from kanal.case_builder import urgency
from kanal.models import (
    VIEW_CONFIG,
    Case,
    CaseEvent,
    Claim,
    Decision,
    EvidenceFile,
    Model,
    Question,
    Report,
    view_of,
)
from kanal.review import questions_asked

#: The reviewers' time zone (the moderation team works in WIB).
ZONE = ZoneInfo("Asia/Jakarta")


def when(moment: datetime) -> str:
    """A time as reviewers read it in JSON: their zone, to the second."""
    return moment.astimezone(ZONE).isoformat(timespec="seconds")


#: A time shown to reviewers: WIB (+07:00), to the second.
WibTime = Annotated[
    datetime,
    PlainSerializer(when, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time", "description": "WIB (+07:00), to the second"}),
]


def in_wib(annotation: Any) -> Any:
    """A field's type for display: datetimes (optional or not) as WibTime."""
    if annotation is datetime:
        return WibTime
    if get_origin(annotation) in (Union, types.UnionType) and datetime in get_args(annotation):
        return WibTime | None
    return annotation


class Shown(Model):
    """The base of the reviewer's views."""

    model_config = VIEW_CONFIG


class EvidenceShownBase(Shown):
    """What an evidence file's document adds: the reviewer's link to it."""

    link: str | None = Field(
        description="A link to the verified file, valid 5 minutes from when the case was read (null unless "
        "verified, or where no link can be signed); the file it opens is the one whose sha256 is shown."
    )


#: EvidenceFile's fields that a reviewer is not shown.
EVIDENCE_NOT_SHOWN = {"version_id": "the checked S3 object version: the link opens exactly that version"}

#: Who signs evidence links: (report, file) -> the link, or None.
Links = Callable[[Report, EvidenceFile], str | None]


class ReportShown(Shown):
    """What a report's document adds to the report's fields."""

    region: str = Field(description="The region as people write it (from region_code).")
    evidence: list[EvidenceDocument] = Field(
        description="The report's evidence files, oldest first: each with its status and SHA-256, and a link if "
        "verified."
    )


#: Report's fields that a reviewer is not shown in a case document, each with the reason.
REPORT_NOT_SHOWN = {
    "case_id": "the case document the report is in names it",
    "content_key": "kanal's grouping key: every report of a case has the case's",
    "content_url": "every report of a case is about the case's content, whose URL the case shows",
    "review_due_at": "every report of a case has the case's review_due_at, which the case shows",
    "urgent_reasons": "the case's urgent_reasons include every report's",
    "body_hash": "a fingerprint that tells a retry from another body under one Idempotency-Key",
    "idempotency_key": "the partner's retry token for the request, not part of the report",
}
#: Report's fields shown under another name.
REPORT_RENAMED = {"partner_name": "partner"}


class ClaimShown(Shown):
    """A claim as a reviewer sees it: whether it is theirs and until when, never whose."""

    held_by_you: bool
    expires_at: WibTime


class DecisionShownBase(Shown):
    """What a decision's document shows its own way."""

    reviewer: str | None = Field(description="Who decided: shown to that reviewer and to leads, else null.")


class CaseShownBase(Shown):
    """What a case document adds to the case's fields, or shows its own way."""

    categories: list[str] = Field(description="Every category its reports name, sorted.")
    urgent_reasons: list[str] = Field(description="Every reason the case is urgent now (cases.urgency).")
    seconds_left: int = Field(description="Until review_due_at (negative: overdue).")
    claim: ClaimShown | ClaimDocument | None = Field(description="For a reviewer, ClaimShown; for a lead, all of it.")
    question: QuestionDocument | None
    decision: DecisionDocument | None
    questions: list[AskedQuestion] = Field(description="Every question asked, oldest first, with its answer.")
    reports: list[ReportDocument]


class AskedQuestion(Shown):
    """A question reviewers asked about the case, with the partner's answer (or that none came)."""

    question: str | None
    asked_at: WibTime | None
    due_at: WibTime | None
    answer: str | None
    answered_by_report: str | None
    evidence_urls: str | None
    answered_at: WibTime | None


#: Claim's fields that a lead is not shown.
CLAIM_NOT_SHOWN = {"handle": "the SQS receipt handle: it lets its holder delete the message, and says nothing"}
#: Case's fields that a case document does not show.
CASE_NOT_SHOWN = {
    "content_key": "kanal's grouping key; content_url names the content",
    "partners": "each report names its partner (report_count says how many reports)",
    "queued": "the queue of the case's newest message: the claim's queue when it is claimed",
    "ticket": "which of the case's queue messages is current: the review worker's bookkeeping",
    "expires_at": "when retention deletes the case: not a review matter",
}

if TYPE_CHECKING:
    EvidenceDocument = EvidenceShownBase
    ReportDocument = ReportShown
    ClaimDocument = Shown
    QuestionDocument = Shown
    DecisionDocument = DecisionShownBase
    CaseDocument = CaseShownBase
else:
    EvidenceDocument = view_of(
        EvidenceFile,
        "EvidenceDocument",
        EvidenceShownBase,
        EVIDENCE_NOT_SHOWN,
        retype=in_wib,
        doc="An evidence file as a reviewer sees it: what was declared, its status, and a link when verified.",
    )
    ReportShown.model_rebuild(_types_namespace={"EvidenceDocument": EvidenceDocument})
    ReportDocument = view_of(
        Report,
        "ReportDocument",
        ReportShown,
        REPORT_NOT_SHOWN,
        renamed=REPORT_RENAMED,
        retype=in_wib,
        doc="One report as a reviewer sees it: its fields but those in REPORT_NOT_SHOWN, and its region's name.",
    )
    ClaimDocument = view_of(Claim, "ClaimDocument", Shown, CLAIM_NOT_SHOWN, retype=in_wib, doc="A claim, for leads.")
    QuestionDocument = view_of(Question, "QuestionDocument", Shown, {}, retype=in_wib, doc="The question waiting.")
    DecisionDocument = view_of(Decision, "DecisionDocument", DecisionShownBase, {}, retype=in_wib, doc="A decision.")
    CaseDocument = view_of(
        Case,
        "CaseDocument",
        CaseShownBase,
        CASE_NOT_SHOWN,
        retype=in_wib,
        doc="A case with everything needed to decide it.",
    )


def claim_shown(case: Case, viewer: str | None) -> ClaimShown | ClaimDocument | None:
    """The case's claim: whole for a lead (``viewer`` None), else whether it is the viewer's and until when."""
    claim = case.claim
    if claim is None:
        return None
    if viewer is None:
        return ClaimDocument(**claim.model_dump(exclude=set(CLAIM_NOT_SHOWN)))
    return ClaimShown(held_by_you=claim.reviewer == viewer, expires_at=claim.expires_at)


def case_shown(
    case: Case,
    reports: list[Report],
    now: datetime,
    history: list[CaseEvent] | None = None,
    viewer: str | None = None,
    links: Links | None = None,
) -> CaseDocument:
    """A case with everything needed to decide it; ``viewer`` is the reviewer it is shown to (None: a lead);
    ``links`` signs the links to verified evidence files (None: none)."""
    own = {name: getattr(case, name) for name in Case.model_fields if name not in CASE_NOT_SHOWN}
    return CaseDocument(
        **own
        | {
            "categories": sorted(case.categories),
            "urgent_reasons": urgency(case, now),
            "seconds_left": int((case.review_due_at - now).total_seconds()),
            "claim": claim_shown(case, viewer),
            "question": QuestionDocument(**case.question.model_dump()) if case.question else None,
            "decision": decision_shown(case, viewer),
            "questions": [AskedQuestion(**asked) for asked in questions_asked(history or [])],
            "reports": [report_shown(r, links) for r in reports],
        }
    )


def case_document(
    case: Case,
    reports: list[Report],
    now: datetime,
    history: list[CaseEvent] | None = None,
    viewer: str | None = None,
    links: Links | None = None,
) -> dict[str, Any]:
    """``case_shown`` as JSON values (what ``kanal cases show`` and ``review next --json`` print)."""
    return case_shown(case, reports, now, history, viewer, links).model_dump(mode="json")


def decision_shown(case: Case, viewer: str | None) -> DecisionDocument | None:
    """The decision; for a reviewer other than the one who made it, without the decider's identity."""
    decision = case.decision
    if decision is None:
        return None
    hidden = viewer is not None and decision.reviewer != viewer
    return DecisionDocument(**decision.model_dump() | {"reviewer": None if hidden else decision.reviewer})


def report_shown(r: Report, links: Links | None = None) -> ReportDocument:
    """One report as a reviewer sees it: every field of Report but REPORT_NOT_SHOWN, its region's name, and its
    evidence files with a link to each verified one (signed by ``links``)."""
    own = {REPORT_RENAMED.get(name, name): getattr(r, name) for name in Report.model_fields}
    shown = {name: value for name, value in own.items() if name in ReportDocument.model_fields and name != "evidence"}
    evidence = [
        EvidenceDocument(**f.model_dump(exclude=set(EVIDENCE_NOT_SHOWN)), link=links(r, f) if links else None)
        for f in r.evidence
    ]
    return ReportDocument(**shown, region=regions.display_name(r.region_code), evidence=evidence)


def report_document(r: Report, links: Links | None = None) -> dict[str, Any]:
    """``report_shown`` as JSON values."""
    return report_shown(r, links).model_dump(mode="json")
