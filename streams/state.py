"""Detector state on a worker: in memory while it works, in a Faust table so it survives.

What is written when, what a restore rolls back, and why that is safe on a broker without
transactions: the per-batch protocol, described in docs/durability.md (and only there).

A table entry is `offset \\n value-json \\n before-json` (an empty JSON means no value): JSON
never holds a raw newline, so the before-image of the next write is a split, not a parse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from decimal import Decimal
from typing import Any, Protocol

import orjson

MARKER = "~applied"


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # readers take Decimal(x), which accepts the string as it was
    if isinstance(value, tuple):
        # a detector's named tuple (orjson writes plain tuples only): detectors.store.revive
        # reads the list back as one
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__}")


def dumps_state(value: Any) -> bytes:
    """State to JSON: Decimals as strings, tuples (named ones too) as lists.

    >>> from detectors.splits import SplitEntry
    >>> dumps_state({"used": Decimal("10.50"), "sent": ("0.5",), "kept": [SplitEntry(1.5, "O-1")]})
    b'{"used":"10.50","sent":["0.5"],"kept":[[1.5,"O-1",null]]}'
    """
    return orjson.dumps(value, default=_default)


class TrackedTable(dict[str, Any]):
    """A dict that remembers which keys changed since the partition's last save."""

    __slots__ = ("dirty", "name")

    def __init__(self, name: str, dirty: set[tuple[str, str]]) -> None:
        super().__init__()
        self.name = name
        self.dirty = dirty

    def __setitem__(self, key: str, value: Any) -> None:
        dict.__setitem__(self, key, value)
        self.dirty.add((self.name, key))

    def __delitem__(self, key: str) -> None:
        dict.__delitem__(self, key)
        self.dirty.add((self.name, key))

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            self.dirty.add((self.name, key))
        return dict.pop(self, key, *default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def popitem(self) -> tuple[str, Any]:
        raise NotImplementedError("detectors remove keys by name")

    def clear(self) -> None:
        raise NotImplementedError("detectors remove keys by name")


class PartitionStore:
    """The `Store` of one partition's detectors: tracked tables, and read-only shared ones."""

    def __init__(self, partition: int, shared: Mapping[str, Any]) -> None:
        self.partition = partition
        self.shared = shared
        self.dirty: set[tuple[str, str]] = set()
        self.tables: dict[str, TrackedTable] = {}
        self.applied = -1  # the offset whose batch's state is saved

    def table(self, name: str) -> MutableMapping[str, Any]:
        table = self.tables.get(name)
        if table is None:
            shared: MutableMapping[str, Any] | None = self.shared.get(name)
            if shared is not None:  # read only (the catalog): the detectors never write it
                return shared
            table = self.tables[name] = TrackedTable(name, self.dirty)
        return table

    def load(self, name: str, key: str, value: Any) -> None:
        """Set a restored value: it is saved already, so it is not marked changed."""
        table = self.tables.get(name)
        if table is None:
            table = self.tables[name] = TrackedTable(name, self.dirty)
        dict.__setitem__(table, key, value)

    def sizes(self) -> dict[str, int]:
        return {name: len(table) for name, table in sorted(self.tables.items())}


class Backing(Protocol):
    """Where saved state lives: a Faust table (with its changelog) or, in tests, a dict."""

    def get(self, key: str) -> bytes | None: ...

    def items(self) -> Iterable[tuple[str, bytes]]: ...

    def put(self, partition: int, key: str, value: bytes) -> None:
        """Set `key`, logging the change to `partition` of the changelog."""


class DictBacking(dict[str, bytes]):
    """A `Backing` without a broker, for tests and for the in-process checks."""

    def put(self, partition: int, key: str, value: bytes) -> None:
        self[key] = value


class DurableState:
    """The partition stores of one stage, saved to (and rebuilt from) a `Backing`."""

    def __init__(
        self,
        table: Backing,
        shared: Mapping[str, Any] | None = None,
        on_restore: Callable[[int, int, int], None] | None = None,
    ) -> None:
        self.table = table
        self.shared = shared or {}
        self.stores: dict[int, PartitionStore] = {}
        self.on_restore = on_restore

    def partition(self, partition: int) -> tuple[PartitionStore, bool]:
        """The store of `partition`, and whether it was rebuilt from the table just now."""
        store = self.stores.get(partition)
        if store is not None:
            return store, False
        store = self.stores[partition] = self._restore(partition)
        return store, True

    def revoke(self, partitions: set[int]) -> None:
        """Another worker holds these now: their state is rebuilt if they come back."""
        for partition in partitions:
            self.stores.pop(partition, None)

    def save(self, store: PartitionStore, offset: int) -> int:
        """Write every key changed since the last save, then the marker; returns keys written.

        A runtime whose broker needs the marker in a record batch of its own (see `mark`) calls
        the two halves itself, delivering in between.
        """
        written = self.write_changes(store, offset)
        self.mark(store, offset)
        return written

    def roll_back(self, store: PartitionStore) -> int:
        """Every key changed since the last save back to its saved value (a batch applied
        again without a message that failed); returns how many."""
        prefix = f"{store.partition}|"
        undone = 0
        for name, key in store.dirty:
            table = store.tables[name]
            saved = self.table.get(f"{prefix}{name}|{key}")
            now = saved.split(b"\n", 2)[1] if saved is not None else b""
            if now:
                dict.__setitem__(table, key, orjson.loads(now))
            elif key in table:
                dict.__delitem__(table, key)
            undone += 1
        store.dirty.clear()
        return undone

    def write_changes(self, store: PartitionStore, offset: int) -> int:
        """The changed keys, each with its before-image and `offset`."""
        prefix = f"{store.partition}|"
        table = self.table
        written = 0
        for name, key in store.dirty:
            full = f"{prefix}{name}|{key}"
            value = store.tables[name].get(key, _ABSENT)
            previous = table.get(full)
            if value is _ABSENT and previous is None:
                continue  # made and removed within the batch: nothing was ever saved
            now = b"" if value is _ABSENT else dumps_state(value)
            before = previous.split(b"\n", 2)[1] if previous is not None else b""
            table.put(store.partition, full, b"%d\n%s\n%s" % (offset, now, before))
            written += 1
        store.dirty.clear()
        return written

    def mark(self, store: PartitionStore, offset: int) -> None:
        """Record that the batch ending at `offset` is saved whole (docs/durability.md, step 7:
        sent only once the batch's changes are delivered)."""
        self.table.put(store.partition, f"{store.partition}|{MARKER}", b"%d" % offset)
        store.applied = offset

    def _restore(self, partition: int) -> PartitionStore:
        store = PartitionStore(partition, self.shared)
        prefix = f"{partition}|"
        table = self.table
        marker = table.get(prefix + MARKER)
        applied = int(marker) if marker is not None else -1
        rolled_back = restored = 0
        for full, entry in list(_items(table, prefix)):
            if full == prefix + MARKER:
                continue
            written, now, before = entry.split(b"\n", 2)
            if int(written) > applied:  # a batch cut short: back to what it found
                now = before
                table.put(partition, full, b"%d\n%s\n%s" % (applied, before, before))
                rolled_back += 1
            if now:
                name, key = full[len(prefix) :].split("|", 1)
                store.load(name, key, orjson.loads(now))
                restored += 1
        store.dirty.clear()
        store.applied = applied
        if self.on_restore is not None:
            self.on_restore(partition, restored, rolled_back)
        return store


class _Absent:
    pass


_ABSENT = _Absent()


def _items(table: Backing, prefix: str) -> Iterator[tuple[str, bytes]]:
    for key, value in table.items():
        if key.startswith(prefix) and value is not None:
            yield key, value
