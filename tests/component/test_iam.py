"""IAM conformance (tests/support/iam.py): the calls each function's code makes in flows that reach all its AWS calls,
checked against its statements in the translated template, both ways.

- Every call is allowed: an action, resource or leading key that a function needs and its policy lacks fails.
  (tests/conftest.py checks this after every test on the moto stack too, not only here.)
- Every grant is used: each action of a statement the template writes, on each resource it can act on and with
  each LeadingKeys prefix, is used by some call of these flows, and none can go without a call being denied.
- The checks catch what they must: a needed action removed, or a prefix narrowed, is reported, readably.

The flows run once, in a fixed order, in the first test that needs them (``recorded``); the module's other
tests check the same recorded calls. One deterministic run keeps the checks independent of which other test
modules ran (and this module to a few seconds); the checks after every other test only ever say "denied".
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from kanal import wiring
from kanal.models import InfoReply, Outcome, PartnerKind, Policy
from kanal_cli.cli import main
from kanal_cli.reviewer import desk_for
from kanal_local.template import Stack, load

from tests.support import iam
from tests.support.counters import case_builder_records
from tests.support.evidence import drive_evidence
from tests.support.lambdas import REGION, Invoke, LambdaContext, env, event, failing, load_function, stream_event
from tests.support.operator_flows import drive_operator_commands
from tests.support.reports import VIDEO, body_of, drive_report_batch, get, post, report_body
from tests.support.webhooks import drive_webhooks

WIB = timezone(timedelta(hours=7))
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=WIB)
REASON = "Video berisi klaim palsu tentang pemindahan TPS."
QUESTION = "Di TPS mana kejadian ini terjadi?"


@dataclass
class Clock:
    """The moment every function and rule sees (kanal.clock.now)."""

    now: datetime = T0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moment = Clock()
    monkeypatch.setattr("kanal.clock.now", lambda: moment.now)
    return moment


@pytest.fixture
def reminders(stack: Stack) -> Invoke:
    """Invoke the reminder function with a schedule's input."""
    handler = load_function("reminder").lambda_handler
    return lambda e: handler(e, LambdaContext())


def job(name: str) -> dict[str, Any]:
    """A schedule's input (events/schedule_<name>.json where there is one)."""
    try:
        return event(f"schedule_{name}")
    except FileNotFoundError:
        return {"job": name}


def info(partner_id: str, report_id: str) -> dict[str, Any]:
    e = event("post_info")
    e["requestContext"]["authorizer"] = {"principalId": partner_id, "partner_id": partner_id}
    e["pathParameters"] = {"report_id": report_id}
    e["path"] = f"/v1/reports/{report_id}/info"
    e["requestContext"]["path"] = f"/prod{e['path']}"
    e["body"] = json.dumps(InfoReply(message="TPS 12, Menteng.").model_dump(mode="json"))
    return e


def authorize(key: str) -> dict[str, Any]:
    e = event("authorizer")
    e["headers"]["Authorization"] = f"Bearer {key}"
    return e


def drive_every_function(
    clock: Clock, api: Invoke, authorizer: Invoke, case_builder: Invoke, reminders: Invoke, dynamodb: Any, sqs: Any
) -> None:
    """Three videos' lives through every function: reports (one retried, one failing), their cases, a question
    answered and one left unanswered, a decision, reminders and digests, the reconciler's repairs on both queues,
    a poison record, a late report of a decided case, and a case's expiry. Reviewers' steps are `kanal review`
    commands as on AWS (the reviewer principal), through the reviewer API (ReviewFunction)."""
    table = env("TABLE_NAME")
    services = wiring.services()
    create = services.partners.create
    bawaslu = create("Bawaslu DKI", PartnerKind.ELECTION_AGENCY, T0, "31.71")
    perludem = create("Perludem", PartnerKind.CIVIL_SOCIETY, T0).partner.partner_id
    agency = bawaslu.partner.partner_id

    # AuthorizerFunction: a key, and one that is no key of anyone's. What it answers rides on the agency's requests.
    identity = authorizer(authorize(bawaslu.api_key))["context"]
    assert identity["partner_id"] == agency

    def post_as_agency(body: dict[str, Any], key: str) -> dict[str, Any]:
        e = post(agency, body, key=key)
        e["requestContext"]["authorizer"] = {"principalId": agency, **identity}
        return e

    with pytest.raises(Exception, match="Unauthorized"):
        authorizer(authorize("kanal_" + "0" * 43))

    # IntakeFunction: a report with an Idempotency-Key (and its retry), a second partner's of the same video, two
    # about other videos (one urgent, one not), and a request that fails after taking its key's hold (released).
    first = body_of(api(post_as_agency(report_body(), "k-1")))
    assert body_of(api(post_as_agency(report_body(), "k-1")))["report_id"] == first["report_id"]
    api(post(perludem, report_body(content_url=VIDEO + "?lang=id")))
    other = body_of(api(post(perludem, report_body(content_url=VIDEO[:-2] + "77", category="synthetic_media"))))
    third = body_of(api(post(perludem, report_body(content_url=VIDEO[:-2] + "88"))))
    with failing(services.reports._client, "GetItem", "InternalServerError"):
        assert api(post_as_agency(report_body(), "k-2"))["statusCode"] == 503

    # CaseBuilderFunction: the cases open and go to review.
    assert case_builder(stream_event(dynamodb, table)) == {"batchItemFailures": []}

    # A reviewer asks about the two urgent cases (`kanal review`, signed as ReviewerRole's session, through the
    # reviewer API); the agency answers one (IntakeFunction), the other stays open.
    for _ in range(2):
        claimed = reviewer("review", "next", "--wait", "0")
        reviewer("review", "ask", claimed["case_id"], "--question", QUESTION, "--due", "48h")
    clock.now = T0 + timedelta(hours=25)
    assert "info_due" in {r["kind"] for r in reminders(job("sweep"))["sent"]}
    assert api(info(agency, first["report_id"]))["statusCode"] == 202
    assert case_builder(stream_event(dynamodb, table, kinds=("info_provided",))) == {"batchItemFailures": []}

    # The unanswered question runs out: the reminder function reopens that case; its stream record is "lost",
    # so the reconciler finds it on no queue and puts it back (urgent). Dead letters: a superseded copy of the
    # answered case's message (dropped), and the current one of the third case (which goes back, normal).
    clock.now = T0 + timedelta(hours=49)
    reminders(job("sweep"))
    dead = {"URGENT_DLQ_URL": first["case_id"], "NORMAL_DLQ_URL": third["case_id"]}
    for queue, case_id in dead.items():
        case = services.cases.get(case_id)
        assert case is not None
        ticket = case.ticket - 1 if case_id == first["case_id"] else case.ticket
        sqs.send_message(QueueUrl=env(queue), MessageBody=json.dumps({"case_id": case_id, "ticket": ticket}))
    clock.now += timedelta(minutes=15)
    requeued = {(r["case_id"], r["queue"]) for r in reminders(job("reconcile"))["requeued"]}
    assert requeued == {(other["case_id"], "urgent"), (third["case_id"], "normal")}
    # A dead letter that names no case is set aside (left where it alarms, hidden from the next runs).
    for queue in dead:
        sqs.send_message(QueueUrl=env(queue), MessageBody="not a review message")
        assert reminders(job("reconcile"))["requeued"] == []

    # The reviewer decides the answered case (removed: the agency's statutory window starts); reminders follow
    # (review overdue for the other case, the window's) and the daily digest; partners read what they have.
    # Cases come urgent first: the answered one is decided; the others are kept a while, looked at again and
    # given back (a fresh message on the queue each belongs in), then held when they come round again.
    desk = desk_for(argparse.Namespace(reviewer=None, wait=0), wiring.build(reviewer_settings()))[0]
    decided = ["--outcome", str(Outcome.REMOVED), "--policy", str(Policy.NATIONAL_LAW), "--reason", REASON]
    given_back: set[str] = set()
    for _ in range(8):
        with iam.acting_as("reviewer"):
            shown = desk.next(0)
        assert shown is not None, "a case did not come back to review"
        case_id = shown["case"]["case_id"]
        if case_id == first["case_id"]:
            reviewer("review", "decide", case_id, *decided)
        elif case_id not in given_back:
            with iam.acting_as("reviewer"):
                desk.keep(case_id)
                desk.case(case_id)
            reviewer("review", "release", case_id)
            given_back.add(case_id)
        decision = services.cases.get(first["case_id"])
        if decision is not None and decision.decision and given_back >= {other["case_id"], third["case_id"]}:
            break
    else:
        pytest.fail(f"not every case came to review: {given_back}")
    clock.now = datetime(2026, 11, 26, 8, 30, tzinfo=WIB)
    assert [r["kind"] for r in reminders(job("digest"))["sent"]] == ["daily_digest"] * 2
    clock.now = datetime(2026, 11, 29, 8, 30, tzinfo=WIB)
    swept = reminders(job("sweep"))["sent"]
    assert {"review_overdue", "statutory_window"} <= {r["kind"] for r in swept}, swept

    # The figures: the decision reaches the counters from the case's write to decided (CaseBuilderFunction), the
    # agency reads the national figures (IntakeFunction), the weekly export writes them (StatsExportFunction).
    decisions = [r for r in case_builder_records(dynamodb, table)["Records"] if r["eventName"] == "MODIFY"]
    assert decisions
    assert case_builder({"Records": decisions}) == {"batchItemFailures": []}
    figures = get(agency, "/v1/stats", {"from": "2026-11-23", "to": "2026-11-29", "scope": "national"})
    figures["resource"] = "/v1/stats"
    figures["requestContext"]["authorizer"] = {"principalId": agency, **identity}
    assert body_of(api(figures))["totals"]["removed"] == 1
    clock.now = datetime(2026, 11, 30, 1, 0, tzinfo=WIB)
    exported = load_function("stats_export").lambda_handler({"job": "weekly"}, LambdaContext())
    assert exported["files"] == [f"national/weekly/2026-W48.{kind}" for kind in ("csv", "json", "html")]
    assert api(get(agency, "/v1/reports"))["statusCode"] == 200
    assert api(get(agency, f"/v1/reports/{first['report_id']}"))["statusCode"] == 200
    listed = event("list_reminders")
    listed["requestContext"]["authorizer"] = {"principalId": agency, "partner_id": agency}
    assert body_of(api(listed))

    # CaseBuilderFunction again: a report the decision did not consider (the case reopens), a poison record
    # (parked), and the case's expiry (everything about it goes with it).
    api(post(perludem, report_body(content_url=VIDEO + "?again=1")))
    assert case_builder(stream_event(dynamodb, table)) == {"batchItemFailures": []}
    poison = {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "9", "NewImage": {"sk": {"S": "REPORT"}}}}
    assert case_builder({"Records": [poison]}) == {"batchItemFailures": []}
    key = {"pk": {"S": f"CASE#{first['case_id']}"}, "sk": {"S": "CASE"}}
    case = dynamodb.get_item(TableName=table, Key=key)["Item"]
    dynamodb.delete_item(TableName=table, Key=key)
    removal = {
        "eventName": "REMOVE",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        "dynamodb": {"SequenceNumber": "10", "Keys": key, "OldImage": case},
    }
    assert case_builder(json.loads(json.dumps({"Records": [removal]}))) == {"batchItemFailures": []}


#: Where `kanal review` finds the stack: a CloudFormation stack on moto with the outputs it reads (the stack
#: id's name part is what AWS::StackId resolves to in the checks).
REVIEWER_STACK = "kanal-local"
REVIEW_API = f"https://ReviewApi.execute-api.{REGION}.amazonaws.com/prod"


def reviewer_settings() -> Any:
    from kanal.settings import Settings

    return Settings(table_name=env("TABLE_NAME"), review_api_url=REVIEW_API)


def reviewer(*argv: str) -> Any:
    """`kanal --stack-name kanal-local ARGV` as a reviewer runs it on AWS: no table or API named, so it reads the
    stack's outputs, and signs its requests; its AWS calls are recorded as the reviewer's (ReviewerRole)."""
    hidden = {name: os.environ.pop(name) for name in ("TABLE_NAME", "KANAL_REVIEW_API_URL") if name in os.environ}
    printed = io.StringIO()
    try:
        with iam.acting_as("reviewer"), contextlib.redirect_stdout(printed):
            code = main(["--stack-name", REVIEWER_STACK, *argv])
    finally:
        os.environ.update(hidden)
    assert code == 0, argv
    text = printed.getvalue()
    return json.loads(text[text.index("\n{\n") + 1 :] if "\n{\n" in text else text[text.index("{") :])


def reviewer_stack() -> None:
    """The deployed stack as `kanal review` sees it: its outputs."""
    outputs = {"TableName": env("TABLE_NAME"), "ReviewApiUrl": REVIEW_API, "UsagePlanId": env("KANAL_USAGE_PLAN_ID")}
    template = {
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {name: {"Value": value} for name, value in outputs.items()},
    }
    with warnings.catch_warnings():  # moto creates no resource for a wait condition handle, and says so
        warnings.simplefilter("ignore", UserWarning)
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName=REVIEWER_STACK, TemplateBody=json.dumps(template)
        )


#: The recording of one run of the flows, shared by this module's tests (filled by the first that needs it).
RECORDED: dict[str, Any] = {}


@pytest.fixture
def recorded(
    clock: Clock,
    stack: Stack,
    api: Invoke,
    authorizer: Invoke,
    case_builder: Invoke,
    reminders: Invoke,
    dynamodb: Any,
    sqs: Any,
) -> tuple[iam.Conformance, list[iam.Call]]:
    """The checks on the stack, and the calls of every function in ``drive_every_function`` and of the operator
    commands in ``drive_operator_commands`` (and a partner's batch of reports, ``drive_report_batch``)."""
    if not RECORDED:
        reviewer_stack()
        drive_every_function(clock, api, authorizer, case_builder, reminders, dynamodb, sqs)
        drive_operator_commands(stack, REVIEWER_STACK, api, case_builder, sqs)
        drive_webhooks(stack, api, dynamodb, sqs, clock)
        drive_report_batch(api)
        drive_evidence(stack, api, case_builder, dynamodb)
        RECORDED["calls"] = list(iam.RECORDER.calls)
    return iam.Conformance.of(stack), RECORDED["calls"]


def test_every_function_is_a_principal() -> None:
    """A function added to the template without its principal here fails (and so its calls are never unchecked)."""
    functions = {name for name, r in load()["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    assert functions <= set(iam.PRINCIPALS.values()), "add the new function to PRINCIPALS in tests/support/iam.py"
    template = iam.translated()
    for logical_id in iam.PRINCIPALS.values():
        assert iam.statements_of(logical_id, template), logical_id


def test_every_call_is_allowed(recorded: tuple[iam.Conformance, list[iam.Call]]) -> None:
    checks, calls = recorded
    idle = set(iam.PRINCIPALS) - {c.principal for c in calls}
    assert not idle, f"no flow drives {sorted(idle)}: add one to drive_every_function"
    assert checks.denial_report(calls) is None, checks.denial_report(calls)


def test_every_grant_is_used(recorded: tuple[iam.Conformance, list[iam.Call]]) -> None:
    checks, calls = recorded
    unused = checks.unused(calls)
    assert unused == [], iam.report("grants no call uses", unused)


def test_no_grant_could_go(recorded: tuple[iam.Conformance, list[iam.Call]]) -> None:
    """Removing any action, or any LeadingKeys prefix, of a written statement denies some call: the policy is no
    wider than the code, and each of its parts is needed (none is covered by another statement)."""
    checks, calls = recorded
    redundant = checks.redundant(calls)
    assert redundant == [], iam.report("grants that could go", redundant)


def written_statements(source: dict[str, Any], function: str) -> list[dict[str, Any]]:
    """The statements of a function's Policies in the template as written (loaded, intrinsics in long form)."""
    statements: list[dict[str, Any]] = source["Resources"][function]["Properties"]["Policies"][0]["Statement"]
    return statements


def test_a_needed_action_removed_from_the_template_is_reported(
    stack: Stack, recorded: tuple[iam.Conformance, list[iam.Call]]
) -> None:
    """The template without IntakeFunction's DeleteItem (a failed request releasing its Idempotency-Key)."""
    _, calls = recorded
    source = load()
    statements = written_statements(source, "IntakeFunction")
    statements[:] = [s for s in statements if s["Action"] != "dynamodb:DeleteItem"]
    denied = iam.Conformance.of(stack, template=iam.translate(source)).denied(calls)
    table = stack.attributes[("ReportsTable", "Arn")]
    denied = [d for d in denied if d.startswith("IntakeFunction")]
    assert len(denied) == 1, denied
    assert denied[0].startswith(
        f"IntakeFunction may not dynamodb:DeleteItem on {table}, dynamodb:LeadingKeys=IDEMPOTENCY#r_"
    ), denied
    assert ": dynamodb.DeleteItem from DynamoReports.release (kanal/adapters/dynamodb.py:" in denied[0]
    assert "< Intake.submit (kanal/intake.py:" in denied[0]


def test_a_narrowed_prefix_is_reported(stack: Stack, recorded: tuple[iam.Conformance, list[iam.Call]]) -> None:
    """CaseBuilderFunction's PutItem narrowed from TIMER#* to TIMER#info_due#* (it writes review_overdue timers)."""
    _, calls = recorded
    source = load()
    (put,) = [s for s in written_statements(source, "CaseBuilderFunction") if s["Action"] == "dynamodb:PutItem"]
    keys = put["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
    keys[keys.index("TIMER#*")] = "TIMER#info_due#*"
    checks = iam.Conformance.of(stack, template=iam.translate(source))
    denied = checks.denied(calls)
    assert denied, "narrowing the prefix was not noticed"
    assert all(d.startswith("CaseBuilderFunction may not dynamodb:PutItem on ") for d in denied), denied
    assert "dynamodb:LeadingKeys=TIMER#review_overdue#c_" in denied[0]
    assert "from put_new (kanal/adapters/dynamodb.py:" in denied[0]
    assert "< DynamoReminders.add_timers (kanal/adapters/dynamodb_reminders.py:" in denied[0]
    assert any("no call uses dynamodb:PutItem" in u and "TIMER#info_due#*" in u for u in checks.unused(calls))


def test_a_grant_no_code_uses_is_reported(stack: Stack, recorded: tuple[iam.Conformance, list[iam.Call]]) -> None:
    """The authorizer given PutItem on key items (which it never writes): least privilege the other way."""
    _, calls = recorded
    source = load()
    written_statements(source, "AuthorizerFunction")[0]["Action"] = ["dynamodb:GetItem", "dynamodb:PutItem"]
    unused = iam.Conformance.of(stack, template=iam.translate(source)).unused(calls)
    unused = [u for u in unused if u.startswith("AuthorizerFunction")]
    assert len(unused) == 1, unused
    assert unused[0].startswith(
        f"AuthorizerFunction: no call uses dynamodb:PutItem on {stack.attributes[('ReportsTable', 'Arn')]} "
        "(AuthorizerFunctionRole / AuthorizerFunctionRolePolicy0 #1: "
    ), unused


# --- The evaluator and the mapping, on their own ----------------------------------------------------------

NAMES = iam.Names(REGION, "123456789012", {"t": {None: "pk", "by_case": "gsi2pk"}})
TABLE = f"arn:aws:dynamodb:{REGION}:123456789012:table/t"


def call(service: str, operation: str, principal: str = "F", **params: Any) -> iam.Call:
    return iam.Call(principal, service, operation, params, "here")


def statement(**body: Any) -> iam.Statement:
    return iam.Statement("FRole", "FRolePolicy0", 0, {"Effect": "Allow", **body})


def request(action: str, resource: str = TABLE, leading: tuple[str, ...] = (), namespace: str = "") -> iam.Request:
    keys = {"dynamodb:LeadingKeys": leading} if leading else {}
    keys.update({"cloudwatch:namespace": (namespace,)} if namespace else {})
    return iam.Request(action, resource, keys, call("x", "y"))


def test_requests_of_calls() -> None:
    key = {"pk": {"S": "CASE#1"}, "sk": {"S": "CASE"}}
    transaction = call(
        "dynamodb",
        "TransactWriteItems",
        TransactItems=[
            {"Update": {"TableName": "t", "Key": key}},
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "CASE#1"}, "sk": {"S": "EVENT#"}}}},
            {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "REPORT#2"}, "sk": {"S": "REPORT"}}}},
        ],
    )
    assert [str(r) for r in iam.requests_of(transaction, NAMES)] == [
        f"dynamodb:UpdateItem on {TABLE}, dynamodb:LeadingKeys=CASE#1",
        f"dynamodb:PutItem on {TABLE}, dynamodb:LeadingKeys=CASE#1",
        f"dynamodb:ConditionCheckItem on {TABLE}, dynamodb:LeadingKeys=REPORT#2",
    ]
    batch = call(
        "dynamodb",
        "BatchWriteItem",
        RequestItems={"t": [{"PutRequest": {"Item": key}}, {"DeleteRequest": {"Key": {"pk": {"S": "TIMER#a"}}}}]},
    )
    (one,) = iam.requests_of(batch, NAMES)
    assert one.keys == {"dynamodb:LeadingKeys": ("CASE#1", "TIMER#a")}  # one request, every item's key
    query = call(
        "dynamodb",
        "Query",
        TableName="t",
        IndexName="by_case",
        KeyConditionExpression="#k = :case AND gsi2sk BETWEEN :a AND :b",
        ExpressionAttributeNames={"#k": "gsi2pk"},
        ExpressionAttributeValues={":case": {"S": "CASE#1"}, ":a": {"S": "0"}, ":b": {"S": "9"}},
    )
    assert (
        str(iam.requests_of(query, NAMES)[0]) == f"dynamodb:Query on {TABLE}/index/by_case, dynamodb:LeadingKeys=CASE#1"
    )
    url = "https://sqs.ap-southeast-3.amazonaws.com/123456789012/q"
    assert iam.requests_of(call("sqs", "SendMessageBatch", QueueUrl=url), NAMES)[0].resource == (
        "arn:aws:sqs:ap-southeast-3:123456789012:q"
    )
    metric = iam.requests_of(call("cloudwatch", "PutMetricData", Namespace="Kanal"), NAMES)[0]
    assert (metric.action, metric.resource, metric.keys) == (
        "cloudwatch:PutMetricData",
        "*",
        {"cloudwatch:namespace": ("Kanal",)},
    )
    stacks = iam.requests_of(call("cloudformation", "DescribeStacks", StackName="kanal"), NAMES)[0]
    assert stacks.resource == f"arn:aws:cloudformation:{REGION}:123456789012:stack/kanal/*"
    for unmapped in (call("dynamodb", "ListTables"), call("lambda", "Invoke")):
        with pytest.raises(iam.Unsupported, match="add it to"):
            iam.requests_of(unmapped, NAMES)
    with pytest.raises(iam.Unsupported, match="no equality on partition key"):
        iam.requests_of(call("dynamodb", "Query", TableName="t", KeyConditionExpression="sk = :x"), NAMES)


def test_statements_as_iam_evaluates_them() -> None:
    scoped = statement(
        Action=["dynamodb:Get*"],
        Resource=[TABLE, f"{TABLE}/index/*"],
        Condition={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["CASE#*"]}},
    )
    assert scoped.allows(request("DynamoDB:GetItem", leading=("CASE#1",)))  # actions ignore case
    assert not scoped.allows(request("dynamodb:GetItem", leading=("CASE#1", "KEY#2")))  # for all values
    assert not scoped.allows(request("dynamodb:PutItem", leading=("CASE#1",)))
    assert not scoped.allows(request("dynamodb:GetItem", resource=TABLE + "2", leading=("CASE#1",)))
    assert scoped.allows(request("dynamodb:GetItem"))  # no leading key at all (a Scan): ForAllValues holds, as on AWS
    plain = statement(
        Action="cloudwatch:PutMetricData", Resource="*", Condition={"StringEquals": {"cloudwatch:namespace": "Kanal"}}
    )
    assert plain.allows(request("cloudwatch:PutMetricData", "*", namespace="Kanal"))
    assert not plain.allows(request("cloudwatch:PutMetricData", "*", namespace="Other"))
    assert not plain.allows(request("cloudwatch:PutMetricData", "*"))  # a missing key fails a plain condition
    anyof = statement(Action="*", Resource="*", Condition={"ForAnyValue:StringEquals": {"dynamodb:LeadingKeys": ["A"]}})
    assert anyof.allows(request("x:y", "*", leading=("A", "B")))
    assert not anyof.allows(request("x:y", "*"))


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"Condition": {"StringNotLike": {"dynamodb:LeadingKeys": ["A*"]}}}, "operator StringNotLike"),
        ({"Condition": {"StringLikeIfExists": {"dynamodb:LeadingKeys": ["A*"]}}}, "operator StringLikeIfExists"),
        ({"Condition": {"StringEquals": {"aws:SourceVpce": ["v"]}}}, "condition key aws:SourceVpce"),
        ({"Condition": {"StringLike": {"dynamodb:LeadingKeys": ["${aws:userid}*"]}}}, "policy variables"),
        ({"Effect": "Deny"}, "Effect 'Deny'"),
        ({"NotAction": "x:y"}, "NotAction"),
        ({"Resource": {"Fn::GetAtt": ["T", "Arn"]}}, "not resolved"),
    ],
)
def test_what_the_evaluator_cannot_read_fails_loudly(body: dict[str, Any], why: str) -> None:
    with pytest.raises(iam.Unsupported, match=why):
        statement(**{"Action": "x:y", "Resource": "*", **body}).allows(request("x:y", "*", leading=("A",)))


def test_findings_name_the_principal_the_call_and_the_culprit() -> None:
    names = iam.Names(REGION, "123456789012", {"t": {None: "pk"}})
    checks = iam.Conformance(
        names,
        {
            "F": [
                statement(
                    Action="dynamodb:BatchWriteItem",
                    Resource=TABLE,
                    Condition={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["CASE#*"]}},
                ),
                statement(
                    Action="dynamodb:BatchWriteItem",
                    Resource=TABLE,
                    Condition={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["TIMER#*"]}},
                ),
            ]
        },
    )

    def batch(*keys: str, principal: str = "F") -> iam.Call:
        items = [{"DeleteRequest": {"Key": {"pk": {"S": k}}}} for k in keys]
        return call("dynamodb", "BatchWriteItem", principal, RequestItems={"t": items})

    assert checks.denied([batch("CASE#1"), batch("TIMER#1")]) == []
    assert checks.denied([batch("CASE#1", "KEY#1")]) == [
        f"F may not dynamodb:BatchWriteItem on {TABLE}, dynamodb:LeadingKeys=CASE#1|KEY#1 "
        "(not allowed: dynamodb:LeadingKeys=KEY#1): dynamodb.BatchWriteItem from here"
    ]
    assert checks.denial_report([batch("CASE#1")]) is None
    shown = str(checks.denial_report([batch("KEY#1")]))
    assert shown.startswith("AWS calls the template's IAM statements do not allow (1):\n  - F may not ")
    assert "\nF's statements (PRINCIPALS -> none):\n    FRole / FRolePolicy0 #1: " in shown
    (split,) = checks.denied([batch("CASE#1", "TIMER#1")])
    assert "no one statement allows them all" in split
    assert checks.denied([batch("CASE#1", principal="G")]) == [
        "G is no principal in tests/support/iam.py PRINCIPALS: dynamodb.BatchWriteItem from here"
    ]
    assert checks.denied([call("dynamodb", "ListTables")]) == [
        "F: dynamodb.ListTables from here: no IAM mapping for dynamodb.ListTables: "
        "add it to requests_of in tests/support/iam.py"
    ]
    assert checks.unused([batch("CASE#1")]) == [
        f"F: no call uses dynamodb:BatchWriteItem on {TABLE} (FRole / FRolePolicy0 #1: "
        f'{{"Action": "dynamodb:BatchWriteItem", "Resource": "{TABLE}", "Condition": {{"ForAllValues:StringLike": '
        '{"dynamodb:LeadingKeys": ["TIMER#*"]}}})'
    ]


def test_a_policy_sam_adds_without_a_reason_fails() -> None:
    template = {
        "Resources": {
            "F": {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::GetAtt": ["FRole", "Arn"]}}},
            "FRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "Policies": [
                        {"PolicyName": "FRolePolicy0", "PolicyDocument": {"Statement": [{"Effect": "Allow"}]}},
                        {"PolicyName": "DeadLetterQueuePolicy", "PolicyDocument": {"Statement": {"Effect": "Allow"}}},
                    ]
                },
            },
        }
    }
    written, service = iam.statements_of("F", template)
    assert (written.written, service.written) == (True, False)
    template["Resources"]["FRole"]["Properties"]["Policies"].append(  # type: ignore[index]
        {"PolicyName": "FSomethingNewPolicy", "PolicyDocument": {"Statement": []}}
    )
    with pytest.raises(iam.Unsupported, match="SAM added policy FSomethingNewPolicy to FRole"):
        iam.statements_of("F", template)


def test_the_reviewer_commands_need_exactly_what_reviewer_role_grants(
    stack: Stack, recorded: tuple[iam.Conformance, list[iam.Call]]
) -> None:
    """`kanal review` on AWS calls the reviewer API and reads the stack's outputs, nothing else; ReviewerRole
    without execute-api:Invoke (or with a table right) is reported."""
    checks, calls = recorded
    mine = [c for c in calls if c.principal == "reviewer"]
    assert {(c.service, c.operation) for c in mine} == {("execute-api", "Invoke"), ("cloudformation", "DescribeStacks")}
    assert checks.denied(mine) == []
    source = load()
    statements = source["Resources"]["ReviewerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    statements[:] = [s for s in statements if s["Action"] != "execute-api:Invoke"]
    denied = iam.Conformance.of(stack, template=iam.translate(source)).denied(mine)
    assert denied
    assert all(d.startswith("reviewer may not execute-api:Invoke on arn:aws:execute-api:") for d in denied), denied
    widened = load()
    widened["Resources"]["ReviewerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": {"Fn::GetAtt": ["ReportsTable", "Arn"]}}
    )
    unused = iam.Conformance.of(stack, template=iam.translate(widened)).unused(mine)
    assert any(u.startswith("reviewer: no call uses dynamodb:GetItem") for u in unused), unused


# OperatorRole against what the operator commands call (tests/support/operator_flows.py drives them in the
# recording above): each of its actions is needed, and none of the reviewer API is among them.

Recorded = tuple[iam.Conformance, list[iam.Call]]


def operator_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = template["Resources"]["OperatorRole"]["Properties"]["Policies"][0][
        "PolicyDocument"
    ]["Statement"]
    return statements


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return list(action) if isinstance(action, list) else [action]


#: Every action OperatorRole grants, with the call that needs it (what the recording must show denied without it).
NEEDED_BY = {
    "cloudformation:DescribeStacks": "cloudformation.DescribeStacks",
    "dynamodb:GetItem": "dynamodb.GetItem",
    "dynamodb:BatchGetItem": "dynamodb.BatchGetItem",
    "dynamodb:PutItem": "dynamodb.",
    "dynamodb:UpdateItem": "dynamodb.",
    "dynamodb:Query": "dynamodb.Query",
    "dynamodb:BatchWriteItem": "dynamodb.BatchWriteItem",
    "dynamodb:DeleteItem": "dynamodb.DeleteItem",
    "dynamodb:GetShardIterator": "dynamodbstreams.GetShardIterator",
    "dynamodb:GetRecords": "dynamodbstreams.GetRecords",
    "sqs:ReceiveMessage": "sqs.ReceiveMessage",
    "sqs:DeleteMessage": "sqs.DeleteMessage",
    "sqs:SendMessage": "sqs.SendMessage",
    "sns:Subscribe": "sns.Subscribe",
    "apigateway:POST": "apigateway.",
    "apigateway:DELETE": "apigateway.",
    "apigateway:GET": "apigateway.",
    "apigateway:PATCH": "apigateway.UpdateUsagePlan",
    # cases show's links to verified evidence files (a presigned GET of the checked version).
    "s3:GetObjectVersion": "s3.GetObject",
}


def test_operator_role_grants_what_the_commands_call_and_nothing_of_review(recorded: Recorded) -> None:
    checks, calls = recorded
    mine = [c for c in calls if c.principal == "operator"]
    assert checks.denied(mine) == []
    granted = {a for s in operator_statements(load()) for a in actions_of(s)}
    assert granted == set(NEEDED_BY)
    # The operator never calls the reviewer API: `kanal smoke`'s reviewer steps are the reviewer profile's.
    assert not [c for c in mine if c.service == "execute-api"]
    smoke_reviewing = [c for c in calls if c.principal == "reviewer" and "decision" in str(c.params.get("path"))]
    assert smoke_reviewing, "the smoke's decision was not made through the reviewer API as the reviewer"


@pytest.mark.parametrize("action", sorted(NEEDED_BY))
def test_removing_any_action_from_operator_role_denies_an_operator_command(
    stack: Stack, recorded: Recorded, action: str
) -> None:
    _, calls = recorded
    source = load()
    statements = operator_statements(source)
    for statement in statements:
        statement["Action"] = [a for a in actions_of(statement) if a != action]
    statements[:] = [s for s in statements if s["Action"]]
    mine = [c for c in calls if c.principal == "operator"]
    denied = iam.Conformance.of(stack, template=iam.translate(source)).denied(mine)
    assert denied, f"OperatorRole without {action} denied no operator command"
    assert all(d.startswith(f"operator may not {action} on ") for d in denied), denied
    assert any(f": {NEEDED_BY[action]}" in d for d in denied), denied


def test_a_reviewer_api_grant_on_operator_role_is_reported_unused(stack: Stack, recorded: Recorded) -> None:
    """Separation of duties, checked: OperatorRole given the reviewer API (which the smoke's reviewer steps use, with
    the reviewer's own credentials) is a grant no operator call uses."""
    _, calls = recorded
    widened = load()
    operator_statements(widened).append(
        {
            "Effect": "Allow",
            "Action": "execute-api:Invoke",
            "Resource": {"Fn::Sub": "arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:${ReviewApi}/*/v1/review/*"},
        }
    )
    unused = iam.Conformance.of(stack, template=iam.translate(widened)).unused(calls)
    assert [u for u in unused if u.startswith("operator:")] == [
        u for u in unused if u.startswith("operator: no call uses execute-api:Invoke on arn:aws:execute-api:")
    ]
    assert any(u.startswith("operator: no call uses execute-api:Invoke") for u in unused), unused
