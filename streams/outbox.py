"""What a stage hands to Kafka: its outputs, in order, and the table writes that go with them.

Each stage sends its own outputs straight to a Kafka client of its own. Faust's `send_soon`
buffer publishes one message per turn of the event loop, and its `flush()` gives up after 0.1 s
without a delivery, which is no ground to save state on. A producer per stage, because aiokafka
keeps one produce request in flight per connection and its `flush()` waits for every batch of
the producer: on Faust's one producer a stage's delivery waited for the other stages' outputs
too (at 1,000 orders/s a delivery took 11 ms at the median and 37 ms at p99, against 1 to 2 ms
for the same records on an idle broker).

What is delivered when, and why it is safe, is the commit protocol: docs/durability.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

# topic, key, value, partition (None: the client's partitioner), headers
Outgoing = tuple[str, bytes | None, bytes, int | None, list[tuple[str, bytes]] | None]

# a produce request may carry this much: a 10 MB message is forwarded, then dead-lettered
MAX_REQUEST_BYTES = 32 << 20


class Outbox:
    """One stage's outputs, in the order it made them, until it hands them to its producer."""

    __slots__ = ("_delivering", "_make", "_producer", "pending", "records")

    def __init__(self, make_producer: Callable[[], Any] | None = None) -> None:
        self.records: list[Outgoing] = []
        self.pending: list[asyncio.Future[Any]] = []  # handed over, delivery not yet checked
        self._make = make_producer
        # a stage's agent, its timer and a checkpoint may deliver at once: each must have
        # waited for everything it handed over, not for whatever the other left in `pending`
        self._delivering = asyncio.Lock()
        # the producer's start, begun once: a timer and an agent may both ask for it first
        self._producer: asyncio.Task[Any] | None = None

    def add(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        self.records.append((topic, key, value, partition, headers))

    def extend(self, records: Iterable[Outgoing]) -> None:
        self.records.extend(records)

    async def producer(self) -> Any:
        """The stage's producer, started on first use (in the worker's event loop)."""
        if self._producer is None:
            self._producer = asyncio.ensure_future(self._start())
        return await self._producer

    async def _start(self) -> Any:
        if self._make is None:
            raise RuntimeError("an outbox without a producer")
        producer = self._make()
        await producer.start()
        return producer

    async def send(self) -> None:
        """Hand the records to the client, in order (it batches them per partition)."""
        records, self.records = self.records, []
        if not records:
            return
        send = (await self.producer()).send
        pending = self.pending
        for topic, key, value, partition, headers in records:
            pending.append(await send(topic, value, key=key, partition=partition, headers=headers))

    async def delivered(self) -> list[Any]:
        """Wait until everything handed over is on the broker; raise if anything is not. The
        records' metadata (topic, partition, offset), in the order they were added.

        Each record's future is awaited: a record the client gave up on (after its own
        retries) fails its future, and nothing else says so.
        """
        async with self._delivering:
            await self.send()
            pending, self.pending = self.pending, []
            return [await future for future in pending]

    async def stop(self) -> None:
        started, self._producer = self._producer, None
        if started is None:
            return
        try:
            producer = await started
        except Exception:
            return  # it never started: nothing to stop
        await producer.stop()


class TableBacking:
    """A changelogged table as the `Backing` of `streams.state.DurableState`: raw bytes in
    `data`, each write also a changelog record in the stage's outbox, after the outputs it
    accounts for, to the partition named (a batch spans partitions).

    `data` is a Faust table's storage in a worker, a dict in the in-process tests; `encode_key`
    writes keys as the table's own serialisation does (Faust's recovery decodes them so, and
    skips a record it cannot decode).
    """

    def __init__(
        self,
        data: MutableMapping[str, bytes],
        outbox: Outbox,
        topic: str,
        encode_key: Callable[[str], bytes],
    ) -> None:
        self.data = data
        self.outbox = outbox
        self.topic = topic
        self.encode_key = encode_key

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def items(self) -> Iterable[tuple[str, bytes]]:
        return list(self.data.items())

    def put(self, partition: int, key: str, value: bytes) -> None:
        self.data[key] = value
        self.outbox.add(self.topic, self.encode_key(key), value, partition)
