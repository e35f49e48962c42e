"""How current the worker's catalog is (streams/catalog.py `CatalogReader.current_since`): once
the time asked for has passed, a listing of the partitions' ends the reader has read up to
makes it current, without waiting for the broker to answer one of its held fetches."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from detectors.products import Catalog
from streams.catalog import CatalogReader


class Reading:
    """A consumer, as far as the check goes: its position, and the ends the broker lists."""

    def __init__(self, position: int, end: int) -> None:
        self.at = position
        self.end = end
        self.listed = 0

    async def end_offsets(self, tps: list[Any]) -> dict[Any, int]:
        self.listed += 1
        return dict.fromkeys(tps, self.end)

    async def position(self, tp: Any) -> int:
        return self.at


def reader(reading: Reading) -> CatalogReader:
    found = CatalogReader("broker:9092", Catalog(), max_bytes=1 << 20, fetch_wait=0.025)
    found._reading = (reading, ["catalog-0"])
    return found


def test_a_reader_read_up_to_the_listed_end_is_current_as_of_the_listing() -> None:
    reading = Reading(position=12, end=12)
    catalog = reader(reading)
    asked = time.time()
    assert asyncio.run(catalog.current_since(asked, timeout=1.0))
    assert reading.listed == 1 and catalog.current_as_of >= asked


def test_a_reader_behind_the_listed_end_waits_for_its_own_reading() -> None:
    reading = Reading(position=11, end=12)
    catalog = reader(reading)

    async def run() -> tuple[bool, float]:
        started = time.monotonic()
        current = await catalog.current_since(time.time(), timeout=0.05)
        return current, time.monotonic() - started

    current, waited = asyncio.run(run())
    assert not current and waited >= 0.05


def test_a_time_not_yet_come_is_never_confirmed_early() -> None:
    reading = Reading(position=12, end=12)
    catalog = reader(reading)
    assert not asyncio.run(catalog.current_since(time.time() + 10, timeout=0.05))
    assert reading.listed == 0
