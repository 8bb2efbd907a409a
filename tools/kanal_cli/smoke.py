"""``kanal smoke``: an end-to-end check of a stack, for an operator right after ``sam deploy`` (and for ``make test``
against the local stack). It goes every way a report goes, as the people who use kanal do, then removes what it made.

One line per step, ✓ or ✗ with the time it took; the first failure skips the steps after it (exit 1):

- ``partner``: a temporary partner (civil society: no statutory-window timers) and its key, in the table, with the
  operator's own credentials (as ``kanal partners create``);
- ``report``: that partner reports a video nobody has reported (a random id, checked to have no case) to the
  partner API over HTTPS with the temporary key and an Idempotency-Key, as a partner's system does;
- ``queue``: its case opens (the table's stream, the case builder) and is on a review queue (read from the table);
- ``claim``: through the reviewer API, as ``kanal review`` calls it (the same ReviewDesk and signing), claims until
  the smoke's own case comes. A live queue holds real cases: one that comes instead is released at once (said in a
  line of its own), never held or decided; the attempts are bounded (``--claims``). The report is about synthetic
  media, so the case goes on the urgent queue: a real urgent case released goes back behind it, and the smoke's
  case is reached however long the normal queue is;
- ``decide``: the smoke's case only (its one report is the smoke's), ``no_violation``, with a statement of reasons
  that says it is a smoke test;
- ``read``: the partner reads its report (``GET /v1/reports/{id}``) and sees the decision;
- ``cleanup``: always, after a failure or Ctrl-C too. The key is revoked first; a real case still held is released;
  then everything the run made is deleted and checked gone: the smoke's case with its report, idempotency hold, trail,
  timers and reminders (``DynamoPurge``, as when retention ends), the key, reminders sent to the partner, the
  partner. A case that may still have a message on a review queue (the run failed before its decision) is not
  deleted, which would make that message a poison message and a dead letter that alarms: it is left as an inert
  tombstone (no reports, no trail; ``needs_info``, so a reviewer's worker drops its message) that TTL deletes after
  the queues' retention. The cleanup line says so.

A smoke run is told apart from real work: the partner is "kanal smoke <run>", the report's partner_reference and the
statement of reasons name the run, the reviewer is ``smoke`` on the local stack and on AWS the identity of
``--reviewer-profile`` (README, "After deploying": a dedicated IAM user ``kanal-smoke``). It adds one report
(synthetic_media) and one decision (no_violation under synthetic_media) to the metrics, and nothing that alarms.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from kanal import clock, content, terminal
from kanal.errors import KanalError
from kanal.models import Case, CaseEventKind, CaseStatus, Outcome, PartnerKind, Policy

from kanal_cli import arguments, review_client
from kanal_cli import reviewer as reviewer_cli
from kanal_cli.review_client import ReportsArrived, ReviewDesk, Send

if TYPE_CHECKING:
    from kanal.wiring import Services

STEPS = ("partner", "report", "queue", "claim", "decide", "read")
#: The reviewer's name on the local stack (its trail entries read .../ReviewerRole/smoke).
LOCAL_REVIEWER = "smoke"
#: Where the temporary partner sits (Kota Adm. Jakarta Pusat: WIB).
REGION = "31.71"
OUTCOME, POLICY = Outcome.NO_VIOLATION, Policy.SYNTHETIC_MEDIA
#: How long a tombstone stays: past the review queues' message retention (14 days), so that its message is gone
#: (dropped by a reviewer's worker, or expired) before TTL deletes the case it names.
TOMBSTONE_FOR = timedelta(days=15)
#: How often the waiting steps look again (growing to the second).
FIRST_PAUSE, LONGEST_PAUSE = 0.2, 1.0


class StepFailed(KanalError):
    """A step did not get what it checks for; the message says what it got."""


class SmokeFailed(KanalError):
    """The run failed (a step, or the cleanup): exit status 1."""


def pause(seconds: float) -> None:
    """Wait between two looks at something that happens after an answer (the stream, a lease)."""
    time.sleep(seconds)


def profile_credentials(profile: str) -> tuple[Any, str | None]:
    """The credentials and region of a named AWS profile (the reviewer's, for the reviewer API)."""
    from botocore.exceptions import BotoCoreError
    from botocore.session import Session

    try:
        session = Session(profile=profile)
        return session.get_credentials(), session.get_config_variable("region")
    except BotoCoreError as error:
        raise argparse.ArgumentTypeError(f"--reviewer-profile {profile!r}: {error}") from None


def reviewer_desk(url: str, name: str | None, profile: str | None, timeout: int) -> tuple[ReviewDesk, str]:
    """The reviewer API as ``kanal review`` reaches it (``reviewer.http_send``), and who the trail will name: on the
    local stack the named reviewer; on AWS the identity of ``--reviewer-profile``, whose requests are signed (SigV4)."""
    if reviewer_cli.is_local(url):
        if profile:
            raise argparse.ArgumentTypeError(
                "--reviewer-profile is for a deployed stack; the local stack takes --reviewer"
            )
        who = name or LOCAL_REVIEWER
        return reviewer_cli.review_desk(url, review_client.local_caller(who), timeout), who
    if name:
        raise argparse.ArgumentTypeError(
            "--reviewer is for the local stack only: on AWS the reviewer is the identity of --reviewer-profile"
        )
    if not profile:
        raise argparse.ArgumentTypeError(
            "on AWS the reviewer steps need --reviewer-profile, a profile that assumes ReviewerRole "
            "(README, After deploying): operators do not review"
        )
    credentials, region = profile_credentials(profile)
    if credentials is None:
        raise argparse.ArgumentTypeError(f"--reviewer-profile {profile!r} has no credentials")
    region = review_client.region_of(url, region)
    if not region:
        raise RuntimeError("no AWS region for the reviewer API")
    signed = review_client.sigv4(credentials, region)
    return reviewer_cli.review_desk(url, signed, timeout), f"the identity of profile {profile}"


def partner_send(url: str, api_key: str, idempotency_key: str | None = None, timeout: int = 30) -> Send:
    """The partner API as a partner's system calls it: over HTTPS with its key (and on a POST its Idempotency-Key)."""

    def caller(method: str, target: str, body: bytes, present: dict[str, str]) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {api_key}"}
        if idempotency_key and method == "POST":
            headers["Idempotency-Key"] = idempotency_key
        return headers

    return review_client.http_send(url, caller, timeout, name="the partner API")


@dataclass
class Smoke:
    """One run: what it needs, and what it has made so far (which the cleanup removes)."""

    services: Services
    api_url: str
    desk: ReviewDesk
    who: str
    out: Callable[[str], None] = print
    claims: int = 10
    wait: int = 20
    timeout: float = 60.0
    #: How a partner's requests are sent (``partner_send``: API URL, key, Idempotency-Key).
    partner: Callable[[str, str, str | None], Send] = partner_send
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    partner_id: str | None = None
    key_id: str | None = None
    api_key: str | None = None
    #: The temporary partner's API Gateway key (its usage plan's), deleted with it.
    usage_key_id: str | None = None
    content_url: str | None = None
    report_id: str | None = None
    case_id: str | None = None
    #: Real cases the claim step holds and has not given back yet (normally for a moment only).
    holding: set[str] = field(default_factory=set)
    released: list[str] = field(default_factory=list)
    #: The types of the events the run caused for its partner (the cleanup waits for them in its feed).
    told: set[str] = field(default_factory=set)

    @property
    def idempotency_key(self) -> str:
        """The report's Idempotency-Key: it names the run, and gives the report an id known before the answer."""
        return f"kanal-smoke-{self.run_id}"

    @property
    def reason(self) -> str:
        """The statement of reasons: a smoke test, named, and what the decision is not."""
        return (
            f"kanal smoke {self.run_id}: automated end-to-end check of the stack after a deploy; "
            "not a moderation decision. The case and its report delete themselves."
        )

    # --- the run ----------------------------------------------------------------------------------------------

    def run(self) -> bool:
        """Every step, then the cleanup (always); whether all of them passed."""
        self.out(terminal.line(f"kanal smoke {self.run_id}: partner API {self.api_url}, reviewing as {self.who}"))
        failed: str | None = None
        started = time.monotonic()
        try:
            for name in STEPS:
                if failed:
                    self.out(f"- {name:<8}           skipped")
                elif not self._timed(name, getattr(self, f"step_{name}")):
                    failed = name
        finally:
            cleaned = self._timed("cleanup", self.cleanup)
        took = time.monotonic() - started
        if failed or not cleaned:
            self.out(f"smoke failed at {failed or 'cleanup'} ({took:.1f} s)")
            return False
        self.out(f"smoke passed in {took:.1f} s")
        return True

    def _timed(self, name: str, step: Callable[[], str]) -> bool:
        started = time.monotonic()
        try:
            detail = step()
        except Exception as error:  # any failure of a step is its line, never a traceback
            shown = str(error) if isinstance(error, KanalError) else f"{type(error).__name__}: {error}"
            self._line("✗", name, started, shown)
            return False
        self._line("✓", name, started, detail)
        return True

    def _line(self, mark: str, name: str, started: float, detail: str) -> None:
        self.out(terminal.line(f"{mark} {name:<8} {time.monotonic() - started:6.2f} s  {detail}"))

    def _note(self, text: str) -> None:
        self.out(terminal.line(f"    {text}"))

    def _waits(self) -> Iterator[None]:
        """Yield until the timeout, pausing between looks (the first look at once)."""
        deadline, wait = time.monotonic() + self.timeout, FIRST_PAUSE
        while True:
            yield
            if time.monotonic() >= deadline:
                return
            pause(wait)
            wait = min(wait * 2, LONGEST_PAUSE)

    # --- the steps --------------------------------------------------------------------------------------------

    def step_partner(self) -> str:
        issued = self.services.partners.create(
            f"kanal smoke {self.run_id}", PartnerKind.CIVIL_SOCIETY, clock.now(), REGION
        )
        self.partner_id, self.key_id, self.api_key = issued.partner.partner_id, issued.key_id, issued.api_key
        self.usage_key_id = issued.partner.usage_key_id
        return f"temporary partner {self.partner_id} with key {self.key_id}"

    def step_report(self) -> str:
        assert self.partner_id is not None
        assert self.api_key is not None
        for _ in range(3):  # a random id nobody reported: a case of its own, which the smoke may decide
            video = 10**18 + secrets.randbelow(2**63 - 1 - 10**18)
            url = f"https://www.tiktok.com/@kanal.smoke/video/{video}"
            expected = content.case_id_for(content.content_key(url))
            if self.services.cases.get(expected, consistent=True) is None:
                break
        else:
            raise StepFailed("three random videos in a row already have cases")
        self.content_url = url
        body = {
            "content_url": url,
            "category": "synthetic_media",
            "region_code": REGION,
            "description": f"kanal smoke {self.run_id}: automated check after a deploy. Reviewers: release it "
            "(the smoke claims, decides and deletes it itself).",
            "partner_reference": self.idempotency_key,
        }
        send = self.partner(self.api_url, self.api_key, self.idempotency_key)
        status, answer = send("POST", "/v1/reports", body)
        if status != 202 or not isinstance(answer, dict):
            raise StepFailed(f"POST /v1/reports answered {status}: {_detail(answer)}")
        self.report_id, self.case_id = str(answer.get("report_id")), str(answer.get("case_id"))
        self.told.add("report.received")
        if self.case_id != expected:
            raise StepFailed(f"report {self.report_id} went to case {answer.get('case_id')}, not {expected}")
        return f"POST /v1/reports: 202, report {self.report_id} of case {self.case_id}"

    def step_queue(self) -> str:
        assert self.case_id is not None
        case: Case | None = None
        for _ in self._waits():
            case = self.services.cases.get(self.case_id, consistent=True)
            if case is not None and case.queued is not None:
                return f"case {self.case_id} opened and on the {case.queued} queue"
        state = "never opened" if case is None else "opened but on no queue"
        raise StepFailed(f"case {self.case_id} {state} within {self.timeout:.0f} s (is the case builder running?)")

    def step_claim(self) -> str:
        assert self.case_id is not None
        for attempt in range(1, self.claims + 1):
            claimed = self.desk.next(self.wait)
            if claimed is None:
                continue
            doc = claimed["case"]
            case_id = str(doc["case_id"])
            if case_id != self.case_id:
                self.holding.add(case_id)
                self._give_back(case_id)
                continue
            others = {str(r.get("partner_id")) for r in doc.get("reports", [])} - {str(self.partner_id)}
            if others:  # a real partner reported the random video meanwhile: not the smoke's to decide
                self.holding.add(case_id)
                self._give_back(case_id)
                raise StepFailed(f"case {case_id} has reports of other partners; released, not decided")
            given = f"; released {len(self.released)} real case(s) first" if self.released else ""
            queue = claimed["queue"]
            return f"claimed {case_id} from the {queue} queue through the reviewer API ({attempt} call(s){given})"
        raise StepFailed(
            f"the smoke's case did not come in {self.claims} claim(s) ({len(self.released)} real case(s) released): "
            "reviewers may hold it, or real cases fill the urgent queue; run it again or raise --claims"
        )

    def _give_back(self, case_id: str) -> None:
        """Release a real case at once, and say so; a case that cannot be given back stops the run."""
        try:
            self.desk.release(case_id)
        except KanalError as error:
            raise StepFailed(
                f"claimed real case {case_id} and could not release it ({error}); its lease lapses"
            ) from None
        self.holding.discard(case_id)
        self.released.append(case_id)
        self._note(f"released {case_id}: a real case, not the smoke's; back on its queue, untouched")

    def step_decide(self) -> str:
        assert self.case_id is not None
        try:
            decided = self.desk.decide(self.case_id, str(OUTCOME), str(POLICY), self.reason)
        except ReportsArrived as new:
            raise StepFailed(f"reports arrived on the smoke's case since the claim: {new}; not decided") from None
        decision = decided.get("decision") or {}
        if decided.get("status") != str(CaseStatus.DECIDED) or decision.get("outcome") != str(OUTCOME):
            raise StepFailed(f"the reviewer API answered the decision with {decided}")
        self.told.add("report.decided")
        return f"decided {self.case_id}: {OUTCOME} under {POLICY}, the reason naming the smoke run"

    def step_read(self) -> str:
        assert self.report_id is not None
        assert self.api_key is not None
        send = self.partner(self.api_url, self.api_key, None)
        status, answer = 0, None
        for _ in self._waits():
            status, answer = send("GET", f"/v1/reports/{self.report_id}", None)
            if status == 200 and isinstance(answer, dict) and answer.get("status") == str(CaseStatus.DECIDED):
                decision = answer.get("decision") or {}
                if decision.get("outcome") != str(OUTCOME) or decision.get("statement_of_reasons") != self.reason:
                    raise StepFailed(f"the partner reads another decision: {decision}")
                return f"GET /v1/reports/{self.report_id}: decided, {OUTCOME}, with the smoke's statement of reasons"
            if status != 200:
                break
        shown = answer.get("status") if status == 200 and isinstance(answer, dict) else _detail(answer)
        raise StepFailed(f"GET /v1/reports/{self.report_id} answered {status}: {shown}")

    # --- the cleanup ------------------------------------------------------------------------------------------

    def cleanup(self) -> str:
        """Revoke the key, give back any real case still held, delete what the run made, and check it is gone; each
        part is tried even when one before it failed."""
        if self.partner_id is None:
            return "nothing to remove (no partner was made)"
        partner_id = self.partner_id
        done: list[str] = []
        problems: list[str] = []

        def attempt(what: str, action: Callable[..., str | None], *args: Any) -> None:
            try:
                said = action(*args)
            except Exception as error:  # the other parts still run; the line says what failed
                problems.append(f"{what} failed: {error}")
                return
            if said:
                done.append(said)

        cases = {self.case_id} if self.case_id else set()
        left: list[str] = []

        def revoke(key_id: str) -> str:
            self.services.partners.directory.revoke_key(partner_id, key_id, clock.now())
            return f"key {key_id} revoked"

        def find_cases() -> None:
            cases.update(r.case_id for r in self.table.reports_of(partner_id))

        def delete_partner() -> str:
            count = self.table.delete_partner(partner_id, self.own_report_id)
            return f"partner {partner_id} deleted with the {count} item(s) filed under it (keys, reminders)"

        def check() -> None:
            left.extend(self.table.left(partner_id, sorted(cases)))

        def delete_usage_key(usage_key_id: str) -> str:
            plans = self.services.partners.plans
            assert plans is not None  # a partner got a usage key from them
            plans.delete_key(usage_key_id)
            return f"its API Gateway key {usage_key_id} deleted"

        if self.key_id:
            attempt("revoking the key", revoke, self.key_id)
        for case_id in sorted(self.holding):  # interrupted between a claim and its release
            attempt(f"releasing {case_id}", self._give_back, case_id)
        # Before its case goes: EventsFunction addresses an event to the partners of the case's reports.
        attempt("waiting for its events", self._events_written, problems)
        attempt("finding its cases", find_cases)
        for case_id in sorted(cases):
            attempt(f"removing case {case_id}", self._remove_case, case_id, problems)
        attempt("deleting the partner", delete_partner)
        if self.usage_key_id:
            attempt("deleting its API Gateway key", delete_usage_key, self.usage_key_id)
        attempt("checking", check)
        if left:
            problems.append(f"still in the table: {', '.join(left)}")
        if problems:
            raise StepFailed("; ".join(done + problems))
        return "; ".join(done)

    def _events_written(self, problems: list[str]) -> str | None:
        """Wait until every event the run caused is in its partner's feed (EventsFunction writes them from the stream,
        after the fact): deleting the feed before one is written would leave that one behind."""
        if not self.told or self.partner_id is None:
            return None
        found: set[str] = set()
        for _ in self._waits():
            found = self.table.feed_types(self.partner_id)
            if self.told <= found:
                return f"its {len(self.told)} event(s) in its feed"
        missing = ", ".join(sorted(self.told - found))
        problems.append(f"{missing} not in its feed yet: written later, it stays until it expires (30 days)")
        return None

    @cached_property
    def table(self) -> SmokeTable:
        """The table, for what the cleanup does beyond kanal's adapters."""
        from kanal.adapters.aws import client

        settings = self.services.settings
        return SmokeTable(client("dynamodb", settings.endpoint_url), settings.table_name)

    @property
    def own_report_id(self) -> str | None:
        """The id the smoke's Idempotency-Key gives its report (known even if the answer to the POST was lost)."""
        from kanal.intake import idempotent_report_id

        return idempotent_report_id(self.partner_id, self.idempotency_key) if self.partner_id else None

    def _remove_case(self, case_id: str, problems: list[str]) -> str:
        case = None
        for _ in self._waits():  # a report is stored: its case opens within a second, unless the run failed there
            case = self.services.cases.get(case_id, consistent=True)
            if case is not None:
                break
        if case is None:
            problems.append(f"case {case_id} had not opened: if the case builder opens it later, it stays")
            return f"case {case_id} not found"
        if case.partners - {self.partner_id}:
            problems.append(f"case {case_id} has other partners' reports: left as it is")
            return f"case {case_id} kept"
        history = self.services.trail.history(case_id)
        stored = self.services.trail.reports_of(case_id)
        reports = len(stored)
        self._forget_figures(case, [r.report_id for r in stored], problems)
        self.services.purge().purge(case, clock.now() + timedelta(days=1))
        what = (
            f"{reports} report(s) with their idempotency hold, {len(history)} trail entries, any timers and reminders"
        )
        decided = case.status is CaseStatus.DECIDED
        # Each message a case was sent took a ticket; a release's fresh message replaced the one given back. So
        # when every ticket but the first went to a release, the decision deleted the case's only message.
        releases = sum(1 for e in history if e.kind is CaseEventKind.RELEASED)
        if decided and case.ticket <= 1 + releases:
            self.table.delete_case(case_id, str(self.partner_id))
            return f"case {case_id} deleted with {what}"
        until = self.table.tombstone(case_id, clock.now() + TOMBSTONE_FOR, decided)
        problems.append(
            f"case {case_id} left as a tombstone until {until:%Y-%m-%d}: a message of it may still be on a review "
            "queue, which a worker drops (deleting the case would dead-letter it)"
        )
        return f"{what} of case {case_id} deleted"

    def _forget_figures(self, case: Case, report_ids: list[str], problems: list[str]) -> None:
        """Take the smoke's case out of the figures (kanal.stats), once the case builder has counted its decision
        (the stream's record of it may come after the run's read): the figures keep no trace of the run."""
        from kanal.stats import NATIONAL, scope_of_partner

        stats = self.services.stats_store
        scopes = [NATIONAL, scope_of_partner(str(self.partner_id))]
        decided_at = case.decision.decided_at if case.status is CaseStatus.DECIDED and case.decision else None
        for _ in self._waits():
            national = stats.notices(case.case_id, [NATIONAL]).get(NATIONAL)
            if decided_at is None or (national is not None and national.decided_at == decided_at):
                break
        else:
            problems.append(f"the figures had not counted case {case.case_id}'s decision yet: they may keep it")
        stats.forget(case.case_id, scopes, report_ids)


def _detail(answer: Any) -> str:
    if isinstance(answer, dict):
        return str(answer.get("detail") or answer.get("title") or answer)
    return str(answer)


class SmokeTable:
    """What the cleanup does to the table beyond what kanal's adapters do (they never delete partners or cases)."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def reports_of(self, partner_id: str) -> list[Any]:
        """The partner's reports (by_owner), to find every case the run may have opened."""
        from kanal.adapters.dynamodb import OWNER_INDEX, query_all, to_item
        from kanal.models import Report

        return [
            Report.model_validate(item)
            for item in query_all(
                self._client,
                TableName=self._table,
                IndexName=OWNER_INDEX,
                KeyConditionExpression="gsi1pk = :owner AND begins_with(gsi1sk, :kind)",
                ExpressionAttributeValues=to_item({":owner": f"PARTNER#{partner_id}", ":kind": "REPORT#"}),
            )
        ]

    def delete_case(self, case_id: str, partner_id: str) -> None:
        """Delete a decided case whose only partner is ``partner_id`` (conditional: never anyone else's)."""
        from kanal.adapters.dynamodb import to_item, unavailable_on_failure

        with unavailable_on_failure():
            self._client.delete_item(
                TableName=self._table,
                Key=to_item({"pk": f"CASE#{case_id}", "sk": "CASE"}),
                ConditionExpression="#status = :decided AND size(partners) = :one AND contains(partners, :partner)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item({":decided": "decided", ":one": 1, ":partner": partner_id}),
            )

    def tombstone(self, case_id: str, until: datetime, decided: bool) -> datetime:
        """Leave the case inert until TTL deletes it: a worker drops its messages (decided, or waiting for no one),
        and nobody holds it."""
        from kanal.adapters.dynamodb import to_item, unavailable_on_failure

        values: dict[str, Any] = {":until": int(until.timestamp())}
        update = "SET expires_at = :until"
        if not decided:
            update += ", #status = :waiting REMOVE claim, queued"
            values[":waiting"] = str(CaseStatus.NEEDS_INFO)
        names = {} if decided else {"ExpressionAttributeNames": {"#status": "status"}}
        with unavailable_on_failure():
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"pk": f"CASE#{case_id}", "sk": "CASE"}),
                UpdateExpression=update,
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=to_item(values),
                **names,
            )
        return until

    def delete_partner(self, partner_id: str, report_id: str | None) -> int:
        """Delete what is filed under the partner on by_owner (its keys, reminders sent to it, any report left), the
        report and hold its Idempotency-Key gives (present or not), and the partner; how many items were filed under
        it."""
        from kanal.adapters.dynamodb import OWNER_INDEX, batch_write, query_all, to_item

        keys = [
            (str(item["pk"]), str(item["sk"]))
            for item in query_all(
                self._client,
                TableName=self._table,
                IndexName=OWNER_INDEX,
                KeyConditionExpression="gsi1pk = :owner",
                ExpressionAttributeValues=to_item({":owner": f"PARTNER#{partner_id}"}),
            )
        ]
        filed = len(keys)
        keys += self._feed(partner_id)  # its events (GET /v1/events), under the partner's feed
        if report_id:
            keys += [(f"REPORT#{report_id}", "REPORT"), (f"IDEMPOTENCY#{report_id}", "IDEMPOTENCY")]
        keys.append((f"PARTNER#{partner_id}", "PARTNER"))
        unique = sorted(set(keys))
        batch_write(
            self._client, self._table, [{"DeleteRequest": {"Key": to_item({"pk": pk, "sk": sk})}} for pk, sk in unique]
        )
        return filed

    def _feed(self, partner_id: str) -> list[tuple[str, str]]:
        """The keys of the partner's feed: its entries and their guards."""
        from kanal.adapters.dynamodb import query_all, to_item

        return [
            (str(item["pk"]), str(item["sk"]))
            for item in query_all(
                self._client,
                TableName=self._table,
                KeyConditionExpression="pk = :feed",
                ExpressionAttributeValues=to_item({":feed": f"FEED#{partner_id}"}),
                ProjectionExpression="pk, sk",
            )
        ]

    def feed_types(self, partner_id: str) -> set[str]:
        """The types of the events in the partner's feed, unsettled ones included (a consistent read of the table)."""
        from kanal.adapters.dynamodb import query_all, to_item

        types = set()
        for item in query_all(
            self._client,
            TableName=self._table,
            KeyConditionExpression="pk = :feed",
            ExpressionAttributeValues=to_item({":feed": f"FEED#{partner_id}"}),
            ConsistentRead=True,
        ):
            if "event" in item:  # an entry (a guard has none)
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    types.add(str(json.loads(str(item["event"])).get("type")))
        return types

    def left(self, partner_id: str, case_ids: list[str]) -> list[str]:
        """What of the run is still in the table: the partner, anything under it, a case's trail or reports (a
        tombstone's case item is not counted: the cleanup says it left it)."""
        from kanal.adapters.dynamodb import CASE_INDEX, OWNER_INDEX, query_all, to_item

        found: list[str] = []
        if self._client.get_item(
            TableName=self._table, Key=to_item({"pk": f"PARTNER#{partner_id}", "sk": "PARTNER"})
        ).get("Item"):
            found.append(f"PARTNER#{partner_id}")
        owned = query_all(
            self._client,
            TableName=self._table,
            IndexName=OWNER_INDEX,
            KeyConditionExpression="gsi1pk = :owner",
            ExpressionAttributeValues=to_item({":owner": f"PARTNER#{partner_id}"}),
        )
        found += [str(item["pk"]) for item in owned]
        found += [f"{pk} {sk}" for pk, sk in self._feed(partner_id)]
        for case_id in case_ids:
            trail = query_all(
                self._client,
                TableName=self._table,
                KeyConditionExpression="pk = :case AND begins_with(sk, :event)",
                ExpressionAttributeValues=to_item({":case": f"CASE#{case_id}", ":event": "EVENT#"}),
            )
            found += [f"{item['pk']} {item['sk']}" for item in trail]
            reports = query_all(
                self._client,
                TableName=self._table,
                IndexName=CASE_INDEX,
                KeyConditionExpression="gsi2pk = :case",
                ExpressionAttributeValues=to_item({":case": f"CASE#{case_id}"}),
            )
            found += [str(item["pk"]) for item in reports]
        return found


def cmd_smoke(args: argparse.Namespace, services: Services) -> None:
    """Run the smoke test against the stack the other commands use; SmokeFailed (exit 1) unless every step passed."""
    settings = services.settings
    if not settings.api_url:
        raise RuntimeError("the partner API's URL is unknown (stack output ApiUrl, KANAL_API_URL)")
    url = getattr(args, "review_api_url", None) or settings.review_api_url
    if not url:
        raise RuntimeError("the reviewer API's URL is unknown (stack output ReviewApiUrl, KANAL_REVIEW_API_URL)")
    desk, who = reviewer_desk(url, args.reviewer, args.reviewer_profile, args.wait + 15)
    smoke = Smoke(services, settings.api_url, desk, who, claims=args.claims, wait=args.wait, timeout=args.timeout)
    if not smoke.run():
        raise SmokeFailed("the smoke test failed; see the lines above")


def add_command(commands: Any, run: Callable[..., Callable[[argparse.Namespace], None]]) -> None:
    """Register ``smoke`` on the top-level parser."""
    smoke = commands.add_parser(
        "smoke", help="end-to-end check of the stack: a temporary partner's report reviewed and read, then removed"
    )
    smoke.add_argument(  # also here, where an operator types it right after `sam deploy`
        "--stack-name",
        type=arguments.stack_name,
        default=argparse.SUPPRESS,
        help="the deployed stack (as `kanal --stack-name`; default: $KANAL_STACK_NAME, the local stack, or 'kanal')",
    )
    smoke.add_argument(
        "--reviewer",
        type=reviewer_cli.reviewer_name,
        help=f"local stack only: the reviewer's name (default {LOCAL_REVIEWER})",
    )
    smoke.add_argument(
        "--reviewer-profile",
        type=arguments.text(128, lines=False),
        help="AWS only: the profile (assuming ReviewerRole) that signs the reviewer steps",
    )
    smoke.add_argument(
        "--claims",
        type=arguments.bounded_int(1, 50),
        default=10,
        help="claims to make at most until the smoke's case comes, 1-50 (default 10)",
    )
    smoke.add_argument(
        "--wait", type=arguments.wait_seconds, default=20, help="seconds each claim waits for a case, 0-20 (default 20)"
    )
    smoke.add_argument(
        "--timeout",
        type=arguments.bounded_int(1, 600),
        default=60,
        help="seconds to wait for the case to be queued and the decision to be readable, 1-600 (default 60)",
    )
    smoke.set_defaults(func=run(cmd_smoke))
