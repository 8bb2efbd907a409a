"""A fix for the cost of moto's TransactWriteItems, for the local stack, the tests and the benchmarks.

moto 5.2.5 takes a deep copy of the whole table for every item of a transaction, to roll back if the
transaction fails: a transaction of n items on a table of N items costs n x N copies. kanal's case builder
attaches up to 99 reports per transaction, so on a table of a few thousand items one batch took seconds
(measured: 1,000 reports of one video, 6.5 s per transaction, 130 s in all). This keeps moto's semantics —
all or nothing, the same errors — but saves only what the transaction touches: each item named by its
operations, and the length of the table's stream, both put back if moto's transaction fails. Where an
operation does not name its table and key the usual way, moto's own copy is used.

It patches moto's backend (not its server) once per process; AWS is not affected: this is an emulator fix.
"""

from __future__ import annotations

import copy
from typing import Any

_PATCHED = False


def install() -> None:
    """Make moto's TransactWriteItems save only what it touches (idempotent)."""
    global _PATCHED
    if _PATCHED:
        return
    import moto.dynamodb.models as models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original = models.DynamoDBBackend.transact_write_items

    class TableCopies:
        """moto's module's ``copy``: tables pass uncopied while a transaction's touched items are saved."""

        skip_tables = False

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        def deepcopy(self, value: Any, memo: Any = None) -> Any:
            if self.skip_tables and isinstance(value, Table):
                return value
            return copy.deepcopy(value, memo)

    copies = TableCopies()
    models.copy = copies  # type: ignore[assignment,attr-defined]

    def touched(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]] | None:
        saved = []
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table = backend.tables.get(op.get("TableName"))
            key = op.get("Key") or op.get("Item")
            if table is None or not isinstance(key, dict) or table.hash_key_attr not in key:
                return None
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = None
            if table.range_key_attr is not None:
                if table.range_key_attr not in key:
                    return None
                range_key = DynamoType(key[table.range_key_attr])
            saved.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
        return saved

    def restore(saved: list[tuple[Any, Any, Any, Any]], streams: list[tuple[Any, int]]) -> None:
        for table, hash_key, range_key, item in reversed(saved):
            if range_key is None:
                if item is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = item
            elif item is None:
                table.items.get(hash_key, {}).pop(range_key, None)
            else:
                table.items[hash_key][range_key] = item
        for shard, length in streams:
            del shard.items[length:]

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = touched(self, transact_items) if len(transact_items) <= 100 else None
        if saved is None:
            return original(self, transact_items)
        streams = {id(t): (t.stream_shard, len(t.stream_shard.items)) for t, *_ in saved if t.stream_shard}
        copies.skip_tables = True
        try:
            return original(self, transact_items)
        except Exception:
            restore(saved, list(streams.values()))
            raise
        finally:
            copies.skip_tables = False

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _PATCHED = True
