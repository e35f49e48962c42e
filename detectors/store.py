"""State behind one small interface: a mapping per entity type.

Detectors read and write state only through a `Store`. The replay engine gives them dicts; the
streaming runtime gives them tables partitioned by the same keys. Values are plain JSON data
(dicts, lists, strings, numbers) plus `Decimal` amounts, which a table codec writes as JSON
strings (readers take `Decimal(x)`, which accepts either). They are always written back with
`table[key] = value` after a change, since a changelogged table only records an assignment.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, Protocol

from detectors.products import Catalog


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
