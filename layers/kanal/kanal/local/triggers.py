"""The template's triggers, run locally: DynamoDB stream event source mappings (batch size, filter
criteria, partial batch failures) and EventBridge Scheduler schedules (rate, cron with time zone, at).

What the local stack cannot do as AWS would (a filter operator it does not implement, a schedule expression it
cannot honour) raises CannotEmulate when the stack starts, naming the resource: nothing is dropped or skipped
without saying so.
"""

from __future__ import annotations

import ipaddress
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kanal.local.template import Stack

Invoke = Callable[[str, dict[str, Any]], Any]
Log = Callable[[str], None]


class CannotEmulate(Exception):
    """Something the template asks for that the local stack cannot do as AWS does. Raised when the stack starts,
    naming the resource, so that nothing runs differently from the deployed stack without saying so."""


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


def _filter(function: str, event: str, text: str) -> Matcher:
    """One filter of a stream trigger, compiled; CannotEmulate naming the function, its event and the pattern."""
    try:
        return compile_pattern(json.loads(text))
    except ValueError as error:
        raise CannotEmulate(f"stream trigger {event} of {function}: cannot honour filter {text}: {error}") from None


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
        regex = _wildcard(_text(operator, argument, where), where)
        return lambda v: isinstance(v, str) and regex.fullmatch(v) is not None
    raise ValueError(f"{where}: operator {operator!r} is not emulated by the local stack")


def _wildcard(text: str, where: str) -> re.Pattern[str]:
    parts: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            escaped = next(chars, "")
            if escaped not in ("*", "\\"):
                raise ValueError(f"{where}: wildcard {text!r} escapes something other than * or \\")
            parts.append(re.escape(escaped))
        elif char == "*":
            if parts and parts[-1] == ".*":
                raise ValueError(f"{where}: wildcard {text!r} has consecutive wildcard characters")
            parts.append(".*")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


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


@dataclass
class StreamTrigger:
    """One DynamoDB stream event of a function, polled from moto's stream."""

    function: str
    stream_arn: str
    batch_size: int
    #: The mapping's FilterCriteria, compiled (compile_pattern); a record passes if any filter matches it.
    filters: list[Matcher]
    partial_failures: bool
    #: MaximumBatchingWindowInSeconds: how long a batch smaller than batch_size may wait for more records.
    window: float = 0.0
    pending: list[dict[str, Any]] = field(default_factory=list)
    iterators: dict[str, str] = field(default_factory=dict)
    #: When the oldest pending record was read (monotonic seconds).
    pending_since: float | None = None

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


@dataclass
class Triggers(BackgroundLoop):
    """Polls every stream trigger of the template and invokes its function."""

    stack: Stack
    invoke: Invoke
    client: Any
    log: Log
    #: Lambda polls a stream four times a second; idle, the local stack polls less, down to every 2 s (each
    #: GetRecords leaves a shard iterator in moto's memory), and wake() polls at once when a function wrote.
    interval: float = 0.25
    idle_interval: float = 2.0
    clock: Callable[[], float] = time.monotonic
    triggers: list[StreamTrigger] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    waking: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        for name, function in self.stack.functions.items():
            for event_name, event in function.events.items():
                if event.get("Type") != "DynamoDB":
                    continue
                props = event["Properties"]
                filters = [
                    _filter(name, event_name, f["Pattern"]) for f in props.get("FilterCriteria", {}).get("Filters", [])
                ]
                self.triggers.append(
                    StreamTrigger(
                        function=name,
                        stream_arn=str(self.stack.resolve(props["Stream"])),
                        batch_size=int(props.get("BatchSize", 100)),
                        filters=filters,
                        partial_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                        window=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                    )
                )

    def step(self) -> bool:
        """Poll every trigger once."""
        busy = False
        for trigger in self.triggers:
            try:
                busy = self.poll(trigger) or busy
            except Exception as error:  # keep polling; the next round retries
                self.log(f"stream trigger of {trigger.function} failed: {error}")
        return busy

    def drain(self, rounds: int = 50) -> None:
        """Deliver everything pending now, batching windows or not (for tests and benchmarks)."""
        for _ in range(rounds):
            if not any(self.poll(t, flush=True) for t in self.triggers):
                return

    def poll(self, trigger: StreamTrigger, flush: bool = False) -> bool:
        """Read new records and invoke the function on a batch once it is ready (or ``flush``); True if anything
        was delivered.
        """
        self._read(trigger)
        if not trigger.pending or not (flush or trigger.ready(self.clock())):
            return False
        batch = trigger.pending[: trigger.batch_size]
        answer = self.invoke(trigger.function, {"Records": batch})
        failed = (
            [f["itemIdentifier"] for f in (answer or {}).get("batchItemFailures", [])]
            if trigger.partial_failures
            else []
        )
        if not failed:
            del trigger.pending[: len(batch)]
            if not trigger.pending:
                trigger.pending_since = None  # what is left has waited already: it goes out next round
            return True
        # Lambda retries from the first failed record, with the records after it.
        first = min(i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] in failed)
        del trigger.pending[:first]
        self.log(f"{trigger.function}: {len(failed)} record(s) failed; retrying")
        time.sleep(0.5)
        return first > 0

    def _read(self, trigger: StreamTrigger) -> None:
        if not trigger.iterators:
            shards = self.client.describe_stream(StreamArn=trigger.stream_arn)["StreamDescription"]["Shards"]
            for shard in shards:
                trigger.iterators[shard["ShardId"]] = self.client.get_shard_iterator(
                    StreamArn=trigger.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
        for shard, iterator in list(trigger.iterators.items()):
            answer = self.client.get_records(ShardIterator=iterator, Limit=1000)
            trigger.iterators[shard] = answer.get("NextShardIterator") or iterator
            for record in answer.get("Records", []):
                plain = json.loads(json.dumps(record, default=str))
                if trigger.wanted(plain):
                    if not trigger.pending:
                        trigger.pending_since = self.clock()
                    trigger.pending.append(plain)


_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {m: i + 1 for i, m in enumerate(_MONTH_NAMES)}


def _field_matches(spec: str, value: int, names: dict[str, int]) -> bool:
    """One cron field: *, ?, numbers, names, lists, ranges and steps, as EventBridge reads them."""
    for part in spec.upper().split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", "?"):
            low, high = 0, 10_000
        elif "-" in part:
            first, last = part.split("-", 1)
            low, high = names.get(first) or int(first), names.get(last) or int(last)
        else:
            low = names.get(part) or int(part)
            high = low if step == 1 else 10_000
        if low <= value <= high and (value - low) % step == 0:
            return True
    return False


def cron_matches(expression: str, moment: datetime) -> bool:
    """Whether ``cron(min hour day-of-month month day-of-week year)`` fires at the minute of ``moment`` (local)."""
    minute, hour, dom, month, dow, year = expression.split()
    weekday = (moment.isoweekday() % 7) + 1  # EventBridge: 1 = Sunday
    return (
        _field_matches(minute, moment.minute, {})
        and _field_matches(hour, moment.hour, {})
        and _field_matches(dom, moment.day, {})
        and _field_matches(month, moment.month, _MONTHS)
        and _field_matches(dow, weekday, _DAYS)
        and _field_matches(year, moment.year, {})
    )


def rate_of(expression: str) -> timedelta:
    """``rate(15 minutes)`` as a duration."""
    amount, unit = expression.split()
    return timedelta(**{unit.rstrip("s") + "s": int(amount)})


@dataclass
class Schedule:
    """One ScheduleV2 event of a function."""

    function: str
    name: str
    expression: str
    zone: ZoneInfo
    payload: dict[str, Any]
    started: datetime
    last: datetime | None = None

    def due(self, now: datetime) -> bool:
        """Whether the schedule fires now (at most once per minute for cron and at)."""
        kind, _, body = self.expression.partition("(")
        body = body.rstrip(")")
        if kind == "rate":
            return now >= (self.last or self.started) + rate_of(body)
        minute = now.astimezone(self.zone).replace(second=0, microsecond=0)
        if self.last is not None and self.last.astimezone(self.zone).replace(second=0, microsecond=0) == minute:
            return False
        if kind == "at":
            return minute == datetime.fromisoformat(body).replace(tzinfo=self.zone)
        return kind == "cron" and cron_matches(body, minute)


@dataclass
class Schedules(BackgroundLoop):
    """Fires the template's schedules on their own expressions and time zones."""

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
        for name, function in self.stack.functions.items():
            for event_name, event in function.events.items():
                if event.get("Type") != "ScheduleV2":
                    continue
                props = self.stack.resolve(event["Properties"])
                self.schedules.append(
                    Schedule(
                        function=name,
                        name=event_name,
                        expression=props["ScheduleExpression"],
                        zone=ZoneInfo(props.get("ScheduleExpressionTimezone", "UTC")),
                        payload=json.loads(props.get("Input", "{}")),
                        started=now,
                    )
                )

    interval: float = 1.0

    def step(self) -> bool:
        """Fire what is due now; the schedules are checked once a second."""
        self.tick(self.clock())
        return False

    def tick(self, now: datetime) -> int:
        """Fire every schedule due at ``now``; how many fired."""
        fired = 0
        for schedule in self.schedules:
            if not schedule.due(now):
                continue
            schedule.last = now
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
