"""The template's S3 events through EventBridge, run locally: each new object version in a bucket that sends its
events to EventBridge (``NotificationConfiguration.EventBridgeConfiguration``) becomes an "Object Created" event,
and every AWS::Events::Rule of the template whose pattern it matches invokes its function target, as EventBridge
does (the rule's pattern read by ``kanal_local.triggers.compile_pattern``; the target's RetryPolicy attempts, then
its dead-letter queue).

moto neither runs Lambda functions nor sends S3 events to EventBridge rules that name functions, so the local
stack watches the buckets itself: it lists their object versions (cheap on the local stack's few objects) and
delivers each new one once, in the order they were listed. What it cannot honour (a rule with another kind of
target or an input transformer) raises CannotEmulate when the stack starts, naming the rule.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kanal_local.template import ACCOUNT, CannotEmulate, Stack
from kanal_local.triggers import BackgroundLoop, Invoke, Log, Matcher, compile_pattern

#: Target properties the local stack honours; any other raises CannotEmulate.
_TARGET_HONOURED = frozenset({"Arn", "Id", "RetryPolicy", "DeadLetterConfig"})


@dataclass
class Rule:
    """One EventBridge rule with a function target."""

    name: str
    function: str
    matches: Matcher
    attempts: int
    dead_letters: str | None


@dataclass
class Pending:
    """An event not yet delivered, and how often delivering it failed."""

    event: dict[str, Any]
    rule: Rule
    failures: int = 0


def object_created(bucket: str, region: str, version: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The "Object Created" event EventBridge receives from S3 for one object version."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": version["Key"],
                "size": int(version.get("Size", 0)),
                "etag": str(version.get("ETag", "")).strip('"'),
                "version-id": version["VersionId"],
                "sequencer": f"{int(now.timestamp() * 1e6):016X}",
            },
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": ACCOUNT,
            "reason": "PostObject",
        },
    }


@dataclass
class Uploads(BackgroundLoop):
    """Watches the template's EventBridge-enabled buckets and delivers their new object versions' events."""

    stack: Stack
    invoke: Invoke
    s3: Any
    log: Log
    sqs: Any = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    interval: float = 0.25
    idle_interval: float = 1.0
    buckets: list[str] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    seen: set[tuple[str, str, str]] = field(default_factory=set)
    pending: list[Pending] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    waking: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        for logical, resource in self.stack.of_type("AWS::S3::Bucket").items():
            props = resource.get("Properties") or {}
            config = (props.get("NotificationConfiguration") or {}).get("EventBridgeConfiguration") or {}
            if config.get("EventBridgeEnabled") in (True, "true"):
                self.buckets.append(str(self.stack.refs[logical]))
            elif (props.get("NotificationConfiguration") or {}).keys() - {"EventBridgeConfiguration"}:
                raise CannotEmulate(f"bucket {logical}: the local stack delivers its events through EventBridge only")
        for logical, resource in self.stack.of_type("AWS::Events::Rule").items():
            props = self.stack.resolve(resource.get("Properties") or {})
            pattern = props.get("EventPattern")
            if pattern is None or "aws.s3" not in (pattern.get("source") or []):
                continue
            for target in props.get("Targets", []):
                unknown = sorted(set(target) - _TARGET_HONOURED)
                if unknown:
                    raise CannotEmulate(f"rule {logical}: the local stack does not emulate {', '.join(unknown)}")
                function = self.stack.function_of(target["Arn"], f"the target of rule {logical}")
                try:
                    test = compile_pattern(pattern)
                except ValueError as error:
                    raise CannotEmulate(f"rule {logical}: cannot honour its pattern: {error}") from None
                retries = int((target.get("RetryPolicy") or {}).get("MaximumRetryAttempts", 185))
                dead = (target.get("DeadLetterConfig") or {}).get("Arn")
                self.rules.append(Rule(logical, function, test, retries + 1, self._queue(dead) if dead else None))

    def _queue(self, arn: str) -> str:
        for logical in self.stack.of_type("AWS::SQS::Queue"):
            if self.stack.attributes.get((logical, "Arn")) == arn:
                return self.stack.attributes[(logical, "QueueUrl")]
        raise CannotEmulate(f"{arn} is not a queue of this template")

    def step(self) -> bool:
        """Look for new versions, then deliver what is pending (each event once per step)."""
        busy = False
        try:
            busy = self.scan()
        except Exception as error:  # the next round lists again
            self.log(f"watching the buckets failed: {error}")
        return self.deliver() or busy

    def scan(self) -> bool:
        """Queue an event per rule for every object version not seen before; whether any was new."""
        found = False
        for bucket in self.buckets:
            request: dict[str, Any] = {"Bucket": bucket}
            while True:
                page = self.s3.list_object_versions(**request)
                # S3 lists a key's versions newest first, and times them to the second: oldest first, in order.
                oldest_first = page.get("Versions", [])[::-1]  # a stable sort keeps them so within a second
                for version in sorted(oldest_first, key=lambda v: v["LastModified"]):
                    seen = (bucket, version["Key"], version["VersionId"])
                    if seen in self.seen:
                        continue
                    self.seen.add(seen)
                    found = True
                    event = object_created(bucket, self.stack.region, version, self.now())
                    self.pending += [Pending(event, rule) for rule in self.rules if rule.matches(event)]
                if not page.get("IsTruncated"):
                    break
                request.update(KeyMarker=page["NextKeyMarker"], VersionIdMarker=page["NextVersionIdMarker"])
        return found

    def deliver(self) -> bool:
        """Invoke each pending event's function once; a failure stays pending until its attempts are spent, then
        goes to the target's dead-letter queue (or is dropped, said in the log, as EventBridge would)."""
        if not self.pending:
            return False
        waiting, self.pending = self.pending, []
        for item in waiting:
            try:
                self.invoke(item.rule.function, item.event)
            except Exception as error:
                item.failures += 1
                if item.failures < item.rule.attempts:
                    self.pending.append(item)
                    continue
                self.log(f"rule {item.rule.name}: gave up on an event after {item.failures} attempts: {error}")
                if item.rule.dead_letters and self.sqs is not None:
                    self.sqs.send_message(QueueUrl=item.rule.dead_letters, MessageBody=json.dumps(item.event))
        return True

    def drain(self, rounds: int = 20) -> None:
        """Deliver everything uploaded so far (tests): scan and deliver until nothing is left to do."""
        for _ in range(rounds):
            if not (self.scan() | self.deliver()):
                return
