"""The template's event source mappings, run locally: DynamoDB stream triggers with their batch size,
filter criteria and partial batch failures.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kanal.local.template import Stack

Invoke = Callable[[str, dict[str, Any]], Any]
Log = Callable[[str], None]


def matches(pattern: Any, value: Any) -> bool:
    """EventBridge-style pattern matching as Lambda's FilterCriteria use it (exact values, prefix, nesting)."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and matches(p, value[k]) for k, p in pattern.items())
    if isinstance(pattern, list):
        return any(_matches_one(option, value) for option in pattern)
    return bool(pattern == value)


def _matches_one(option: Any, value: Any) -> bool:
    if isinstance(option, dict) and "prefix" in option:
        return isinstance(value, str) and value.startswith(option["prefix"])
    return bool(option == value)


@dataclass
class StreamTrigger:
    """One DynamoDB stream event of a function, polled from moto's stream."""

    function: str
    stream_arn: str
    batch_size: int
    filters: list[dict[str, Any]]
    partial_failures: bool
    pending: list[dict[str, Any]] = field(default_factory=list)
    iterators: dict[str, str] = field(default_factory=dict)

    def wanted(self, record: dict[str, Any]) -> bool:
        """Whether the record passes the mapping's filter criteria."""
        return not self.filters or any(matches(f, record) for f in self.filters)


@dataclass
class Triggers:
    """Polls every stream trigger of the template and invokes its function."""

    stack: Stack
    invoke: Invoke
    client: Any
    log: Log
    interval: float = 0.2
    triggers: list[StreamTrigger] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        for name, function in self.stack.functions.items():
            for event in function.events.values():
                if event.get("Type") != "DynamoDB":
                    continue
                props = event["Properties"]
                filters = [json.loads(f["Pattern"]) for f in props.get("FilterCriteria", {}).get("Filters", [])]
                self.triggers.append(
                    StreamTrigger(
                        function=name,
                        stream_arn=str(self.stack.resolve(props["Stream"])),
                        batch_size=int(props.get("BatchSize", 100)),
                        filters=filters,
                        partial_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                    )
                )

    def start(self) -> None:
        """Poll in a background thread."""
        self.thread = threading.Thread(target=self._run, name="stream-triggers", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop polling (within one interval)."""
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def _run(self) -> None:
        while not self.stopping.is_set():
            busy = False
            for trigger in self.triggers:
                try:
                    busy = self.poll(trigger) or busy
                except Exception as error:  # keep polling; the next round retries
                    self.log(f"stream trigger of {trigger.function} failed: {error}")
            if not busy:
                self.stopping.wait(self.interval)

    def drain(self, rounds: int = 50) -> None:
        """Deliver everything pending now (for tests and benchmarks)."""
        for _ in range(rounds):
            if not any(self.poll(t) for t in self.triggers):
                return

    def poll(self, trigger: StreamTrigger) -> bool:
        """Read new records, invoke the function on a batch; True if anything was delivered."""
        self._read(trigger)
        if not trigger.pending:
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
                    trigger.pending.append(plain)
