"""Reads template.yaml and creates what it declares on an AWS endpoint (moto, in tests and ``kanal dev``).

The template is the one list of resources: tables, queues and the
functions' environments here all come from it, so the local stack cannot
drift from what ``sam deploy`` creates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT = "123456789012"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form intrinsics (!Ref, !GetAtt, !Sub, ...)."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def default_template_path() -> Path:
    """template.yaml at the root of the checkout this package runs from."""
    return Path(__file__).resolve().parents[2] / "template.yaml"


def load(path: Path | None = None) -> dict[str, Any]:
    """The template as plain data, intrinsics as their long form."""
    with (path or default_template_path()).open(encoding="utf-8") as text:
        loaded: dict[str, Any] = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    return loaded


@dataclass
class Function:
    """A function of the template as the local stack runs it."""

    logical_id: str
    code_uri: str
    handler: str
    environment: dict[str, str]
    events: dict[str, dict[str, Any]]
    timeout: int


@dataclass
class Stack:
    """The template's resources as created on an endpoint: physical ids, ARNs and functions."""

    template: dict[str, Any]
    region: str
    parameters: dict[str, str]
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        """The template's resources by logical id."""
        resources: dict[str, dict[str, Any]] = self.template["Resources"]
        return resources

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        """Resources of one CloudFormation type."""
        return {name: r for name, r in self.resources.items() if r["Type"] == kind}

    def resolve(self, value: Any) -> Any:
        """Resolve the intrinsics the template uses (Ref, GetAtt, Sub, If, Join, Select) against this stack."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, arg),) = value.items()
            if name == "Ref":
                return self._ref(arg)
            if name == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.attributes[(logical, attribute)]
            if name == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
                return re.sub(r"\$\{([^}!]+)\}", lambda m: str(extra.get(m.group(1)) or self._sub(m.group(1))), text)
            if name == "Fn::If":
                condition, yes, no = arg
                return self.resolve(yes if self._condition(condition) else no)
            if name == "Fn::Join":
                return str(arg[0]).join(str(self.resolve(v)) for v in arg[1])
            if name == "Fn::Select":
                return self.resolve(arg[1])[int(arg[0])]
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub(self, name: str) -> str:
        if "." in name:
            logical, attribute = name.split(".", 1)
            return self.attributes[(logical, attribute)]
        return str(self._ref(name))

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": "kanal-local",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::Partition": "aws",
            "AWS::NoValue": None,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.refs.get(name, name)

    def _condition(self, name: str) -> bool:
        definition = self.template.get("Conditions", {})[name]
        resolved = self.resolve(definition)
        return _evaluate(resolved)


def _evaluate(condition: Any) -> bool:
    if not isinstance(condition, dict):
        return bool(condition)
    ((name, arg),) = condition.items()
    if name == "Fn::Equals":
        return str(arg[0]) == str(arg[1])
    if name == "Fn::Not":
        return not _evaluate(arg[0])
    if name == "Fn::And":
        return all(_evaluate(a) for a in arg)
    if name == "Fn::Or":
        return any(_evaluate(a) for a in arg)
    raise ValueError(f"unsupported condition {name}")


ClientFactory = Callable[[str], Any]


def create_stack(
    client: ClientFactory, region: str, template: dict[str, Any] | None = None, parameters: dict[str, str] | None = None
) -> Stack:
    """Create the template's tables and queues through ``client(service)`` and describe its functions."""
    from kanal_local import moto_transactions

    moto_transactions.install()
    template = template or load()
    defaults = {name: str(p.get("Default", "")) for name, p in template.get("Parameters", {}).items()}
    stack = Stack(template, region, {**defaults, **(parameters or {})})
    for logical, resource in stack.of_type("AWS::DynamoDB::Table").items():
        _create_table(client("dynamodb"), stack, logical, resource["Properties"])
    queues = stack.of_type("AWS::SQS::Queue")
    # Dead-letter queues first: a queue's redrive policy names its DLQ's ARN.
    for logical in sorted(queues, key=lambda name: "RedrivePolicy" in queues[name].get("Properties", {})):
        _create_queue(client("sqs"), stack, logical, queues[logical].get("Properties", {}))
    for logical in stack.of_type("AWS::SNS::Topic"):
        arn = client("sns").create_topic(Name=f"kanal-{logical}")["TopicArn"]
        stack.refs[logical] = arn
        stack.attributes[(logical, "TopicArn")] = arn
    _describe_functions(stack)
    _create_schedules(client("scheduler"), stack)
    return stack


def _create_schedules(scheduler: Any, stack: Stack) -> None:
    """The functions' ScheduleV2 events as Scheduler schedules (moto keeps them; the local stack fires them)."""
    for function in stack.functions.values():
        for name, event in function.events.items():
            if event.get("Type") != "ScheduleV2":
                continue
            props = stack.resolve(event["Properties"])
            scheduler.create_schedule(
                Name=f"kanal-{function.logical_id}-{name}",
                ScheduleExpression=props["ScheduleExpression"],
                ScheduleExpressionTimezone=props.get("ScheduleExpressionTimezone", "UTC"),
                FlexibleTimeWindow={"Mode": "OFF"},
                Target={
                    "Arn": stack.attributes[(function.logical_id, "Arn")],
                    "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/kanal-scheduler",
                    "Input": props.get("Input", "{}"),
                },
            )


def _create_table(dynamodb: Any, stack: Stack, logical: str, props: dict[str, Any]) -> None:
    name = f"kanal-{logical}"
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if props.get("StreamSpecification"):
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    answer = dynamodb.create_table(**request)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    stack.refs[logical] = name
    stack.attributes[(logical, "Arn")] = answer["TableArn"]
    if "LatestStreamArn" in answer:
        stack.attributes[(logical, "StreamArn")] = answer["LatestStreamArn"]


_QUEUE_ATTRIBUTES = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "MaximumMessageSize",
    "SqsManagedSseEnabled",
    "FifoQueue",
)


def _create_queue(sqs: Any, stack: Stack, logical: str, props: dict[str, Any]) -> None:
    props = stack.resolve(props)
    attributes = {
        k: str(props[k]).lower() if isinstance(props[k], bool) else str(props[k])
        for k in _QUEUE_ATTRIBUTES
        if k in props
    }
    if "RedrivePolicy" in props:
        attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
    url = sqs.create_queue(QueueName=f"kanal-{logical}", Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.refs[logical] = url
    stack.attributes[(logical, "Arn")] = arn
    stack.attributes[(logical, "QueueUrl")] = url
    stack.attributes[(logical, "QueueName")] = f"kanal-{logical}"


def _describe_functions(stack: Stack) -> None:
    globals_ = stack.template.get("Globals", {}).get("Function", {})
    for logical, resource in stack.of_type("AWS::Serverless::Function").items():
        props = resource["Properties"]
        stack.refs[logical] = f"kanal-{logical}"
        stack.attributes[(logical, "Arn")] = f"arn:aws:lambda:{stack.region}:{ACCOUNT}:function:kanal-{logical}"
    for logical, resource in stack.of_type("AWS::Serverless::Function").items():
        props = resource["Properties"]
        variables = {
            **globals_.get("Environment", {}).get("Variables", {}),
            **props.get("Environment", {}).get("Variables", {}),
        }
        environment = {k: str(v) for k, v in stack.resolve(variables).items() if v is not None}
        stack.functions[logical] = Function(
            logical_id=logical,
            code_uri=props["CodeUri"],
            handler=props.get("Handler", globals_.get("Handler", "app.lambda_handler")),
            environment=environment,
            events=props.get("Events", {}),
            timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
        )
