"""A stage's outbox: its records to its own producer, in order, each delivery checked."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streams.outbox import Outbox


class FakeProducer:
    """Records what it is given; a record whose value is b"lost" fails its delivery."""

    instances: list[FakeProducer] = []

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None, int | None]] = []
        self.starts = 0
        self.stopped = False
        FakeProducer.instances.append(self)

    async def start(self) -> None:
        self.starts += 1
        await asyncio.sleep(0)  # a real start waits on the broker: others may ask meanwhile

    async def stop(self) -> None:
        self.stopped = True

    async def send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Any = None,
    ) -> asyncio.Future[Any]:
        self.sent.append((topic, value, key, partition))
        delivered: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if value == b"lost":
            delivered.set_exception(RuntimeError("the client gave up on it"))
        else:
            delivered.set_result((topic, len(self.sent)))
        return delivered


@pytest.fixture(autouse=True)
def _fresh() -> None:
    FakeProducer.instances.clear()


def test_records_go_to_the_stages_producer_in_order_with_their_keys_and_partitions() -> None:
    async def run() -> list[Any]:
        box = Outbox(FakeProducer)
        box.add("decisions", b"o-1", b"a")
        box.add("riskmon-watch", None, b"b", 3)
        box.add("alerts", b"k", b"c", None, [("kind", b"x")])
        await box.delivered()
        return FakeProducer.instances[0].sent

    assert asyncio.run(run()) == [
        ("decisions", b"a", b"o-1", None),
        ("riskmon-watch", b"b", None, 3),
        ("alerts", b"c", b"k", None),
    ]


def test_a_record_the_client_gave_up_on_fails_the_delivery() -> None:
    async def run() -> None:
        box = Outbox(FakeProducer)
        box.add("decisions", b"o-1", b"fine")
        box.add("decisions", b"o-2", b"lost")
        await box.delivered()

    with pytest.raises(RuntimeError, match="gave up"):
        asyncio.run(run())


def test_the_producer_starts_once_when_two_ask_at_the_same_time_and_stops_with_the_box() -> None:
    async def run() -> FakeProducer:
        box = Outbox(FakeProducer)
        first, second = await asyncio.gather(box.producer(), box.producer())
        assert first is second
        await box.stop()
        return first

    producer = asyncio.run(run())
    assert len(FakeProducer.instances) == 1
    assert producer.starts == 1
    assert producer.stopped


def test_an_outbox_with_nothing_to_send_starts_no_producer() -> None:
    async def run() -> None:
        box = Outbox(FakeProducer)
        await box.delivered()
        await box.stop()

    asyncio.run(run())
    assert FakeProducer.instances == []


def test_an_outbox_without_a_producer_says_so() -> None:
    async def run() -> None:
        box = Outbox()
        box.add("decisions", b"o-1", b"a")
        await box.delivered()

    with pytest.raises(RuntimeError, match="without a producer"):
        asyncio.run(run())


def test_a_delivery_gives_each_records_metadata_in_the_order_they_were_added() -> None:
    async def run() -> list[Any]:
        box = Outbox(FakeProducer)
        box.add("dead-letter", None, b"a")
        box.add("riskmon-decide", None, b"b")
        box.add("riskmon-decide", None, b"c")
        return await box.delivered()

    assert asyncio.run(run()) == [("dead-letter", 1), ("riskmon-decide", 2), ("riskmon-decide", 3)]


class BatchingProducer(FakeProducer):
    """As aiokafka's: record batches built by the caller, one future per batch, its base
    offset the partition's end (each partition numbered on its own)."""

    def __init__(self, batch_records: int = 3) -> None:
        super().__init__()
        self.batch_records = batch_records
        self.batches: list[tuple[str, int, list[tuple[bytes | None, bytes]]]] = []
        self.ends: dict[tuple[str, int], int] = {}

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    def create_batch(self) -> Any:
        producer = self

        class Batch:
            def __init__(self) -> None:
                self.records: list[tuple[bytes | None, bytes]] = []

            def append(self, *, key: Any, value: Any, timestamp: Any, headers: Any) -> Any:
                if len(self.records) == producer.batch_records:
                    return None
                self.records.append((key, value))
                return type("Meta", (), {"offset": len(self.records) - 1})()

        return Batch()

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any:
        self.batches.append((topic, partition, list(batch.records)))
        base = self.ends.get((topic, partition), 0)
        self.ends[(topic, partition)] = base + len(batch.records)
        delivered: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if any(value == b"lost" for _, value in batch.records):
            delivered.set_exception(RuntimeError("the client gave up on it"))
        else:
            delivered.set_result(type("Meta", (), {"offset": base})())
        return delivered


def test_a_batching_producer_gets_one_batch_per_partition_and_each_record_its_offset() -> None:
    from aiokafka.partitioner import DefaultPartitioner

    async def run() -> tuple[list[Any], BatchingProducer]:
        box = Outbox(BatchingProducer)
        box.add("riskmon-decide", None, b"old", 0)
        await box.delivered()  # offset 0 of riskmon-decide/0
        for i in range(5):
            box.add("riskmon-decide", None, b"f%d" % i, 0)
            box.add("decisions", b"o-%d" % i, b"d%d" % i)
        return await box.delivered(), FakeProducer.instances[0]  # type: ignore[return-value]

    sent, producer = asyncio.run(run())
    home = {i: DefaultPartitioner()(b"o-%d" % i, [0, 1, 2], [0, 1, 2]) for i in range(5)}
    # the records' places in the order they were added: the frames at offsets 1 to 5
    assert [(s.topic, s.partition) for s in sent] == [
        pair for i in range(5) for pair in (("riskmon-decide", 0), ("decisions", home[i]))
    ]
    assert [s.offset for s in sent if s.topic == "riskmon-decide"] == [1, 2, 3, 4, 5]
    # within a partition, offsets in the order added, one after the other
    for partition in set(home.values()):
        offsets = [s.offset for s in sent if s.topic == "decisions" and s.partition == partition]
        assert offsets == list(range(len(offsets)))
    # one batch per partition, a second where the first is full (three records here)
    decide = [b for b in producer.batches if b[0] == "riskmon-decide"]
    assert [[v for _, v in b[2]] for b in decide] == [
        [b"old"],
        [b"f0", b"f1", b"f2"],
        [b"f3", b"f4"],
    ]
    keyed = [(k, v) for b in producer.batches if b[0] == "decisions" for k, v in b[2]]
    assert sorted(keyed) == [(b"o-%d" % i, b"d%d" % i) for i in range(5)]


def test_a_batch_the_client_gave_up_on_fails_the_delivery() -> None:
    async def run() -> None:
        box = Outbox(BatchingProducer)
        box.add("decisions", None, b"fine", 1)
        box.add("decisions", None, b"lost", 2)
        await box.delivered()

    with pytest.raises(RuntimeError, match="gave up"):
        asyncio.run(run())
