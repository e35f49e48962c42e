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
from typing import Any, NamedTuple

from aiokafka.partitioner import DefaultPartitioner

# topic, key, value, partition (None: the client's partitioner), headers
Outgoing = tuple[str, bytes | None, bytes, int | None, list[tuple[str, bytes]] | None]

# a produce request may carry this much: a 10 MB message is forwarded, then dead-lettered
MAX_REQUEST_BYTES = 32 << 20


class Outbox:
    """One stage's outputs, in the order it made them, until it hands them to its producer."""

    __slots__ = ("_delivering", "_make", "_producer", "pending", "records")

    def __init__(self, make_producer: Callable[[], Any] | None = None) -> None:
        self.records: list[Outgoing] = []
        # handed over, delivery not yet checked: each gives its records' metadata, in order
        self.pending: list[Any] = []  # a record's future, or `Batches`
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
        """Hand the records to the client, in order within each partition.

        A producer that takes whole record batches (aiokafka's `create_batch`/`send_batch`)
        gets one per partition: a record sent alone costs the client a partitioning, a future
        and an accumulator's append (8 % of a worker's CPU at 500 authorizations/s, about ten
        records each); its offsets are the batch's base offset plus each record's place in it,
        as the client works them out. A record with no partition goes where the client's default
        partitioner puts it (murmur2 of its key; a keyless one at random).
        """
        records, self.records = self.records, []
        if not records:
            return
        producer = await self.producer()
        if hasattr(producer, "send_batch"):
            self.pending.append(await _send_batches(producer, records))
            return
        send = producer.send
        for topic, key, value, partition, headers in records:
            future = await send(topic, value, key=key, partition=partition, headers=headers)
            self.pending.append(future)

    async def delivered(self) -> list[Any]:
        """Wait until everything handed over is on the broker; raise if anything is not. The
        records' metadata (topic, partition, offset), in the order they were added.

        Each record's (or record batch's) future is awaited: a record the client gave up on
        (after its own retries) fails its future, and nothing else says so.
        """
        async with self._delivering:
            await self.send()
            pending, self.pending = self.pending, []
            out: list[Any] = []
            for sent in pending:
                if isinstance(sent, Batches):
                    out.extend(await sent.delivered())
                else:
                    out.append(await sent)
            return out

    async def stop(self) -> None:
        started, self._producer = self._producer, None
        if started is None:
            return
        try:
            producer = await started
        except Exception:
            return  # it never started: nothing to stop
        await producer.stop()


class Sent(NamedTuple):
    """Where a record sent in a batch went (as aiokafka's `RecordMetadata` says it)."""

    topic: str
    partition: int
    offset: int


class Batches:
    """Record batches handed to the client: their futures, and each record's place."""

    __slots__ = ("futures", "places")

    def __init__(
        self,
        futures: dict[tuple[str, int], list[asyncio.Future[Any]]],
        places: list[tuple[tuple[str, int], int, int]],
    ) -> None:
        self.futures = futures
        self.places = places

    async def delivered(self) -> list[Sent]:
        """Each record's metadata, in the order the records were given, once all are on the
        broker (raises if a batch is not)."""
        bases = {tp: [(await f).offset for f in fs] for tp, fs in self.futures.items()}
        return [Sent(tp[0], tp[1], bases[tp][i] + offset) for tp, i, offset in self.places]


async def _send_batches(producer: Any, records: list[Outgoing]) -> Batches:
    """`records` handed to `producer` as one record batch per partition (more where one is
    full), in order within each.
    Nothing awaited here suspends while the topics' metadata is known, so the client's sender
    takes every batch of the call into one produce request, as it did the records one by one."""
    partitions: dict[str, list[int]] = {}
    chains: dict[tuple[str, int], list[Any]] = {}
    places: list[tuple[tuple[str, int], int, int]] = []  # partition, batch, offset in it
    for topic, key, value, partition, headers in records:
        if partition is None:
            known = partitions.get(topic)
            if known is None:
                known = partitions[topic] = sorted(await producer.partitions_for(topic))
            partition = _PARTITIONER(key, known, known)
        tp = (topic, partition)
        chain = chains.get(tp)
        if chain is None:
            chain = chains[tp] = [producer.create_batch()]
        at = chain[-1].append(key=key, value=value, timestamp=None, headers=headers or [])
        if at is None:  # full: a new batch (an empty one takes a record of any size)
            chain.append(producer.create_batch())
            at = chain[-1].append(key=key, value=value, timestamp=None, headers=headers or [])
        places.append((tp, len(chain) - 1, at.offset))
    futures: dict[tuple[str, int], list[asyncio.Future[Any]]] = {}
    for (topic, partition), chain in chains.items():
        futures[(topic, partition)] = [
            await producer.send_batch(batch, topic, partition=partition) for batch in chain
        ]
    return Batches(futures, places)


_PARTITIONER = DefaultPartitioner()


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
