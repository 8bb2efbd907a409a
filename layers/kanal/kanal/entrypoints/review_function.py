"""The reviewer API (ReviewFunction, behind ReviewApi with IAM authorization): the only way reviewers change cases.

Who is calling comes from the platform, never from the client: API Gateway verifies the request's SigV4
signature and puts the caller's IAM principal on the request context (``identity.userArn``); that ARN is
the reviewer recorded on claims, decisions and the trail. Each operation enforces its rules here, with
the conditional writes of ``Review``: claim the next case (this function receives from the review queues
itself, so reviewers need no queue rights and no message body is taken on trust), keep a lease, decide,
ask the partners, release. A reviewer sees that a case is held and until when, not by whom.
"""

from __future__ import annotations

import json
from datetime import timedelta
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import AfterValidator, ConfigDict, Field

from kanal import __version__, casefile, clock, wiring
from kanal.entrypoints.routing import Documented, Reply, Request, Router, problem
from kanal.errors import CaseConflict, CaseNotFound, NewReports, ReviewRefused, StoreUnavailable
from kanal.models import (
    Case,
    CaseStatus,
    Decision,
    Model,
    Outcome,
    Partner,
    PlainText,
    Policy,
    Priority,
    Problem,
    Question,
    Report,
)
from kanal.observability import log_metrics, logger, metrics
from kanal.review import MIN_REASON

#: The longest a call to /next waits for a case (API Gateway gives up on an integration after 29 s).
MAX_WAIT_SECONDS = 20
#: The shortest and longest time a partner is given to answer a question, in minutes (10 minutes to 30 days).
SHORTEST_DUE_MINUTES = 10
LONGEST_DUE_MINUTES = 30 * 24 * 60

#: Bodies take exactly their fields: a field the API does not take (a "reviewer", say) is refused, not ignored.
FORBID_EXTRA = ConfigDict(extra="forbid", defer_build=True)

app = Router(
    info={
        "title": "kanal reviewer API",
        "version": __version__,
        "summary": "The moderation team's operations on cases.",
        "description": "Every request is signed with the reviewer's IAM credentials (SigV4, service execute-api).",
    },
    security_schemes={
        "sigv4": {
            "type": "apiKey",
            "name": "Authorization",
            "in": "header",
            "description": "AWS Signature Version 4 (service execute-api) with the reviewer's IAM credentials.",
        }
    },
    # API Gateway's own answers on every route (template.yaml, ReviewApi's GatewayResponses), as problem documents.
    gateway={
        400: Documented.problem(
            "A refusal of API Gateway's own (such as a signature it cannot verify, or a request over 10 MB)"
        ),
        403: Documented.problem("Not signed, not allowed to call the reviewer API, or no such resource"),
        429: Documented.problem("Too many requests", headers={"Retry-After": "Seconds to wait before retrying"}),
        500: Documented.problem("API Gateway failed: retry later"),
        504: Documented.problem("The function did not answer in time: retry"),
    },
)


class Wait(Model):
    """The body of POST /v1/review/next."""

    model_config = FORBID_EXTRA

    wait_seconds: int = Field(default=0, ge=0, le=MAX_WAIT_SECONDS, strict=True, description="How long to wait.")


class CasePath(Model):
    """A case's path parameter."""

    case_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


def at_least(what: str) -> AfterValidator:
    """Free text of at least MIN_REASON characters besides spaces, refused in the domain's words."""

    def check(text: str) -> str:
        if len(text.strip()) < MIN_REASON:
            raise ValueError(f"{what} needs at least {MIN_REASON} characters")
        return text.strip()

    return AfterValidator(check)


class NewDecision(Model):
    """The body of POST /v1/review/cases/{case_id}/decision."""

    model_config = FORBID_EXTRA

    outcome: Outcome
    policy: Policy
    reason: Annotated[PlainText, at_least("the statement of reasons")] = Field(
        max_length=5000, description="The statement of reasons."
    )


class NewQuestion(Model):
    """The body of POST /v1/review/cases/{case_id}/question."""

    model_config = FORBID_EXTRA

    question: Annotated[PlainText, at_least("the question")] = Field(max_length=5000)
    due_in_minutes: int = Field(default=48 * 60, ge=SHORTEST_DUE_MINUTES, le=LONGEST_DUE_MINUTES, strict=True)


class CaseState(Model):
    """A case's id and status after an operation."""

    case_id: str
    status: CaseStatus


class Claimed(Model):
    """The answer to POST /v1/review/next: the case claimed, and the queue it came from."""

    queue: Priority
    case: casefile.CaseDocument


class Kept(Model):
    """The answer to POST .../keep: the claim, extended."""

    case_id: str
    claim: casefile.ClaimShown


class Decided(CaseState):
    """The answer to POST .../decision."""

    decision: Decision


class Asked(CaseState):
    """The answer to POST .../question."""

    question: Question


class Released(CaseState):
    """The answer to POST .../release."""

    released: bool


class NewReportsProblem(Problem):
    """A 409 problem; for a decision refused because reports arrived since the reviewer's view, those reports."""

    new_reports: list[casefile.ReportDocument] | None = Field(
        default=None, description="The reports that arrived since you looked (they count as seen now)."
    )


def reviewer_of(request: Request) -> str:
    """The caller's IAM principal, as API Gateway verified it (IAM authorization puts it on the context)."""
    identity = (request.event.get("requestContext") or {}).get("identity") or {}
    arn = identity.get("userArn")
    if not arn:
        # Only reachable if IAM authorization is bypassed: refuse rather than guess.
        raise PermissionError("no verified caller on the request")
    return str(arn)


@app.route(
    "POST",
    "/v1/review/next",
    summary="Claim the next case: urgent first",
    status=200,
    body=Wait,
    responses={200: Documented("The case, held for you", Claimed), 204: Documented("No case came")},
)
def take_next(request: Request) -> Reply | Claimed:
    """Claim the next case that needs review (this function receives from the queues)."""
    reviewer = reviewer_of(request)
    services = wiring.services()
    claimed = services.review().next(reviewer, request.body.wait_seconds, clock.now)
    if claimed is None:
        return Reply(status=204)
    case_id = claimed.case.case_id
    document = casefile.case_shown(
        claimed.case,
        named(claimed.reports),
        clock.now(),
        services.trail.history(case_id),
        viewer=reviewer,
        links=evidence_links(),
    )
    logger.info("case claimed", extra={"case_id": case_id, "queue": str(claimed.delivery.queue)})
    return Claimed(queue=claimed.delivery.queue, case=document)


@app.route(
    "GET",
    "/v1/review/cases/{case_id}",
    summary="A case as a reviewer sees it",
    status=200,
    path=CasePath,
    responses={200: Documented("The case", casefile.CaseDocument)},
    raises=(CaseNotFound,),
)
def get_case(request: Request) -> casefile.CaseDocument:
    """The case with its reports and questions; its claim says whether it is yours and until when."""
    reviewer = reviewer_of(request)
    services = wiring.services()
    case = _case(request.path.case_id)
    reports = named(services.trail.reports_of(case.case_id))
    history = services.trail.history(case.case_id)
    return casefile.case_shown(case, reports, clock.now(), history, viewer=reviewer, links=evidence_links())


def evidence_links() -> casefile.Links | None:
    """Links to verified evidence files, signed with this function's role (reviewers have no S3 rights of their
    own); None where no bucket is configured."""
    services = wiring.services()
    if not services.settings.evidence_bucket:
        return None
    evidence = services.evidence()
    return lambda report, file: evidence.link(report.partner_id, report.report_id, file)


@app.route(
    "POST",
    "/v1/review/cases/{case_id}/keep",
    summary="Extend your lease on a case",
    status=200,
    path=CasePath,
    responses={200: Documented("The lease, extended", Kept)},
    raises=(CaseNotFound, ReviewRefused, CaseConflict),
)
def keep(request: Request) -> Kept:
    """Hold the case for another lease (and its message hidden as long)."""
    reviewer = reviewer_of(request)
    case = wiring.services().review().keep(request.path.case_id, reviewer, clock.now())
    claim = casefile.claim_shown(case, reviewer)
    assert isinstance(claim, casefile.ClaimShown)  # kept: the reviewer's own claim
    return Kept(case_id=case.case_id, claim=claim)


@app.route(
    "POST",
    "/v1/review/cases/{case_id}/decision",
    summary="Decide a case you hold",
    status=200,
    path=CasePath,
    body=NewDecision,
    responses={
        200: Documented("Decided", Decided),
        409: Documented.problem("Reports arrived since you looked: new_reports lists them", NewReportsProblem),
    },
    raises=(CaseNotFound, ReviewRefused, CaseConflict),
)
def decide(request: Request) -> Reply | Decided:
    """Decide a held case on what the reviewer was shown; refused with what is new if reports arrived since.
    The new reports count as seen once answered: deciding again after reading them goes through."""
    reviewer = reviewer_of(request)
    body: NewDecision = request.body
    review = wiring.services().review()
    case_id = request.path.case_id
    try:
        case = review.decide(case_id, reviewer, body.outcome, body.policy, body.reason, clock.now())
    except NewReports as new:
        review.saw(case_id, reviewer, new.reports, clock.now())
        answer = json.loads(str(problem(HTTPStatus.CONFLICT, str(new)).body))
        answer["new_reports"] = [casefile.report_document(r, evidence_links()) for r in named(new.reports)]
        return Reply(status=409, body=json.dumps(answer, ensure_ascii=False), content_type="application/problem+json")
    count_decision(case)
    assert case.decision is not None
    logger.info("case decided", extra={"case_id": case.case_id, "outcome": str(case.decision.outcome)})
    return Decided(case_id=case.case_id, status=case.status, decision=case.decision)


@app.route(
    "POST",
    "/v1/review/cases/{case_id}/question",
    summary="Ask the reporting partners for information",
    status=200,
    path=CasePath,
    body=NewQuestion,
    responses={200: Documented("Asked", Asked)},
    raises=(CaseNotFound, ReviewRefused, CaseConflict),
)
def ask(request: Request) -> Asked:
    """Ask the partners; the case leaves the queues until they answer or the question lapses."""
    reviewer = reviewer_of(request)
    body: NewQuestion = request.body
    due = timedelta(minutes=body.due_in_minutes)
    case = wiring.services().review().ask(request.path.case_id, reviewer, body.question, due, clock.now())
    assert case.question is not None
    logger.info("information requested", extra={"case_id": case.case_id})
    return Asked(case_id=case.case_id, status=case.status, question=case.question)


@app.route(
    "POST",
    "/v1/review/cases/{case_id}/release",
    summary="Give a case you hold back to its queue",
    status=200,
    path=CasePath,
    responses={200: Documented("Released", Released)},
    raises=(CaseNotFound, ReviewRefused, CaseConflict),
)
def release(request: Request) -> Released:
    """Release a held case at once (a fresh message on the queue it belongs in now)."""
    reviewer = reviewer_of(request)
    case = wiring.services().review().release(request.path.case_id, reviewer, clock.now())
    logger.info("case released", extra={"case_id": case.case_id})
    return Released(case_id=case.case_id, status=case.status, released=True)


def named(reports: list[Report]) -> list[Report]:
    """Reports with their partner's name and kind: a report sent with a key issued before keys carried them has
    neither, and the moderation team needs to know who reported (one read per such partner)."""
    directory = wiring.services().partners.directory
    found: dict[str, Partner | None] = {}
    shown = []
    for report in reports:
        if report.partner_name is None:
            if report.partner_id not in found:
                found[report.partner_id] = directory.get_partner(report.partner_id)
            partner = found[report.partner_id]
            if partner is not None:
                report = report.model_copy(update={"partner_name": partner.name, "partner_kind": partner.kind})
        shown.append(report)
    return shown


def _case(case_id: str) -> Case:
    case = wiring.services().cases.get(case_id)
    if case is None:
        raise CaseNotFound(case_id)
    return case


def count_decision(case: Case) -> None:
    """Decisions by outcome and policy, and the time from the first report to the decision (as EMF log lines:
    no CloudWatch request, no permission)."""
    decision = case.decision
    if decision is None:
        return
    seconds = max((decision.decided_at - case.first_reported_at).total_seconds(), 0)
    metrics.add_metric(name="TimeToDecision", unit=MetricUnit.Seconds, value=seconds)
    if not is_metrics_disabled():  # single_metric writes at once and ignores POWERTOOLS_METRICS_DISABLED
        with single_metric(name="Decisions", unit=MetricUnit.Count, value=1) as metric:
            metric.add_dimension(name="outcome", value=str(decision.outcome))
            metric.add_dimension(name="policy", value=str(decision.policy))


@app.on(CaseConflict, HTTPStatus.CONFLICT, "The case does not allow this now (decided, waiting, or not held by you)")
@app.on(ReviewRefused, HTTPStatus.CONFLICT, "Refused: held by someone else (until when is said), not yours, or decided")
def refused(error: ReviewRefused | CaseConflict) -> Reply:
    """409: the case is not in a state that allows this (decided, waiting, held by someone else, not yours)."""
    return problem(HTTPStatus.CONFLICT, str(error))


@app.on(CaseNotFound, HTTPStatus.NOT_FOUND, "No such case")
def no_case(error: CaseNotFound) -> Reply:
    """404 for an unknown case."""
    return problem(HTTPStatus.NOT_FOUND, f"No case with id {error}.")


@app.on(PermissionError, HTTPStatus.FORBIDDEN, "No verified IAM caller on the request", everywhere=True)
def unauthenticated(_: PermissionError) -> Reply:
    """403 when the request carries no verified IAM caller."""
    return problem(HTTPStatus.FORBIDDEN, "Sign the request with your IAM credentials (SigV4, service execute-api).")


@app.on(
    StoreUnavailable,
    HTTPStatus.SERVICE_UNAVAILABLE,
    "The case store is busy or unavailable: nothing changed; retry",
    everywhere=True,
    headers={"Retry-After": "Seconds to wait before retrying"},
)
def store_unavailable(error: StoreUnavailable) -> Reply:
    """503: nothing changed; retry in a moment."""
    logger.warning("store unavailable", extra={"error": str(error)})
    return problem(HTTPStatus.SERVICE_UNAVAILABLE, "The case store is busy or unavailable; retry.", Retry_After="2")


@app.on(Exception, HTTPStatus.INTERNAL_SERVER_ERROR, "Unexpected error", everywhere=True)
def unexpected(error: Exception) -> Reply:
    """500, logged with its trace."""
    logger.exception("unexpected error")
    return problem(HTTPStatus.INTERNAL_SERVER_ERROR, "Something went wrong on our side; retry later.")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """API Gateway proxy entry point."""
    return app.resolve(event)
