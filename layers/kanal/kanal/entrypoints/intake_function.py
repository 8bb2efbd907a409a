"""The partner API (IntakeFunction): /v1/reports (POST, GET), /v1/reports/batch (POST), /v1/reports/{report_id}
(GET), its /info and /evidence (POST), /v1/reminders (GET), /v1/stats (GET) and /v1/openapi.json (GET).

Routes translate HTTP into calls on the rules and domain errors into RFC 9457
problem documents; nothing here talks to AWS directly.
"""

import base64
import json
from collections import Counter
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ConfigDict, Field

from kanal import __version__, clock, wiring
from kanal.entrypoints.batches import (
    MAX_BATCH_BYTES,
    BatchAnswer,
    BatchHeaders,
    NewBatch,
    NewBatchReport,
    ReadBatch,
    RefusedEntry,
    StoredEntry,
    read_batch,
)
from kanal.entrypoints.routing import Documented, Reply, Request, RequestInvalid, Router, invalid_request, problem
from kanal.errors import (
    CaseConflict,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InvalidRequest,
    KanalError,
    ReportNotFound,
    StoreUnavailable,
    TooManyEvidenceFiles,
    TooManyWebhooks,
    WebhookNotFound,
)
from kanal.events import Event, EventType, partner_history
from kanal.evidence import EvidenceUpload, NewEvidence
from kanal.intake import Submission, receipt
from kanal.models import (
    Case,
    CaseStatus,
    FieldError,
    InfoReply,
    Model,
    NewReport,
    PartnerEvent,
    PartnerKind,
    Problem,
    QuestionView,
    Report,
    ReportPage,
    ReportReceipt,
    ReportView,
    shown_fields,
)
from kanal.observability import log_metrics, logger, metrics
from kanal.reminders import ReminderView
from kanal.stats import ScopeRefused, StatsAnswer, StatsQuery
from kanal.webhooks import NewWebhookView, WebhookView

RETRY_AFTER_SECONDS = 2
#: How many index pages one list request may read while filtering by status.
MAX_PAGES_PER_LIST = 5

app = Router(
    info={
        "title": "kanal partner API",
        "version": __version__,
        "summary": "The dedicated channel through which election partners report content.",
        "description": (
            "Partners (Bawaslu, KPU, civil-society groups) report TikTok content that they suspect breaks "
            "election rules. Every request but this document's needs `Authorization: Bearer <key>`. "
            "Errors are RFC 9457 problem documents."
        ),
    },
    security_schemes={
        "partnerKey": {
            "type": "http",
            "scheme": "bearer",
            "description": "A partner API key: `Authorization: Bearer kanal_...`",
        }
    },
    # API Gateway's own answers on every route (template.yaml, Api's GatewayResponses), as problem documents.
    gateway={
        401: Documented.problem("No valid partner key (the authorizer refused it)"),
        403: Documented.problem(
            "Refused before the service: the partner has no usage plan yet, its source address is outside the "
            "allow-list, or the API firewall blocked the request"
        ),
        413: Documented.problem("Request over API Gateway's 10 MB"),
        429: Documented.problem(
            "Over the partner's rate or quota (its usage plan), or the API's",
            headers={"Retry-After": "Seconds to wait before retrying"},
        ),
        500: Documented.problem("The authorizer failed (its table unavailable, say): retry later"),
        504: Documented.problem("The function did not answer in time: retry (a report with the same Idempotency-Key)"),
    },
)


class IdempotencyHeader(Model):
    """The headers of POST /v1/reports."""

    idempotency_key: str | None = Field(
        default=None,
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Retries with the same key and body within 24 h get the same answer and store nothing new.",
    )


class ReportPath(Model):
    """A report's path parameter."""

    report_id: str = Field(max_length=64)


class ListQuery(Model):
    """The query of GET /v1/reports."""

    status: CaseStatus | None = Field(default=None, description="Only reports whose case has this status.")
    limit: int = Field(default=25, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=512, description="next_cursor of the previous page.")


def partner_id(request: Request) -> str:
    """The partner that the authorizer identified (API Gateway puts its context on the request)."""
    found = request.authorizer.get("partner_id")
    if not found:
        # Only reachable if the authorizer is bypassed: refuse rather than guess.
        raise PermissionError("no partner identity on the request")
    return str(found)


def partner_kind(request: Request) -> PartnerKind | None:
    """The partner's kind, as the authorizer put it on the request."""
    kind = request.authorizer.get("partner_kind")
    return PartnerKind(kind) if kind in set(PartnerKind) else None


@app.route(
    "POST",
    "/v1/reports",
    summary="Report content",
    status=202,
    body=NewReport,
    headers=IdempotencyHeader,
    responses={
        202: Documented(
            "Accepted: stored and on its way to review",
            ReportReceipt,
            headers={"Location": "The report's URL (GET it for its case's status)"},
        ),
    },
    raises=(IdempotencyInProgress, IdempotencyKeyReused, InvalidRequest),
)
def post_report(request: Request) -> Reply:
    """Store a report and group it into the case of its content."""
    report: NewReport = request.body
    key = request.headers.idempotency_key
    who = partner_id(request)
    submitted = wiring.services().intake.submit(
        who, report, clock.now(), key, partner_kind(request), request.authorizer.get("partner_name")
    )
    answer = submitted.receipt
    if submitted.stored:
        count_report(report, duplicate=submitted.duplicate)
    else:
        metrics.add_metric(name="IdempotentReplays", unit=MetricUnit.Count, value=1)
    logger.info(
        "report received",
        extra={"report_id": answer.report_id, "case_id": answer.case_id, "stored": submitted.stored},
    )
    location = f"{request.stage_path.rstrip('/')}/{answer.report_id}"
    return Reply(status=202, body=answer, headers={"Location": location})


@app.route(
    "POST",
    "/v1/reports/batch",
    summary="Report up to 100 pieces of content at once",
    status=200,
    body=NewBatch,
    headers=BatchHeaders,
    responses={200: Documented("One entry per report, in order: stored (202) or refused (422, 409)", BatchAnswer)},
    max_body_bytes=MAX_BATCH_BYTES,
    parse_body=read_batch,
)
def post_report_batch(request: Request) -> BatchAnswer:
    """Store each report of the batch as POST /v1/reports would store it alone (its own idempotency_key, its own
    stream record, case and review); one invalid report is refused on its own, never the others."""
    batch: ReadBatch = request.body
    valid = [(i, r) for i, r in enumerate(batch.reports) if isinstance(r, NewBatchReport)]
    who = partner_id(request)
    outcomes = wiring.services().intake.submit_many(
        who,
        [(r.report(), r.idempotency_key) for _, r in valid],
        clock.now(),
        partner_kind(request),
        request.authorizer.get("partner_name"),
    )
    entries: list[StoredEntry | RefusedEntry] = [
        RefusedEntry(index=i, status=422, problem=invalid_report(r))
        for i, r in enumerate(batch.reports)
        if not isinstance(r, NewBatchReport)
    ]
    stored: list[tuple[NewReport, bool]] = []
    for (index, report), outcome in zip(valid, outcomes, strict=True):
        if isinstance(outcome, Submission):
            entries.append(StoredEntry(index=index, status=202, report=outcome.receipt))
            if outcome.stored:
                stored.append((report, outcome.duplicate))
        else:
            entries.append(refused(index, outcome))
    count_reports(stored)
    replays = sum(1 for o in outcomes if isinstance(o, Submission) and not o.stored)
    if replays:
        metrics.add_metric(name="IdempotentReplays", unit=MetricUnit.Count, value=replays)
    entries.sort(key=lambda entry: entry.index)
    logger.info(
        "report batch received",
        extra={
            "reports": len(entries),
            "stored": len(stored),
            "refused": sum(1 for e in entries if isinstance(e, RefusedEntry)),
        },
    )
    return BatchAnswer(results=entries)


def invalid_report(errors: list[FieldError]) -> Problem:
    """A batch report's schema errors as POST /v1/reports answers them."""
    return Problem.model_validate_json(str(invalid_request(RequestInvalid(errors)).body))


def refused(index: int, error: KanalError) -> RefusedEntry:
    """A batch report refused by the rules, with the problem document POST /v1/reports answers for that error."""
    handler = app.handler_of(type(error))
    if handler is None or handler.status not in (HTTPStatus.CONFLICT, HTTPStatus.UNPROCESSABLE_ENTITY):
        raise error  # not a report's own refusal: the whole request's (StoreUnavailable is raised, not returned)
    problem = Problem.model_validate_json(str(handler.answer(error).body))
    return RefusedEntry(index=index, status=409 if handler.status == HTTPStatus.CONFLICT else 422, problem=problem)


def count_report(report: NewReport, *, duplicate: bool) -> None:
    """Reports received (and by category), and how many were about content that already had a case."""
    count_reports([(report, duplicate)])


def count_reports(stored: list[tuple[NewReport, bool]]) -> None:
    """``count_report`` for each stored report (and whether it was a duplicate), as one value per metric."""
    if not stored:
        return
    metrics.add_metric(name="ReportsReceived", unit=MetricUnit.Count, value=len(stored))
    duplicates = sum(1 for _, duplicate in stored if duplicate)
    if duplicates:
        metrics.add_metric(name="DuplicateReports", unit=MetricUnit.Count, value=duplicates)
    if not is_metrics_disabled():  # single_metric writes at once and ignores POWERTOOLS_METRICS_DISABLED
        for category, count in sorted(Counter(str(report.category) for report, _ in stored).items()):
            with single_metric(name="ReportsByCategory", unit=MetricUnit.Count, value=count) as metric:
                metric.add_dimension(name="category", value=category)


@app.route(
    "GET",
    "/v1/reports/{report_id}",
    summary="Read one of your reports",
    status=200,
    path=ReportPath,
    responses={200: Documented("Your report", ReportView)},
    raises=(ReportNotFound,),
)
def get_report(request: Request) -> ReportView:
    """A partner's own report with the status (and decision) of its case."""
    report_id: str = request.path.report_id
    services = wiring.services()
    owner = partner_id(request)
    report = services.reports.get(report_id)
    if report is None or report.partner_id != owner:
        raise ReportNotFound(report_id)
    history = partner_history(services.trail.history(report.case_id), owner)
    return view(report, services.cases.get(report.case_id), history)


@app.route(
    "POST",
    "/v1/reports/{report_id}/info",
    summary="Answer a reviewer's question about your report",
    status=202,
    path=ReportPath,
    body=InfoReply,
    responses={202: Documented("Answer recorded; the case is back in review", ReportView)},
    raises=(ReportNotFound, CaseConflict, InvalidRequest),
)
def post_info(request: Request) -> ReportView:
    """Answer the question of a case in needs_info; the case goes back to its review queue."""
    report_id: str = request.path.report_id
    services = wiring.services()
    owner = partner_id(request)
    case = services.answers.provide(owner, report_id, request.body, clock.now())
    report = services.reports.get(report_id)
    assert report is not None
    logger.info("information provided", extra={"report_id": report_id, "case_id": case.case_id})
    return view(report, case)


@app.route(
    "POST",
    "/v1/reports/{report_id}/evidence",
    summary="Add an evidence file to your report: declare it, then upload it with the presigned form",
    status=201,
    path=ReportPath,
    body=NewEvidence,
    responses={
        201: Documented(
            "Declared: POST the upload's fields and then the file (multipart/form-data) to its url within 15 minutes",
            EvidenceUpload,
        )
    },
    raises=(ReportNotFound, TooManyEvidenceFiles),
)
def post_evidence(request: Request) -> Reply:
    """A pending evidence file on the partner's own report, and the presigned S3 POST that uploads it."""
    report_id: str = request.path.report_id
    made = wiring.services().evidence().declare(partner_id(request), report_id, request.body, clock.now())
    logger.info("evidence declared", extra={"report_id": report_id, "evidence_id": made.evidence_id})
    return Reply(status=201, body=made)


@app.route(
    "GET",
    "/v1/reports",
    summary="List your reports, newest first",
    status=200,
    query=ListQuery,
    responses={200: Documented("A page of your reports", ReportPage)},
    raises=(InvalidRequest,),
)
def list_reports(request: Request) -> ReportPage:
    """A partner's own reports, a page at a time."""
    query: ListQuery = request.query
    services = wiring.services()
    owner = partner_id(request)
    after = decode_cursor(query.cursor) if query.cursor else None
    items: list[ReportView] = []
    more = True
    for _ in range(MAX_PAGES_PER_LIST):
        page, more = services.reports.page_for_partner(owner, query.limit - len(items), after)
        cases = services.cases.get_many(r.case_id for r in page)
        for report in page:
            shown = view(report, cases.get(report.case_id))
            if query.status is None or shown.status is query.status:
                items.append(shown)
        if page:
            after = (page[-1].received_at, page[-1].report_id)
        if not more or len(items) >= query.limit:
            break
    return ReportPage(items=items, next_cursor=encode_cursor(after) if more and after else None)


@app.route(
    "GET",
    "/v1/reminders",
    summary="Reminders sent to you, newest first",
    status=200,
    responses={200: Documented("Your reminders", ReminderView, many=True)},
)
def list_reminders(request: Request) -> list[ReminderView]:
    """The partner's own reminders: deadlines of its reports and the election calendar."""
    return [ReminderView.model_validate(r.model_dump()) for r in wiring.services().timers.sent(partner_id(request))]


class NewWebhook(Model):
    """The body of POST /v1/webhooks (a field it does not take, such as a secret of one's own, is refused)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(
        max_length=2048,
        description="Where to POST events: https on port 443, named by a public DNS name (no IP address, no user "
        "information). On the local stack, http://127.0.0.1:PORT/... and http://localhost:PORT/... too.",
    )
    events: list[EventType] | None = Field(
        default=None, min_length=1, max_length=len(EventType), description="The event types wanted (default: all)."
    )


class WebhookPath(Model):
    """A webhook's path parameter."""

    webhook_id: str = Field(max_length=64)


class FeedQuery(Model):
    """The query of GET /v1/events."""

    after: str | None = Field(
        default=None, max_length=512, description="next_cursor of the previous page (none: from the oldest kept)."
    )
    limit: int = Field(default=50, ge=1, le=100)


class EventPage(Model):
    """A page of the partner's events, oldest first."""

    items: list[Event]
    next_cursor: str | None = Field(
        description="Poll again with after=next_cursor for what comes next (null: the feed is empty so far)."
    )


class TestSent(Model):
    """The answer to POST /v1/webhooks/{webhook_id}/test."""

    event_id: str


@app.route(
    "POST",
    "/v1/webhooks",
    summary="Register a webhook (its secret is shown once, in this answer)",
    status=201,
    body=NewWebhook,
    responses={201: Documented("Registered", NewWebhookView)},
    raises=(InvalidRequest, TooManyWebhooks),
)
def post_webhook(request: Request) -> Reply:
    """A new webhook for the calling partner, signing with a new secret."""
    body: NewWebhook = request.body
    made = wiring.services().webhooks().register(partner_id(request), body.url, body.events, clock.now())
    logger.info("webhook registered", extra={"webhook_id": made.webhook_id})
    location = f"{request.stage_path.rstrip('/')}/{made.webhook_id}"
    return Reply(status=201, body=made, headers={"Location": location})


@app.route(
    "GET",
    "/v1/webhooks",
    summary="List your webhooks (never their secrets)",
    status=200,
    responses={200: Documented("Your webhooks", WebhookView, many=True)},
)
def list_webhooks(request: Request) -> list[WebhookView]:
    return wiring.services().webhooks().listed(partner_id(request))


@app.route(
    "DELETE",
    "/v1/webhooks/{webhook_id}",
    summary="Remove one of your webhooks",
    status=204,
    path=WebhookPath,
    responses={204: Documented("Removed")},
    raises=(WebhookNotFound,),
)
def delete_webhook(request: Request) -> Reply:
    wiring.services().webhooks().remove(partner_id(request), request.path.webhook_id)
    logger.info("webhook removed", extra={"webhook_id": request.path.webhook_id})
    return Reply(status=204, body=None)


@app.route(
    "POST",
    "/v1/webhooks/{webhook_id}/rotate",
    summary="Issue a new secret; the old one keeps signing beside it for 24 hours",
    status=200,
    path=WebhookPath,
    responses={200: Documented("The new secret, shown once", NewWebhookView)},
    raises=(WebhookNotFound,),
)
def rotate_webhook(request: Request) -> NewWebhookView:
    rotated = wiring.services().webhooks().rotate(partner_id(request), request.path.webhook_id, clock.now())
    logger.info("webhook secret rotated", extra={"webhook_id": rotated.webhook_id})
    return rotated


@app.route(
    "POST",
    "/v1/webhooks/{webhook_id}/enable",
    summary="Deliver again to a webhook that was disabled after three days of failures",
    status=200,
    path=WebhookPath,
    responses={200: Documented("Enabled", WebhookView)},
    raises=(WebhookNotFound,),
)
def enable_webhook(request: Request) -> WebhookView:
    return wiring.services().webhooks().enable(partner_id(request), request.path.webhook_id)


@app.route(
    "POST",
    "/v1/webhooks/{webhook_id}/test",
    summary="Send a webhook.test event to this webhook now",
    status=202,
    path=WebhookPath,
    responses={202: Documented("Queued for delivery at once", TestSent)},
    raises=(WebhookNotFound,),
)
def test_webhook(request: Request) -> TestSent:
    sent = wiring.services().webhooks().test(partner_id(request), request.path.webhook_id, clock.now())
    return TestSent(event_id=sent.id)


@app.route(
    "GET",
    "/v1/events",
    summary="Your events, oldest first from a cursor (kept 30 days)",
    status=200,
    query=FeedQuery,
    responses={200: Documented("A page of your events", EventPage)},
    raises=(InvalidRequest,),
)
def list_events(request: Request) -> EventPage:
    """The partner's own events: what its webhooks are sent, for polling or catching up."""
    query: FeedQuery = request.query
    items, cursor = wiring.services().feed.page(partner_id(request), query.after, query.limit, clock.now())
    return EventPage(items=items, next_cursor=cursor)


@app.route(
    "GET",
    "/v1/stats",
    summary="The channel's figures: your own reports' (or, for election agencies, the nation's)",
    status=200,
    query=StatsQuery,
    responses={200: Documented("Totals and groups of the figures for the window asked", StatsAnswer)},
    raises=(InvalidRequest, ScopeRefused),
)
def get_stats(request: Request) -> Reply:
    """Figures kept as reports arrive and cases are decided (kanal.stats): a read costs the same however many."""
    national = partner_kind(request) is PartnerKind.ELECTION_AGENCY
    found = wiring.services().stats().read(request.query, partner_id(request), national_allowed=national)
    return Reply(status=200, body=json.dumps(found.body(), ensure_ascii=False))


@app.on(ScopeRefused, HTTPStatus.FORBIDDEN, "scope=national asked by a partner that is not an election agency")
def scope_refused(error: ScopeRefused) -> Reply:
    """403: the national figures are for election agencies only."""
    return problem(HTTPStatus.FORBIDDEN, str(error))


@app.route(
    "GET",
    "/v1/openapi.json",
    summary="This API's OpenAPI document",
    status=200,
    responses={200: Documented("The OpenAPI 3.1 document")},
    public=True,
    documented=False,
)
def openapi_document(_: Request) -> Reply:
    """The OpenAPI 3.1 document generated from these routes."""
    return Reply(status=200, body=json.dumps(app.openapi))


def view(report: Report, case: Case | None, history: list[PartnerEvent] | None = None) -> ReportView:
    """A report as its partner sees it."""
    question = case.question if case is not None and case.status is CaseStatus.NEEDS_INFO else None
    return ReportView(
        **receipt(report, case).model_dump(),
        question=QuestionView(question=question.text, due_at=question.due_at) if question else None,
        history=history,
        **report.model_dump(include=shown_fields(Report, ReportView) - set(ReportReceipt.model_fields)),
    )


def encode_cursor(after: tuple[datetime, str]) -> str:
    """An opaque cursor: where the page ended, not whose page it was (that comes from the key)."""
    return base64.urlsafe_b64encode(f"{after[0].isoformat()}|{after[1]}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor names (InvalidRequest if it was not made by ``encode_cursor``)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        text, report_id = raw.split("|", 1)
        moment = datetime.fromisoformat(text)
        if moment.utcoffset() is None or not report_id:  # encode_cursor writes received_at, always in UTC
            raise ValueError("not a cursor")
        # OverflowError: a moment with no UTC equivalent, such as 9999-12-31T23:59:59-14:00.
        return moment.astimezone(UTC), report_id
    except (ValueError, OverflowError) as error:  # UnicodeDecodeError and binascii.Error are ValueErrors
        raise InvalidRequest("cursor", "is not a cursor this API gave out") from error


@app.on(InvalidRequest, HTTPStatus.UNPROCESSABLE_ENTITY, "A field breaks a rule the schema cannot express")
@app.on(IdempotencyKeyReused, HTTPStatus.UNPROCESSABLE_ENTITY, "An Idempotency-Key reused with another body")
def broken_rule(error: InvalidRequest) -> Reply:
    """422 for a rule that the schema cannot express."""
    return problem(
        HTTPStatus.UNPROCESSABLE_ENTITY, error.message, errors=[FieldError(field=error.field, message=error.message)]
    )


@app.on(ReportNotFound, HTTPStatus.NOT_FOUND, "No such report among yours (another partner's looks the same)")
def report_not_found(_: ReportNotFound) -> Reply:
    """404, the same for an unknown id and another partner's report."""
    return problem(HTTPStatus.NOT_FOUND, "No report with this id among your reports.")


@app.on(WebhookNotFound, HTTPStatus.NOT_FOUND, "No such webhook among yours (another partner's looks the same)")
def webhook_not_found(_: WebhookNotFound) -> Reply:
    """404, the same for an unknown id and another partner's webhook."""
    return problem(HTTPStatus.NOT_FOUND, "No webhook with this id among your webhooks.")


@app.on(TooManyWebhooks, HTTPStatus.CONFLICT, "The partner has 5 webhooks already")
def too_many_webhooks(error: TooManyWebhooks) -> Reply:
    """409: delete a webhook before registering another."""
    return problem(HTTPStatus.CONFLICT, str(error))


@app.on(TooManyEvidenceFiles, HTTPStatus.CONFLICT, "The report has 10 evidence files already")
def too_many_evidence_files(error: TooManyEvidenceFiles) -> Reply:
    """409: a report takes at most 10 evidence files."""
    return problem(HTTPStatus.CONFLICT, str(error))


@app.on(
    IdempotencyInProgress,
    HTTPStatus.CONFLICT,
    "A request with this Idempotency-Key is still running",
    headers={"Retry-After": "Seconds to wait before retrying"},
)
def in_progress(_: IdempotencyInProgress) -> Reply:
    """409 while the first request with this Idempotency-Key is still running."""
    return problem(
        HTTPStatus.CONFLICT,
        "A request with this Idempotency-Key is still being processed; retry in a moment for its answer.",
        Retry_After=str(RETRY_AFTER_SECONDS),
    )


@app.on(CaseConflict, HTTPStatus.CONFLICT, "The case does not allow this now (no question is waiting)")
def case_conflict(error: CaseConflict) -> Reply:
    """409: the case is not in a state that allows this."""
    return problem(HTTPStatus.CONFLICT, str(error))


@app.on(
    StoreUnavailable,
    HTTPStatus.SERVICE_UNAVAILABLE,
    "Storage unavailable: nothing was stored; retry after Retry-After seconds",
    everywhere=True,
    headers={"Retry-After": "Seconds to wait before retrying"},
)
def store_unavailable(error: StoreUnavailable) -> Reply:
    """503: nothing was stored; the partner retries (with its Idempotency-Key) after a moment."""
    logger.warning("store unavailable", extra={"error": str(error)})
    metrics.add_metric(name="StoreUnavailable", unit=MetricUnit.Count, value=1)
    return problem(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "The report store is busy or unavailable; nothing was stored. Retry after the time in Retry-After.",
        Retry_After=str(RETRY_AFTER_SECONDS),
    )


@app.on(PermissionError, HTTPStatus.UNAUTHORIZED, "No partner identity on the request", everywhere=True)
def unauthenticated(_: PermissionError) -> Reply:
    """401 when the request carries no partner identity."""
    return problem(HTTPStatus.UNAUTHORIZED, "A valid partner API key is required: send Authorization: Bearer <key>.")


@app.on(Exception, HTTPStatus.INTERNAL_SERVER_ERROR, "Unexpected error", everywhere=True)
def unexpected(error: Exception) -> Reply:
    """500, logged with its trace; the partner learns only that it may retry."""
    logger.exception("unexpected error")
    return problem(HTTPStatus.INTERNAL_SERVER_ERROR, "Something went wrong on our side; retry later.")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """API Gateway proxy entry point."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    if authorizer.get("partner_id"):
        logger.append_keys(partner_id=authorizer["partner_id"])
    return app.resolve(event)
