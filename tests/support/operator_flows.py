"""What the tests of the operator's commands share: the partner API over HTTP on the moto stack, the table's stream
delivered to the case builder as the smoke waits, and the flows that drive every operator command as OperatorRole
(tests/component/test_iam.py records them; tests/support/iam.py checks them against OperatorRole's statements).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from kanal_local.gateway import Api, make_server
from kanal_local.template import Stack

from tests.support import iam
from tests.support.lambdas import REGION, LambdaContext, as_function, env, load_function, stream_records


@contextmanager
def partner_api(stack: Stack) -> Iterator[str]:
    """The partner API (the template's routes, its REQUEST authorizer) served by the local gateway on a free port of
    127.0.0.1, in front of the real handlers on the moto stack; its base URL."""
    handlers = {
        name: as_function(stack, name, load_function(code).lambda_handler)
        for name, code in (("AuthorizerFunction", "authorizer"), ("IntakeFunction", "intake"))
    }
    one_at_a_time = threading.Lock()  # one execution environment: Powertools' resolver is per process

    def invoke(logical_id: str, event: dict[str, Any]) -> Any:
        with one_at_a_time:
            return handlers[logical_id](event, LambdaContext())

    server = make_server([Api.from_stack(stack, "Api")], invoke, "127.0.0.1", 0, lambda line: None)
    thread = threading.Thread(target=server.serve_forever, name="partner-api", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class StreamPump:
    """The table's stream as Lambda delivers it to the case builder: each new report's INSERT once, and each case's
    write from received to decided (its decision, for the figures); records that were on the stream when the pump
    was made are not delivered."""

    case_builder: Callable[[dict[str, Any]], dict[str, Any]]
    table: str = field(default_factory=lambda: env("TABLE_NAME"))
    seen: set[str] = field(default_factory=set)
    #: With a stack: what EventsFunction's mapping lets through goes to it too (the partner's feed and webhooks).
    stack: Stack | None = None

    def __post_init__(self) -> None:
        self.seen = {r["dynamodb"]["SequenceNumber"] for r in self._records()}

    def _records(self) -> list[dict[str, Any]]:
        return stream_records(boto3.client("dynamodb", region_name=REGION), self.table)

    def __call__(self, _seconds: float = 0) -> None:
        """Deliver what is new (the smoke's pause between two looks)."""
        fresh = [r for r in self._records() if r["dynamodb"]["SequenceNumber"] not in self.seen]
        self.seen.update(r["dynamodb"]["SequenceNumber"] for r in fresh)
        reports = [r for r in fresh if (r["eventName"] == "INSERT" and _sk(r) == "REPORT") or _decided(r)]
        if reports:
            assert self.case_builder({"Records": reports}) == {"batchItemFailures": []}
        if self.stack is not None:
            from tests.support.webhooks import events_filter, events_function

            told = [r for r in fresh if events_filter(self.stack)(r)]
            if told:
                assert events_function(self.stack)({"Records": told}) == {"batchItemFailures": []}


def _decided(record: dict[str, Any]) -> bool:
    images = record["dynamodb"]
    new, old = images.get("NewImage", {}), images.get("OldImage", {})
    return (
        record["eventName"] == "MODIFY"
        and _sk(record) == "CASE"
        and new.get("status", {}).get("S") == "decided"
        and old.get("status", {}).get("S") == "received"
    )


def _sk(record: dict[str, Any]) -> str | None:
    sk: str | None = record["dynamodb"].get("NewImage", {}).get("sk", {}).get("S")
    return sk


def scan_keys() -> set[tuple[str, str]]:
    """Every item's key in the table (tests only: kanal itself never scans)."""
    client = boto3.client("dynamodb", region_name=REGION)
    keys: set[tuple[str, str]] = set()
    for page in client.get_paginator("scan").paginate(TableName=env("TABLE_NAME")):
        keys |= {(i["pk"]["S"], i["sk"]["S"]) for i in page["Items"]}
    return keys


def run_cli(*argv: str, principal: str | None = "operator") -> tuple[int, str, str]:
    """`kanal ARGV` in this process (as ``principal``, whose AWS calls are recorded): exit status, stdout, stderr."""
    from kanal_cli.cli import main

    out, err = io.StringIO(), io.StringIO()
    acting = iam.acting_as(principal) if principal else contextlib.nullcontext()
    with acting, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@contextmanager
def hidden_table() -> Iterator[None]:
    """No table (nor reviewer API) named in the environment: the CLI reads the stack's outputs, as on AWS."""
    hidden = {
        n: os.environ.pop(n) for n in ("TABLE_NAME", "KANAL_REVIEW_API_URL", "KANAL_USAGE_PLAN_ID") if n in os.environ
    }
    try:
        yield
    finally:
        os.environ.update(hidden)


def signed_as(name: str) -> Callable[[str], tuple[Any, str | None]]:
    """``smoke.profile_credentials`` for a profile whose credentials are a ReviewerRole session named ``name`` (the
    in-process gateway takes the access key id as the session's name)."""
    from botocore.credentials import Credentials

    return lambda profile: (Credentials(name, "secret", "token"), REGION)


def reviewer_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reviewer API's transport (as the stack fixture gives `kanal review`), its requests made as the reviewer
    principal: `kanal smoke`'s reviewer steps are the reviewer's, signed with the reviewer profile's credentials."""
    import kanal_cli.reviewer

    transport = kanal_cli.reviewer.http_send

    def as_reviewer(url: str, headers: Any, timeout: int = 30) -> Any:
        send = transport(url, headers, timeout)

        def sent(method: str, path: str, body: dict[str, Any] | None) -> Any:
            with iam.acting_as("reviewer"):
                return send(method, path, body)

        return sent

    monkeypatch.setattr("kanal_cli.reviewer.http_send", as_reviewer)


def ok(stack_name: str, *argv: str) -> Any:
    """`kanal --stack-name STACK ARGV` as an operator (OperatorRole's session): what it printed, as JSON if it is."""
    code, out, err = run_cli("--stack-name", stack_name, *argv)
    assert code == 0, (argv, err)
    lines = [line for line in out.splitlines() if not line.startswith('{"level"') and not line.startswith('{"_aws"')]
    text = "\n".join(lines)
    return json.loads(text) if text.strip().startswith(("{", "[")) else text


def failure_messages(dynamodb: Any, sqs: Any, table: str, report_ids: tuple[str, str]) -> None:
    """The case builder's failure queue as Lambda and the function fill it: the first report's stream record parked
    (refused), and a failure of the mapping naming the second's (its records still on the stream)."""
    from kanal.adapters.sqs import PARKED

    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in streams.get_records(ShardIterator=iterator)["Records"]:
            image = record["dynamodb"].get("NewImage", {})
            if record["eventName"] == "INSERT" and image.get("report_id", {}).get("S") in report_ids:
                found[image["report_id"]["S"]] = (shard["ShardId"], json.loads(json.dumps(record, default=str)))
    parked, failed = (found[r] for r in report_ids)
    queue = env("CASE_BUILDER_FAILURE_QUEUE_URL")
    sqs.purge_queue(QueueUrl=queue)  # what the functions' flows parked there (a poison record) is theirs
    body = {"kind": PARKED, "reason": "refused", "detail": "ValidationException: (a fault, since fixed)"}
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({**body, "record": parked[1]}))
    sequence = failed[1]["dynamodb"]["SequenceNumber"]
    info = {"shardId": failed[0], "streamArn": arn, "startSequenceNumber": sequence, "endSequenceNumber": sequence}
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"requestContext": {}, "DDBStreamBatchInfo": info}))


def legacy_partner() -> str:
    """A partner made before limits: a key, and no usage key (its requests would be refused 403); its id."""
    from kanal import clock, wiring
    from kanal.models import PartnerKind
    from kanal.partners import Partners

    return (
        Partners(wiring.services().partners.directory)
        .create("Panwaslu Lama", PartnerKind.ELECTION_AGENCY, clock.now())
        .partner.partner_id
    )


def drive_operator_commands(
    stack: Stack, stack_name: str, api: Callable[[dict[str, Any]], dict[str, Any]], case_builder: Any, sqs: Any
) -> None:
    """Every operator command as an operator runs it on AWS, with OperatorRole's session: `kanal --stack-name STACK
    ...` with no table named, so each reads the stack's outputs. Partners (create, list, add-key, revoke-key,
    subscribe), reminders list (everyone's, one partner's), cases replay (a parked record and a failed batch, one
    case urgent and one normal), cases show, and `kanal smoke`, whose reviewer steps are the reviewer's (signed with
    --reviewer-profile's credentials) and whose partner steps go to the partner API over HTTP."""
    from tests.support.reports import body_of, post, report_body

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    table = env("TABLE_NAME")
    with pytest.MonkeyPatch.context() as patch, hidden_table():
        created = ok(stack_name, "partners", "create", "--name", "Panwaslu Kota", "--kind", "election_agency")
        partner = created["partner_id"]
        assert partner in {p["partner_id"] for p in ok(stack_name, "partners", "list")}
        added = ok(stack_name, "partners", "add-key", "--partner-id", partner)
        ok(stack_name, "partners", "revoke-key", "--partner-id", partner, "--key-id", created["key_id"])
        # Limits: a plan of the partner's own, changed in place, then the default again; and a partner made before
        # limits (no usage key) brought onto the API.
        assert ok(stack_name, "partners", "set-limits", "--partner-id", partner, "--rate", "5")["own"] is True
        changed = ok(stack_name, "partners", "set-limits", "--partner-id", partner, "--burst", "7", "--quota", "900")
        assert changed["limits"] == {"rate": 5.0, "burst": 7, "quota": 900, "period": "DAY"}
        assert ok(stack_name, "partners", "limits", "--partner-id", partner)["plan_id"] == changed["plan_id"]
        assert ok(stack_name, "partners", "set-limits", "--partner-id", partner, "--default")["own"] is False
        legacy = legacy_partner()
        assert ok(stack_name, "partners", "set-limits", "--partner-id", legacy, "--default")["own"] is False
        subscribe = ["--partner-id", partner, "--protocol", "email", "--endpoint", "pengawasan@example.org"]
        assert ok(stack_name, "partners", "subscribe", *subscribe)["subscription_arn"]
        ok(stack_name, "reminders", "list")
        ok(stack_name, "reminders", "list", "--partner", partner)
        assert added["key_id"]

        # Two reports whose stream records the case builder never took: one parked, one in a failed batch.
        video = "https://www.tiktok.com/@panwaslu/video/73100000000000000"
        receipts = [
            body_of(api(post(partner, report_body(content_url=f"{video}{n}", category=category))))
            for n, category in enumerate(("synthetic_media", "misinformation"))
        ]
        failure_messages(dynamodb, sqs, table, (receipts[0]["report_id"], receipts[1]["report_id"]))
        assert ok(stack_name, "cases", "replay") == {"attached": 2, "still_failing": 0, "expired": 0}
        shown = ok(stack_name, "cases", "show", receipts[0]["case_id"])
        assert {"report_attached", "received"} <= {e["kind"] for e in shown["history"]}

        from kanal_cli import smoke

        patch.setattr(smoke, "pause", StreamPump(case_builder, table, stack=stack))
        patch.setattr(smoke, "profile_credentials", signed_as("kanal-smoke"))
        reviewer_sends(patch)
        with partner_api(stack) as url:
            patch.setenv("KANAL_API_URL", url)
            # As an operator types it after `sam deploy`: the stack named after the command.
            argv = ["--stack-name", stack_name, "--reviewer-profile", "kanal-smoke", "--wait", "0", "--timeout", "5"]
            code, out, err = run_cli("smoke", *argv)
        assert code == 0, (out, err)
