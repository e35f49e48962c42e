"""State behind one small interface: a mapping per entity type.

Detectors read and write state only through a `Store`. The replay engine gives them dicts; the
streaming runtime gives them tables partitioned by the same keys. Values are plain JSON data
(dicts, lists, strings, numbers) plus `Decimal` amounts, which a table codec writes as JSON
strings (readers take `Decimal(x)`, which accepts either), and the named tuples of windowed
entries, which it writes as JSON lists (readers take `revive`). They are always written back
with `table[key] = value` after a change, since a changelogged table only records an assignment.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, Protocol, TypeVar

from detectors.products import Catalog

Row = TypeVar("Row", bound=tuple[Any, ...])


def revive(kind: type[Row], stored: list[Any]) -> list[Row]:
    """A detector's stored entries as its named tuple `kind`.

    In memory the entries are the named tuples the detector built; a table saves them as JSON
    lists, so after a restore (a restart, a hand-over, a roll-back) the same key holds lists.
    Fields an older release did not save take the tuple's defaults. One detector writes a key's
    value whole, so its entries are all of one kind and the first tells which.

    >>> from typing import NamedTuple
    >>> class Seen(NamedTuple):
    ...     ts: float
    ...     order_id: str
    ...     code: str | None = None
    >>> revive(Seen, [[1.0, "O-1", "Q-1"], [2.0, "O-2"]])
    [Seen(ts=1.0, order_id='O-1', code='Q-1'), Seen(ts=2.0, order_id='O-2', code=None)]
    >>> kept = [Seen(3.0, "O-3")]
    >>> revive(Seen, kept) is kept
    True
    """
    if not stored or isinstance(stored[0], kind):
        return stored
    return [kind(*entry) for entry in stored]


class Store(Protocol):
    def table(self, name: str) -> MutableMapping[str, Any]:
        """The mapping that holds one entity type's state, keyed by that entity."""
        ...


class MemoryStore:
    """Dict-backed store for replay and tests.

    >>> store = MemoryStore()
    >>> store.table("consumers")["abc"] = {"q": {}}
    >>> store.table("consumers")["abc"]
    {'q': {}}
    """

    def __init__(self) -> None:
        self.tables: dict[str, Any] = {}

    def table(self, name: str) -> Any:
        table = self.tables.get(name)
        if table is None:
            # the catalog keeps each SKU's registrations over time (detectors/products.py)
            table = self.tables[name] = Catalog() if name == "catalog" else {}
        return table

    def sizes(self) -> dict[str, int]:
        return {name: len(table) for name, table in sorted(self.tables.items())}
