"""The stages on an in-memory log: the runners of streams/runners.py, without Faust or a broker.

A `Log` is what a broker holds (topics and committed offsets): it survives a crash. A
`Worker` is what a process holds (the stages, their in-memory state, the models): a crash
throws it away, and a new one restores from the log's changelogs and carries on from the
committed offsets, as a Faust worker does after a restart.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from detectors.learning import LearningConfig
from replay.observers import Fanout
from schemas.rules import ProgrammeRules
from streams.clients import partition_of
from streams.decide import DecideSettings, DecideStage
from streams.decoding import RecentOrders
from streams.intake import Intake
from streams.messages import DECIDE_TOPIC, WATCH_TOPIC, Handed, Message, kind_of
from streams.outbox import Outbox, TableBacking
from streams.runners import DecideRunner, IntakeRunner, WatchRunner
from streams.state import DurableState
from streams.watch import WatchStage

ORDERS_PARTITIONS = 8
CHANGELOGS = {
    "decide-state": "decide-state-changelog",
    "watch-state": "watch-state-changelog",
    "decide-models": "decide-models-changelog",
}


class Record(NamedTuple):
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] | None
    timestamp: float


class Meta(NamedTuple):
    topic: str
    partition: int
    offset: int


@dataclass
class Log:
    """Topics in memory, and what each stage has committed of its input."""

    topics: dict[tuple[str, int], list[Record]] = field(default_factory=lambda: defaultdict(list))
    committed: dict[tuple[str, int], int] = field(default_factory=dict)  # next offset to read
    clock: float = 1_900_000_000.0  # append times: after every simulated event

    def append(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> int:
        self.clock += 0.001
        records = self.topics[(topic, partition)]
        records.append(Record(key, value, headers, self.clock))
        return len(records) - 1

    def produce(self, topic: str, key: bytes | None, value: bytes, partitions: int) -> None:
        # Kafka's default partitioner, as `riskmon produce` and the platform's clients use
        partition = partition_of(key, partitions) if key is not None else 0
        self.append(topic, partition, key, value)

    def unread(self, topic: str, partition: int, limit: int) -> list[Message]:
        start = self.committed.get((topic, partition), 0)
        records = self.topics.get((topic, partition), [])[start : start + limit]
        return [
            Message(topic, partition, start + i, r.value, kind_of(r.headers), r.timestamp, r.key)
            for i, r in enumerate(records)
        ]

    def end(self, topic: str, partition: int) -> int:
        return len(self.topics.get((topic, partition), []))

    def values(self, topic: str) -> list[bytes]:
        return [
            r.value
            for (name, _), records in sorted(self.topics.items())
            if name == topic
            for r in records
        ]

    def table(self, changelog: str) -> dict[str, bytes]:
        """A table as a restarted worker rebuilds it: the last value of each key."""
        data: dict[str, bytes] = {}
        for (name, _), records in sorted(self.topics.items()):
            if name == changelog:
                for record in records:
                    assert record.key is not None
                    data[record.key.decode()] = record.value
        return data


class Producer:
    """A stage's producer on the log: a record is on the "broker" once handed over."""

    def __init__(self, log: Log) -> None:
        self.log = log

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Meta]:
        partition = 0 if partition is None else partition
        offset = self.log.append(topic, partition, key, value, headers)
        future: asyncio.Future[Meta] = asyncio.get_running_loop().create_future()
        future.set_result(Meta(topic, partition, offset))
        return future


class Worker:
    """One process's stages over the log, restored from it."""

    def __init__(
        self,
        log: Log,
        rules: ProgrammeRules,
        *,
        watch_partitions: int = 4,
        batch: int = 25,
        learning: LearningConfig | None = None,
        checkpoint_every: int = 50_000,
        hand_over: bool = True,
        catalog: dict[str, Any] | None = None,
    ) -> None:
        self.log = log
        self.batch = batch
        self.watch_partitions = watch_partitions
        self.hand_over = hand_over
        self.now = 0.0  # the monotonic clock of the idle timer
        box: Callable[[], Outbox] = lambda: Outbox(lambda: Producer(log))  # noqa: E731
        self.boxes = {name: box() for name in ("intake", "decide", "watch", "other")}
        tables = {name: log.table(changelog) for name, changelog in CHANGELOGS.items()}
        self.tables = tables

        def backing(name: str, stage: str) -> TableBacking:
            return TableBacking(tables[name], self.boxes[stage], CHANGELOGS[name], str.encode)

        recent = RecentOrders()
        observers = Fanout()
        shared: dict[str, Any] = {"catalog": catalog or {}}
        self.restores: list[tuple[str, int, int, int]] = []  # stage, partition, keys, rolled back

        def restored(stage: str) -> Callable[[int, int, int], None]:
            return lambda partition, keys, rolled: self.restores.append(
                (stage, partition, keys, rolled)
            )

        self.models_table = backing("decide-models", "decide")
        self.decide = DecideStage(
            rules,
            DecideSettings(1 << 20, watch_partitions, checkpoint_every=checkpoint_every),
            DurableState(backing("decide-state", "decide"), shared, restored("decide")),
            shared["catalog"],
            recent,
            observers,
            learning=learning,
            models_table=self.models_table,
            clock=lambda: log.clock,
        )
        self.watch = WatchStage(
            rules,
            DurableState(backing("watch-state", "watch"), shared, restored("watch")),
            recent,
            observers,
            1 << 20,
        )
        self.handed: asyncio.Queue[list[Handed]] = asyncio.Queue()
        self.intake_runner = IntakeRunner(
            Intake(recent, observers, 1 << 20), self.boxes["intake"], self.handed
        )
        self.decide_runner = DecideRunner(
            self.decide,
            self.boxes["decide"],
            self.boxes["other"],
            self.models_table,
            release_idle=15.0,
            monotonic=lambda: self.now,
        )
        self.watch_runner = WatchRunner(self.watch, self.boxes["watch"], None)

    async def take_in(self) -> int:
        """One round of the intake over what it has not committed; messages taken."""
        log = self.log
        taken = 0
        for partition in range(ORDERS_PARTITIONS):
            messages = log.unread("orders", partition, self.batch)
            if messages:
                await self.intake_runner.batch(
                    messages,
                    lambda p: log.end("orders", p),
                    range(ORDERS_PARTITIONS),
                    ORDERS_PARTITIONS,
                )
                self._ack(messages)
                taken += len(messages)
        return taken

    async def step(self) -> int:
        """One round of every stage over what it has not committed; messages taken."""
        log = self.log
        taken = await self.take_in()
        while not self.handed.empty():
            frames = self.handed.get_nowait()
            if self.hand_over:
                await self.decide_runner.handed(frames)
        messages = log.unread(DECIDE_TOPIC, 0, self.batch)
        if messages:
            await self.decide_runner.read(messages)
            self._ack(messages)
            taken += len(messages)
        for partition in range(self.watch_partitions):
            messages = log.unread(WATCH_TOPIC, partition, self.batch)
            if messages:
                await self.watch_runner.batch(messages)
                self._ack(messages)
                taken += len(messages)
        return taken

    async def idle(self) -> None:
        """The idle timer, as if its time had come."""
        self.now += 60.0
        self.decide_runner.last_input = 0.0
        await self.decide_runner.idle()

    async def run(self) -> None:
        """Until every stage has read everything, and the tail of the stream has gone out."""
        while True:
            while await self.step():
                pass
            held = sum(len(queue) for _, _, queue in self.decide.taken_up())
            if not held:
                return
            await self.idle()
            if not await self.step():
                return

    def _ack(self, messages: list[Message]) -> None:
        for message in messages:
            self.log.committed[(message.topic, message.partition)] = message.offset + 1


def feed(log: Log, lines: list[bytes], key: Callable[[bytes], bytes | None]) -> None:
    for raw in lines:
        log.produce("orders", key(raw), raw, ORDERS_PARTITIONS)


def outputs(log: Log) -> dict[str, Any]:
    """What a consumer that drops repeated ids sees: decisions by order, alerts by id, dead
    letters as a multiset of (reason, origin) over distinct origins."""
    import orjson

    decisions: dict[str, Any] = {}
    for raw in log.values("decisions"):
        record = orjson.loads(raw)
        decisions.setdefault(record["order_id"], record)
    alerts: dict[str, Any] = {}
    for raw in log.values("alerts"):
        record = orjson.loads(raw)
        alerts.setdefault(record["alert_id"], record)
    dead = {}
    for raw in log.values("dead-letter"):
        record = orjson.loads(raw)
        dead[
            (record["reason"], record.get("partition"), record.get("offset"), record["raw_base64"])
        ] = 1
    return {"decisions": decisions, "alerts": alerts, "dead": sorted(dead, key=str)}
