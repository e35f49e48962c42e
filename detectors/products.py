"""The catalog as the detectors read it: each SKU's registrations over time, as epoch seconds.

A later catalog record for a SKU replaces the earlier one from its own `registered_at` on: an
order is judged against the registration in force at its event time (the latest registered at
or before it), so a replay and a worker give the same answer whenever they read the record,
and a price correction does not reach back to orders placed before it. A record registered at
the same instant as an earlier one replaces it outright (a withdrawal, a correction).

Comparing floats is several times cheaper than comparing aware datetimes, and a SKU is checked
on every order line, so the conversion is done once, when the catalog record arrives.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import NamedTuple

from schemas.catalog import CatalogEntry
from schemas.orders import Item


class Product(NamedTuple):
    entry: CatalogEntry
    registered: float
    withdrawn: float | None


def product(entry: CatalogEntry) -> Product:
    withdrawn = entry.withdrawn_at.timestamp() if entry.withdrawn_at is not None else None
    return Product(entry, entry.registered_at.timestamp(), withdrawn)


class Catalog(Mapping[str, Product]):
    """SKU -> its registrations, oldest first; as a mapping, each SKU's latest.

    >>> from schemas.decode import decode_catalog
    >>> def entry(price, registered):
    ...     record = (
    ...         b'{"schema_version":1,"sku":"SKU-1","category":"tablet","brand":"B","model":"M",'
    ...         b'"energy_grade":null,"reference_price":%s,"programmes":["featured_goods"],'
    ...         b'"merchant_id":"M1","registered_at":"%s","withdrawn_at":null}'
    ...     )
    ...     return decode_catalog(record % (price, registered))
    >>> catalog = Catalog()
    >>> catalog.add(entry(b"4999.00", b"2026-06-01T00:00:00+08:00"))
    >>> catalog.add(entry(b"5299.00", b"2026-07-10T00:00:00+08:00"))
    >>> july_2 = 1782921600.0  # 2026-07-02T00:00+08:00
    >>> [float(catalog.at("SKU-1", t).entry.reference_price) for t in (july_2, july_2 + 9e5)]
    [4999.0, 5299.0]
    >>> float(catalog["SKU-1"].entry.reference_price), catalog.at("SKU-2", july_2)
    (5299.0, None)
    """

    def __init__(self) -> None:
        self._versions: dict[str, list[Product]] = {}
        self._starts: dict[str, list[float]] = {}

    def add(self, entry: CatalogEntry) -> None:
        found = product(entry)
        versions = self._versions.setdefault(entry.sku, [])
        starts = self._starts.setdefault(entry.sku, [])
        at = bisect_right(starts, found.registered)
        if at and starts[at - 1] == found.registered:
            versions[at - 1] = found
        else:
            versions.insert(at, found)
            starts.insert(at, found.registered)

    def at(self, sku: str, ts: float) -> Product | None:
        """The registration in force at `ts`; before the first one, the first (which then
        says the SKU was not yet registered); None for a SKU never registered."""
        starts = self._starts.get(sku)
        if starts is None:
            return None
        at = bisect_right(starts, ts)
        return self._versions[sku][at - 1 if at else 0]

    def __getitem__(self, sku: str) -> Product:
        return self._versions[sku][-1]

    def __iter__(self) -> Iterator[str]:
        return iter(self._versions)

    def __len__(self) -> int:
        return len(self._versions)


def product_problems(
    found: Product | None,
    item: Item,
    programme: str,
    ts: float,
    max_markup: Decimal | None,
) -> tuple[list[str], bool]:
    """What the catalog says against one order line, and whether its price is inflated above
    the registered reference (`max_markup`: the programme's limit as a factor, e.g. 1.10)."""
    if found is None:
        return ["sku_not_registered"], False
    entry, registered, withdrawn = found
    problems = []
    if entry.category != item.category:
        problems.append("sku_category_mismatch")
    if programme not in entry.programmes:
        problems.append("sku_not_registered_for_programme")
    if registered > ts:
        problems.append("sku_not_yet_registered")
    if withdrawn is not None and withdrawn <= ts:
        problems.append("sku_withdrawn")
    if entry.energy_grade is not None and item.energy_grade != entry.energy_grade:
        problems.append("energy_grade_mismatch")
    inflated = max_markup is not None and item.unit_price > entry.reference_price * max_markup
    return problems, inflated


def catalog_at(catalog: Mapping[str, Product], sku: str, ts: float) -> Product | None:
    """`Catalog.at`, or the one registration of a plain mapping (tests, older callers)."""
    if isinstance(catalog, Catalog):
        return catalog.at(sku, ts)
    return catalog.get(sku)
