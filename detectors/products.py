"""The catalog as the detectors read it: each registered SKU with its times as epoch seconds.

Comparing floats is several times cheaper than comparing aware datetimes, and a SKU is checked
on every order line, so the conversion is done once, when the catalog record arrives.
"""

from __future__ import annotations

from typing import NamedTuple

from schemas.catalog import CatalogEntry


class Product(NamedTuple):
    entry: CatalogEntry
    registered: float
    withdrawn: float | None


def product(entry: CatalogEntry) -> Product:
    withdrawn = entry.withdrawn_at.timestamp() if entry.withdrawn_at is not None else None
    return Product(entry, entry.registered_at.timestamp(), withdrawn)
