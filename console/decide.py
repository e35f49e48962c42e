"""The decision API's engine: `Pipeline.decide` as a dry run over a snapshot of the state.

The deciding detectors run exactly as in the workers (compliance, price, codes, quotas,
budget), over a store that reads through to the snapshot and keeps every write to itself; it
is emptied before each request, so an order asked about is never committed (the worker decides
it for real when it arrives on `orders`). A value is copied when first read, since detectors
change the dicts they read in place before writing them back.

Requests are served one at a time on the event loop (about 40 µs of detector work each), so
the overlay needs no lock; a new snapshot is swapped in whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import orjson

from console.state import Snapshot
from detectors.pipeline import Pipeline
from detectors.products import Product
from schemas.decode import DEFAULT_MAX_BYTES, DecodeError, decode_order
from schemas.orders import OrderPaid
from schemas.outputs import Origin, dumps
from schemas.rules import ProgrammeRules
from schemas.times import TimeWindow

_MISSING = object()
ORIGIN = Origin("api")


def _copy(value: Any) -> Any:
    """A copy of JSON-like state deep enough that changing it leaves the snapshot alone; tuples
    (catalog products) and scalars are immutable and shared."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


class OverlayTable(MutableMapping[str, Any]):
    """A table that reads through to `base` and writes to itself only."""

    __slots__ = ("base", "local", "deleted")

    def __init__(self, base: Mapping[str, Any]) -> None:
        self.base = base
        self.local: dict[str, Any] = {}
        self.deleted: set[str] = set()

    def reset(self) -> None:
        if self.local:
            self.local.clear()
        if self.deleted:
            self.deleted.clear()

    def __getitem__(self, key: str) -> Any:
        value = self.local.get(key, _MISSING)
        if value is not _MISSING:
            return value
        if key in self.deleted:
            raise KeyError(key)
        value = _copy(self.base[key])
        self.local[key] = value
        return value

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        if key in self.local:
            return True
        return key not in self.deleted and key in self.base

    def __setitem__(self, key: str, value: Any) -> None:
        self.local[key] = value
        self.deleted.discard(key)

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self.local.pop(key, None)
        self.deleted.add(key)

    def __iter__(self) -> Iterator[str]:
        seen = set(self.local)
        yield from self.local
        for key in self.base:
            if key not in seen and key not in self.deleted:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)


class OverlayStore:
    """A `detectors.store.Store` over a snapshot's tables; `reset` forgets every write."""

    def __init__(self, tables: Mapping[str, Mapping[str, Any]]) -> None:
        self.base = tables
        self.tables: dict[str, OverlayTable] = {}

    def table(self, name: str) -> OverlayTable:
        table = self.tables.get(name)
        if table is None:
            table = self.tables[name] = OverlayTable(self.base.get(name, {}))
        return table

    def reset(self) -> None:
        for table in self.tables.values():
            table.reset()


def _error(reason: str, message: str) -> bytes:
    return orjson.dumps({"error": reason, "detail": message})


class DecisionEngine:
    """Decides `order_paid` events against the installed snapshot, committing nothing."""

    def __init__(
        self,
        rules: ProgrammeRules,
        max_bytes: int = DEFAULT_MAX_BYTES,
        window: TimeWindow | None = None,
    ) -> None:
        self.rules = rules
        self.max_bytes = max_bytes
        self.window = window  # of accepted event times: the contract's default when None
        self.catalog: dict[str, Product] = {}
        self.install(Snapshot())

    def install(self, snapshot: Snapshot) -> None:
        """Swap in a new snapshot (from any thread: one assignment, read once per request)."""
        store = OverlayStore(snapshot.tables)
        # the watching detectors never change a decision: the API leaves them out
        self._current = (Pipeline(self.rules, store, watching=[]), store, snapshot)

    @property
    def snapshot(self) -> Snapshot:
        return self._current[2]

    def decide(self, raw: bytes) -> tuple[int, bytes]:
        """(HTTP status, JSON body): 200 and the decision, 409 a repeat, 422 a bad event."""
        try:
            event = decode_order(raw, self.max_bytes, self.window)
        except DecodeError as exc:
            return (413 if exc.reason == "too_large" else 422), _error(exc.reason, exc.message)
        if not isinstance(event, OrderPaid):
            return 422, _error("not_order_paid", "event_type: only order_paid is decided here")
        pipeline, store, _ = self._current
        store.reset()
        try:
            outcome = pipeline.decide(event, raw, ORIGIN)
        finally:
            store.reset()
        if outcome.status == "duplicate":
            return 409, _error("duplicate_event", "event_id: this event was decided already")
        if outcome.decision is None:
            return 409, _error("duplicate_order", "order_id: this order was decided already")
        return 200, dumps(outcome.decision)
