"""IAM conformance: the AWS calls kanal's code makes in the tests, checked against the template's statements.

moto does not enforce IAM (it checks DynamoDB and SNS against resource ``*`` and never evaluates
``dynamodb:LeadingKeys``), so the tests record each call instead and evaluate it here:

- ``translated()``: template.yaml as SAM translates it, offline, once per process; the roles that SAM makes
  for the functions come out with concrete statements.
- ``RECORDER``: every call that kanal's own botocore session makes while a principal acts (``acting_as``,
  which ``tests.conftest.load_function`` puts around each handler) is recorded with where in kanal it was made.
- ``requests_of``: the IAM requests one call is authorized as (action, resource ARN, condition keys): one per
  item of a transaction (each item is its own action), one per table of a batch with all its items' leading
  keys (``dynamodb:LeadingKeys`` is multivalued for that reason).
- ``Conformance``: the principals' statements, resolved against a stack (``kanal_local.template.Stack``),
  and the checks both ways: ``denied`` (a call that no statement allows) and ``unused`` (a grant that no call
  uses); ``redundant`` says which actions and leading keys could be dropped without any call being denied.

The evaluator knows Allow statements with Action and Resource (``*`` and ``?`` wildcards) and the conditions
StringEquals and StringLike (plain, ForAllValues, ForAnyValue) on the keys in ``CONDITION_KEYS``. Anything
else in a statement raises ``Unsupported``: a policy this module cannot read must not pass as allowed. Managed
policies (``ManagedPolicyArns``: SAM's logging, X-Ray and stream-reading policies for Lambda itself) are not
evaluated, so a call that only they would allow is reported as denied.

This is test code: the layer (layers/kanal/kanal) ships to Lambda and never imports it or samtranslator.
"""

from __future__ import annotations

import contextvars
import copy
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache, wraps
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from kanal_local.template import ACCOUNT, Stack, load, translate

from tests.support import ROOT

TEMPLATE = ROOT / "template.yaml"
LAYER = ROOT / "layers" / "kanal" / "kanal"

#: Who makes AWS calls -> the logical id whose IAM statements bind it: a function (the role SAM makes for it,
#: or the one its Role names) or an AWS::IAM::Role. Adding a principal is one line here, plus the flows in
#: tests/component/test_iam.py that drive its code; a function of the template missing here fails test_iam.
PRINCIPALS: dict[str, str] = {
    "AuthorizerFunction": "AuthorizerFunction",
    "IntakeFunction": "IntakeFunction",
    "CaseBuilderFunction": "CaseBuilderFunction",
    "ReminderFunction": "ReminderFunction",
    "ReviewFunction": "ReviewFunction",
    "EventsFunction": "EventsFunction",
    "DeliveryFunction": "DeliveryFunction",
    "EvidenceFunction": "EvidenceFunction",
    "StatsExportFunction": "StatsExportFunction",
    #: The reviewer commands (`kanal review`), run with ReviewerRole's credentials.
    "reviewer": "ReviewerRole",
    #: The operator commands (`kanal partners`, `cases show/replay`, `reminders list`, `smoke`'s own steps), run with
    #: OperatorRole's credentials.
    "operator": "OperatorRole",
}

#: Policies that SAM adds to a function's role for Lambda itself, not for the function's code: no code path
#: needs to use them (they are exempt from ``unused`` and ``redundant``), but they do allow (``denied``).
#: A SAM-made policy that matches none of these fails ``Conformance``: say why it is there, or write it.
SERVICE_POLICIES: dict[str, str] = {
    r"DeadLetterQueuePolicy": "Lambda sends an asynchronous invocation that failed to the function's DeadLetterQueue",
    r"\w+SQSPolicy": "the event source mapping sends what it gave up on to its OnFailure destination",
}

#: Condition keys the evaluator knows; any other in a statement raises Unsupported.
CONDITION_KEYS = frozenset({"dynamodb:leadingkeys", "cloudwatch:namespace"})

#: botocore's service name -> IAM's action prefix.
IAM_PREFIX = {
    "dynamodb": "dynamodb",
    "dynamodbstreams": "dynamodb",
    "sqs": "sqs",
    "sns": "sns",
    "kms": "kms",
    "s3": "s3",
    "cloudwatch": "cloudwatch",
    "cloudformation": "cloudformation",
    "scheduler": "scheduler",
    "sts": "sts",
    # API Gateway's management API: authorized as its HTTP method on the path (apigateway:POST on /apikeys).
    "apigateway": "apigateway",
    # Not botocore: a signed HTTP request to an API Gateway API (recorded with ``record``).
    "execute-api": "execute-api",
}

#: Stands in for AWS::StackId's random part: the stack's own id, whatever it is.
STACK_ID_SUFFIX = "*"


class Unsupported(Exception):
    """A statement, condition or call this module cannot evaluate: fail, never allow by default."""


# --- The translated template -------------------------------------------------------------------------------


@cache
def translated(path: Path = TEMPLATE) -> dict[str, Any]:
    """template.yaml as SAM translates it (once per process; callers must not change it): the local stack's
    translation, ``kanal_local.template.translate`` (also ``iam.translate``, for templates changed by a test)."""
    return translate(load(path))


def role_of(logical_id: str, template: Mapping[str, Any]) -> str:
    """The AWS::IAM::Role whose statements bind ``logical_id`` (a function, translated, or a role)."""
    resource = template["Resources"].get(logical_id)
    if resource is None:
        raise KeyError(f"{logical_id} is not in the translated template")
    if resource["Type"] == "AWS::IAM::Role":
        return logical_id
    if resource["Type"] == "AWS::Lambda::Function":
        role = resource["Properties"]["Role"]
        if isinstance(role, dict) and "Fn::GetAtt" in role:
            target = role["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else target.split(".", 1)[0])
        raise Unsupported(f"{logical_id}'s Role is {role!r}, not a role of this template")
    raise Unsupported(f"{logical_id} is a {resource['Type']}, neither a function nor a role")


@dataclass(frozen=True)
class Statement:
    """One IAM statement of a principal's role, as the template has it (intrinsics resolved or not)."""

    role: str
    policy: str
    position: int
    body: Mapping[str, Any]
    #: Why SAM added it for Lambda itself; None when the template writes it.
    service_reason: str | None = None

    @property
    def written(self) -> bool:
        """Whether the template writes it (and so every grant in it must be used)."""
        return self.service_reason is None

    @property
    def where(self) -> str:
        """Its place: role / policy #position (1-based)."""
        return f"{self.role} / {self.policy} #{self.position + 1}"

    @property
    def actions(self) -> list[str]:
        """Its Action as a list."""
        return _listed(self.body.get("Action"))

    @property
    def resources(self) -> list[str]:
        """Its Resource as a list."""
        return _listed(self.body.get("Resource"))

    @property
    def conditions(self) -> list[tuple[str, str, list[str]]]:
        """(operator, key, values) for each condition."""
        found = []
        for operator, tests in (self.body.get("Condition") or {}).items():
            for key, values in tests.items():
                found.append((operator, key, _listed(values)))
        return found

    def __str__(self) -> str:
        shown = {k: v for k, v in self.body.items() if k != "Effect"}
        return f"{self.where}: {json.dumps(shown, separators=(', ', ': '))}"

    def allows(self, request: Request) -> bool:
        """Whether this statement allows ``request``; Unsupported for what it cannot evaluate."""
        self.check_supported()
        return (
            any(_like(request.action, a, case=False) for a in self.actions)
            and any(_like(request.resource, r) for r in self.resources)
            and all(_condition(op, key, values, request) for op, key, values in self.conditions)
        )

    def check_supported(self) -> None:
        """Raise Unsupported unless every part of the statement is one this module evaluates."""
        unknown = set(self.body) - {"Sid", "Effect", "Action", "Resource", "Condition"}
        if unknown:
            raise Unsupported(f"{self.where}: {sorted(unknown)} are not evaluated here")
        if self.body.get("Effect") != "Allow":
            raise Unsupported(f"{self.where}: Effect {self.body.get('Effect')!r} (only Allow is evaluated)")
        for text in [*self.actions, *self.resources]:
            if not isinstance(text, str):
                raise Unsupported(f"{self.where}: {text!r} is not resolved to a string")
        for operator, key, values in self.conditions:
            _operator(operator)
            if key.lower() not in CONDITION_KEYS:
                raise Unsupported(f"{self.where}: condition key {key} is not evaluated here")
            for value in values:
                if not isinstance(value, str) or "${" in value:
                    raise Unsupported(f"{self.where}: condition value {value!r} (policy variables are not evaluated)")


def statements_of(logical_id: str, template: Mapping[str, Any]) -> list[Statement]:
    """The inline statements of ``logical_id``'s role in the translated template (intrinsics as they are)."""
    role = role_of(logical_id, template)
    for other, resource in template["Resources"].items():
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::RolePolicy", "AWS::IAM::ManagedPolicy"):
            names = json.dumps(resource.get("Properties", {}).get("Roles", [])) + json.dumps(
                resource.get("Properties", {}).get("RoleName", "")
            )
            if f'"{role}"' in names:
                raise Unsupported(f"{other} attaches statements to {role}: evaluate {resource['Type']} here first")
    found: list[Statement] = []
    # SAM names the role it makes <Function>Role and the policies of the function's Policies <Function>RolePolicy<N>.
    written = re.compile(rf"{re.escape(logical_id)}RolePolicy\d+")
    made_by_sam = role == f"{logical_id}Role"
    for policy in template["Resources"][role]["Properties"].get("Policies", []):
        name = str(policy["PolicyName"])
        reason = None
        if made_by_sam and not written.fullmatch(name):
            reason = next((why for pattern, why in SERVICE_POLICIES.items() if re.fullmatch(pattern, name)), None)
            if reason is None:
                raise Unsupported(
                    f"SAM added policy {name} to {role}; add why to SERVICE_POLICIES in tests/support/iam.py, or "
                    f"write it in {logical_id}'s Policies"
                )
        body = policy["PolicyDocument"]["Statement"]
        for position, statement in enumerate(body if isinstance(body, list) else [body]):
            found.append(Statement(role, name, position, statement, reason))
    return found


# --- Recording ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One AWS call made by kanal's code for a principal."""

    principal: str
    service: str
    operation: str
    params: Mapping[str, Any]
    #: Where in kanal the call was made: the innermost frames of the layer, "function (file:line) < caller (...)".
    origin: str

    def __str__(self) -> str:
        return f"{self.service}.{self.operation} from {self.origin}"


_PRINCIPAL: contextvars.ContextVar[str | None] = contextvars.ContextVar("kanal_iam_principal", default=None)
F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def acting_as(principal: str) -> Iterator[None]:
    """Record the AWS calls kanal makes meanwhile (in this thread or task) as ``principal``'s."""
    token = _PRINCIPAL.set(principal)
    try:
        yield
    finally:
        _PRINCIPAL.reset(token)


def as_principal(principal: str, function: F) -> F:
    """``function``, run as ``principal`` (a handler as its function runs it on Lambda)."""

    @wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        with acting_as(principal):
            return function(*args, **kwargs)

    return run  # type: ignore[return-value]


def _origin(depth: int = 2) -> str:
    """The innermost ``depth`` frames in kanal's layer (outside the client factory), innermost first."""
    frame = sys._getframe(1)
    layer = str(LAYER)
    found: list[str] = []
    while frame is not None and len(found) < depth:
        path = frame.f_code.co_filename
        if path.startswith(layer) and not path.endswith("adapters/aws.py"):
            where = Path(path).relative_to(LAYER.parent)
            found.append(f"{frame.f_code.co_qualname} ({where}:{frame.f_lineno})")
        frame = frame.f_back  # type: ignore[assignment]
    return " < ".join(found) or "outside kanal's layer"


@dataclass
class Recorder:
    """Collects the calls of the botocore sessions it is attached to, while a principal acts."""

    calls: list[Call] = field(default_factory=list)

    def attach(self, session: Any) -> Any:
        """Record ``session``'s calls from now on (clients made later inherit the handler); the session."""
        session.register("before-parameter-build", self._record, unique_id="kanal-iam-recorder")
        return session

    def _record(self, params: Mapping[str, Any], model: Any, **_: Any) -> None:
        principal = _PRINCIPAL.get()
        if principal is None:  # test setup, or a check of what was stored: nobody's call
            return
        service = str(model.service_model.service_name)
        self.calls.append(Call(principal, service, str(model.name), copy.deepcopy(dict(params)), _origin()))

    def clear(self) -> None:
        """Forget what was recorded."""
        self.calls.clear()


#: The recorder of the test process (tests.conftest attaches it to every session kanal makes).
RECORDER = Recorder()


def record(service: str, operation: str, params: Mapping[str, Any]) -> None:
    """Record a call made without botocore (a signed HTTP request to an API) for the principal acting now."""
    principal = _PRINCIPAL.get()
    if principal is not None:
        RECORDER.calls.append(Call(principal, service, operation, dict(params), _origin(3)))


def hook_sessions(aws: Any) -> Callable[[], None]:
    """Make ``kanal.adapters.aws`` attach RECORDER to each session it makes; the function that undoes it."""
    original = aws._session
    made = original.__wrapped__

    @cache
    def recorded_session() -> Any:
        return RECORDER.attach(made())

    aws._session = recorded_session
    aws._client.cache_clear()

    def undo() -> None:
        aws._session = original
        aws._client.cache_clear()

    return undo


@cache
def principal_of_code(directory: str) -> str:
    """The function of the template whose CodeUri is functions/<directory>/ (its handler runs as it)."""
    from kanal_local.template import load

    functions: dict[str, str] = {
        str(r["Properties"]["CodeUri"]).strip("/"): logical
        for logical, r in load(TEMPLATE)["Resources"].items()
        if r["Type"] == "AWS::Serverless::Function"
    }
    return functions[f"functions/{directory}"]


# --- Calls as IAM requests ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """What IAM authorizes: an action on a resource, with the request's condition keys."""

    action: str
    resource: str
    keys: Mapping[str, tuple[str, ...]]
    call: Call

    def __str__(self) -> str:
        keys = "".join(f", {k}={_few(v)}" for k, v in self.keys.items())
        return f"{self.action} on {self.resource}{keys}"


def _few(values: Sequence[str], shown: int = 4) -> str:
    more = f"|... ({len(values) - shown} more)" if len(values) > shown else ""
    return "|".join(values[:shown]) + more


@dataclass(frozen=True)
class Names:
    """How a call's parameters name resources: the stack's region and account, the tables' key schemas."""

    region: str
    account: str
    #: table name -> {None: the table's partition key, index name: the index's}
    partition_keys: Mapping[str, Mapping[str | None, str]]
    #: table name -> its stream's ARN in the stack (a stream's label is the time it was made: calls recorded on
    #: another instance of the stack name another label, and are the same calls)
    streams: Mapping[str, str] = field(default_factory=dict)
    #: The stack's KMS keys' ARNs (a key's id is random: calls recorded on another instance of the stack name
    #: another id, and are the same calls)
    keys: tuple[str, ...] = ()

    @classmethod
    def of(cls, stack: Stack) -> Names:
        """The names of a stack created by kanal_local.template.create_stack."""
        keys: dict[str, dict[str | None, str]] = {}
        streams: dict[str, str] = {}
        for logical, resource in stack.of_type("AWS::DynamoDB::Table").items():
            props = resource["Properties"]
            schema: dict[str | None, str] = {None: _hash_key(props["KeySchema"])}
            for index in props.get("GlobalSecondaryIndexes", []) + props.get("LocalSecondaryIndexes", []):
                schema[index["IndexName"]] = _hash_key(index["KeySchema"])
            keys[str(stack.refs[logical])] = schema
            if (logical, "StreamArn") in stack.attributes:
                streams[str(stack.refs[logical])] = str(stack.attributes[(logical, "StreamArn")])
        kms = tuple(str(stack.attributes[(logical, "Arn")]) for logical in stack.of_type("AWS::KMS::Key"))
        return cls(stack.region, ACCOUNT, keys, streams, kms)

    def key_arn(self, key: str) -> str:
        """A KMS key as the stack names it, whatever random id the recorded one has (one key per stack; a second
        would need telling apart)."""
        if len(self.keys) > 1:
            raise Unsupported("more than one KMS key in the stack: say how recorded calls name each")
        return self.keys[0] if self.keys and key.startswith(f"arn:aws:kms:{self.region}:{self.account}:key/") else key

    def table_arn(self, table: str) -> str:
        """A table's ARN from its name (or its ARN)."""
        return table if table.startswith("arn:") else f"arn:aws:dynamodb:{self.region}:{self.account}:table/{table}"

    def partition_key(self, table: str, index: str | None = None) -> str:
        """The partition key attribute of a table or one of its indexes."""
        name = table.rsplit("/", 1)[-1]
        try:
            return self.partition_keys[name][index]
        except KeyError:
            raise Unsupported(f"no key schema for table {name!r} index {index!r} in the template") from None

    def stream_arn(self, arn: str) -> str:
        """A table's stream ARN as the stack names it (whatever label the recorded one has)."""
        table = arn.split("/stream/", 1)[0].rsplit("/", 1)[-1]
        return self.streams.get(table, arn)

    def queue_arn(self, url: str) -> str:
        """A queue's ARN from its URL (https://sqs.<region>.amazonaws.com/<account>/<name>, or an emulator's)."""
        parsed = urlparse(url)
        parts = parsed.path.strip("/").split("/")
        if len(parts) != 2:
            raise Unsupported(f"not a queue URL: {url}")
        host = parsed.hostname or ""
        region = host.split(".")[1] if host.startswith("sqs.") and host.count(".") >= 3 else self.region
        return f"arn:aws:sqs:{region}:{parts[0]}:{parts[1]}"

    def stack_arn(self, name: str) -> str:
        """A stack's ARN from its name (its id is STACK_ID_SUFFIX) or its ARN."""
        if name.startswith("arn:"):
            return name
        return f"arn:aws:cloudformation:{self.region}:{self.account}:stack/{name}/{STACK_ID_SUFFIX}"


def _hash_key(schema: Sequence[Mapping[str, str]]) -> str:
    return next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")


def _scalar(attribute: Any) -> str:
    """The value of a typed DynamoDB attribute ({"S": "CASE#1"} -> "CASE#1")."""
    if isinstance(attribute, Mapping) and len(attribute) == 1:
        ((kind, value),) = attribute.items()
        if kind in ("S", "N", "B"):
            return str(value)
    raise Unsupported(f"not a key attribute: {attribute!r}")


def _leading(names: Names, table: str, item: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    key = names.partition_key(table)
    if key not in item:
        raise Unsupported(f"no partition key {key!r} in {sorted(item)}")
    return {"dynamodb:LeadingKeys": (_scalar(item[key]),)}


def _queried_key(names: Names, params: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """The partition key value a Query names in its KeyConditionExpression (the index's, on an index)."""
    table, index = str(params["TableName"]), params.get("IndexName")
    key = names.partition_key(table, index)
    aliases = params.get("ExpressionAttributeNames") or {}
    values = params.get("ExpressionAttributeValues") or {}
    expression = str(params.get("KeyConditionExpression", ""))
    for clause in re.split(r"\s+AND\s+", expression, flags=re.IGNORECASE):
        match = re.fullmatch(r"\(?\s*([#\w.]+)\s*=\s*([#:\w.]+)\s*\)?", clause.strip())
        if not match:
            continue
        left, right = match.groups()
        name, placeholder = (left, right) if right.startswith(":") else (right, left)
        if aliases.get(name, name) == key and placeholder in values:
            return {"dynamodb:LeadingKeys": (_scalar(values[placeholder]),)}
    raise Unsupported(f"no equality on partition key {key!r} in KeyConditionExpression {expression!r}")


_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
#: Operations authorized as another action (the batch forms of SQS and SNS).
_SAME_AS = {
    ("sqs", "SendMessageBatch"): "SendMessage",
    ("sqs", "DeleteMessageBatch"): "DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "ChangeMessageVisibility",
    ("sns", "PublishBatch"): "Publish",
}
_DYNAMODB_KEYED = ("GetItem", "PutItem", "UpdateItem", "DeleteItem")
_DYNAMODB_TABLE = ("DescribeTable", "DescribeTimeToLive")


def requests_of(call: Call, names: Names) -> list[Request]:
    """The IAM requests ``call`` is authorized as; Unsupported for a call this module does not map."""
    prefix = IAM_PREFIX.get(call.service)
    if prefix is None:
        raise Unsupported(f"no IAM prefix for botocore service {call.service!r}: add it to IAM_PREFIX")
    p, op = call.params, call.operation
    action = f"{prefix}:{_SAME_AS.get((call.service, op), op)}"

    def one(resource: str, keys: Mapping[str, tuple[str, ...]] | None = None, name: str = action) -> Request:
        return Request(name, resource, keys or {}, call)

    if call.service == "dynamodb":
        if op in _DYNAMODB_KEYED:
            item = p.get("Key") if op != "PutItem" else p.get("Item")
            return [one(names.table_arn(p["TableName"]), _leading(names, p["TableName"], item or {}))]
        if op == "Query":
            return [one(_table_or_index(names, p), _queried_key(names, p))]
        if op == "Scan":  # no leading key: ForAllValues conditions hold, plain ones do not (as on AWS)
            return [one(_table_or_index(names, p))]
        if op in ("BatchGetItem", "BatchWriteItem"):
            # One request per table, whose LeadingKeys are all its items' (a multivalued key: so ForAllValues).
            found = []
            for table, spec in p.get("RequestItems", {}).items():
                entries = spec["Keys"] if op == "BatchGetItem" else [_batch_item(e) for e in spec]
                leading = sorted({v for e in entries for v in _leading(names, table, e)["dynamodb:LeadingKeys"]})
                found.append(one(names.table_arn(table), {"dynamodb:LeadingKeys": tuple(leading)}))
            return found
        if op in ("TransactWriteItems", "TransactGetItems"):  # each item is authorized as its own action
            found = []
            for entry in p.get("TransactItems", []):
                ((kind, spec),) = entry.items()
                name = f"dynamodb:{'GetItem' if kind == 'Get' else _TRANSACT[kind]}"
                item = spec.get("Item") if kind == "Put" else spec.get("Key")
                table = spec["TableName"]
                found.append(one(names.table_arn(table), _leading(names, table, item or {}), name))
            return found
        if op in _DYNAMODB_TABLE:
            return [one(names.table_arn(p["TableName"]))]
    elif call.service == "dynamodbstreams":
        if op in ("DescribeStream", "GetShardIterator"):
            return [one(names.stream_arn(p["StreamArn"]))]
        if op == "GetRecords" and str(p["ShardIterator"]).startswith("arn:"):  # <stream ARN>|1|<opaque>
            return [one(names.stream_arn(str(p["ShardIterator"]).split("|", 1)[0]))]
        if op == "ListStreams":
            return [one("*")]
    elif call.service == "sqs":
        if "QueueUrl" in p:
            return [one(names.queue_arn(p["QueueUrl"]))]
        if op == "GetQueueUrl":
            account = p.get("QueueOwnerAWSAccountId", names.account)
            return [one(f"arn:aws:sqs:{names.region}:{account}:{p['QueueName']}")]
    elif call.service == "sns":
        if op in ("Publish", "PublishBatch") and "PhoneNumber" in p:
            return [one("*")]
        arn = p.get("TopicArn") or p.get("TargetArn")
        if arn:
            return [one(str(arn))]
    elif call.service == "kms" and op in ("Encrypt", "Decrypt", "GenerateDataKey"):
        key = str(p.get("KeyId", ""))
        if key:  # kanal always names the key (a Decrypt without one is authorized on the ciphertext's key)
            arn = key if key.startswith("arn:") else f"arn:aws:kms:{names.region}:{names.account}:key/{key}"
            return [one(names.key_arn(arn))]
    elif call.service == "cloudwatch" and op == "PutMetricData":
        return [one("*", {"cloudwatch:namespace": (str(p["Namespace"]),)})]
    elif call.service == "cloudformation" and op == "DescribeStacks":
        return [one(names.stack_arn(str(p["StackName"])) if "StackName" in p else "*")]
    elif call.service == "execute-api" and op == "Invoke":
        api, stage, method, path = p["api_id"], p["stage"], p["method"], p["path"]
        return [one(f"arn:aws:execute-api:{names.region}:{names.account}:{api}/{stage}/{method}{path}")]
    elif call.service == "apigateway":
        method, path = _apigateway_route(op, p)
        return [one(f"arn:aws:apigateway:{names.region}::{path}", name=f"apigateway:{method}")]
    elif call.service == "s3":
        # Object actions on arn:aws:s3:::<bucket>/<key> (naming a version: the action's *Version form, as S3
        # authorizes it); a version listing is ListBucketVersions on the bucket. A presigned link is recorded as the
        # request it signs (botocore builds its parameters); a presigned POST, which botocore signs without any
        # operation, is recorded by the test that uploads through it (``record``).
        bucket = f"arn:aws:s3:::{p['Bucket']}"
        if op in ("GetObject", "HeadObject", "DeleteObject", "PutObject"):
            base = {"HeadObject": "GetObject"}.get(op, op)
            versioned = "VersionId" in p and base != "PutObject"
            return [one(f"{bucket}/{p['Key']}", name=f"s3:{base}{'Version' if versioned else ''}")]
        if op == "DeleteObjects":
            return [
                one(f"{bucket}/{o['Key']}", name="s3:DeleteObjectVersion" if o.get("VersionId") else "s3:DeleteObject")
                for o in p["Delete"]["Objects"]
            ]
        if op == "ListObjectVersions":
            return [one(bucket, name="s3:ListBucketVersions")]
        if op == "CreateBucket" and "presign" in call.origin:
            # botocore builds a presigned POST's URL from CreateBucket's model and sends nothing: the upload through
            # the form is the request S3 authorizes (recorded as PutObject by the test that makes it).
            return []
    elif call.service == "sts":
        if op == "AssumeRole":
            return [one(str(p["RoleArn"]))]
        if op == "GetCallerIdentity":
            return []  # needs no permission
    raise Unsupported(f"no IAM mapping for {call.service}.{op}: add it to requests_of in tests/support/iam.py")


@cache
def _apigateway_model() -> Any:
    from botocore.session import get_session

    return get_session().get_service_model("apigateway")


def _apigateway_route(operation: str, params: Mapping[str, Any]) -> tuple[str, str]:
    """An API Gateway call as IAM authorizes it: its HTTP method and its path (the URI with its parameters)."""
    model = _apigateway_model().operation_model(operation)
    path = str(model.http["requestUri"]).split("?", 1)[0]
    for member, shape in model.input_shape.members.items():
        if shape.serialization.get("location") == "uri":
            path = path.replace("{" + shape.serialization.get("name", member) + "}", str(params[member]))
    if "{" in path:
        raise Unsupported(f"apigateway.{operation}: a path parameter is missing ({path})")
    return str(model.http["method"]).upper(), path


def _table_or_index(names: Names, params: Mapping[str, Any]) -> str:
    arn = names.table_arn(str(params["TableName"]))
    return f"{arn}/index/{params['IndexName']}" if params.get("IndexName") else arn


def _batch_item(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    if "PutRequest" in entry:
        item: Mapping[str, Any] = entry["PutRequest"]["Item"]
        return item
    key: Mapping[str, Any] = entry["DeleteRequest"]["Key"]
    return key


# --- Evaluation --------------------------------------------------------------------------------------------


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


@cache
def _pattern(text: str, case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(body, re.DOTALL if case else re.DOTALL | re.IGNORECASE)


def _like(value: str, pattern: str, case: bool = True) -> bool:
    """IAM's wildcard match: ``*`` any run of characters, ``?`` any one."""
    return _pattern(pattern, case).fullmatch(value) is not None


def _operator(operator: str) -> tuple[str, str]:
    """(set qualifier or "", StringEquals|StringLike); Unsupported for anything else."""
    qualifier, _, base = operator.rpartition(":")
    if qualifier not in ("", "ForAllValues", "ForAnyValue") or base not in ("StringEquals", "StringLike"):
        raise Unsupported(f"condition operator {operator} is not evaluated here")
    return qualifier, base


def _matches(value: str, base: str, wanted: Iterable[str]) -> bool:
    if base == "StringLike":
        return any(_like(value, w) for w in wanted)
    return value in wanted


def _condition(operator: str, key: str, wanted: list[str], request: Request) -> bool:
    """One condition, as IAM evaluates it: a key missing from the request satisfies ForAllValues only."""
    qualifier, base = _operator(operator)
    values = next((v for k, v in request.keys.items() if k.lower() == key.lower()), None)
    if not values:
        return qualifier == "ForAllValues"
    if qualifier == "ForAnyValue":
        return any(_matches(v, base, wanted) for v in values)
    return all(_matches(v, base, wanted) for v in values)  # ForAllValues, or a single-valued key


# --- Conformance -------------------------------------------------------------------------------------------

#: DynamoDB actions that act on an index (or a stream) besides the table; every other one acts on tables only.
_RESOURCE_TYPES = {"query": {"table", "index"}, "scan": {"table", "index"}}
_STREAM_ACTIONS = {"describestream", "getrecords", "getsharditerator", "liststreams"}


def _applies(action: str, resource: str) -> bool:
    """Whether ``action`` can act on ``resource`` at all (GetItem on an index cannot: no call ever uses that)."""
    prefix, _, name = action.lower().partition(":")
    if prefix != "dynamodb" or "*" in name or "?" in name:
        return True
    if "/stream/" in resource:
        kind = "stream"
    elif "/index/" in resource:
        kind = "index"
    elif ":table/" in resource:
        kind = "table"
    else:
        return True
    kinds = {"stream"} if name in _STREAM_ACTIONS else _RESOURCE_TYPES.get(name, {"table"})
    return kind in kinds


@dataclass(frozen=True)
class Conformance:
    """The principals' statements resolved against a stack, and the checks of recorded calls against them."""

    names: Names
    statements: Mapping[str, Sequence[Statement]]

    @classmethod
    def of(
        cls, stack: Stack, principals: Mapping[str, str] | None = None, template: Mapping[str, Any] | None = None
    ) -> Conformance:
        """The statements of ``principals`` (default PRINCIPALS) in the translated ``template`` (default
        template.yaml's), resolved on ``stack``."""
        template = template or translated()
        stack_id = f"arn:aws:cloudformation:{stack.region}:{ACCOUNT}:stack/"
        stack_id += f"{stack.resolve({'Ref': 'AWS::StackName'})}/{STACK_ID_SUFFIX}"

        def resolved(statement: Statement) -> Statement:
            body = _drop_no_value(stack.resolve(_replace_ref(statement.body, "AWS::StackId", stack_id)))
            return replace(statement, body=body)

        return cls(
            Names.of(stack),
            {
                principal: [resolved(s) for s in statements_of(logical_id, template)]
                for principal, logical_id in (principals or PRINCIPALS).items()
            },
        )

    def with_statements(self, principal: str, statements: Sequence[Statement]) -> Conformance:
        """The same, with ``principal`` bound by ``statements`` instead (to test the checks themselves)."""
        return replace(self, statements={**self.statements, principal: list(statements)})

    def requests(self, calls: Iterable[Call]) -> Iterator[tuple[Call, list[Request] | Unsupported]]:
        """Each call with its requests (or why it cannot be mapped)."""
        for call in calls:
            try:
                yield call, requests_of(call, self.names)
            except Unsupported as why:
                yield call, why

    def denied(self, calls: Iterable[Call]) -> list[str]:
        """What the calls need that their principal's statements do not allow, one line per request."""
        return _unique(text for _, text in self._denials(calls))

    def denial_report(self, calls: Iterable[Call]) -> str | None:
        """The denials as a failure message, with the statements of each principal denied; None if none."""
        denials = self._denials(calls)
        if not denials:
            return None
        lines = [report("AWS calls the template's IAM statements do not allow", _unique(t for _, t in denials))]
        for principal in dict.fromkeys(p for p, _ in denials):
            lines.append(f"{principal}'s statements (PRINCIPALS -> {PRINCIPALS.get(principal, 'none')}):")
            lines.extend(f"    {s}" for s in self.statements.get(principal, []))
        return "\n".join(lines)

    def _denials(self, calls: Iterable[Call]) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for call, requests in self.requests(calls):
            statements = self.statements.get(call.principal)
            if statements is None:
                found.append(
                    (call.principal, f"{call.principal} is no principal in tests/support/iam.py PRINCIPALS: {call}")
                )
                continue
            if isinstance(requests, Unsupported):
                found.append((call.principal, f"{call.principal}: {call}: {requests}"))
                continue
            for request in requests:
                if not any(s.allows(request) for s in statements):
                    why = _culprits(request, statements)
                    found.append((call.principal, f"{call.principal} may not {request}{why}: {call}"))
        return found

    def unused(self, calls: Iterable[Call]) -> list[str]:
        """Grants of written statements that no call uses: each action, on each resource it can act on, with
        each value of each condition, must be used by a call that the statement allows."""
        requests = [(c, r) for c, rs in self.requests(calls) if not isinstance(rs, Unsupported) for r in rs]
        findings: list[str] = []
        for principal, statements in self.statements.items():
            mine = [r for c, r in requests if c.principal == principal]
            for statement in statements:
                if not statement.written:
                    continue
                allowed = [r for r in mine if statement.allows(r)]
                for action in statement.actions:
                    for resource in statement.resources:
                        if not _applies(action, resource):
                            continue
                        using = [
                            r for r in allowed if _like(r.action, action, case=False) and _like(r.resource, resource)
                        ]
                        grant = f"{action} on {resource}"
                        if not using:
                            findings.append(f"{principal}: no call uses {grant} ({statement})")
                            continue
                        for operator, key, values in statement.conditions:
                            _, base = _operator(operator)
                            for value in values:
                                if not any(
                                    _matches(v, base, [value])
                                    for r in using
                                    for k, vs in r.keys.items()
                                    if k.lower() == key.lower()
                                    for v in vs
                                ):
                                    findings.append(
                                        f"{principal}: no call uses {grant} with {key} {value} ({statement})"
                                    )
        return findings

    def redundant(self, calls: Sequence[Call]) -> list[str]:
        """Actions and condition values of written statements that could go without any call being denied."""
        findings: list[str] = []
        for principal, statements in self.statements.items():
            mine = [c for c in calls if c.principal == principal]
            for position, statement in enumerate(statements):
                if not statement.written:
                    continue
                for action in statement.actions:
                    fewer = without_action(statement, action)
                    narrower = [*statements[:position], *fewer, *statements[position + 1 :]]
                    if not self.with_statements(principal, narrower).denied(mine):
                        findings.append(f"{principal}: dropping {action} from {statement} denies no call")
                for operator, key, values in statement.conditions:
                    for value in values:
                        narrower = [
                            *statements[:position],
                            without_value(statement, operator, key, value),
                            *statements[position + 1 :],
                        ]
                        if not self.with_statements(principal, narrower).denied(mine):
                            findings.append(f"{principal}: dropping {key} {value} from {statement} denies no call")
        return findings


def _culprits(request: Request, statements: Sequence[Statement]) -> str:
    """For a denied request with several values of a key: which of them no statement allows on its own."""
    for key, values in request.keys.items():
        if len(values) < 2:
            continue
        alone = [v for v in values if not any(s.allows(replace(request, keys={key: (v,)})) for s in statements)]
        if alone:
            return f" (not allowed: {key}={_few(alone)})"
        return f" (each {key} is allowed by some statement, but no one statement allows them all)"
    return ""


def without_action(statement: Statement, action: str) -> list[Statement]:
    """The statement without ``action`` (none at all if it was its only one)."""
    left = [a for a in statement.actions if a != action]
    return [replace(statement, body={**statement.body, "Action": left})] if left else []


def without_value(statement: Statement, operator: str, key: str, value: str) -> Statement:
    """The statement with one value fewer in one of its conditions."""
    condition = copy.deepcopy(dict(statement.body["Condition"]))
    condition[operator][key] = [v for v in _listed(condition[operator][key]) if v != value]
    return replace(statement, body={**statement.body, "Condition": condition})


def _replace_ref(value: Any, name: str, by: str) -> Any:
    if isinstance(value, Mapping):
        if dict(value) == {"Ref": name}:
            return by
        return {k: _replace_ref(v, name, by) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_ref(v, name, by) for v in value]
    return value


def _drop_no_value(value: Any) -> Any:
    """Without what AWS::NoValue resolved to (None)."""
    if isinstance(value, Mapping):
        return {k: _drop_no_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_no_value(v) for v in value if v is not None]
    return value


def _unique(lines: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(lines))


def report(title: str, findings: Sequence[str], limit: int = 40) -> str:
    """Findings as a readable failure message."""
    shown = [f"  - {line}" for line in findings[:limit]]
    if len(findings) > limit:
        shown.append(f"  ... and {len(findings) - limit} more")
    return "\n".join([f"{title} ({len(findings)}):", *shown])
