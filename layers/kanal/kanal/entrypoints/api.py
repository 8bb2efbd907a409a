"""The partner API (IntakeFunction): POST/GET /v1/reports and GET /v1/openapi.json.

Routes translate HTTP into calls on the rules and domain errors into RFC 9457
problem documents; nothing here talks to AWS directly.
"""

import base64
import binascii
import json
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.utilities.typing import LambdaContext

from kanal import __version__, clock, wiring
from kanal.errors import CaseConflict, IdempotencyInProgress, InvalidRequest, ReportNotFound, StoreUnavailable
from kanal.intake import receipt
from kanal.models import (
    Case,
    CaseStatus,
    FieldError,
    InfoReply,
    NewReport,
    PartnerEvent,
    PartnerKind,
    Problem,
    QuestionView,
    Report,
    ReportPage,
    ReportReceipt,
    ReportView,
)
from kanal.observability import logger, metrics, tracer
from kanal.reminders import ReminderView
from kanal.review import partner_history

MAX_BODY_BYTES = 64 * 1024
#: Titles fixed here where Python versions disagree (3.11 says "Request Entity Too Large"; RFC 9110 and
#: the gateway's own 413 say "Content Too Large").
TITLES = {HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "Content Too Large"}
#: The query parameters each route takes (by API Gateway resource); any other is refused.
QUERY_PARAMETERS = {"/v1/reports": {"status", "limit", "cursor"}}
RETRY_AFTER_SECONDS = 2
#: How many index pages one list request may read while filtering by status.
MAX_PAGES_PER_LIST = 5

app = APIGatewayRestResolver(enable_validation=True)
app.configure_openapi(
    security_schemes={"partnerKey": HTTPBearer(description="A partner API key: `Authorization: Bearer kanal_...`")},
    security=[{"partnerKey": []}],
    title="kanal partner API",
    version=__version__,
    summary="The dedicated channel through which election partners report content.",
    description=(
        "Partners (Bawaslu, KPU, civil-society groups) report TikTok content that they suspect breaks "
        "election rules. Every request but this document's needs `Authorization: Bearer <key>`. "
        "Errors are RFC 9457 problem documents."
    ),
)


def problem(
    status: HTTPStatus, detail: str, *, errors: list[FieldError] | None = None, **headers: str
) -> Response[Any]:
    """An RFC 9457 problem answer."""
    title = TITLES.get(status, status.phrase)
    slug = title.lower().replace(" ", "-")
    body = Problem(type=f"urn:kanal:problem:{slug}", title=title, status=status.value, detail=detail, errors=errors)
    return Response(
        status_code=status.value,
        content_type="application/problem+json",
        body=json.dumps(body.body(), ensure_ascii=False),
        headers={k.replace("_", "-"): v for k, v in headers.items()},
    )


def partner_kind() -> PartnerKind | None:
    """The partner's kind, as the authorizer put it on the request."""
    authorizer = app.current_event.request_context.authorizer
    kind = authorizer.get("partner_kind") if authorizer else None
    return PartnerKind(kind) if kind in set(PartnerKind) else None


def problems(**described: str) -> dict[int, Any]:
    """OpenAPI responses for problem answers, from {"s404": "why"} (plus 401, 500 and 503, which every route has)."""
    described = {
        "s401": "No valid partner key",
        "s500": "Unexpected error",
        "s503": "Storage unavailable: nothing was stored; retry after Retry-After seconds",
        **described,
    }
    return {
        int(code[1:]): {"description": text, "content": {"application/problem+json": {"model": Problem}}}
        for code, text in described.items()
    }


def partner_id() -> str:
    """The partner that the authorizer identified (API Gateway puts its context on the request)."""
    authorizer = app.current_event.request_context.authorizer
    found = authorizer.get("partner_id") if authorizer else None
    if not found:
        # Only reachable if the authorizer is bypassed: refuse rather than guess.
        raise PermissionError("no partner identity on the request")
    return str(found)


@app.post(
    "/v1/reports",
    status_code=202,
    summary="Report content",
    responses={
        202: {
            "description": "Accepted: stored and on its way to review",
            "content": {"application/json": {"model": ReportReceipt}},
        },
        **problems(
            s413="Body over 64 KB",
            s415="Body is not JSON",
            s409="A request with this Idempotency-Key is still running",
            s422="Invalid fields (one entry each), or an Idempotency-Key reused with another body",
        ),
    },
)
def post_report(
    report: Annotated[NewReport, Body()],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            description="Retries with the same key and body within 24 h get the same answer and store nothing new.",
        ),
    ] = None,
) -> Response[ReportReceipt]:
    """Store a report and group it into the case of its content."""
    who = partner_id()
    submitted = wiring.services().intake.submit(who, report, clock.now(), idempotency_key, partner_kind())
    answer = submitted.receipt
    if submitted.stored:
        count_report(report, duplicate=submitted.duplicate)
    else:
        metrics.add_metric(name="IdempotentReplays", unit=MetricUnit.Count, value=1)
    logger.info(
        "report received",
        extra={"report_id": answer.report_id, "case_id": answer.case_id, "stored": submitted.stored},
    )
    location = f"{app.current_event.request_context.path.rstrip('/')}/{answer.report_id}"
    return Response(status_code=202, content_type="application/json", body=answer, headers={"Location": location})


def count_report(report: NewReport, *, duplicate: bool) -> None:
    """Reports received (and by category), and how many were about content that already had a case."""
    metrics.add_metric(name="ReportsReceived", unit=MetricUnit.Count, value=1)
    if duplicate:
        metrics.add_metric(name="DuplicateReports", unit=MetricUnit.Count, value=1)
    if not is_metrics_disabled():  # single_metric writes at once and ignores POWERTOOLS_METRICS_DISABLED
        with single_metric(name="ReportsByCategory", unit=MetricUnit.Count, value=1) as metric:
            metric.add_dimension(name="category", value=str(report.category))


@app.get(
    "/v1/reports/<report_id>",
    summary="Read one of your reports",
    responses={
        200: {"description": "Your report", "content": {"application/json": {"model": ReportView}}},
        **problems(s404="No such report among yours", s422="Invalid report id"),
    },
)
def get_report(report_id: Annotated[str, Path(max_length=64)]) -> ReportView:
    """A partner's own report with the status (and decision) of its case."""
    services = wiring.services()
    owner = partner_id()
    report = services.reports.get(report_id)
    if report is None or report.partner_id != owner:
        raise ReportNotFound(report_id)
    history = partner_history(services.trail.history(report.case_id), owner)
    return view(report, services.cases.get(report.case_id), history)


@app.post(
    "/v1/reports/<report_id>/info",
    status_code=202,
    summary="Answer a reviewer's question about your report",
    responses={
        202: {
            "description": "Answer recorded; the case is back in review",
            "content": {"application/json": {"model": ReportView}},
        },
        **problems(
            s404="No such report among yours", s409="No question is waiting for an answer", s422="Invalid fields"
        ),
    },
)
def post_info(
    report_id: Annotated[str, Path(max_length=64)], reply: Annotated[InfoReply, Body()]
) -> Response[ReportView]:
    """Answer the question of a case in needs_info; the case goes back to its review queue."""
    services = wiring.services()
    owner = partner_id()
    case = services.answers.provide(owner, report_id, reply, clock.now())
    report = services.reports.get(report_id)
    assert report is not None
    logger.info("information provided", extra={"report_id": report_id, "case_id": case.case_id})
    return Response(status_code=202, content_type="application/json", body=view(report, case))


@app.get(
    "/v1/reports",
    summary="List your reports, newest first",
    responses={
        200: {"description": "A page of your reports", "content": {"application/json": {"model": ReportPage}}},
        **problems(s422="Invalid query parameter"),
    },
)
def list_reports(
    status: Annotated[CaseStatus | None, Query(description="Only reports whose case has this status.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    cursor: Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page.")] = None,
) -> ReportPage:
    """A partner's own reports, a page at a time."""
    services = wiring.services()
    owner = partner_id()
    after = decode_cursor(cursor) if cursor else None
    items: list[ReportView] = []
    more = True
    for _ in range(MAX_PAGES_PER_LIST):
        page, more = services.reports.page_for_partner(owner, limit - len(items), after)
        cases = services.cases.get_many(r.case_id for r in page)
        for report in page:
            shown = view(report, cases.get(report.case_id))
            if status is None or shown.status is status:
                items.append(shown)
        if page:
            after = (page[-1].received_at, page[-1].report_id)
        if not more or len(items) >= limit:
            break
    return ReportPage(items=items, next_cursor=encode_cursor(after) if more and after else None)


@app.get(
    "/v1/reminders",
    summary="Reminders sent to you, newest first",
    responses={
        200: {"description": "Your reminders", "content": {"application/json": {"model": list[ReminderView]}}},
        **problems(),
    },
)
def list_reminders() -> list[ReminderView]:
    """The partner's own reminders: deadlines of its reports and the election calendar."""
    return [ReminderView.model_validate(r.model_dump()) for r in wiring.services().timers.sent(partner_id())]


@app.get("/v1/openapi.json", summary="This API's OpenAPI document", include_in_schema=False)
def openapi_document() -> Response[str]:
    """The OpenAPI 3.1 document generated from these routes."""
    return Response(status_code=200, content_type="application/json", body=app.get_openapi_json_schema())


def view(report: Report, case: Case | None, history: list[PartnerEvent] | None = None) -> ReportView:
    """A report as its partner sees it."""
    question = case.question if case is not None and case.status is CaseStatus.NEEDS_INFO else None
    return ReportView(
        **receipt(report, case).model_dump(),
        question=QuestionView(question=question.text, due_at=question.due_at) if question else None,
        history=history,
        **report.model_dump(
            include={
                "content_url",
                "category",
                "region_code",
                "description",
                "evidence_urls",
                "legal_basis",
                "election",
                "observed_at",
                "partner_reference",
            }
        ),
    )


def encode_cursor(after: tuple[datetime, str]) -> str:
    """An opaque cursor: where the page ended, not whose page it was (that comes from the key)."""
    return base64.urlsafe_b64encode(f"{after[0].isoformat()}|{after[1]}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor names (InvalidRequest if it was not made by ``encode_cursor``)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, report_id = raw.split("|", 1)
        return datetime.fromisoformat(moment), report_id
    except (ValueError, UnicodeDecodeError, binascii.Error) as error:
        raise InvalidRequest("cursor", "is not a cursor this API gave out") from error


@app.exception_handler(RequestValidationError)
def invalid_request(error: RequestValidationError) -> Response[Any]:
    """422 with one entry per invalid field."""
    errors = [
        FieldError(
            field="body" if e.get("type") == "json_invalid" else field_name(e.get("loc", ())), message=message(e)
        )
        for e in error.errors()
    ]
    return problem(HTTPStatus.UNPROCESSABLE_ENTITY, "The request has invalid fields; see errors.", errors=errors)


@app.exception_handler(InvalidRequest)
def broken_rule(error: InvalidRequest) -> Response[Any]:
    """422 for a rule that the schema cannot express."""
    return problem(
        HTTPStatus.UNPROCESSABLE_ENTITY, error.message, errors=[FieldError(field=error.field, message=error.message)]
    )


@app.exception_handler(ReportNotFound)
def report_not_found(_: ReportNotFound) -> Response[Any]:
    """404, the same for an unknown id and another partner's report."""
    return problem(HTTPStatus.NOT_FOUND, "No report with this id among your reports.")


@app.exception_handler(IdempotencyInProgress)
def in_progress(_: IdempotencyInProgress) -> Response[Any]:
    """409 while the first request with this Idempotency-Key is still running."""
    return problem(
        HTTPStatus.CONFLICT,
        "A request with this Idempotency-Key is still being processed; retry in a moment for its answer.",
        Retry_After=str(RETRY_AFTER_SECONDS),
    )


@app.exception_handler(CaseConflict)
def case_conflict(error: CaseConflict) -> Response[Any]:
    """409: the case is not in a state that allows this."""
    return problem(HTTPStatus.CONFLICT, str(error))


@app.exception_handler(StoreUnavailable)
def store_unavailable(error: StoreUnavailable) -> Response[Any]:
    """503: nothing was stored; the partner retries (with its Idempotency-Key) after a moment."""
    logger.warning("store unavailable", extra={"error": str(error)})
    metrics.add_metric(name="StoreUnavailable", unit=MetricUnit.Count, value=1)
    return problem(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "The report store is busy or unavailable; nothing was stored. Retry after the time in Retry-After.",
        Retry_After=str(RETRY_AFTER_SECONDS),
    )


@app.exception_handler(PermissionError)
def unauthenticated(_: PermissionError) -> Response[Any]:
    """401 when the request carries no partner identity."""
    return problem(HTTPStatus.UNAUTHORIZED, "A valid partner API key is required: send Authorization: Bearer <key>.")


@app.not_found
def no_route(_: NotFoundError) -> Response[Any]:
    """404 for a path the API does not have."""
    return problem(HTTPStatus.NOT_FOUND, "No such resource.")


@app.exception_handler(Exception)
def unexpected(error: Exception) -> Response[Any]:
    """500, logged with its trace; the partner learns only that it may retry."""
    logger.exception("unexpected error")
    return problem(HTTPStatus.INTERNAL_SERVER_ERROR, "Something went wrong on our side; retry later.")


def field_name(loc: Any) -> str:
    """'evidence_urls[2]' for ('body', 'evidence_urls', 2); the header or query parameter's name otherwise."""
    parts = [p for p in loc if p not in ("body", "query", "header", "path")]
    if not parts:
        return "body"
    name = str(parts[0])
    for part in parts[1:]:
        name += f"[{part}]" if isinstance(part, int) else f".{part}"
    return name


def message(error: dict[str, Any]) -> str:
    """A readable message for one validation error."""
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown field; see the OpenAPI document for the accepted fields"
    if kind == "missing":
        return "is required"
    if kind == "json_invalid":
        return "is not valid JSON"
    text = str(error.get("msg") or kind)
    return text.removeprefix("Value error, ")


def as_proxy_result(answer: Response[Any]) -> dict[str, Any]:
    """A problem answer given before the resolver runs, as the proxy result API Gateway expects."""
    return {
        "statusCode": answer.status_code,
        "multiValueHeaders": {"Content-Type": ["application/problem+json"]},
        "body": answer.body,
        "isBase64Encoded": False,
    }


def refuse_unknown_query(event: dict[str, Any]) -> dict[str, Any] | None:
    """422 for query parameters a route does not take: refused, like unknown body fields, not ignored."""
    allowed = QUERY_PARAMETERS.get(str(event.get("resource")), set())
    unknown = sorted(
        set(event.get("multiValueQueryStringParameters") or event.get("queryStringParameters") or {}) - allowed
    )
    if not unknown:
        return None
    answer = problem(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "The request has query parameters this route does not take; see errors.",
        errors=[FieldError(field=name, message="unknown query parameter") for name in unknown],
    )
    return as_proxy_result(answer)


def refuse_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """413, 415 or 422 before anything parses the body: too large, not JSON, or not UTF-8."""
    body = event.get("body")
    if body is None or event.get("httpMethod") not in ("POST", "PUT", "PATCH"):
        return None
    raw = _raw_body(body, bool(event.get("isBase64Encoded")))
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    answer: Response[Any] | None = None
    if raw is not None and len(raw) > MAX_BODY_BYTES:
        answer = problem(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"The body is over {MAX_BODY_BYTES // 1024} KB.")
    elif not _is_json(headers.get("content-type", "")):
        answer = problem(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "Send the body as JSON with Content-Type: application/json."
        )
    elif raw is None or not _is_utf8(raw):
        answer = problem(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "The body is not UTF-8 encoded JSON.",
            errors=[FieldError(field="body", message="is not UTF-8 encoded JSON")],
        )
    if answer is None:
        return None
    return as_proxy_result(answer)


def _raw_body(body: str, encoded: bool) -> bytes | None:
    """The body's bytes (None if its base64 is broken)."""
    if not encoded:
        return body.encode("utf-8", errors="surrogatepass")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return None


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """API Gateway proxy entry point."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    if authorizer.get("partner_id"):
        logger.append_keys(partner_id=authorizer["partner_id"])
    return refuse_unknown_query(event) or refuse_body(event) or app.resolve(event, context)
