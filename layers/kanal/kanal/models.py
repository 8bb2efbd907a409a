"""The domain's nouns: Partner, Report, Case, Decision, and the API's shapes of them.

Pure pydantic models, no AWS. Input models refuse unknown fields so that a
typo in a partner's integration is an error, not silently lost data.
"""

from __future__ import annotations

import copy
import functools
import string
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AliasChoices,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    create_model,
)

from kanal import content, regions, terminal


class Model(BaseModel):
    """The base of every model: its validator is built on first use, so that a function pays at cold
    start only for the models it uses (building all of them costs tens of milliseconds)."""

    model_config = ConfigDict(defer_build=True)


View = TypeVar("View", bound=BaseModel)
#: Views' answers carry every field, null or not: the document says so (required in serialization).
VIEW_CONFIG = ConfigDict(defer_build=True, json_schema_serialization_defaults_required=True)


def view_of(
    source: type[BaseModel],
    name: str,
    base: type[View],
    hidden: Mapping[str, str],
    *,
    renamed: Mapping[str, str] | None = None,
    retype: Callable[[Any], Any] | None = None,
    doc: str = "",
) -> type[View]:
    """A view of ``source``: ``base`` (what the view adds or shows its own way) with every other field of
    ``source``, as it is, but those in ``hidden`` (field -> why it is not shown) and those ``base`` already
    has. A field added to ``source`` is shown unless it is hidden on purpose: never dropped unnoticed.
    ``renamed`` shows a field under another name; ``retype`` maps a field's type for display."""
    unknown = set(hidden) - set(source.model_fields)
    if unknown:
        raise TypeError(f"{name} hides fields {source.__name__} does not have: {sorted(unknown)}")
    fields: dict[str, Any] = {}
    for field, info in source.model_fields.items():
        shown = (renamed or {}).get(field, field)
        if field in hidden or shown in base.model_fields:
            continue
        annotation = retype(info.annotation) if retype else info.annotation
        fields[shown] = (annotation, copy.copy(info))
    view = create_model(name, __base__=base, __module__=base.__module__, __doc__=doc, **fields)
    return cast("type[View]", view)


def shown_fields(source: type[BaseModel], view: type[BaseModel], renamed: Mapping[str, str] | None = None) -> set[str]:
    """The fields of ``source`` that ``view`` shows (under their own name or as ``renamed``)."""
    return {f for f in source.model_fields if (renamed or {}).get(f, f) in view.model_fields}


class PartnerKind(StrEnum):
    """Who a partner is: the supervisory body and commission, a civil-society group, a ministry."""

    ELECTION_AGENCY = "election_agency"
    CIVIL_SOCIETY = "civil_society"
    GOVERNMENT = "government"


class Category(StrEnum):
    """What a partner suspects the content breaks."""

    MISINFORMATION = "misinformation"
    ELECTION_INTEGRITY = "election_integrity"
    SYNTHETIC_MEDIA = "synthetic_media"
    HATE_SPEECH = "hate_speech"
    CAMPAIGN_VIOLATION = "campaign_violation"
    OTHER = "other"


class Priority(StrEnum):
    """Which review queue a case goes to."""

    URGENT = "urgent"
    NORMAL = "normal"


class CaseStatus(StrEnum):
    """Where a case is in review; a report shows the status of its case."""

    RECEIVED = "received"
    NEEDS_INFO = "needs_info"
    DECIDED = "decided"


class Outcome(StrEnum):
    """What the moderation team did with the content."""

    REMOVED = "removed"
    RESTRICTED = "restricted"
    LABELLED = "labelled"
    NO_VIOLATION = "no_violation"


class Policy(StrEnum):
    """The policy a decision applies."""

    MISINFORMATION = "misinformation"
    CIVIC_ELECTION_INTEGRITY = "civic_election_integrity"
    SYNTHETIC_MEDIA = "synthetic_media"
    HATE_SPEECH = "hate_speech"
    NATIONAL_LAW = "national_law"


class Ground(StrEnum):
    """Whether a decision rests on the community guidelines or on national law."""

    COMMUNITY_GUIDELINES = "community_guidelines"
    NATIONAL_LAW = "national_law"


class Partner(Model):
    """A reporting partner (pelapor): an agency or group that holds API keys."""

    model_config = ConfigDict(frozen=True)

    partner_id: str
    name: str
    kind: PartnerKind
    created_at: datetime
    #: Where the partner sits (province or regency code): its time zone for reminders. WIB when unknown.
    region_code: str | None = None
    #: Its API Gateway API key (id and value): what its requests count against in a usage plan. Not a secret the
    #: partner holds (partners send their own key; the authorizer names this one). None: made before limits.
    usage_key_id: str | None = None
    usage_key: str | None = None


class ApiKey(Model):
    """A partner's API key as stored: its hash, never the key itself."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    partner_id: str
    key_hash: str
    created_at: datetime
    revoked_at: datetime | None = None
    partner_kind: PartnerKind | None = None
    partner_name: str | None = None
    #: The partner's API Gateway key value (Partner.usage_key), for the authorizer's usageIdentifierKey.
    usage_key: str | None = None

    @property
    def active(self) -> bool:
        """Whether the key still authenticates."""
        return self.revoked_at is None


def _tiktok_url(value: str) -> str:
    _printable_url(value)
    content.content_key(value)  # raises ValueError with a clear message
    return value


def _printable_url(value: str) -> None:
    if not value.isprintable() or " " in value:  # isprintable: no control, format or separator characters
        raise ValueError("must not contain spaces or control characters")


#: The longest URL taken (content and evidence URLs alike).
MAX_URL_LENGTH = 2048
#: Top-level names that no public host has: RFC 6761's special-use names, .local (RFC 6762), .onion
#: (RFC 7686), .alt (RFC 9476), .internal (reserved by ICANN for private networks) and .arpa
#: (infrastructure: reverse lookups, home.arpa).
_NON_PUBLIC_TLDS = frozenset({"localhost", "local", "internal", "invalid", "test", "example", "onion", "alt", "arpa"})
_HOST_NAME_CHARACTERS = frozenset(string.ascii_lowercase + string.digits + "-")
#: The full stops that IDNA treats as label separators, besides ".".
_IDNA_DOTS = str.maketrans(dict.fromkeys("\u3002\uff0e\uff61", "."))
_PUBLIC_HOST = "must name a public host such as www.bawaslu.go.id, not an IP address or a local name"


def _https_url(value: str) -> str:
    """An https URL to a public host name: parsed, never matched with a pattern, so it costs time linear
    in its length (a backtracking pattern here cost ~80 ms of CPU per 2 KB URL)."""
    if len(value) > MAX_URL_LENGTH:
        raise ValueError(f"must be at most {MAX_URL_LENGTH} characters")
    _printable_url(value)
    try:
        parts = urlsplit(value)
        port = parts.port  # ValueError unless a number 0-65535
    except ValueError as error:  # also a broken [IPv6] literal
        raise ValueError("must be an https URL with a valid host and port") from error
    if parts.scheme != "https" or not parts.netloc:  # urlsplit lower-cases the scheme
        raise ValueError("must be an https URL")
    if "@" in parts.netloc:
        raise ValueError("must not carry a user name or password")
    if port not in (None, 443):
        raise ValueError("must not name a port other than 443")
    if parts.netloc.startswith("["):
        raise ValueError(_PUBLIC_HOST)
    _public_host_name(parts.hostname or "")
    return value


def _public_host_name(host: str) -> None:
    """Refuse anything but a DNS name of a public host: labels of letters, digits and hyphens (RFC 1123,
    after IDNA), at least two of them, under a top-level name that is alphabetic (so no IPv4 address in
    any of its spellings, such as 169.254.169.254 or 0x7f.1) and not a special-use one."""
    labels = host.translate(_IDNA_DOTS).split(".")
    if len(host) > 253 or any(len(label) > 63 for label in labels):  # bounds the IDNA codec's work
        raise ValueError(_PUBLIC_HOST)
    try:
        labels = host.encode("idna").decode("ascii").lower().split(".")
    except UnicodeError as error:  # an empty or too long label, or characters IDNA prohibits
        raise ValueError(_PUBLIC_HOST) from error
    top = labels[-1]
    if (
        len(labels) < 2
        or any(
            not label or label[0] == "-" or label[-1] == "-" or not _HOST_NAME_CHARACTERS.issuperset(label)
            for label in labels
        )
        or not (top.isalpha() or top.startswith("xn--"))
        or top in _NON_PUBLIC_TLDS
    ):
        raise ValueError(_PUBLIC_HOST)
    if _public_suffixes().privatesuffix(".".join(labels)) is None:
        raise ValueError(_UNREGISTRABLE)


_UNREGISTRABLE = (
    "must name a host of a registrable domain under a public suffix (such as www.bawaslu.go.id or "
    "kpu.go.id), not a suffix itself (go.id) or a name under none"
)


@functools.cache
def _public_suffixes() -> Any:
    """The Public Suffix List's ICANN section, as the package bundles it (no network; built on first use, once per
    process: about 55 ms). Unknown top-level names are not suffixes here, so a name under none is not registrable."""
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList(only_icann=True, accept_unknown=False)


def _region(value: str) -> str:
    if not regions.exists(value):
        raise ValueError(
            "must be a province code such as '31' or a regency/city code such as '31.71' from the official list"
        )
    return value


def _election(value: str) -> str:
    from kanal import calendar  # local import: calendar imports models

    if value not in calendar.default_calendar().ids():
        known = ", ".join(sorted(calendar.default_calendar().ids()))
        raise ValueError(f"must be an election id from the calendar ({known})")
    return value


def _epoch(value: Any) -> Any:
    """A stored TTL (Unix seconds, as DynamoDB's numbers come back) as an aware datetime."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return datetime.fromtimestamp(int(value), UTC)
    return value


def _rfc3339_text(value: Any) -> Any:
    if not isinstance(value, str | datetime):
        raise ValueError("must be an RFC 3339 date-time string with a UTC offset, e.g. 2024-02-12T09:40:00+07:00")
    return value


#: What observed_at may be; intake.py holds the bounds (they depend on the time of the request).
OBSERVED_AT_RANGE = "must be within the last 10 years and not in the future"


def _in_utc_range(value: datetime) -> datetime:
    """Refuse a moment that has no UTC equivalent (0001-01-01T00:00:00+14:00 is before year 1 in UTC)."""
    try:
        value.astimezone(UTC)
    except OverflowError as error:
        raise ValueError(OBSERVED_AT_RANGE) from error
    return value


#: Free text that is shown on a reviewer's terminal: no control character but newline and tab, no bidi
#: control (terminal.py); a CRLF is taken as a newline, a lone CR is refused.
PlainText = Annotated[str, AfterValidator(terminal.plain_text)]
TikTokUrl = Annotated[str, Field(max_length=MAX_URL_LENGTH), AfterValidator(_tiktok_url)]
HttpsUrl = Annotated[str, Field(max_length=MAX_URL_LENGTH), AfterValidator(_https_url)]
RegionCode = Annotated[str, AfterValidator(_region)]
ElectionId = Annotated[str, AfterValidator(_election)]
EVIDENCE_URLS = (
    "Up to 10 https URLs (each at most 2,048 characters, no spaces or control characters) on a public host "
    "name of a registrable domain (Public Suffix List): no IP address, local name, user name, password, or port "
    "other than 443."
)


class NewReport(Model):
    """The body of POST /v1/reports: what a partner flags and why."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    content_url: TikTokUrl = Field(
        description="https URL of the TikTok content (tiktok.com, www/m.tiktok.com, vt/vm.tiktok.com).",
        examples=["https://www.tiktok.com/@akun.contoh/video/7318301234567890123"],
    )
    category: Category = Field(description="What the content is suspected to break.")
    region_code: RegionCode = Field(
        description="Province code ('31') or regency/city code ('31.71') from the official list.",
        examples=["31.71"],
    )
    description: PlainText = Field(min_length=1, max_length=5000, description="What is wrong with the content.")
    evidence_urls: list[HttpsUrl] = Field(default_factory=list, max_length=10, description=EVIDENCE_URLS)
    legal_basis: PlainText | None = Field(default=None, max_length=500, examples=["UU 7/2017 Pasal 280"])
    election: ElectionId | None = Field(default=None, examples=["pilkada-2024"])
    observed_at: Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_in_utc_range)] | None = Field(
        default=None,
        description=(
            "When the partner saw the content, with a UTC offset: at most 10 years before the request (two "
            "five-year election cycles; TikTok itself is younger) and not after it (5 minutes of clock "
            "difference allowed)."
        ),
    )
    partner_reference: PlainText | None = Field(default=None, max_length=128)


class DecisionView(Model):
    """What a partner sees of a decision: never the reviewer's name."""

    outcome: Outcome
    policy: Policy
    ground: Ground
    statement_of_reasons: str
    decided_at: datetime


class EvidenceType(StrEnum):
    """The file types taken as evidence: screenshots, screen recordings and documents."""

    PNG = "image/png"
    JPEG = "image/jpeg"
    WEBP = "image/webp"
    MP4 = "video/mp4"
    PDF = "application/pdf"


class EvidenceStatus(StrEnum):
    """Where an evidence file is: declared and awaiting its upload, checked and kept, or refused and deleted."""

    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


class EvidenceFile(Model):
    """An evidence file of a report (kanal.evidence): what the partner declared and what the check found."""

    evidence_id: str
    filename: str
    content_type: EvidenceType
    size: int
    sha256: str
    status: EvidenceStatus
    #: Why it was rejected (None otherwise).
    reason: str | None = None
    created_at: datetime
    checked_at: datetime | None = None
    #: The object version that was checked: the evidence (every other version is deleted).
    version_id: str | None = None


def _evidence_files(value: Any) -> Any:
    """The stored map of evidence files (by id) as a list, oldest first."""
    if isinstance(value, Mapping):
        return sorted(value.values(), key=lambda f: (str(f.get("created_at", "")), str(f.get("evidence_id", ""))))
    return value


class Report(Model):
    """A stored report (laporan): one partner's flag of one piece of content."""

    report_id: str
    partner_id: str
    partner_kind: PartnerKind | None = None
    #: Who reported, as the moderation team knows them (from the key's partner; None for older keys).
    partner_name: str | None = None
    case_id: str
    content_key: str
    content_url: str
    category: Category
    region_code: str
    description: str
    evidence_urls: list[str] = Field(default_factory=list)
    legal_basis: str | None = None
    election: str | None = None
    observed_at: datetime | None = None
    partner_reference: str | None = None
    received_at: datetime
    review_due_at: datetime
    urgent_reasons: list[str] = Field(default_factory=list)
    body_hash: str
    idempotency_key: str | None = None
    #: The files uploaded as evidence (kept in the report's item, as a map by id), oldest first.
    evidence: Annotated[list[EvidenceFile], BeforeValidator(_evidence_files)] = Field(default_factory=list)


def report_position(received_at: datetime, report_id: str) -> str:
    """Where a report stands among its case's reports (received time in UTC, then id): the by_case index's
    sort key, and how a claim and a decision name the reports they saw."""
    return f"{received_at.astimezone(UTC).isoformat(timespec='microseconds')}#{report_id}"


class Decision(Model):
    """A reviewer's decision on a case, with its statement of reasons, and the reports it covers."""

    outcome: Outcome
    policy: Policy
    ground: Ground
    statement_of_reasons: str
    reviewer: str
    decided_at: datetime
    #: The reports the reviewer saw: every report of the case up to this position (None: decided before this
    #: was recorded), and how many.
    covers_until: str | None = None
    report_count: int | None = None
    #: The categories the reviewer had before them (None: decided before this was recorded).
    categories: list[str] | None = None

    def view(self) -> DecisionView:
        """The partner-facing part of the decision."""
        return DecisionView(**self.model_dump(exclude={"reviewer", "covers_until", "report_count", "categories"}))


class Case(Model):
    """One review per piece of content: every report about the same video."""

    case_id: str
    content_key: str
    content_url: str
    status: CaseStatus = CaseStatus.RECEIVED
    #: How many reports the case holds. The case item keeps counts and bounded sets only (its size never grows
    #: with its reports: DynamoDB's items stop at 400 KB); the reports themselves come from the by_case index.
    report_count: int = 0
    partners: set[str] = Field(default_factory=set)
    categories: set[str] = Field(default_factory=set)
    urgent_reasons: set[str] = Field(default_factory=set)
    first_reported_at: datetime
    review_due_at: datetime
    #: The queue of the case's newest review message, and that message's ticket: every message sent for the case
    #: carries the next ticket, so a worker tells a superseded copy (a lower ticket) from the current one.
    queued: Priority | None = None
    ticket: int = 0
    decision: Decision | None = None
    claim: Claim | None = None
    question: Question | None = None
    #: When the case and everything about it are deleted (the table's TTL); only ever moved later.
    expires_at: Annotated[datetime | None, BeforeValidator(_epoch)] = None

    @property
    def awaiting_review(self) -> bool:
        """Whether the case needs a reviewer: received (needs_info waits for a partner; a decided case reopened
        for a report its decision did not consider is received again, its old decision kept on record)."""
        return self.status is CaseStatus.RECEIVED

    def reopen_reasons(self, report: Report) -> list[str]:
        """Why a report on this decided case needs a review of its own, rather than inheriting the decision: it
        names a category the decision did not consider, or brings evidence. Empty when the decision covers it."""
        decision = self.decision
        if self.status is not CaseStatus.DECIDED or decision is None or self._covered(report):
            return []
        reasons = []
        if decision.categories is not None and str(report.category) not in decision.categories:
            reasons.append("new_category")
        if report.evidence_urls:
            reasons.append("new_evidence")
        return reasons

    def covers(self, report: Report) -> bool:
        """Whether the case's decision answers ``report``: the reviewer saw it, or it arrived after the decision
        and brings nothing the decision did not consider."""
        if self.decision is None:
            return False
        return self._covered(report) or (self.status is CaseStatus.DECIDED and not self.reopen_reasons(report))

    def _covered(self, report: Report) -> bool:
        """Seen by the decision's reviewer: up to the view's last report, and not received after the decision."""
        decision = self.decision
        if decision is None or decision.covers_until is None or report.received_at > decision.decided_at:
            return False
        return report_position(report.received_at, report.report_id) <= decision.covers_until

    def held(self, now: datetime) -> bool:
        """Whether a reviewer holds an unexpired claim on the case."""
        return self.claim is not None and self.claim.expires_at > now

    def held_by_other(self, reviewer: str, now: datetime) -> bool:
        """Whether another reviewer holds an unexpired claim on the case."""
        return self.claim is not None and self.claim.reviewer != reviewer and self.claim.expires_at > now


class Claim(Model):
    """A reviewer's lease on a case, tied to the queue message it came from."""

    reviewer: str
    expires_at: datetime
    queue: Priority
    #: The SQS receipt handle of the message it was received in (empty when the claim holds a fresh copy).
    #: Stored as ``receipt`` before it was renamed; claims last a lease, and those still held read either way.
    handle: str = Field(validation_alias=AliasChoices("handle", "receipt"))
    #: The ticket of the claimed message, and its SQS message id (to tell it from other copies).
    ticket: int = 0
    message_id: str = ""
    #: The reports the reviewer has been shown: all up to this position, and how many.
    seen_until: str | None = None
    seen_count: int = 0


class Question(Model):
    """What a reviewer asked the reporting partners, and by when."""

    text: str
    due_at: datetime
    asked_at: datetime


class CaseEventKind(StrEnum):
    """Every change of a case, for its trail."""

    RECEIVED = "received"
    REPORT_ATTACHED = "report_attached"
    ESCALATED = "escalated"
    CLAIMED = "claimed"
    RELEASED = "released"
    INFO_REQUESTED = "info_requested"
    INFO_PROVIDED = "info_provided"
    INFO_NOT_PROVIDED = "info_not_provided"
    DECIDED = "decided"
    #: The reconciler put a case back on its queue after finding it on none (the reason is in the detail).
    REQUEUED = "requeued"
    #: A decided case back in review for a report its decision did not consider (new category or evidence).
    REOPENED = "reopened"


class CaseEvent(Model):
    """One entry of a case's trail: what happened, who did it, when."""

    case_id: str
    kind: CaseEventKind
    actor: str
    at: datetime
    detail: dict[str, str] = Field(default_factory=dict)


def attached_event(report: Report) -> CaseEvent:
    """The trail entry of a report attached to its case (also the record that the report was counted once)."""
    return CaseEvent(
        case_id=report.case_id,
        kind=CaseEventKind.REPORT_ATTACHED,
        actor=report.partner_id,
        at=report.received_at,
        detail={"report_id": report.report_id, "category": str(report.category)},
    )


class PartnerEvent(Model):
    """A trail entry as a partner sees it: no reviewer, no other partner."""

    kind: CaseEventKind
    at: datetime


class ReportReceipt(Model):
    """The 202 answer to a new report."""

    report_id: str
    case_id: str
    status: CaseStatus
    received_at: datetime
    review_due_at: datetime
    decision: DecisionView | None = None


class QuestionView(Model):
    """A reviewer's question to the reporting partners."""

    question: str
    due_at: datetime


class EvidenceViewBase(Model):
    """The base of an evidence file as its partner sees it."""

    model_config = VIEW_CONFIG


#: EvidenceFile's fields that a partner is not shown.
EVIDENCE_HIDDEN_FROM_PARTNER = {"version_id": "the S3 object version kanal keeps as the evidence: its bookkeeping"}

if TYPE_CHECKING:
    EvidenceView = EvidenceViewBase
else:
    EvidenceView = view_of(
        EvidenceFile,
        "EvidenceView",
        EvidenceViewBase,
        EVIDENCE_HIDDEN_FROM_PARTNER,
        doc="An evidence file of the report: what was declared, its status, and why it was rejected.",
    )


class ReportViewBase(ReportReceipt):
    """What a partner's view of its report adds to the receipt: the question waiting, the case's trail, and the
    evidence files."""

    model_config = VIEW_CONFIG

    question: QuestionView | None = None
    history: list[PartnerEvent] | None = None
    evidence: list[EvidenceView] = Field(
        default_factory=list, description="The report's evidence files, oldest first, each with its status."
    )


#: Report's fields that a partner is not shown, each with the reason. Every other field is (ReportView): a
#: partner reads back what it sent and its receipt, nothing of kanal's own bookkeeping.
HIDDEN_FROM_PARTNER = {
    "partner_id": "the caller itself: every report a partner can read is its own",
    "partner_kind": "the partner's own kind, from its key, not part of its report",
    "partner_name": "the partner's own name, from its key, not part of its report",
    "content_key": "kanal's grouping key for the content; content_url is the partner's own spelling of it",
    "urgent_reasons": "how kanal orders its review queues; the partner sees review_due_at and the status",
    "body_hash": "a fingerprint that tells a retry from another body under the same Idempotency-Key",
    "idempotency_key": "the partner's retry token for the request, not part of the report",
}

if TYPE_CHECKING:
    ReportView = ReportViewBase
else:
    ReportView = view_of(
        Report,
        "ReportView",
        ReportViewBase,
        HIDDEN_FROM_PARTNER,
        doc="A partner's own report as GET /v1/reports/{id} shows it: the receipt, the question waiting, the "
        "case's trail as the partner may see it, and every field of the report but those in HIDDEN_FROM_PARTNER.",
    )


class InfoReply(Model):
    """The body of POST /v1/reports/{id}/info: a partner's answer to a reviewer's question."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    message: PlainText = Field(min_length=1, max_length=5000)
    evidence_urls: list[HttpsUrl] = Field(default_factory=list, max_length=10, description=EVIDENCE_URLS)


class ReportPage(Model):
    """One page of a partner's reports, newest first."""

    items: list[ReportView]
    next_cursor: str | None = None


class FieldError(Model):
    """One invalid field of a request."""

    field: str
    message: str


class Problem(Model):
    """An RFC 9457 problem document: every error the API answers."""

    type: str
    title: str
    status: int
    detail: str
    # Left out when empty, wherever a problem is sent (alone, or as a batch report's problem).
    instance: str | None = Field(default=None, exclude_if=lambda value: value is None)
    errors: list[FieldError] | None = Field(default=None, exclude_if=lambda value: value is None)

    def body(self) -> dict[str, Any]:
        """The JSON body, without empty members."""
        return self.model_dump(exclude_none=True)
