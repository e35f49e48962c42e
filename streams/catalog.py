"""The catalog as the decide and watch stages read it, from the worker's global table."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

from detectors.products import product
from schemas.decode import decode_catalog


class CatalogView(MutableMapping[str, Any]):
    """The catalog table as the detectors read it: SKU -> compiled product (cached)."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self._cache: dict[str, tuple[bytes, Any]] = {}

    def get(self, sku: str, default: Any = None) -> Any:
        raw = self.table.get(sku)
        if raw is None:
            return default
        cached = self._cache.get(sku)
        if cached is not None and cached[0] is raw:
            return cached[1]
        compiled = product(decode_catalog(raw))  # accepted by the catalog agent already
        self._cache[sku] = (raw, compiled)
        return compiled

    def __getitem__(self, sku: str) -> Any:
        found = self.get(sku)
        if found is None:
            raise KeyError(sku)
        return found

    def __contains__(self, sku: object) -> bool:
        return isinstance(sku, str) and self.table.get(sku) is not None

    def __setitem__(self, sku: str, value: Any) -> None:
        raise TypeError("the catalog is written by the catalog agent only")

    def __delitem__(self, sku: str) -> None:
        raise TypeError("the catalog is written by the catalog agent only")

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.table.keys()))

    def __len__(self) -> int:
        return len(self.table)
