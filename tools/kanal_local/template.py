"""Reads template.yaml as SAM translates it, and creates what it declares on an AWS endpoint (moto, in tests and
``kanal dev``).

The template is the one list of resources, read the way it deploys: ``translate`` runs aws-sam-translator on
it offline (what ``sam deploy``'s transform does), and the local stack reads the CloudFormation that comes out —
tables, queues, topics, functions (Globals merged by SAM), event source mappings, schedules and the REST APIs'
bodies. ``describe`` gives every resource its local physical id and attributes, and refuses, naming it, any
``Ref`` or ``GetAtt`` that names nothing it knows; ``create_stack`` then creates the tables, queues and topics
on the endpoint. The intrinsics left after translation are resolved against that stack (``Stack.resolve``).
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT = "123456789012"
REGION = "ap-southeast-3"
#: The transform that marks a SAM template.
SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
#: The bucket of the code stand-ins: a local CodeUri or ContentUri ``functions/x/`` is translated as
#: ``s3://kanal-local-code/functions/x/``, so the function's Code (or the layer's Content) names its folder again.
CODE_BUCKET = "kanal-local-code"
STACK_NAME = "kanal-local"


class CannotEmulate(Exception):
    """Something the template asks for that the local stack cannot do as AWS does. Raised when the stack starts,
    naming the resource, so that nothing runs differently from the deployed stack without saying so."""


class Unresolved(CannotEmulate):
    """A ``Ref``, ``GetAtt`` or ``Sub`` that names no parameter, pseudo parameter or resource of the template, or an
    attribute the local stack does not know (CloudFormation refuses such a template too)."""


class Unsupported(CannotEmulate, ValueError):
    """An intrinsic function or condition the local stack does not evaluate."""


class Untranslatable(CannotEmulate):
    """A template SAM refuses to translate (``sam deploy`` would refuse it too)."""


# libyaml's parser when PyYAML has it (it reads template.yaml about ten times faster than the pure-Python one); the
# constructors, and so the data, are the same.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CfnLoader(_SafeLoader):  # type: ignore[misc,valid-type]
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
    """The template as plain data, intrinsics as their long form (as written: SAM resources untranslated). A fresh
    copy each time: the file is parsed again only when its bytes change (tests create a stack per test)."""
    text = (path or default_template_path()).read_bytes()
    return copy.deepcopy(_parsed(text))


@functools.lru_cache(maxsize=8)
def _parsed(text: bytes) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    return loaded


def is_sam(template: Mapping[str, Any]) -> bool:
    """Whether the template asks for SAM's transform (and so needs translating)."""
    transform = template.get("Transform", [])
    return SAM_TRANSFORM in (transform if isinstance(transform, list) else [transform])


def translate(
    template: Mapping[str, Any] | None = None, parameters: Mapping[str, str] | None = None, region: str = REGION
) -> dict[str, Any]:
    """A SAM template (default: template.yaml, loaded) as SAM translates it to CloudFormation, offline: what
    ``sam deploy`` would deploy, with ``parameters`` over the template's defaults (SAM writes some of them into
    what it makes, e.g. an authorizer's cache TTL). ``template`` is not changed.

    A local CodeUri or ContentUri is replaced by an ``s3://kanal-local-code/<folder>`` stand-in (SAM would
    upload it), so each function's Code names its folder (``code_folder``); managed policies are not looked up
    (SAM's loader answers nothing). Untranslatable, with SAM's reasons, for a template SAM refuses.
    """
    key = json.dumps([template if template is not None else load(), parameters or {}, region], sort_keys=True)
    return copy.deepcopy(_translated(key))


@functools.lru_cache(maxsize=8)
def _translated(key: str) -> dict[str, Any]:
    """``translate`` of a template, parameters and region given as one JSON text (the cache's key: the same input
    is translated once per process)."""
    import boto3
    from samtranslator.metrics.metrics import DummyMetricsPublisher, Metrics
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    template, parameters, region = json.loads(key)
    source = dict(template)
    sections = [r.get("Properties") for r in (source.get("Resources") or {}).values() if isinstance(r, dict)]
    for properties in [*sections, (source.get("Globals") or {}).get("Function")]:
        for name in ("CodeUri", "ContentUri"):
            value = properties.get(name) if isinstance(properties, dict) else None
            if isinstance(value, str) and not value.startswith("s3://"):
                properties[name] = f"s3://{CODE_BUCKET}/{value}"  # type: ignore[index]
    # The translator asks a session for the region (and its partition); nothing is sent anywhere.
    session = boto3.session.Session(region_name=region)
    metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())
    try:
        out = Translator(None, Parser(), metrics=metrics, boto_session=session).translate(
            source, parameter_values=dict(parameters or {}), get_managed_policy_map=lambda: {}
        )
    except InvalidDocumentException as error:
        reasons = "; ".join(cause.message for cause in error.causes) or str(error)
        raise Untranslatable(f"SAM cannot translate the template: {reasons}") from None
    finally:
        metrics.publish()  # nothing is published; it only empties what the translator counted
    plain: dict[str, Any] = json.loads(json.dumps(out))
    return plain


def code_folder(code: Any) -> str | None:
    """The local folder a translated Code (or a layer's Content) stands for; None if it is not a stand-in."""
    if isinstance(code, dict) and code.get("S3Bucket") == CODE_BUCKET and isinstance(code.get("S3Key"), str):
        return str(code["S3Key"])
    return None


@dataclass
class Function:
    """A function of the translated template (an AWS::Lambda::Function) as the local stack runs it."""

    logical_id: str
    #: The function's code folder, relative to the template (its CodeUri).
    code_uri: str
    handler: str
    environment: dict[str, str]
    timeout: int
    #: The folders of its layers (their ContentUri), in the template's order.
    layers: list[str] = field(default_factory=list)


#: What each pseudo parameter is on the local stack.
def _pseudo(region: str) -> dict[str, Any]:
    return {
        "AWS::Region": region,
        "AWS::AccountId": ACCOUNT,
        "AWS::StackName": STACK_NAME,
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{ACCOUNT}:stack/{STACK_NAME}/local",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::Partition": "aws",
        "AWS::NotificationARNs": [],
    }


_NO_VALUE: Any = object()
#: The intrinsic functions ``Stack.resolve`` evaluates (``Fn::If`` with the template's conditions).
INTRINSICS = frozenset(
    {"Ref", "Fn::GetAtt", "Fn::Sub", "Fn::If", "Fn::Join", "Fn::Select", "Fn::Split", "Fn::FindInMap", "Fn::Base64"}
)
_SUB = re.compile(r"\$\{([^}]*)\}")


@dataclass
class Stack:
    """The translated template's resources as the local stack has them: physical ids (``refs``), attributes and
    functions. ``template`` is the translated template."""

    template: dict[str, Any]
    region: str
    parameters: dict[str, str]
    refs: dict[str, Any] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        """The template's resources by logical id."""
        resources: dict[str, dict[str, Any]] = self.template["Resources"]
        return resources

    def created(self, logical_id: str) -> bool:
        """Whether a resource is created: it has no Condition, or its condition holds."""
        condition = self.resources.get(logical_id, {}).get("Condition")
        return condition is None or self._condition(condition)

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        """The resources of one CloudFormation type that are created (their Condition holds)."""
        return {name: r for name, r in self.resources.items() if r["Type"] == kind and self.created(name)}

    def function_of(self, name_or_arn: Any, what: str) -> str:
        """The logical id of the function a (resolved) FunctionName, ARN or Lambda integration URI names;
        CannotEmulate, saying ``what`` names it, if it is no function of this template."""
        text = str(name_or_arn)
        found = re.search(r"(arn:[^:/]+:lambda:[^/]+?:function:[^/:]+)", text)
        for logical in self.functions:
            arn = self.attributes.get((logical, "Arn"))
            if text == self.refs.get(logical) or text == arn or (found and found.group(1) == arn):
                return logical
        raise CannotEmulate(f"{what} names {text}, which is no function of this template")

    def resolve(self, value: Any) -> Any:
        """``value`` with its intrinsics resolved against this stack (``INTRINSICS``; ``AWS::NoValue`` removes the
        property or list element it stands for, or is None alone). Unresolved for a name that is no parameter,
        pseudo parameter or resource, or an attribute the local stack does not know; Unsupported for an intrinsic
        it does not evaluate."""
        resolved = self._resolve(value)
        return None if resolved is _NO_VALUE else resolved

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [r for v in value if (r := self._resolve(v)) is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, arg),) = value.items()
            if name == "Ref":
                return self._ref(str(arg))
            if name.startswith("Fn::"):
                return self._function(name, arg)
        return {k: r for k, v in value.items() if (r := self._resolve(v)) is not _NO_VALUE}

    def _function(self, name: str, arg: Any) -> Any:
        if name == "Fn::GetAtt":
            logical, attribute = _getatt(arg)
            return self._attribute(logical, attribute)
        if name == "Fn::Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self._resolve(arg[1]))
            return _SUB.sub(lambda m: self._substitute(m.group(1), extra), text)
        if name == "Fn::If":
            condition, yes, no = arg
            return self._resolve(yes if self._condition(condition) else no)
        if name == "Fn::Join":
            delimiter, items = arg
            return str(delimiter).join(str(v) for v in self._resolve(items))
        if name == "Fn::Select":
            index, items = arg
            return self._resolve(items)[int(self._resolve(index))]
        if name == "Fn::Split":
            delimiter, text = arg
            return str(self._resolve(text)).split(str(delimiter))
        if name == "Fn::FindInMap":
            table, top, second = (self._resolve(a) for a in arg)
            return self.template.get("Mappings", {})[table][top][second]
        if name == "Fn::Base64":
            return base64.b64encode(str(self._resolve(arg)).encode()).decode()
        raise Unsupported(f"unsupported intrinsic {name}: the local stack does not evaluate it")

    def _substitute(self, name: str, extra: Mapping[str, Any]) -> str:
        if name.startswith("!"):
            return "${" + name[1:] + "}"  # ${!Literal} is written as ${Literal}
        if name in extra:
            return str(extra[name])
        if "." in name:
            logical, attribute = name.split(".", 1)
            return str(self._attribute(logical, attribute))
        return str(self._ref(name))

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        pseudo = _pseudo(self.region)
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        self._check_created(name, f"Ref {name}")
        if name in self.refs:
            return self.refs[name]
        raise Unresolved(f"Ref {name}: no parameter, pseudo parameter or resource of the template is called {name}")

    def _attribute(self, logical: str, attribute: str) -> str:
        self._check_created(logical, f"GetAtt {logical}.{attribute}")
        if (logical, attribute) in self.attributes:
            return self.attributes[(logical, attribute)]
        if logical not in self.refs and logical not in self.resources:
            raise Unresolved(f"GetAtt {logical}.{attribute}: no resource of the template is called {logical}")
        kind = self.resources.get(logical, {}).get("Type", "resource")
        known = ", ".join(sorted(a for (name, a) in self.attributes if name == logical)) or "none"
        raise Unresolved(
            f"GetAtt {logical}.{attribute}: the local stack knows no attribute {attribute} of {logical} "
            f"({kind}; it knows {known})"
        )

    def _check_created(self, logical: str, what: str) -> None:
        condition = self.resources.get(logical, {}).get("Condition")
        if condition is not None and not self._condition(condition):
            raise Unresolved(f"{what}: {logical} is not created (its condition {condition} is false)")

    def _condition(self, name: str) -> bool:
        conditions = self.template.get("Conditions", {})
        if name not in conditions:
            raise Unresolved(f"condition {name}: the template has no condition called {name}")
        return self._evaluate(conditions[name])

    def _evaluate(self, condition: Any) -> bool:
        if not isinstance(condition, dict):
            return bool(condition)
        ((name, arg),) = condition.items()
        if name == "Fn::Equals":
            return str(self.resolve(arg[0])) == str(self.resolve(arg[1]))
        if name == "Fn::Not":
            return not self._evaluate(arg[0])
        if name == "Fn::And":
            return all(self._evaluate(a) for a in arg)
        if name == "Fn::Or":
            return any(self._evaluate(a) for a in arg)
        if name == "Condition":
            return self._condition(arg)
        raise Unsupported(f"unsupported condition {name}")

    def check(self) -> None:
        """Refuse (Unresolved, naming it and where it is) the first Ref, GetAtt or Sub variable of the template
        that names no parameter, pseudo parameter or resource, or an attribute the local stack does not know, and
        the first Fn::If or Condition that names no condition — in every branch, whatever the conditions, as
        CloudFormation checks a template before it creates anything."""
        conditions = set(self.template.get("Conditions", {}))
        for where, name, arg in _intrinsics(self.template, ""):
            if name == "Ref":
                self._known(str(arg), None, where)
            elif name == "Fn::GetAtt":
                self._known(*_getatt(arg), where)
            elif name == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                for variable in _SUB.findall(str(text)):
                    if variable.startswith("!") or variable in extra:
                        continue
                    logical, _, attribute = variable.partition(".")
                    self._known(logical, attribute or None, where)
            elif name in ("Fn::If", "Condition") and (arg[0] if name == "Fn::If" else arg) not in conditions:
                missing = arg[0] if name == "Fn::If" else arg
                raise Unresolved(f"{name} {missing} (at {where}): the template has no condition called {missing}")
        for logical, resource in self.resources.items():
            condition = resource.get("Condition")
            if condition is not None and condition not in conditions:
                raise Unresolved(f"resource {logical}: the template has no condition called {condition}")

    def _known(self, logical: str, attribute: str | None, where: str) -> None:
        try:
            if attribute is None:
                if logical in _pseudo(self.region) or logical == "AWS::NoValue" or logical in self.parameters:
                    return
                if logical in self.refs:
                    return
                self._ref(logical)
            elif (logical, attribute) not in self.attributes:
                self._attribute(logical, attribute)
        except Unresolved as unknown:
            raise Unresolved(f"{unknown} (at {where})") from None


def _getatt(arg: Any) -> tuple[str, str]:
    logical, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
    if not isinstance(attribute, str):
        raise Unsupported(f"unsupported GetAtt of {logical} with a computed attribute name")
    return str(logical), attribute


def _intrinsics(value: Any, where: str) -> Iterator[tuple[str, str, Any]]:
    """Every intrinsic in ``value`` (and in its arguments): (where, name, argument)."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _intrinsics(item, f"{where}[{index}]")
    elif isinstance(value, dict):
        if len(value) == 1:
            ((name, arg),) = value.items()
            condition = name == "Condition" and isinstance(arg, str) and where.startswith("Conditions")
            if name == "Ref" or name.startswith("Fn::") or condition:
                yield where, name, arg
        for key, item in value.items():
            yield from _intrinsics(item, f"{where}.{key}" if where else str(key))


def _stand_in(region: str, logical: str, resource: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    """A resource's physical id (what Ref gives) and attributes on the local stack, before the endpoint answers."""
    kind = resource.get("Type", "")
    props = resource.get("Properties") or {}
    name = f"kanal-{logical}"

    def arn(service: str, rest: str) -> str:
        return f"arn:aws:{service}:{region}:{ACCOUNT}:{rest}"

    if kind == "AWS::DynamoDB::Table":
        table = arn("dynamodb", f"table/{name}")
        stream = {"StreamArn": f"{table}/stream/local"} if props.get("StreamSpecification") else {}
        return name, {"Arn": table, **stream}
    if kind == "AWS::SQS::Queue":
        if props.get("FifoQueue") in (True, "true"):
            name += ".fifo"
        url = f"https://sqs.{region}.amazonaws.com/{ACCOUNT}/{name}"
        return url, {"Arn": arn("sqs", name), "QueueUrl": url, "QueueName": name}
    if kind == "AWS::SNS::Topic":
        topic = arn("sns", name)
        return topic, {"TopicArn": topic, "TopicName": name}
    if kind == "AWS::Lambda::Function":
        return name, {"Arn": arn("lambda", f"function:{name}")}
    if kind == "AWS::Lambda::LayerVersion":
        layer = arn("lambda", f"layer:{props.get('LayerName', logical)}:1")
        return layer, {}
    if kind == "AWS::IAM::Role":
        return name, {"Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}", "RoleId": f"AROALOCAL{logical.upper()}"}
    if kind == "AWS::Logs::LogGroup":
        return name, {"Arn": arn("logs", f"log-group:{name}:*")}
    if kind == "AWS::Scheduler::Schedule":
        scheduled = props["Name"] if isinstance(props.get("Name"), str) else name
        return scheduled, {"Arn": arn("scheduler", f"schedule/default/{scheduled}")}
    if kind == "AWS::CloudWatch::Alarm":
        return name, {"Arn": arn("cloudwatch", f"alarm:{name}")}
    if kind == "AWS::KMS::Key":
        key = f"local-{logical}"  # until the endpoint gives its own id (create_stack)
        return key, {"Arn": arn("kms", f"key/{key}"), "KeyId": key}
    if kind == "AWS::S3::Bucket":
        bucket = name.lower()  # bucket names are lower case
        return bucket, {"Arn": f"arn:aws:s3:::{bucket}", "DomainName": f"{bucket}.s3.amazonaws.com"}
    if kind == "AWS::ApiGateway::RestApi":
        # The local gateway's API id is the API's logical id (API Gateway's are random).
        return logical, {"RootResourceId": f"{logical}-root"}
    if kind == "AWS::ApiGateway::UsagePlan":
        return f"local-{logical}", {"Id": f"local-{logical}"}  # until the endpoint gives its own id (create_stack)
    if kind == "AWS::WAFv2::WebACL":
        acl = f"kanal-{logical}"
        return f"{acl}|local|REGIONAL", {"Arn": arn("wafv2", f"regional/webacl/{acl}/local"), "Id": "local"}
    if kind == "AWS::S3::Bucket":
        bucket = name.lower()  # bucket names are lower-case
        return bucket, {"Arn": f"arn:aws:s3:::{bucket}", "DomainName": f"{bucket}.s3.amazonaws.com"}
    if kind == "AWS::Events::Rule":
        return name, {"Arn": arn("events", f"rule/{name}")}
    return name, {}


def describe(template: dict[str, Any], region: str = REGION, parameters: Mapping[str, str] | None = None) -> Stack:
    """The stack of a translated template before anything is created: each resource's local physical id and
    attributes (stand-ins until ``create_stack`` takes what the endpoint answered) and the functions. Unresolved,
    naming it, for a Ref or GetAtt that names nothing the local stack knows; CannotEmulate for a function it
    cannot run."""
    defaults = {name: str(p.get("Default", "")) for name, p in template.get("Parameters", {}).items()}
    stack = Stack(template, region, {**defaults, **(parameters or {})})
    for logical, resource in stack.resources.items():
        stack.refs[logical], attributes = _stand_in(region, logical, resource)
        stack.attributes.update({(logical, a): value for a, value in attributes.items()})
    for logical, resource in stack.of_type("AWS::ApiGateway::Stage").items():
        stack.refs[logical] = str(stack.resolve(resource["Properties"].get("StageName")))  # Ref: the stage's name
    stack.check()
    describe_functions(stack)
    return stack


def describe_functions(stack: Stack) -> None:
    """The template's AWS::Lambda::Function resources as the local stack runs them: the code folder its Code
    stands for, handler, environment (resolved), timeout and the folders of its layers."""
    layers = {
        str(stack.refs[logical]): folder
        for logical, resource in stack.of_type("AWS::Lambda::LayerVersion").items()
        if (folder := code_folder(resource["Properties"].get("Content"))) is not None
    }
    stack.functions.clear()
    for logical, resource in stack.of_type("AWS::Lambda::Function").items():
        props = resource["Properties"]
        folder = code_folder(props.get("Code"))
        if folder is None or props.get("PackageType", "Zip") != "Zip":
            raise CannotEmulate(f"function {logical}: its code is not a local folder (a CodeUri) the local stack runs")
        runtime = str(stack.resolve(props.get("Runtime", "")))
        if not runtime.startswith("python"):
            raise CannotEmulate(f"function {logical}: the local stack runs Python functions only, not {runtime!r}")
        attached = [str(arn) for arn in stack.resolve(props.get("Layers", []))]
        unknown = [arn for arn in attached if arn not in layers]
        if unknown:
            raise CannotEmulate(f"function {logical}: layer {unknown[0]} is not a local layer of this template")
        variables = stack.resolve(props.get("Environment", {}).get("Variables", {}))
        stack.functions[logical] = Function(
            logical_id=logical,
            code_uri=folder,
            handler=str(stack.resolve(props["Handler"])),
            environment={k: str(v) for k, v in variables.items() if v is not None},
            timeout=int(stack.resolve(props.get("Timeout", 3))),
            layers=[layers[arn] for arn in attached],
        )


ClientFactory = Callable[[str], Any]


def create_stack(
    client: ClientFactory,
    region: str,
    template: dict[str, Any] | None = None,
    parameters: Mapping[str, str] | None = None,
) -> Stack:
    """Create the template's tables, queues, topics, keys and buckets through ``client(service)``; describe its
    functions.
    ``template``: template.yaml by default; a SAM template is translated first (``translate``)."""
    from kanal_local import moto_transactions

    moto_transactions.install()
    client = functools.cache(client)  # one client per service (making a botocore client costs more than a call)
    source = template if template is not None else load()
    translated = translate(source, parameters, region) if is_sam(source) else source
    stack = describe(translated, region, parameters)
    for logical, resource in stack.of_type("AWS::DynamoDB::Table").items():
        _create_table(client("dynamodb"), stack, logical, stack.resolve(resource["Properties"]))
    queues = stack.of_type("AWS::SQS::Queue")
    # Dead-letter queues first: a queue's redrive policy names its DLQ's ARN.
    for logical in sorted(queues, key=lambda name: "RedrivePolicy" in (queues[name].get("Properties") or {})):
        _create_queue(client("sqs"), stack, logical, queues[logical].get("Properties") or {})
    for logical in stack.of_type("AWS::SNS::Topic"):
        name = stack.attributes[(logical, "TopicName")]
        arn = client("sns").create_topic(Name=name)["TopicArn"]
        stack.refs[logical] = arn
        stack.attributes[(logical, "TopicArn")] = arn
    for logical, resource in stack.of_type("AWS::KMS::Key").items():
        description = str((resource.get("Properties") or {}).get("Description", logical))
        created = client("kms").create_key(Description=description)["KeyMetadata"]
        stack.refs[logical] = created["KeyId"]
        stack.attributes.update({(logical, "Arn"): created["Arn"], (logical, "KeyId"): created["KeyId"]})
    for logical, resource in stack.of_type("AWS::S3::Bucket").items():
        _create_bucket(client("s3"), stack, logical, stack.resolve(resource.get("Properties") or {}))
    describe_functions(stack)  # again: their environments name what was just created
    _create_schedules(client("scheduler"), stack)
    _create_usage_plans(client, stack)
    return stack


def _create_usage_plans(client: ClientFactory, stack: Stack) -> None:
    """The template's AWS::ApiGateway::UsagePlan resources, on the endpoint: the local gateway reads the plan each
    key is in from there (kanal_local.limits), as `kanal partners set-limits` writes them. moto answers the
    authorizer cache's flush only with kanal_local.moto_apigateway installed."""
    from kanal_local import moto_apigateway

    moto_apigateway.install()
    plans = stack.of_type("AWS::ApiGateway::UsagePlan")
    if not plans:
        return
    apigateway = client("apigateway")
    for logical, resource in plans.items():
        props = stack.resolve(resource.get("Properties") or {})
        request: dict[str, Any] = {"name": str(props.get("UsagePlanName", logical))}
        if props.get("Description"):
            request["description"] = str(props["Description"])
        request["apiStages"] = [
            {"apiId": str(s["ApiId"]), "stage": str(s["Stage"])} for s in props.get("ApiStages", [])
        ]
        throttle = props.get("Throttle") or {}
        if throttle:
            request["throttle"] = {
                **({"rateLimit": float(throttle["RateLimit"])} if "RateLimit" in throttle else {}),
                **({"burstLimit": int(throttle["BurstLimit"])} if "BurstLimit" in throttle else {}),
            }
        quota = props.get("Quota")
        if quota:
            request["quota"] = {"limit": int(quota["Limit"]), "period": str(quota["Period"])}
            if "Offset" in quota:
                request["quota"]["offset"] = int(quota["Offset"])
        created = apigateway.create_usage_plan(**request)
        stack.refs[logical] = created["id"]
        stack.attributes[(logical, "Id")] = created["id"]


def _create_bucket(s3: Any, stack: Stack, logical: str, props: dict[str, Any]) -> None:
    """A bucket with the properties that change what its clients see: versioning, default encryption, the public
    access block, object ownership, its lifecycle rules and its policy (BucketPolicy resources). Its events reach
    functions through kanal_local.triggers.Uploads (moto would hand them to its own Lambda, which runs nothing)."""
    name = str(stack.refs[logical])
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": stack.region})
    if props.get("VersioningConfiguration"):
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=props["VersioningConfiguration"])
    if props.get("BucketEncryption"):
        rules = [  # CloudFormation's spelling of the API's rules
            {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
            for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if props.get("PublicAccessBlockConfiguration"):
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
    if props.get("OwnershipControls"):
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
    for policy in stack.of_type("AWS::S3::BucketPolicy").values():
        wanted = stack.resolve(policy["Properties"])
        if wanted.get("Bucket") != name:
            continue
        # The local endpoint is plain http on loopback, and moto reads every request as not secure: a TLS-only
        # statement would refuse everything, so it is left out (on AWS it refuses only what is not https).
        document = dict(wanted["PolicyDocument"])
        document["Statement"] = [st for st in document.get("Statement", []) if not _tls_only(st)]
        if document["Statement"]:
            s3.put_bucket_policy(Bucket=name, Policy=json.dumps(document))


def _tls_only(statement: Mapping[str, Any]) -> bool:
    """Whether a bucket policy statement is a Deny of requests without TLS (its only condition)."""
    condition = statement.get("Condition") or {}
    return (
        statement.get("Effect") == "Deny"
        and list(condition) == ["Bool"]
        and list(condition["Bool"]) == ["aws:SecureTransport"]
    )


def _create_schedules(scheduler: Any, stack: Stack) -> None:
    """The template's AWS::Scheduler::Schedule resources, on the endpoint (moto keeps them; the local stack fires
    them, kanal_local.triggers.Schedules)."""
    for logical, resource in stack.of_type("AWS::Scheduler::Schedule").items():
        props = stack.resolve(resource["Properties"])
        request = {
            k: props[k]
            for k in ("ScheduleExpression", "ScheduleExpressionTimezone", "FlexibleTimeWindow", "Target", "State")
            if k in props
        }
        scheduler.create_schedule(Name=stack.refs[logical], **request)


def _create_table(dynamodb: Any, stack: Stack, logical: str, props: dict[str, Any]) -> None:
    name = str(stack.refs[logical])
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = props.get(
            "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        )
    for optional in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(optional):
            request[optional] = props[optional]
    if props.get("StreamSpecification"):
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    answer = dynamodb.create_table(**request)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
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
    "ContentBasedDeduplication",
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
    name = stack.attributes[(logical, "QueueName")]
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.refs[logical] = url
    stack.attributes[(logical, "Arn")] = arn
    stack.attributes[(logical, "QueueUrl")] = url
