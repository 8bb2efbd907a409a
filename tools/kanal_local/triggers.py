"""The template's triggers, run locally, as SAM translates them: DynamoDB stream event source mappings
(AWS::Lambda::EventSourceMapping: batch size and window, filter criteria, partial batch failures, bisection on a
function error, retries and record age with the on-failure destination), SQS queue mappings (batch size, partial
batch failures; a message the function fails on comes back after its visibility timeout, and the queue's redrive
policy dead-letters it as SQS does) and EventBridge Scheduler schedules (AWS::Scheduler::Schedule: rate, cron with
time zone, at; the target's input).

What the local stack cannot do as AWS would (a filter operator it does not implement, a schedule expression it
cannot honour) raises CannotEmulate when the stack starts, naming the resource: nothing is dropped or skipped
without saying so.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from kanal_local.template import CannotEmulate, Stack

__all__ = ["CannotEmulate", "Schedules", "Triggers", "compile_pattern", "matches", "schedule_rule"]

Invoke = Callable[[str, dict[str, Any]], Any]
Log = Callable[[str], None]


# Stream filter criteria: EventBridge event patterns, as Lambda applies them to each stream record.

Matcher = Callable[[Any], bool]
_MISSING = object()


def compile_pattern(pattern: Any) -> Matcher:
    """A Lambda FilterCriteria pattern (EventBridge pattern syntax) as a test of one record. ValueError, saying
    where and why, for anything the local stack does not implement: an unknown operator must stop the stack, not
    drop records.

    Implemented: exact values (strings, numbers, booleans, null; numbers compared as written: 300 is not 300.0),
    ``prefix`` and ``suffix`` (each also with ``equals-ignore-case``), ``equals-ignore-case``, ``wildcard``,
    ``anything-but`` (a value, a list, or a ``prefix``, ``suffix``, ``equals-ignore-case`` or ``wildcard``),
    ``numeric`` (``=``, or one lower and one upper bound), ``exists``, ``cidr`` and ``$or``. Event arrays match
    when any element does; operators apply to leaves only (a field holding an object does not exist as a leaf).
    """
    if not isinstance(pattern, dict):
        raise ValueError("a pattern is a JSON object")
    return _object(pattern, "")


def _filter(where: str, text: str) -> Matcher:
    """One filter of a stream trigger, compiled; CannotEmulate naming the trigger (``where``) and the pattern."""
    try:
        return compile_pattern(json.loads(text))
    except ValueError as error:
        raise CannotEmulate(f"{where}: cannot honour filter {text}: {error}") from None


def matches(pattern: Any, value: Any) -> bool:
    """Whether ``value`` matches ``pattern`` (see ``compile_pattern``)."""
    return compile_pattern(pattern)(value)


def _object(pattern: dict[str, Any], path: str) -> Matcher:
    parts = [_field(key, sub, path) for key, sub in pattern.items()]
    return lambda value: all(part(value) for part in parts)


def _field(key: str, sub: Any, path: str) -> Matcher:
    """The test of one key of a pattern object (``$or``, an object to match inside, or a list of values)."""
    where = f"{path}.{key}" if path else key
    if key == "$or":
        if not (isinstance(sub, list) and len(sub) >= 2 and all(isinstance(p, dict) for p in sub)):
            raise ValueError(f"{where}: $or takes a list of two or more objects")
        options = [_object(p, path) for p in sub]
        return lambda value: any(option(value) for option in options)
    if isinstance(sub, dict):
        inner = _object(sub, where)
        return lambda value: _descend(_child(value, key), inner)
    if isinstance(sub, list):
        leaf = _leaf(sub, where)
        return lambda value: leaf(_values(_child(value, key)))
    raise ValueError(f"{where}: a field's values to match are a list, e.g. [{json.dumps(sub)}]")


def _child(value: Any, key: str) -> Any:
    return value.get(key, _MISSING) if isinstance(value, dict) else _MISSING


def _descend(child: Any, inner: Matcher) -> bool:
    if isinstance(child, dict):
        return inner(child)
    objects = [c for c in child if isinstance(c, dict)] if isinstance(child, list) else []
    # No object there: only what holds without the fields (exists: false) can match.
    return any(inner(o) for o in objects) if objects else inner({})


def _values(child: Any) -> list[Any]:
    """The leaf values of a field: none if it is missing or an object, each element of an array."""
    if child is _MISSING or isinstance(child, dict):
        return []
    if isinstance(child, list):
        return [v for v in child if not isinstance(v, dict | list)]
    return [child]


def _leaf(options: list[Any], where: str) -> Callable[[list[Any]], bool]:
    tests = [_option(option, where) for option in options]
    return lambda values: any(test(values) for test in tests)


def _same(expected: Any, value: Any) -> bool:
    return type(expected) is type(value) and bool(expected == value)


def _text(operator: str, argument: Any, where: str) -> str:
    if not isinstance(argument, str):
        raise ValueError(f"{where}: {operator} takes a string, not {json.dumps(argument)}")
    return argument


def _string_test(operator: str, argument: Any, where: str) -> Callable[[Any], bool]:
    """A test of one value for prefix, suffix, equals-ignore-case and wildcard (strings only)."""
    if operator in ("prefix", "suffix"):
        folded = False
        if isinstance(argument, dict) and list(argument) == ["equals-ignore-case"]:
            folded, argument = True, argument["equals-ignore-case"]
        text = _text(operator, argument, where)
        if folded:
            text = text.casefold()
        if operator == "prefix":
            return lambda v: isinstance(v, str) and (v.casefold() if folded else v).startswith(text)
        return lambda v: isinstance(v, str) and (v.casefold() if folded else v).endswith(text)
    if operator == "equals-ignore-case":
        text = _text(operator, argument, where).casefold()
        return lambda v: isinstance(v, str) and v.casefold() == text
    if operator == "wildcard":
        parts = _wildcard(_text(operator, argument, where), where)
        return lambda v: isinstance(v, str) and _wildcard_matches(parts, v)
    raise ValueError(f"{where}: operator {operator!r} is not emulated by the local stack")


def _wildcard(text: str, where: str) -> list[str]:
    """A wildcard pattern as its literal parts, split where an (unescaped) ``*`` stands."""
    parts: list[str] = []
    literal = ""
    chars = iter(text)
    for char in chars:
        if char == "\\":
            escaped = next(chars, "")
            if escaped not in ("*", "\\"):
                raise ValueError(f"{where}: wildcard {text!r} escapes something other than * or \\")
            literal += escaped
        elif char == "*":
            if not literal and parts:
                raise ValueError(f"{where}: wildcard {text!r} has consecutive wildcard characters")
            parts.append(literal)
            literal = ""
        else:
            literal += char
    parts.append(literal)
    return parts


def _wildcard_matches(parts: list[str], value: str) -> bool:
    """Whether ``value`` is ``parts`` joined by any text: the first part starts it, the last ends it, the others
    are found in order, each as early as it can be (in linear time, unlike a regular expression's backtracking)."""
    if len(parts) == 1:
        return value == parts[0]
    first, *middle, last = parts
    if len(value) < len(first) + len(last) or not (value.startswith(first) and value.endswith(last)):
        return False
    at, end = len(first), len(value) - len(last)
    for part in middle:
        found = value.find(part, at, end)
        if found < 0:
            return False
        at = found + len(part)
    return True


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _numeric(argument: Any, where: str) -> Callable[[Any], bool]:
    pairs = list(zip(argument[::2], argument[1::2], strict=False)) if isinstance(argument, list) else []
    operators = [op for op, _ in pairs]
    well_formed = (
        bool(pairs)
        and len(argument) == 2 * len(pairs)
        and all(op in _COMPARISONS and _number(bound) for op, bound in pairs)
        and (
            operators == ["="]
            or (len(pairs) == 1 and operators[0] != "=")
            or (len(pairs) == 2 and {operators[0][0], operators[1][0]} == {"<", ">"})
        )
    )
    if not well_formed:
        raise ValueError(f'{where}: numeric takes "=" and a number, or one lower and one upper bound')
    return lambda v: _number(v) and all(_COMPARISONS[op](v, bound) for op, bound in pairs)


def _cidr(argument: Any, where: str) -> Callable[[Any], bool]:
    try:
        network = ipaddress.ip_network(_text("cidr", argument, where), strict=False)
    except ValueError:
        raise ValueError(f"{where}: cidr {argument!r} is not an IP address range") from None

    def inside(value: Any) -> bool:
        try:
            return isinstance(value, str) and ipaddress.ip_address(value) in network
        except ValueError:
            return False

    return inside


def _anything_but(argument: Any, where: str) -> Callable[[Any], bool]:
    """The test of what anything-but excludes."""
    if isinstance(argument, dict) and len(argument) == 1:
        ((operator, inner),) = argument.items()
        if operator not in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
            raise ValueError(f"{where}: anything-but with {operator!r} is not emulated by the local stack")
        many = inner if isinstance(inner, list) and operator in ("equals-ignore-case", "wildcard") else [inner]
        tests = [_string_test(operator, one, where) for one in many]
        return lambda v: any(test(v) for test in tests)
    values = argument if isinstance(argument, list) else [argument]
    if not values or not (all(isinstance(v, str) for v in values) or all(_number(v) for v in values)):
        raise ValueError(f"{where}: anything-but takes strings or numbers (or a prefix, suffix, ...)")
    return lambda v: any(_same(excluded, v) for excluded in values)


def _option(option: Any, where: str) -> Callable[[list[Any]], bool]:
    """One entry of a field's list: an exact value or one operator."""
    if option is None or isinstance(option, str | int | float | bool):
        return lambda values: any(_same(option, v) for v in values)
    if not (isinstance(option, dict) and len(option) == 1):
        raise ValueError(f"{where}: {json.dumps(option)} is neither a value nor one operator")
    ((operator, argument),) = option.items()
    if operator == "exists":
        if not isinstance(argument, bool):
            raise ValueError(f"{where}: exists takes true or false")
        return lambda values: bool(values) is argument
    if operator == "anything-but":
        excluded = _anything_but(argument, where)
        return lambda values: any(not excluded(v) for v in values)
    test = (
        _numeric(argument, where)
        if operator == "numeric"
        else _cidr(argument, where)
        if operator == "cidr"
        else _string_test(operator, argument, where)
    )
    return lambda values: any(test(v) for v in values)


class BackgroundLoop:
    """A daemon thread that calls ``step`` until stopped. When a round finds nothing to do it pauses ``interval``
    seconds, doubling the pause while it stays idle, up to ``idle_interval``; ``wake`` ends a pause at once.
    """

    interval: float = 1.0
    idle_interval: float = 1.0
    stopping: threading.Event
    waking: threading.Event
    thread: threading.Thread | None

    def step(self) -> bool:
        """One round of work; True if something was done (the next round follows at once)."""
        raise NotImplementedError

    def start(self) -> None:
        """Run in a background thread."""
        self.thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop at once (a pause ends when woken)."""
        self.stopping.set()
        self.waking.set()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def wake(self) -> None:
        """Start the next round now (something may have arrived)."""
        self.waking.set()

    def _run(self) -> None:
        pause = self.interval
        while not self.stopping.is_set():
            if self.step():
                pause = self.interval
                continue
            self.waking.wait(pause)
            self.waking.clear()
            pause = self.next_pause(pause)

    def next_pause(self, pause: float) -> float:
        """The pause after another idle round: twice the last one, at most ``idle_interval``."""
        return min(pause * 2, max(self.interval, self.idle_interval))


#: Properties of an AWS::Lambda::EventSourceMapping that make no difference to what the local stack delivers: how
#: many batches of a shard (or of a queue) AWS runs at once (the local stack runs them one after another, one of
#: the orders AWS may take), tags, the key that encrypts the filter criteria, and metrics.
_MAPPING_IGNORED = frozenset({"ParallelizationFactor", "ScalingConfig", "Tags", "KmsKeyArn", "MetricsConfig"})
#: What a queue mapping may have (the stream's failure policy does not apply to queues: their redrive policy does).
_QUEUE_HONOURED = frozenset(
    {
        "EventSourceArn",
        "FunctionName",
        "Enabled",
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "FilterCriteria",
        "FunctionResponseTypes",
    }
)
_MAPPING_HONOURED = frozenset(
    {
        "EventSourceArn",
        "FunctionName",
        "Enabled",
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "FilterCriteria",
        "FunctionResponseTypes",
        "StartingPosition",
        "BisectBatchOnFunctionError",
        "MaximumRetryAttempts",
        "MaximumRecordAgeInSeconds",
        "DestinationConfig",
    }
)


@dataclass
class StreamTrigger:
    """One DynamoDB stream event source mapping of the template, polled from moto's stream."""

    function: str
    stream_arn: str
    batch_size: int
    #: The mapping's FilterCriteria, compiled (compile_pattern); a record passes if any filter matches it.
    filters: list[Matcher]
    partial_failures: bool
    #: MaximumBatchingWindowInSeconds: how long a batch smaller than batch_size may wait for more records.
    window: float = 0.0
    #: StartingPosition: where a shard is first read from (TRIM_HORIZON or LATEST).
    starting_position: str = "TRIM_HORIZON"
    #: BisectBatchOnFunctionError: a batch the function fails on is split in two, and each half tried alone.
    bisect: bool = False
    #: MaximumRetryAttempts and MaximumRecordAgeInSeconds (-1: no limit): past either, a failing batch is given up
    #: on, described on ``on_failure``.
    max_retries: int = -1
    max_age: float = -1
    #: DestinationConfig.OnFailure: the URL of the queue that batches given up on are described on (None: dropped).
    on_failure: str | None = None
    #: The mapping's name: its SAM event's, as in "stream trigger NewReports of CaseBuilderFunction".
    name: str = ""
    pending: list[dict[str, Any]] = field(default_factory=list)
    #: The shard each pending record came from (Lambda's batches are per shard).
    shards: list[str] = field(default_factory=list)
    iterators: dict[str, str] = field(default_factory=dict)
    #: When the oldest pending record was read (monotonic seconds).
    pending_since: float | None = None
    #: Failed tries of the batch at the head of ``pending``, and the size of its next try (less while bisecting).
    attempts: int = 0
    limit: int = 0

    def ready(self, now: float) -> bool:
        """Whether a batch goes out now: the batch is full, or the window since its first record has passed."""
        if not self.pending:
            return False
        if len(self.pending) >= self.batch_size or self.pending_since is None:
            return True
        return now - self.pending_since >= self.window

    def wanted(self, record: dict[str, Any]) -> bool:
        """Whether the record passes the mapping's filter criteria."""
        return not self.filters or any(test(record) for test in self.filters)

    def batch(self) -> list[dict[str, Any]]:
        """The next batch: up to batch_size pending records (fewer while bisecting), all of one shard."""
        size = min(self.limit or self.batch_size, self.batch_size)
        shard = self.shards[0]
        count = next((i for i, s in enumerate(self.shards[:size]) if s != shard), min(size, len(self.pending)))
        return self.pending[:count]

    def done(self, count: int) -> None:
        """The first ``count`` pending records are delivered (or given up on)."""
        del self.pending[:count]
        del self.shards[:count]
        if not self.pending:
            self.pending_since = None  # what is left has waited already: it goes out next round


@dataclass
class QueueTrigger:
    """One SQS event source mapping of the template, polled as Lambda polls a queue."""

    function: str
    queue_arn: str
    queue_url: str
    batch_size: int
    partial_failures: bool
    filters: list[Matcher]
    name: str = ""


def _plain(value: Any) -> Any:
    """A stream record's value as Lambda's event has it: times as epoch seconds, binary values as base64."""
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    return str(value)


def _event_name(logical: str, function: str) -> str:
    """The SAM event a translated resource came from (SAM names it <function><event>), else its logical id."""
    return logical[len(function) :] if logical.startswith(function) and logical != function else logical


@dataclass
class Triggers(BackgroundLoop):
    """Polls every stream event source mapping of the template and invokes its function."""

    stack: Stack
    invoke: Invoke
    client: Any
    log: Log
    #: Lambda polls a stream four times a second; idle, the local stack polls less, down to every 2 s (each
    #: GetRecords leaves a shard iterator in moto's memory), and wake() polls at once when a function wrote.
    interval: float = 0.25
    idle_interval: float = 2.0
    clock: Callable[[], float] = time.monotonic
    #: An SQS client, for the mappings' on-failure destinations.
    sqs: Any = None
    #: The wall clock (for the records' age, and the failure records' times).
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    #: The pause after a batch whose records the function reported failed, before it is tried again.
    backoff: float = 0.5
    triggers: list[StreamTrigger] = field(default_factory=list)
    queues: list[QueueTrigger] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    waking: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        for logical, resource in self.stack.of_type("AWS::Lambda::EventSourceMapping").items():
            raw = resource.get("Properties") or {}
            if re.fullmatch(r"arn:[^:]+:sqs:.+", str(self.stack.resolve(raw.get("EventSourceArn")))):
                queue = self._queue_mapping(logical, raw)
                if queue is not None:
                    self.queues.append(queue)
                continue
            trigger = self._mapping(logical, raw)
            if trigger is not None:
                self.triggers.append(trigger)

    def _queue_mapping(self, logical: str, raw: dict[str, Any]) -> QueueTrigger | None:
        """One queue mapping as a QueueTrigger (None: disabled); CannotEmulate for what it cannot honour."""
        function = self.stack.function_of(self.stack.resolve(raw["FunctionName"]), f"event source mapping {logical}")
        where = f"queue trigger {_event_name(logical, function)} of {function}"
        unknown = sorted(set(raw) - _QUEUE_HONOURED - _MAPPING_IGNORED)
        if unknown:
            raise CannotEmulate(f"{where}: the local stack does not emulate {', '.join(unknown)}")
        props = self.stack.resolve(raw)
        if props.get("Enabled", True) in (False, "false"):
            return None
        arn = str(props["EventSourceArn"])
        batch_size = int(props.get("BatchSize", 10))
        if not 1 <= batch_size <= 10:  # more needs a batching window, which the local stack does not emulate
            raise CannotEmulate(f"{where}: cannot deliver batches of {batch_size} (the local stack takes 1 to 10)")
        return QueueTrigger(
            function=function,
            queue_arn=arn,
            queue_url=self._queue(where, arn),
            batch_size=batch_size,
            partial_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
            filters=[_filter(where, f["Pattern"]) for f in props.get("FilterCriteria", {}).get("Filters", [])],
            name=where,
        )

    def _mapping(self, logical: str, raw: dict[str, Any]) -> StreamTrigger | None:
        """One mapping as a StreamTrigger (None: disabled); CannotEmulate, naming it, for what it cannot honour."""
        function = self.stack.function_of(self.stack.resolve(raw["FunctionName"]), f"event source mapping {logical}")
        where = f"stream trigger {_event_name(logical, function)} of {function}"
        unknown = sorted(set(raw) - _MAPPING_HONOURED - _MAPPING_IGNORED)
        if unknown:
            raise CannotEmulate(f"{where}: the local stack does not emulate {', '.join(unknown)}")
        props = self.stack.resolve(raw)
        source = str(props["EventSourceArn"])
        if not re.fullmatch(r"arn:[^:]+:dynamodb:[^:]*:[^:]*:table/[^/]+/stream/.+", source):
            raise CannotEmulate(f"{where}: the local stack runs DynamoDB stream mappings only, not {source}")
        if props.get("Enabled", True) in (False, "false"):
            return None
        position = str(props.get("StartingPosition", "TRIM_HORIZON"))
        if position not in ("TRIM_HORIZON", "LATEST"):
            raise CannotEmulate(f"{where}: cannot start a stream at {position}")
        filters = [_filter(where, f["Pattern"]) for f in props.get("FilterCriteria", {}).get("Filters", [])]
        destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        return StreamTrigger(
            function=function,
            stream_arn=source,
            batch_size=int(props.get("BatchSize", 100)),
            filters=filters,
            partial_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
            window=float(props.get("MaximumBatchingWindowInSeconds", 0)),
            starting_position=position,
            bisect=props.get("BisectBatchOnFunctionError") in (True, "true"),
            max_retries=int(props.get("MaximumRetryAttempts", -1)),
            max_age=float(props.get("MaximumRecordAgeInSeconds", -1)),
            on_failure=self._queue(where, destination) if destination else None,
            name=where,
        )

    def _queue(self, where: str, arn: str) -> str:
        for logical in self.stack.of_type("AWS::SQS::Queue"):
            if self.stack.attributes.get((logical, "Arn")) == arn:
                return self.stack.attributes[(logical, "QueueUrl")]
        raise CannotEmulate(f"{where}: {arn} is not a queue of this template")

    def step(self) -> bool:
        """Poll every trigger once."""
        busy = False
        for trigger in self.triggers:
            try:
                busy = self.poll(trigger) or busy
            except Exception as error:  # keep polling; the next round retries
                self.log(f"stream trigger of {trigger.function} failed: {error}")
        for queue in self.queues:
            try:
                busy = self.poll_queue(queue) or busy
            except Exception as error:  # the messages come back after their visibility timeout
                self.log(f"{queue.name} failed: {error}")
        return busy

    def drain(self, rounds: int = 50) -> None:
        """Deliver everything pending now, batching windows or not (for tests and benchmarks)."""
        for _ in range(rounds):
            streams = [self.poll(t, flush=True) for t in self.triggers]
            queues = [self.poll_queue(q) for q in self.queues]
            if not any(streams + queues):
                return

    def poll_queue(self, trigger: QueueTrigger) -> bool:
        """Receive a batch of visible messages and invoke the function on it as Lambda does: the messages it did
        not report failed are deleted; the failed ones (all of them, if it raised) are left to come back when
        their visibility ends (the function may have changed it), and the queue dead-letters them in time."""
        if self.sqs is None:
            return False
        answer = self.sqs.receive_message(
            QueueUrl=trigger.queue_url,
            MaxNumberOfMessages=trigger.batch_size,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            return False
        records = [self._sqs_record(trigger, m) for m in messages]
        wanted = [r for r in records if not trigger.filters or any(test(r) for test in trigger.filters)]
        failed: set[str] = set()
        if wanted:
            try:
                result = self.invoke(trigger.function, {"Records": wanted})
            except Exception as error:
                self.log(f"{trigger.name}: the function failed on {len(wanted)} message(s): {error}")
                return True
            if trigger.partial_failures:
                failed = {str(f["itemIdentifier"]) for f in (result or {}).get("batchItemFailures", [])}
        done = [
            {"Id": str(n), "ReceiptHandle": r["receiptHandle"]}
            for n, r in enumerate(records)
            if r["messageId"] not in failed
        ]
        if done:  # a message the filters leave out is deleted too, as Lambda does
            self.sqs.delete_message_batch(QueueUrl=trigger.queue_url, Entries=done)
        return True

    def _sqs_record(self, trigger: QueueTrigger, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": trigger.queue_arn,
            "awsRegion": self.stack.region,
        }

    def poll(self, trigger: StreamTrigger, flush: bool = False) -> bool:
        """Read new records and invoke the function on a batch once it is ready (or ``flush``); True if anything
        was delivered (or given up on). A function error is raised again once the mapping's policy is applied:
        the batch is bisected, given up on, or tried again on a later poll.
        """
        self._read(trigger)
        if not trigger.pending or not (flush or trigger.ready(self.clock())):
            return False
        batch = trigger.batch()
        try:
            answer = self.invoke(trigger.function, {"Records": batch})
        except Exception:
            if not self._failed(trigger, batch, "Unhandled"):
                raise  # logged by step(); tried again on a later round
            return True
        failed = (
            [f["itemIdentifier"] for f in (answer or {}).get("batchItemFailures", [])]
            if trigger.partial_failures
            else []
        )
        if not failed:
            trigger.done(len(batch))
            trigger.attempts, trigger.limit = 0, 0
            return True
        # Lambda retries from the first failed record, with the records after it.
        first = min(i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] in failed)
        trigger.done(first)
        if self._failed(trigger, batch[first:], None):
            return True
        self.log(f"{trigger.function}: {len(failed)} record(s) failed; retrying")
        time.sleep(self.backoff)
        return first > 0

    def _failed(self, trigger: StreamTrigger, batch: list[dict[str, Any]], error: str | None) -> bool:
        """Apply the mapping's policy to a batch that failed (``error``: the function's, None: records it reported
        failed); True if the batch was given up on (and described on the on-failure destination)."""
        if error is not None and trigger.bisect and len(batch) > 1:
            trigger.limit = (len(batch) + 1) // 2  # splitting does not count as a retry
            return False
        trigger.attempts += 1
        oldest = min((r["dynamodb"].get("ApproximateCreationDateTime") for r in batch), default=None)
        age = self.now().timestamp() - oldest if isinstance(oldest, int | float) else 0.0
        if 0 <= trigger.max_age < age:
            condition = "RecordAgeExceeded"
        elif 0 <= trigger.max_retries < trigger.attempts:
            condition = "RetryAttemptsExhausted"
        else:
            return False
        self._give_up(trigger, batch, condition, error)
        trigger.done(len(batch))
        trigger.attempts, trigger.limit = 0, 0
        return True

    def _give_up(self, trigger: StreamTrigger, batch: list[dict[str, Any]], condition: str, error: str | None) -> None:
        """Describe a batch given up on as Lambda does on the mapping's on-failure destination (its records stay
        on the stream: ``kanal cases replay`` reads them from there)."""
        self.log(f"{trigger.name}: gave up on {len(batch)} record(s) ({condition})")
        if trigger.on_failure is None or self.sqs is None:
            return
        arrivals = [r["dynamodb"].get("ApproximateCreationDateTime") for r in batch]
        times = [datetime.fromtimestamp(a, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for a in arrivals if a is not None]
        message = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.stack.attributes.get((trigger.function, "Arn")),
                "condition": condition,
                "approximateInvokeCount": trigger.attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                **({"functionError": error} if error else {}),
            },
            "version": "1.0",
            "timestamp": self.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "DDBStreamBatchInfo": {
                "shardId": trigger.shards[0] if trigger.shards else "",
                "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": times[0] if times else None,
                "approximateArrivalOfLastRecord": times[-1] if times else None,
                "batchSize": len(batch),
                "streamArn": trigger.stream_arn,
            },
        }
        self.sqs.send_message(QueueUrl=trigger.on_failure, MessageBody=json.dumps(message))

    def _read(self, trigger: StreamTrigger) -> None:
        if not trigger.iterators:
            shards = self.client.describe_stream(StreamArn=trigger.stream_arn)["StreamDescription"]["Shards"]
            for shard in shards:
                trigger.iterators[shard["ShardId"]] = self.client.get_shard_iterator(
                    StreamArn=trigger.stream_arn, ShardId=shard["ShardId"], ShardIteratorType=trigger.starting_position
                )["ShardIterator"]
        for shard, iterator in list(trigger.iterators.items()):
            answer = self.client.get_records(ShardIterator=iterator, Limit=1000)
            trigger.iterators[shard] = answer.get("NextShardIterator") or iterator
            for record in answer.get("Records", []):
                plain = json.loads(json.dumps(record, default=_plain))
                if trigger.wanted(plain):
                    if not trigger.pending:
                        trigger.pending_since = self.clock()
                    trigger.pending.append(plain)
                    trigger.shards.append(shard)


# Schedules: EventBridge Scheduler's rate, cron and at expressions, each as a rule that names its next firing.


class Rule(Protocol):
    """When a schedule fires: a pure function of time."""

    def next_after(self, moment: datetime) -> datetime | None:
        """The first firing strictly after ``moment`` (aware; in UTC: an aware time in the hour that daylight
        saving time repeats never compares equal across zones), or None if it never fires again."""


_JUST_BEFORE = timedelta(microseconds=1)
#: Scheduler's rate units (singular or plural) as timedelta's arguments.
_RATE_UNITS = {unit + plural: unit + "s" for unit in ("minute", "hour", "day") for plural in ("", "s")}


@dataclass(frozen=True)
class Rate:
    """``rate(value unit)``: from the schedule's start (Scheduler fires at once when there is no StartDate), then
    every ``every``; a day is 24 hours, whatever the daylight saving time."""

    every: timedelta
    start: datetime

    def next_after(self, moment: datetime) -> datetime:
        """The first firing after ``moment``."""
        if moment < self.start:
            return self.start
        return self.start + ((moment - self.start) // self.every + 1) * self.every


@dataclass(frozen=True)
class At:
    """``at(yyyy-mm-ddThh:mm:ss)``: once, at that wall-clock time in the schedule's time zone."""

    when: datetime

    def next_after(self, moment: datetime) -> datetime | None:
        """The firing, if it is after ``moment``."""
        return self.when if self.when > moment else None


@dataclass(frozen=True)
class Cron:
    """``cron(minutes hours day-of-month month day-of-week year)``, read by aws-croniter, on the wall clock of the
    schedule's time zone. As Scheduler does over daylight saving time: a time the clock skips does not fire, and
    a time the clock shows twice fires once (the first)."""

    fields: Any  # aws_croniter.AwsCroniter
    zone: ZoneInfo

    def next_after(self, moment: datetime) -> datetime | None:
        """The first firing after ``moment``."""
        wall = moment.astimezone(self.zone).replace(tzinfo=None)
        while True:
            found = self._next_wall(wall)
            if found is None:
                return None
            firing = found.replace(tzinfo=self.zone).astimezone(UTC)
            real = firing.astimezone(self.zone).replace(tzinfo=None) == found
            if real and firing > moment:
                return firing
            wall = found  # skipped by the clock, or its first showing has passed

    def _next_wall(self, wall: datetime) -> datetime | None:
        """The first matching wall-clock minute after ``wall``. aws-croniter gives up after ten steps of its search
        (a fifth Sunday of February comes once in 28 years): go on from the next month until its last year."""
        probe = wall
        last_year = max(self.fields.years)
        while probe.year <= last_year:
            found: datetime | None = self.fields.get_next(probe.replace(tzinfo=UTC))[0]
            if found is not None:
                return found.replace(tzinfo=None)
            month = (probe + timedelta(minutes=1)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            probe = (month + timedelta(days=32)).replace(day=1) - timedelta(minutes=1)  # next() starts a minute on
        return None


def schedule_rule(expression: str, zone_name: str, start: datetime) -> Rule:
    """The rule of a ScheduleExpression in a time zone, for a schedule created at ``start``. ValueError, saying
    why, for an expression the local stack cannot honour (or Scheduler would refuse)."""
    try:
        zone = ZoneInfo(zone_name)
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"unknown time zone {zone_name!r}") from None
    kind = re.fullmatch(r"(rate|cron|at)\((.*)\)", expression)
    if kind is None:
        raise ValueError("not a rate(...), cron(...) or at(...) expression")
    body = kind.group(2)
    if kind.group(1) == "rate":
        rate = re.fullmatch(r"([1-9][0-9]*) (\w+)", body)
        if rate is None or rate.group(2) not in _RATE_UNITS:
            raise ValueError("a rate is a positive whole number and minutes, hours or days")
        return Rate(timedelta(**{_RATE_UNITS[rate.group(2)]: int(rate.group(1))}), start.astimezone(UTC))
    if kind.group(1) == "at":
        try:
            when = datetime.strptime(body, "%Y-%m-%dT%H:%M:%S")  # naive: in the schedule's zone
        except ValueError:
            raise ValueError("at() takes yyyy-mm-ddThh:mm:ss") from None
        return At(when.replace(tzinfo=zone).astimezone(UTC))
    return _cron(body, zone, start)


def _cron(body: str, zone: ZoneInfo, start: datetime) -> Cron:
    from aws_croniter import AwsCroniter
    from aws_croniter.exceptions import AwsCroniterExpressionError

    fields = body.split(" ")
    if len(fields) == 6:
        # aws-croniter accepts these and then cannot honour them: LW in the day of the month fails to parse; L
        # alone in the day of the week is Saturday (it finds no day), and L-n is no day of the week (it takes the
        # last weekday n of the month).
        if fields[2].upper() == "LW":
            raise ValueError(f"aws-croniter cannot honour day-of-month {fields[2]!r}")
        if re.fullmatch(r"L(-\d+)?", fields[4].upper()):
            raise ValueError(f"aws-croniter cannot honour day-of-week {fields[4]!r}")
    try:
        rule = Cron(AwsCroniter(body), zone)
    except AwsCroniterExpressionError as error:
        raise ValueError(f"not a valid cron expression: {error}") from None
    except ValueError as error:
        raise ValueError(f"aws-croniter cannot parse it ({error})") from None
    if rule.next_after(start - _JUST_BEFORE) is None:
        raise ValueError(f"it never fires after {start:%Y-%m-%d %H:%M} UTC (as aws-croniter reads it)")
    return rule


@dataclass
class Schedule:
    """One AWS::Scheduler::Schedule of the template (a ScheduleV2 event of a function), with its next firing."""

    function: str
    name: str
    expression: str
    rule: Rule
    payload: dict[str, Any]
    #: The next firing (aware); None: it will not fire again.
    due: datetime | None

    def fire(self, now: datetime) -> bool:
        """Whether the schedule fires at ``now``; if so, its next firing is set (once however late ``now`` is)."""
        if self.due is None or now < self.due:
            return False
        self.due = self.rule.next_after(now)
        return True


@dataclass
class Schedules(BackgroundLoop):
    """Fires the template's schedules on their own expressions and time zones, with their targets' input. Raises
    CannotEmulate, naming the schedule, for an expression the local stack cannot honour."""

    stack: Stack
    invoke: Invoke
    log: Log
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    schedules: list[Schedule] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    waking: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        now = self.clock()
        for logical, resource in self.stack.of_type("AWS::Scheduler::Schedule").items():
            props = self.stack.resolve(resource["Properties"])
            target = props.get("Target", {})
            function = self.stack.function_of(target.get("Arn"), f"the target of schedule {logical}")
            name = _event_name(logical, function)
            where = f"schedule {name} of {function}"
            expression = props["ScheduleExpression"]
            zone = props.get("ScheduleExpressionTimezone", "UTC")
            try:
                if "StartDate" in props or "EndDate" in props:
                    raise ValueError("StartDate and EndDate are not emulated")
                rule = schedule_rule(expression, zone, now)
            except ValueError as error:
                raise CannotEmulate(f"{where}: cannot honour {expression} ({zone}): {error}") from None
            try:
                payload = json.loads(target.get("Input", "{}"))
            except ValueError:
                raise CannotEmulate(f"{where}: its target's Input is not JSON, which Lambda cannot be sent") from None
            enabled = props.get("State", "ENABLED") != "DISABLED"
            self.schedules.append(
                Schedule(
                    function=function,
                    name=name,
                    expression=expression,
                    rule=rule,
                    payload=payload,
                    due=rule.next_after(now - _JUST_BEFORE) if enabled else None,
                )
            )

    interval: float = 1.0

    def step(self) -> bool:
        """Fire what is due now; the schedules are checked once a second."""
        self.tick(self.clock())
        return False

    def tick(self, now: datetime) -> int:
        """Fire every schedule due at ``now``, the one due first first; how many fired."""
        fired = 0
        for schedule in sorted(self.schedules, key=lambda s: s.due or now):
            if not schedule.fire(now):
                continue
            fired += 1
            try:
                answer = self.invoke(schedule.function, schedule.payload)
            except Exception as error:  # the next firing tries again, as the scheduler's retry would
                self.log(f"schedule {schedule.name} of {schedule.function} failed: {error}")
                continue
            for sent in (answer or {}).get("sent", []) if isinstance(answer, dict) else []:
                case = f" case {sent['case_id']}" if sent.get("case_id") else ""
                self.log(f"notification {sent['kind']} ({sent['offset']}) -> {sent['partner_id']}{case}")
        return fired
