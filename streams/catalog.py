"""The catalog in every worker: the `catalog` topic read whole, and how current that reading is.

Each worker reads `catalog` from the beginning with a consumer of its own (no group, nothing
committed) into a `detectors.products.Catalog`, so every registration applies from its own
`registered_at` on, as in the replay. The catalog is small (a few thousand SKUs), read once at
start and then as it changes.

No decision before its catalog: an order must not be refused for a product registered a
moment before it arrived and not read yet (a worker started on a backlog, a catalog produced
just before the orders). The reader knows when it was last *current*: the time of a fetch
response after which it had read everything the partition held. The decide stage holds an
intake frame whose orders the catalog as read would count against (an unknown SKU, one not yet
registered or withdrawn, another category or programme, a price above the reference) until the
reader is current as of the frame's arrival (plus a margin for the clocks of two workers), then
decides it (streams/decide.py `DecideStage.catalog_wait`). An order the catalog finds nothing
against is decided at once: waiting would only cost time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from detectors.products import Catalog, catalog_at, product_problems
from schemas.decode import DecodeError, decode_catalog
from schemas.orders import OrderPaid
from schemas.rules import ProgrammeRules
from streams.decoding import RecentOrders
from streams.frames import FrameError, unframe
from streams.messages import Message

log = logging.getLogger("riskmon.streams")
TOPIC = "catalog"


class CatalogReader:
    """Reads `catalog` into `catalog`; `current_since(t)` waits until it is current as of t."""

    def __init__(
        self,
        broker: str,
        catalog: Catalog,
        *,
        max_bytes: int,
        fetch_wait: float = 0.025,
        make_consumer: Any = None,
    ) -> None:
        self.broker = broker
        self.catalog = catalog
        self.max_bytes = max_bytes
        self.fetch_wait = fetch_wait
        self.current_as_of = float("-inf")  # wall time as of which everything is read
        self.records = 0  # valid records read
        self._make = make_consumer or self._consumer
        self._moved = asyncio.Event()
        self._reading: tuple[Any, list[Any]] | None = None  # the consumer and its partitions

    def _consumer(self) -> Any:
        import aiokafka

        return aiokafka.AIOKafkaConsumer(
            bootstrap_servers=self.broker,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=max(1, int(self.fetch_wait * 1000)),
            max_partition_fetch_bytes=32 << 20,
            fetch_max_bytes=64 << 20,
        )

    async def run(self) -> None:
        """Read for ever (a task of the worker)."""
        from aiokafka import TopicPartition

        consumer = self._make()
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(TOPIC)
            while not partitions:
                await asyncio.sleep(0.2)
                await consumer.topics()  # metadata again: the topic may be made later
                partitions = consumer.partitions_for_topic(TOPIC)
            tps = [TopicPartition(TOPIC, p) for p in sorted(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            self._reading = (consumer, tps)
            while True:
                batches = await consumer.getmany(*tps, timeout_ms=int(self.fetch_wait * 1000))
                for records in batches.values():
                    for record in records:
                        self.apply(record.value or b"")
                await self._check(consumer, tps)
        finally:
            self._reading = None
            await consumer.stop()

    def apply(self, raw: bytes) -> None:
        try:
            entry = decode_catalog(raw, self.max_bytes)
        except DecodeError:
            return  # the catalog agent (one worker) sends it to the dead letters
        self.catalog.add(entry)
        self.records += 1

    async def _check(self, consumer: Any, tps: list[Any]) -> None:
        as_of = float("inf")
        for tp in tps:
            end = consumer.highwater(tp)
            stamp = consumer.last_poll_timestamp(tp)
            if end is None or stamp is None or await consumer.position(tp) < end:
                return
            as_of = min(as_of, stamp / 1000.0)
        if as_of > self.current_as_of:
            self.current_as_of = as_of
            self._moved.set()
            self._moved = asyncio.Event()

    async def current_since(self, since: float, timeout: float) -> bool:
        """Wait until the catalog is current as of `since` (wall time); False if `timeout`
        seconds pass first (the caller decides anyway, and says so).

        Once `since` has passed, the partitions' ends are asked for (`_confirm`): an answer
        sent after `since` that the reader has read up to makes it current as of then, a round
        trip. The reader's own fetches say so only when the broker answers one, and tansu holds
        a fetch with nothing new for the whole fetch wait: a checkout the catalog counted
        against held the decide stage, and every checkout behind it, 20 to 45 ms.
        """
        deadline = time.monotonic() + timeout
        while self.current_as_of < since:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            moved = self._moved
            if time.time() >= since and await self._confirm():
                continue
            try:
                await asyncio.wait_for(moved.wait(), deadline - time.monotonic())
            except TimeoutError:
                return False
        return True

    async def _confirm(self) -> bool:
        """Current as of now, if the reader has read every partition up to the end the broker
        gives now (its end: past the last record batch's first record, on tansu)."""
        if self._reading is None:
            return False
        consumer, tps = self._reading
        asked = time.time()
        try:
            ends = await consumer.end_offsets(tps)
            for tp in tps:
                if await consumer.position(tp) < ends[tp]:
                    return False  # records not read yet: the reader fetches them now
        except Exception:  # the reader stopping, the broker away: wait for the reader instead
            log.debug("the catalog's ends not listed", exc_info=True)
            return False
        if asked > self.current_as_of:
            self.current_as_of = asked
        return True


def catalog_wait(
    messages: Sequence[Message],
    applied: Callable[[int], int],
    catalog: Mapping[str, Any],
    rules: ProgrammeRules,
    recent: RecentOrders,
    max_bytes: int,
    margin: float = 0.0,
) -> float | None:
    """When (wall time) the catalog must be current as of for `messages`: the latest arrival of
    a message holding an order (or a checkout) the catalog as read would count against; None
    if there is none. The runner holds the batch until the catalog is current as of then: no
    order is refused for a product not read yet. Arrival: the intake's time for a frame (`rx`),
    plus `margin` for the clocks of two workers; for a checkout, when the worker that decides
    it began to append it (its own clock: no margin)."""
    latest: float | None = None
    for message in messages:
        if message.offset <= applied(message.partition):
            continue
        if message.kind == "checkout":
            if message.timestamp and _against(
                message.value, True, catalog, rules, recent, max_bytes
            ):
                latest = max(latest or 0.0, message.timestamp)
            continue
        if message.kind != "orders":
            continue
        try:
            records = list(unframe(message.value))
        except FrameError:
            continue  # dead-lettered when applied
        arrived = next((m.get("rx") for m, _ in reversed(records) if "pos" in m), None)
        if not isinstance(arrived, int | float) or (
            latest is not None and arrived + margin <= latest
        ):
            continue
        for meta, body in records:
            if "pos" not in meta and _against(body, False, catalog, rules, recent, max_bytes):
                latest = max(latest or 0.0, float(arrived) + margin)
                break
    return latest


def _against(
    raw: bytes,
    checkout: bool,
    catalog: Mapping[str, Any],
    rules: ProgrammeRules,
    recent: RecentOrders,
    max_bytes: int,
) -> bool:
    try:
        if checkout:
            order: Any = recent.checkout(raw, max(max_bytes, len(raw)))
        else:
            order = recent.decode(raw, max_bytes)
    except DecodeError:
        return False
    if not checkout and not isinstance(order, OrderPaid):
        return False
    programme = rules.programmes.get(order.programme)
    if programme is None or not programme.requires_catalog:
        return False
    ts = order.occurred_at.timestamp()
    markup = None if programme.max_markup is None else 1 + programme.max_markup
    for item in order.items:
        found = catalog_at(catalog, item.sku, ts)
        problems, inflated = product_problems(found, item, order.programme, ts, markup)
        if problems or inflated:
            return True
    return False
