"""The local stack reads the template as SAM translates it (kanal_local.template.translate): functions with the
Globals merged and their code folders, the event source mapping (filters, batching, bisection, retries, record age,
the on-failure destination), the schedules with SAM's names, the REST APIs' bodies (routes, authorizer, gateway
responses, stage). A Ref or GetAtt that names nothing the local stack knows stops it at start, naming it, and
`kanal dev` exits 2 with that line; so does what it cannot run as deployed (an integration invoked with the
caller's credentials, a TOKEN authorizer, a mapping property it does not emulate).
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from kanal_cli.cli import main
from kanal_local import template as template_module
from kanal_local.emulator import free_port
from kanal_local.gateway import Api, Authorizer
from kanal_local.template import (
    SAM_TRANSFORM,
    CannotEmulate,
    Stack,
    Unresolved,
    Unsupported,
    Untranslatable,
    create_stack,
    describe,
    load,
    translate,
)
from kanal_local.triggers import Schedules, Triggers
from moto import mock_aws

from tests.support import ROOT, iam
from tests.support.lambdas import REGION

pytestmark = pytest.mark.timeout(300)  # kanal dev is started in a subprocess
STREAM = "arn:aws:dynamodb:ap-southeast-3:123456789012:table/t/stream/1"


def sam(**resources: Any) -> dict[str, Any]:
    return {"Transform": SAM_TRANSFORM, "Resources": resources}


def function(events: dict[str, Any] | None = None, **properties: Any) -> dict[str, Any]:
    code = {"CodeUri": "functions/case_builder/", "Handler": "app.lambda_handler", "Runtime": "python3.13"}
    return {"Type": "AWS::Serverless::Function", "Properties": {**code, "Events": events or {}, **properties}}


# The template, translated ----------------------------------------------------------------------------------


def test_the_functions_are_the_translated_ones_globals_merged_and_code_mapped_back_to_their_folders() -> None:
    source = load()
    unchanged = copy.deepcopy(source)
    stack = describe(translate(source))
    assert source == unchanged  # translate works on a copy
    assert {name: f.code_uri for name, f in stack.functions.items()} == {
        "AuthorizerFunction": "functions/authorizer/",
        "IntakeFunction": "functions/intake/",
        "CaseBuilderFunction": "functions/case_builder/",
        "ReminderFunction": "functions/reminder/",
        "ReviewFunction": "functions/review/",
        "EventsFunction": "functions/events/",
        "DeliveryFunction": "functions/delivery/",
        "EvidenceFunction": "functions/evidence/",
        "StatsExportFunction": "functions/stats_export/",
    }
    for built in stack.functions.values():
        assert (ROOT / built.code_uri / "app.py").is_file()
        assert built.layers == ["layers/kanal/"]  # SAM renames the layer (KanalLayer<hash>); its folder stays
        assert built.handler == "app.lambda_handler"
        assert built.environment["TABLE_NAME"] == "kanal-ReportsTable"  # from Globals, as SAM merges them
        assert built.environment["KANAL_RETENTION_DAYS"] == "730"
    builder = stack.functions["CaseBuilderFunction"].environment
    assert builder["URGENT_QUEUE_URL"] == f"https://sqs.{REGION}.amazonaws.com/123456789012/kanal-UrgentReviewQueue"
    assert {n: f.timeout for n, f in stack.functions.items()} == {
        "AuthorizerFunction": 5,
        "IntakeFunction": 10,
        "CaseBuilderFunction": 30,
        "ReminderFunction": 300,
        "ReviewFunction": 28,
        "EventsFunction": 30,
        "DeliveryFunction": 30,
        "EvidenceFunction": 60,
        "StatsExportFunction": 60,
    }
    assert iam.translate is translate  # the IAM checks read the same translation


def test_the_apis_are_read_from_their_translated_bodies_with_the_parameters_sam_writes_in() -> None:
    stack = describe(translate())
    partner = Api.from_stack(stack, "Api")
    assert (partner.stage, partner.authorizer, partner.iam) == (
        "prod",
        Authorizer("AuthorizerFunction", "Authorization", 60),
        False,
    )
    routes = {(r.method, r.resource, r.function, r.authorized) for r in partner.routes}
    assert ("POST", "/v1/reports", "IntakeFunction", True) in routes
    assert ("GET", "/v1/openapi.json", "IntakeFunction", False) in routes  # Auth: {Authorizer: NONE}
    assert ("DELETE", "/v1/webhooks/{webhook_id}", "IntakeFunction", True) in routes
    assert ("POST", "/v1/reports/{report_id}/evidence", "IntakeFunction", True) in routes
    assert ("GET", "/v1/stats", "IntakeFunction", True) in routes
    # reports (7: a batch, evidence), reminders, webhooks (6), the event feed, the figures, the document
    assert len(routes) == 16
    review = Api.from_stack(stack, "ReviewApi")
    assert (review.iam, review.authorizer) == (True, None)
    assert {(r.function, r.authorized) for r in review.routes} == {("ReviewFunction", True)}
    # SAM writes the cache TTL into the authorizer it makes: the parameters go to the translation too.
    parameters = {"AuthorizerCacheTtl": "0", "Stage": "dev"}
    other = Api.from_stack(describe(translate(parameters=parameters), parameters=parameters), "Api")
    assert (other.stage, other.authorizer) == ("dev", Authorizer("AuthorizerFunction", "Authorization", 0))


def test_the_stack_on_moto_has_the_translated_schedules_and_mapping() -> None:
    with mock_aws():
        stack = create_stack(lambda service: boto3.client(service, region_name=REGION), REGION)
        scheduler = boto3.client("scheduler", region_name=REGION)
        names = {s["Name"] for s in scheduler.list_schedules()["Schedules"]}
        # SAM names a ScheduleV2 schedule <function><event>.
        assert names == {
            "ReminderFunctionSweep",
            "ReminderFunctionReconcile",
            "ReminderFunctionDigest",
            "StatsExportFunctionWeekly",
            "StatsExportFunctionElections",
        }
        digest = scheduler.get_schedule(Name="ReminderFunctionDigest")
        assert digest["Target"]["Arn"] == stack.attributes[("ReminderFunction", "Arn")]
        triggers = Triggers(stack, lambda *_: None, None, print)
        (trigger, told) = sorted(triggers.triggers, key=lambda t: t.function != "CaseBuilderFunction")
        assert (told.function, len(told.filters), told.partial_failures) == ("EventsFunction", 2, True)
        (queue,) = triggers.queues
        assert (queue.function, queue.batch_size, queue.partial_failures) == ("DeliveryFunction", 10, True)
        assert queue.queue_url == stack.refs["WebhookDeliveryQueue"]
        assert (trigger.name, trigger.function, trigger.stream_arn) == (
            "stream trigger NewReports of CaseBuilderFunction",
            "CaseBuilderFunction",
            stack.attributes[("ReportsTable", "StreamArn")],
        )
        assert (trigger.batch_size, trigger.window, trigger.partial_failures, trigger.starting_position) == (
            100,
            1.0,
            True,
            "TRIM_HORIZON",
        )
        assert (trigger.bisect, trigger.max_retries, trigger.max_age, len(trigger.filters)) == (True, -1, 43200, 5)
        assert trigger.on_failure == stack.refs["CaseBuilderFailureQueue"]
        schedules = Schedules(stack, lambda *_: None, print)
        assert {(s.name, s.function, json.dumps(s.payload)) for s in schedules.schedules} == {
            ("Sweep", "ReminderFunction", '{"job": "sweep"}'),
            ("Reconcile", "ReminderFunction", '{"job": "reconcile"}'),
            ("Digest", "ReminderFunction", '{"job": "digest"}'),
            ("Weekly", "StatsExportFunction", '{"job": "weekly"}'),
            ("Elections", "StatsExportFunction", '{"job": "elections"}'),
        }
        # The export bucket, versioned as the template says.
        s3 = boto3.client("s3", region_name=REGION)
        bucket = stack.refs["StatsExportBucket"]
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


# Names that name nothing -----------------------------------------------------------------------------------


def with_variable(value: Any) -> dict[str, Any]:
    """template.yaml with one more environment variable on IntakeFunction."""
    source = load()
    source["Resources"]["IntakeFunction"]["Properties"]["Environment"] = {"Variables": {"ODD": value}}
    return source


AT = " (at Resources.IntakeFunction.Properties.Environment.Variables.ODD"
NOPE = "Ref Nope: no parameter, pseudo parameter or resource of the template is called Nope"
NOWHERE = "GetAtt Nowhere.Arn: no resource of the template is called Nowhere"
TABLE_NOPE = (
    "GetAtt ReportsTable.Nope: the local stack knows no attribute Nope of ReportsTable "
    "(AWS::DynamoDB::Table; it knows Arn, StreamArn)"
)


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ({"Ref": "Nope"}, NOPE + AT + ")"),
        ({"Fn::GetAtt": ["ReportsTable", "Nope"]}, TABLE_NOPE + AT + ")"),
        ({"Fn::GetAtt": ["Nowhere", "Arn"]}, NOWHERE + AT + ")"),
        ({"Fn::Sub": "${Nope}/x"}, NOPE + AT + ")"),
        ({"Fn::Sub": ["${ReportsTable.Nope}-${Known}", {"Known": "k"}]}, TABLE_NOPE + AT + ")"),
        # in a branch that the conditions do not take, as CloudFormation checks it too
        ({"Fn::If": ["ApiLoggingOn", {"Ref": "Nope"}, "x"]}, NOPE + AT + ".Fn::If[1])"),
        ({"Fn::If": ["Never", "a", "b"]}, "Fn::If Never" + AT + "): the template has no condition called Never"),
    ],
)
def test_a_name_the_local_stack_does_not_know_is_refused_naming_it(value: Any, named: str) -> None:
    with pytest.raises(Unresolved) as refused:
        describe(translate(with_variable(value)))
    assert str(refused.value) == named


def test_what_is_not_created_is_not_there_and_no_value_removes_a_property() -> None:
    stack = describe(translate())
    assert not stack.created("ApiAccessLogGroup")  # Condition: ApiLoggingOn, false by default
    assert "ApiAccessLogGroup" not in stack.of_type("AWS::Logs::LogGroup")
    with pytest.raises(Unresolved, match=r"ApiAccessLogGroup is not created \(its condition ApiLoggingOn is false\)"):
        stack.resolve({"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]})
    assert "AccessLogSetting" not in stack.resolve(stack.resources["ApiStage"]["Properties"])
    assert stack.resolve({"Alarm": [{"Ref": "AWS::NoValue"}, "a"]}) == {"Alarm": ["a"]}
    assert stack.resolve({"Fn::Sub": "${!Literal}-${AWS::Region}"}) == "${Literal}-ap-southeast-3"
    logging = {"ApiLogging": "true"}
    on = describe(translate(parameters=logging), parameters=logging)
    assert on.created("ApiAccessLogGroup")
    setting = on.resolve(on.resources["ApiStage"]["Properties"])["AccessLogSetting"]
    assert setting["DestinationArn"] == on.attributes[("ApiAccessLogGroup", "Arn")]


def test_the_other_intrinsics_resolve_and_one_the_local_stack_does_not_evaluate_is_refused() -> None:
    conditions = {"Dev": {"Condition": "IsDev"}, "IsDev": {"Fn::Equals": [{"Ref": "Stage"}, "dev"]}}
    zones = {"Zones": {REGION: {"City": "Jakarta"}}}
    stack = Stack({"Resources": {}, "Conditions": conditions, "Mappings": zones}, REGION, {"Stage": "dev"})
    assert stack.resolve({"Fn::Select": ["1", {"Fn::Split": [",", "a,b"]}]}) == "b"
    assert stack.resolve({"Fn::FindInMap": ["Zones", {"Ref": "AWS::Region"}, "City"]}) == "Jakarta"
    assert stack.resolve({"Fn::Base64": {"Ref": "Stage"}}) == "ZGV2"
    assert stack.resolve({"Fn::Join": ["/", [{"Ref": "Stage"}, {"Ref": "AWS::NoValue"}, "x"]]}) == "dev/x"
    assert stack.resolve({"Fn::If": ["Dev", "yes", "no"]}) == "yes"
    assert stack.resolve({"Ref": "AWS::NoValue"}) is None
    with pytest.raises(Unsupported, match=r"^unsupported intrinsic Fn::ImportValue"):
        stack.resolve({"Fn::ImportValue": "elsewhere"})
    with pytest.raises(Unresolved, match=r"^GetAtt Queue.Arn: no resource of the template is called Queue$"):
        stack.resolve({"Fn::GetAtt": "Queue.Arn"})
    with pytest.raises(Unresolved, match=r"^condition Later: the template has no condition called Later$"):
        stack.resolve({"Fn::If": ["Later", 1, 2]})


def test_a_template_sam_refuses_is_refused_with_sams_reasons() -> None:
    broken = sam(F={"Type": "AWS::Serverless::Function", "Properties": {"Handler": "a.b", "Runtime": "python3.13"}})
    with pytest.raises(Untranslatable, match=re.escape("SAM cannot translate the template: Resource with id [F]")):
        translate(broken)


def unknown_in(path: Path, line: str) -> Path:
    """template.yaml, written to ``path`` with ``line`` added to the Globals' environment."""
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    anchor = "        POWERTOOLS_LOG_LEVEL: !Ref LogLevel\n"
    assert text.count(anchor) == 1
    path.write_text(text.replace(anchor, anchor + f"        ODD: {line}\n"), encoding="utf-8")
    return path


@pytest.mark.parametrize(("line", "named"), [("!Ref Nope", NOPE), ("!GetAtt ReportsTable.Nope", TABLE_NOPE)])
def test_kanal_dev_exits_2_naming_an_unknown_ref_or_getatt(
    line: str, named: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    template = unknown_in(tmp_path / "template.yaml", line)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        main(["dev", "--port", str(free_port()), "--template", str(template)])
    assert stopped.value.code == 2
    refused = capsys.readouterr().err.splitlines()[-1]
    assert refused.startswith(f"kanal dev: {named} (at Resources.")
    assert refused.endswith(".Properties.Environment.Variables.ODD)")
    assert not (tmp_path / ".kanal").exists()
    assert "AWS_ENDPOINT_URL" not in os.environ  # refused before anything started


def test_kanal_dev_exits_2_for_a_template_it_cannot_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        main(["dev", "--port", str(free_port()), "--template", str(tmp_path / "missing.yaml")])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith(f"kanal dev: cannot read the template {tmp_path}")


# What the local stack cannot run as deployed ---------------------------------------------------------------


def test_an_integration_invoked_with_the_callers_credentials_is_refused() -> None:
    """SAM's InvokeRole defaults to CALLER_CREDENTIALS with AWS_IAM: API Gateway would then invoke the function as
    the reviewer, who needs lambda:InvokeFunction as well. template.yaml sets InvokeRole: NONE."""
    source = load()
    assert source["Resources"]["ReviewApi"]["Properties"]["Auth"].pop("InvokeRole") == "NONE"
    stack = describe(translate(source))
    with pytest.raises(CannotEmulate, match=r"^API ReviewApi POST /v1/review/\S+: API Gateway would invoke the fun"):
        Api.from_stack(stack, "ReviewApi")


def api_with(auth: dict[str, Any]) -> Stack:
    events = {"Get": {"Type": "Api", "Properties": {"RestApiId": {"Ref": "Web"}, "Path": "/x", "Method": "get"}}}
    web = {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "prod", "Auth": auth}}
    return describe(translate(sam(Web=web, Handler=function(events), Auth=function())))


@pytest.mark.parametrize(
    ("auth", "reason"),
    [
        (
            {"DefaultAuthorizer": "T", "Authorizers": {"T": {"FunctionArn": {"Fn::GetAtt": ["Auth", "Arn"]}}}},
            "API Web authorizer T: the local gateway serves REQUEST Lambda authorizers and AWS_IAM only",
        ),
        (
            {
                "DefaultAuthorizer": "R",
                "Authorizers": {
                    "R": {
                        "FunctionPayloadType": "REQUEST",
                        "FunctionArn": {"Fn::GetAtt": ["Auth", "Arn"]},
                        "Identity": {"Headers": ["Authorization", "X-Partner"]},
                    }
                },
            },
            "API Web authorizer R: the local gateway takes one header as the identity source",
        ),
    ],
)
def test_an_authorizer_the_local_gateway_cannot_serve_is_refused(auth: dict[str, Any], reason: str) -> None:
    with pytest.raises(CannotEmulate, match="^" + re.escape(reason)):
        Api.from_stack(api_with(auth), "Web")


def test_a_request_without_the_identity_header_is_refused_without_invoking_the_cached_authorizer() -> None:
    """API Gateway answers 401 at once when a cached REQUEST authorizer's identity source is missing or empty."""
    calls: list[dict[str, Any]] = []

    def invoke(_: str, event: dict[str, Any]) -> dict[str, Any]:
        calls.append(event)
        return {"principalId": "p_1", "policyDocument": {"Statement": [{"Effect": "Allow"}]}}

    event = {
        "resource": "/x",
        "path": "/x",
        "httpMethod": "GET",
        "headers": {"Authorization": ""},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "pathParameters": None,
        "requestContext": {},
    }
    cached = Api(stage="prod", routes=[], authorizer=Authorizer("Auth", "Authorization", 60), responses={})
    assert cached.authorize(invoke, "arn", event) is None
    assert calls == []
    uncached = Api(stage="prod", routes=[], authorizer=Authorizer("Auth", "Authorization", 0), responses={})
    assert uncached.authorize(invoke, "arn", event) is not None
    assert len(calls) == 1


def test_gateway_responses_fall_back_by_their_status_class() -> None:
    api = Api.from_stack(describe(translate()), "Api")
    status, headers, body = api.gateway_response("UNAUTHORIZED", 401)
    assert (status, headers) == (401, {"WWW-Authenticate": "Bearer", "Content-Type": "application/problem+json"})
    assert json.loads(body)["type"] == "urn:kanal:problem:unauthorized"
    status, _, body = api.gateway_response("AUTHORIZER_FAILURE", 500)  # not customized: DEFAULT_5XX
    assert (status, json.loads(body)["type"]) == (500, "urn:kanal:problem:internal-server-error")
    status, _, body = api.gateway_response("BAD_REQUEST_PARAMETERS", 400, "Missing x")  # DEFAULT_4XX
    assert (status, json.loads(body)["detail"]) == (400, "Missing x")


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        ({"TumblingWindowInSeconds": 60}, "the local stack does not emulate TumblingWindowInSeconds"),
        ({"StartingPositionTimestamp": 1}, "the local stack does not emulate StartingPositionTimestamp"),
    ],
)
def test_an_unemulated_mapping_property_is_refused(properties: dict[str, Any], reason: str) -> None:
    stream = {"Stream": STREAM, "StartingPosition": "TRIM_HORIZON", **properties}
    stack = describe(translate(sam(Builder=function({"NewReports": {"Type": "DynamoDB", "Properties": stream}}))))
    with pytest.raises(CannotEmulate, match="^stream trigger NewReports of Builder: " + re.escape(reason)):
        Triggers(stack, lambda *_: None, None, print)


def test_stream_and_queue_mappings_run_others_are_refused_and_a_disabled_one_does_not() -> None:
    queue = {"Queue": {"Type": "SQS", "Properties": {"Queue": {"Fn::GetAtt": ["Work", "Arn"]}}}}
    stack = describe(translate(sam(Work={"Type": "AWS::SQS::Queue"}, Builder=function(queue))))
    (taken,) = Triggers(stack, lambda *_: None, None, print).queues
    assert (taken.name, taken.batch_size) == ("queue trigger Queue of Builder", 10)
    large = {"Queue": {"Type": "SQS", "Properties": {"Queue": {"Fn::GetAtt": ["Work", "Arn"]}, "BatchSize": 100}}}
    stack = describe(translate(sam(Work={"Type": "AWS::SQS::Queue"}, Builder=function(large))))
    with pytest.raises(CannotEmulate, match=r"^queue trigger Queue of Builder: cannot deliver batches of 100"):
        Triggers(stack, lambda *_: None, None, print)
    stream = {"Stream": "arn:aws:kinesis:ap-southeast-3:1:stream/s", "StartingPosition": "LATEST"}
    kinesis = {"Feed": {"Type": "Kinesis", "Properties": stream}}
    stack = describe(translate(sam(Builder=function(kinesis))))
    with pytest.raises(CannotEmulate, match=r"^stream trigger Feed of Builder: .* DynamoDB stream mappings only, not"):
        Triggers(stack, lambda *_: None, None, print)
    off = {"Stream": STREAM, "StartingPosition": "LATEST", "Enabled": False}
    stack = describe(translate(sam(Builder=function({"Off": {"Type": "DynamoDB", "Properties": off}}))))
    assert Triggers(stack, lambda *_: None, None, print).triggers == []


def test_a_function_the_local_stack_cannot_run_is_refused() -> None:
    remote = function(CodeUri="s3://somewhere/code.zip")
    with pytest.raises(CannotEmulate, match=r"^function F: its code is not a local folder"):
        describe(translate(sam(F=remote)))
    node = function(Runtime="nodejs22.x")
    with pytest.raises(CannotEmulate, match=r"^function F: the local stack runs Python functions only"):
        describe(translate(sam(F=node)))


def test_a_schedule_that_targets_no_function_of_the_template_is_refused() -> None:
    target = {"Arn": "arn:aws:lambda:ap-southeast-3:123456789012:function:elsewhere", "RoleArn": "arn:aws:iam::1:r"}
    schedule = {
        "Type": "AWS::Scheduler::Schedule",
        "Properties": {"ScheduleExpression": "rate(1 hour)", "FlexibleTimeWindow": {"Mode": "OFF"}, "Target": target},
    }
    stack = describe(translate(sam(Elsewhere=schedule, F=function())))
    with pytest.raises(CannotEmulate, match=r"^the target of schedule Elsewhere names arn:aws:lambda:.*:elsewhere, "):
        Schedules(stack, lambda *_: None, print)


# The event source mapping's failure policy -----------------------------------------------------------------


class Stream:
    """A one-shard stream of records numbered from 0, each created ``age`` ago (as boto3 gives it: a datetime)."""

    def __init__(self, count: int, age: timedelta = timedelta(0)) -> None:
        created = datetime.now(UTC) - age
        self.records = [
            {"eventName": "INSERT", "dynamodb": {"SequenceNumber": str(n), "ApproximateCreationDateTime": created}}
            for n in range(count)
        ]

    def describe_stream(self, StreamArn: str) -> dict[str, Any]:
        return {"StreamDescription": {"Shards": [{"ShardId": "shard-1"}]}}

    def get_shard_iterator(self, **_: Any) -> dict[str, Any]:
        return {"ShardIterator": "it"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        new, self.records = self.records, []
        return {"Records": new, "NextShardIterator": ShardIterator}


class Queue:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send_message(self, QueueUrl: str, MessageBody: str) -> None:
        self.sent.append((QueueUrl, json.loads(MessageBody)))


def mapping(**properties: Any) -> Stack:
    """A function on a stream, giving up after the mapping's limits onto the queue Failed."""
    stream = {"Stream": STREAM, "StartingPosition": "TRIM_HORIZON", "BatchSize": 4, **properties}
    failed = {"OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["Failed", "Arn"]}}}
    events = {"NewReports": {"Type": "DynamoDB", "Properties": {**stream, "DestinationConfig": failed}}}
    return describe(translate(sam(Failed={"Type": "AWS::SQS::Queue"}, Builder=function(events))))


def test_a_function_error_bisects_the_batch_and_a_record_that_keeps_failing_goes_to_the_failure_queue() -> None:
    stack = mapping(BisectBatchOnFunctionError=True, MaximumRetryAttempts=1)
    delivered: list[list[str]] = []

    def invoke(_: str, event: dict[str, Any]) -> None:
        numbers = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        delivered.append(numbers)
        if "2" in numbers:
            raise RuntimeError("poison")

    queue, lines = Queue(), list[str]()
    triggers = Triggers(stack, invoke, Stream(4), lines.append, sqs=queue, backoff=0)
    for _ in range(8):
        triggers.step()  # logs a function error; the batch is tried again on the next round
    # the whole batch, its halves, then the poison record alone: tried, retried once, given up on
    assert delivered == [["0", "1", "2", "3"], ["0", "1"], ["2", "3"], ["2"], ["2"], ["3"]]
    ((url, failure),) = queue.sent
    assert url == stack.refs["Failed"]
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["functionArn"] == stack.attributes[("Builder", "Arn")]
    assert failure["requestContext"]["approximateInvokeCount"] == 2
    assert failure["responseContext"]["functionError"] == "Unhandled"
    info = failure["DDBStreamBatchInfo"]
    assert {k: info[k] for k in ("shardId", "startSequenceNumber", "endSequenceNumber", "batchSize", "streamArn")} == {
        "shardId": "shard-1",
        "startSequenceNumber": "2",
        "endSequenceNumber": "2",
        "batchSize": 1,
        "streamArn": STREAM,
    }
    assert lines == [
        *["stream trigger of Builder failed: poison"] * 3,
        "stream trigger NewReports of Builder: gave up on 1 record(s) (RetryAttemptsExhausted)",
    ]


def test_records_past_their_maximum_age_go_to_the_failure_queue_and_the_event_is_lambdas() -> None:
    stack = mapping(MaximumRecordAgeInSeconds=60, FunctionResponseTypes=["ReportBatchItemFailures"])
    events: list[dict[str, Any]] = []

    def invoke(_: str, event: dict[str, Any]) -> dict[str, Any]:
        events.append(event)
        return {"batchItemFailures": [{"itemIdentifier": "1"}]}

    queue = Queue()
    triggers = Triggers(stack, invoke, Stream(3, age=timedelta(minutes=2)), print, sqs=queue, backoff=0)
    triggers.drain()
    assert len(events) == 1  # record 0 went through; 1 (and 2 after it) are too old to retry
    created = events[0]["Records"][0]["dynamodb"]["ApproximateCreationDateTime"]
    assert isinstance(created, int)  # epoch seconds, as Lambda sends them (boto3 gives a datetime)
    ((_, failure),) = queue.sent
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"
    assert "functionError" not in failure["responseContext"]
    info = failure["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == ("1", "2", 2)
    assert triggers.triggers[0].pending == []


def test_without_limits_a_failing_batch_is_retried() -> None:
    stack = mapping()
    queue, calls = Queue(), list[int]()

    def invoke(_: str, event: dict[str, Any]) -> None:
        calls.append(len(event["Records"]))
        raise RuntimeError("down")

    triggers = Triggers(stack, invoke, Stream(2), print, sqs=queue, backoff=0)
    for _ in range(3):
        with pytest.raises(RuntimeError):
            triggers.poll(triggers.triggers[0], flush=True)
    assert (calls, queue.sent, len(triggers.triggers[0].pending)) == ([2, 2, 2], [], 2)


# How it is built ---------------------------------------------------------------------------------------------


def test_the_translation_needs_no_cfn_lint() -> None:
    """The `local` extra installs aws-sam-translator, not cfn-lint: the template is parsed by kanal_local's loader."""
    code = (
        "import sys; sys.modules['cfnlint'] = None\n"
        "from kanal_local.template import describe, translate\n"
        "print(len(describe(translate()).functions))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)  # noqa: S603
    assert (done.returncode, done.stdout.strip()) == (0, "9"), done.stderr


def test_the_local_stack_uses_moto_through_its_public_pieces_only() -> None:
    """Outside the documented fixes of moto (moto_transactions, moto_apigateway), kanal_local imports from moto only
    the public names that moto.server itself serves with, and reaches no private attribute of moto's server."""
    import moto.server

    served = {
        alias.name
        for node in ast.walk(ast.parse(Path(moto.server.__file__).read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    package = Path(template_module.__file__).parent
    for module in sorted(package.glob("*.py")):
        if module.name in ("moto_transactions.py", "moto_apigateway.py"):
            continue
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("moto"):
                names = {alias.name for alias in node.names}
                assert names <= served, (module.name, names - served)
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("moto") for a in node.names), module.name
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
                # moto's server is held as ``server`` (Emulator.server, the moto_server() it returns)
                owner = node.value.attr if isinstance(node.value, ast.Attribute) else getattr(node.value, "id", "")
                assert owner != "server", (module.name, node.lineno, node.attr)
