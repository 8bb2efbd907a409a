"""The small interfaces the rules depend on; adapters implement them for AWS (and tests, in memory)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from kanal.models import (
    ApiKey,
    Case,
    CaseEvent,
    Claim,
    Decision,
    EvidenceFile,
    EvidenceStatus,
    EvidenceType,
    Partner,
    Priority,
    Question,
    Report,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import timedelta

    from kanal.events import Addressed, Event
    from kanal.evidence import Inspection
    from kanal.limits import Limits, PlanLimits
    from kanal.webhooks import Webhook


class ReportRepository(Protocol):
    """Where reports are kept."""

    def add(self, report: Report) -> Report | None:
        """Store ``report`` unless its id exists; return the existing report in that case, else None."""

    def get(self, report_id: str) -> Report | None:
        """The report with this id, or None."""

    def begin(self, report_id: str, now: datetime, hold_until: datetime) -> bool:
        """Hold an idempotent report id while its request runs; False if another request holds it or held it."""

    def release(self, report_id: str) -> None:
        """Let go of a held id after a failure (best effort)."""

    def lookup(self, report_ids: Sequence[str], now: datetime) -> tuple[dict[str, Report], set[str]]:
        """The reports stored under these ids (by id), and the ids among the others that a running request holds."""

    def add_many(self, reports: Sequence[Report]) -> dict[str, Report]:
        """Store each report whose id is free (their ids distinct); the reports already stored under the others'
        ids, by id. StoreUnavailable if none could be stored (then none was)."""

    def page_for_partner(
        self, partner_id: str, limit: int, after: tuple[datetime, str] | None
    ) -> tuple[list[Report], bool]:
        """A partner's reports newest first, starting after (received_at, report_id); and whether more follow."""


class CaseRepository(Protocol):
    """Where cases are kept."""

    def get(self, case_id: str) -> Case | None:
        """The case with this id, or None."""

    def get_many(self, case_ids: Iterable[str]) -> dict[str, Case]:
        """The cases that exist among ``case_ids``, by id."""

    def attach(self, case_id: str, reports: Sequence[Report], expires_at: datetime) -> Case:
        """Open the case if needed and attach the reports, each counted once and put on the trail once (a
        redelivered report changes nothing); the case's expiry only moves later. Returns the case as stored."""

    def reopen_decided(self, case_id: str, reasons: Sequence[str], at: datetime) -> Case | None:
        """Return a decided case to review for ``reasons`` (its decision kept); None if it is not decided."""

    def mark_queued(self, case_id: str, priority: Priority, ticket: int, at: datetime) -> None:
        """Record that message ``ticket`` for the case went to the ``priority`` queue (a lower ticket never
        overwrites a higher one)."""


class ReviewQueue(Protocol):
    """The review queues: urgent and normal."""

    def publish(self, case: Case, priority: Priority, ticket: int, at: datetime, delay_seconds: int = 0) -> str:
        """Send message ``ticket`` of the case to the queue for ``priority`` (visible after ``delay_seconds``);
        the message's id."""


class PartnerDirectory(Protocol):
    """Partners and their API keys (stored only as hashes)."""

    def add_partner(self, partner: Partner) -> None:
        """Store a new partner."""

    def get_partner(self, partner_id: str) -> Partner | None:
        """The partner with this id, or None."""

    def list_partners(self) -> list[Partner]:
        """Every partner, by name."""

    def add_key(self, key: ApiKey, partner: Partner) -> None:
        """Store a key's hash for a partner."""

    def find_key(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, or None."""

    def keys_of(self, partner_id: str) -> list[ApiKey]:
        """A partner's keys, revoked ones included."""

    def revoke_key(self, partner_id: str, key_id: str, at: datetime) -> ApiKey:
        """Revoke one of a partner's keys (KeyNotFound if it has no such key)."""

    def set_usage_key(self, partner: Partner, usage_key_id: str, usage_key: str) -> Partner:
        """Record the partner's API Gateway key on it and on each of its keys; the partner as it now is."""


class UsagePlans(Protocol):
    """The partner API's usage plans: each partner's API Gateway key, and the plan whose limits it counts against
    (the stage's default plan, or one of the partner's own)."""

    def create_key(self, partner_id: str) -> tuple[str, str]:
        """A new enabled API key for the partner, in no plan yet: (its id, its value)."""

    def delete_key(self, key_id: str) -> None:
        """Delete an API key (and so its place in any plan)."""

    def plan_of(self, key_id: str) -> PlanLimits | None:
        """The plan of this stage the key is in, or None."""

    def default_limits(self) -> PlanLimits:
        """The default plan."""

    def use_default(self, key_id: str) -> PlanLimits:
        """Put the key in the default plan (out of, and deleting, a plan of its own); the default plan."""

    def use_own(self, key_id: str, partner_id: str, limits: Limits) -> PlanLimits:
        """Put the key in a plan of the partner's own with these limits (made, or changed); that plan."""

    def flush_authorizer_cache(self) -> None:
        """Forget the authorizer's cached answers on the stage, so a revoked key stops at once."""


class CaseWrite(Protocol):
    """The conditional writes of review; each raises CaseConflict when its condition does not hold."""

    def claim(self, case_id: str, claim: Claim, now: datetime) -> Case:
        """Hold an open case for a reviewer unless someone else holds an unexpired claim."""

    def decide(self, case_id: str, decision: Decision) -> Case:
        """Write the decision once, only by the reviewer holding the case."""

    def ask(self, case_id: str, reviewer: str, question: Question) -> Case:
        """Put a held case in needs_info and let go of its claim and queue mark."""

    def release(self, case_id: str, reviewer: str) -> Case:
        """Let go of a held case."""

    def reopen(self, case_id: str, event: CaseEvent, question_due: datetime | None = None) -> Case:
        """Return a needs_info case to review (status received, no queue mark) and record why on its trail."""


class Trail(Protocol):
    """The history of cases."""

    def record(self, events: Sequence[CaseEvent]) -> None:
        """Add events to cases' trails (idempotent for the same event)."""

    def history(self, case_id: str) -> list[CaseEvent]:
        """A case's events, oldest first."""

    def reports_of(self, case_id: str) -> list[Report]:
        """Every report of a case, oldest first."""

    def count_reports(self, case_id: str) -> int:
        """How many reports the case has now."""

    def reports_after(self, case_id: str, position: str) -> list[Report]:
        """A case's reports after ``position`` (``models.report_position``), oldest first."""


@dataclass(frozen=True)
class ReviewMessage:
    """A review-queue message as a reviewer's worker received it."""

    case_id: str | None
    queue: Priority
    #: The SQS receipt handle: it deletes the message or changes its visibility, until the next receive.
    handle: str
    receive_count: int
    #: The message's ticket (None in a message sent before tickets existed: taken as current).
    ticket: int | None = None
    message_id: str = ""


class ReviewInbox(Protocol):
    """The consuming side of the review queues."""

    def receive(self, wait_seconds: int) -> ReviewMessage | None:
        """The next message, urgent before normal, waiting up to ``wait_seconds``."""

    def acknowledge(self, queue: Priority, handle: str) -> None:
        """Delete a message that is done with (decided, stale, or needing information)."""

    def extend(self, queue: Priority, handle: str, seconds: int) -> None:
        """Keep a message hidden ``seconds`` longer (the claim's lease); 0 returns it to the queue now."""


@dataclass(frozen=True)
class Suspect:
    """A case that was reopened and should be back on a queue by now."""

    case_id: str
    key: tuple[str, str]


class Suspects(Protocol):
    """Cases reopened and not yet checked."""

    def reopened(self, until: datetime) -> list[Suspect]:
        """The reopenings up to ``until`` that no run has checked yet."""

    def checked(self, suspect: Suspect) -> None:
        """Take a reopening out of the index of suspects."""


class DeadLetters(Protocol):
    """The review queues' dead-letter queues."""

    def receive(self) -> list[ReviewMessage]:
        """A batch of dead letters (empty when none are left)."""

    def acknowledge(self, delivery: ReviewMessage) -> None:
        """Delete a dead letter that is dealt with."""

    def set_aside(self, delivery: ReviewMessage, seconds: int) -> None:
        """Leave a dead letter in its queue, hidden for ``seconds``."""


class WebhookStore(Protocol):
    """Where partners' webhooks are kept."""

    def add(self, webhook: Webhook, limit: int) -> bool:
        """Store a new webhook unless its partner has ``limit`` already (False then; nothing is stored)."""

    def get(self, partner_id: str, webhook_id: str) -> Webhook | None:
        """One of the partner's webhooks, or None."""

    def of(self, partner_id: str) -> list[Webhook]:
        """The partner's webhooks, oldest first."""

    def put(self, webhook: Webhook) -> bool:
        """Replace a webhook that exists (False if it was deleted meanwhile: nothing is written)."""

    def remove(self, partner_id: str, webhook_id: str) -> bool:
        """Delete one of the partner's webhooks; False if there was none."""


class SecretBox(Protocol):
    """Seals webhook secrets at rest (KMS on AWS): a sealed secret opens only with the context it was sealed with."""

    def seal(self, secret: str, context: Mapping[str, str]) -> str:
        """The sealed form of ``secret``, bound to ``context``."""

    def open(self, sealed: str, context: Mapping[str, str]) -> str:
        """The secret, if ``sealed`` was sealed with this ``context``."""


class Feed(Protocol):
    """Each partner's events, kept 30 days, read oldest first."""

    def append(self, events: Sequence[Addressed], now: datetime) -> list[Addressed]:
        """Add events; those already in the feed (the same id) are left as they are. The ones that were new."""

    def page(self, partner_id: str, after: str | None, limit: int, now: datetime) -> tuple[list[Event], str | None]:
        """The partner's events after the cursor ``after`` (None: from the oldest kept), at most ``limit``, and
        the cursor to continue from (None when the page is empty and no cursor was given)."""


class Deliveries(Protocol):
    """The queue of webhook deliveries to make."""

    def enqueue(self, deliveries: Sequence[tuple[Webhook, Event]]) -> None:
        """Queue one delivery of each event to its webhook (partners' deliveries kept apart from each other)."""


class EvidenceStore(Protocol):
    """Where reports' evidence files are recorded (with their report: they go when it goes)."""

    def add(self, report_id: str, partner_id: str, record: EvidenceFile, limit: int) -> bool:
        """Record a new file on the partner's report unless it has ``limit`` files already (False: nothing is
        written)."""

    def get(self, report_id: str, partner_id: str, evidence_id: str) -> EvidenceFile | None:
        """One file of the partner's report, or None."""

    def settle(
        self,
        report_id: str,
        partner_id: str,
        evidence_id: str,
        status: EvidenceStatus,
        reason: str | None,
        version_id: str,
        at: datetime,
    ) -> EvidenceFile | None:
        """Record the check of a pending file, once: the file as stored afterwards (checked by this call or an
        earlier one), or None if there is no such file."""


class EvidenceObjects(Protocol):
    """The evidence files' bytes (an S3 bucket with versioning)."""

    def presign_upload(
        self, key: str, content_type: EvidenceType, size: int, valid_for: timedelta
    ) -> tuple[str, dict[str, str]]:
        """A POST form (url, fields) that uploads exactly ``size`` bytes of ``content_type`` to ``key``."""

    def read(self, key: str, version_id: str | None) -> tuple[str, Inspection] | None:
        """Read one version (None: the current one) a chunk at a time: its version id and what its bytes are;
        None if it is gone."""

    def delete(self, key: str, version_id: str | None) -> None:
        """Delete one version for good (None: every version of the key)."""

    def delete_under(self, prefix: str) -> int:
        """Delete every version of every object under ``prefix``; how many versions were deleted."""

    def link(self, key: str, version_id: str, content_type: EvidenceType, valid_for: timedelta) -> str:
        """A presigned GET of one version, valid ``valid_for``."""
