"""The Faust wiring: topics, tables, agents, timers and rebalance callbacks. No detector logic.

```
orders (by consumer) --intake--> riskmon-decide (1 partition) --decide--> decisions, alerts
                                                               \\--> riskmon-watch (by entity)
                                                                     --watch--> alerts
catalog --read whole by every worker--> its catalog (registrations over time)
labels  --labels--> validated, forwarded to the decide stage's models
bad input of any stage --> dead-letter
```

The stages themselves are pure (streams/intake.py, decide.py, watch.py); each agent here reads
a batch, hands it to its stage, and delivers and saves what the stage made by the commit
protocol (streams/commit.py, docs/durability.md). The worker holding the decide partition
decides an intake frame it has just delivered there without waiting to read it back, when the
frame follows on from what it has applied (`Worker._take_handed`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar, cast

import aiokafka
import faust
from faust.serializers import codecs
from faust.types import TP, EventT

from detectors.learning import LearningConfig
from detectors.products import Catalog
from replay.observers import Fanout, Observer
from schemas.decode import (
    DEFAULT_MAX_BYTES,
    DecodeError,
    decode_catalog,
    decode_control,
    decode_label,
    decode_publication,
)
from schemas.outputs import dead_letter_record, dumps
from schemas.rules import ProgrammeRules
from streams import commit
from streams.api import AuthorizeAPI, Tokens
from streams.catalog import CatalogReader
from streams.collector import Collector
from streams.commit import StoreSink
from streams.decide import DecideSettings, DecideStage
from streams.decoding import RecentOrders
from streams.intake import Intake
from streams.messages import DECIDE_TOPIC, WATCH_TOPIC, Handed, Message, headers_of, kind_of
from streams.metrics import MetricsObserver
from streams.outbox import MAX_REQUEST_BYTES, Outbox, TableBacking
from streams.runners import DecideRunner, IntakeRunner, WatchRunner
from streams.state import DurableState
from streams.topics import TOPICS
from streams.transport import with_fetch_wait, with_kept_buffers
from streams.watch import WatchStage

log = logging.getLogger("riskmon.streams")
T = TypeVar("T")
PARTITIONS = {t.name: t.partitions for t in TOPICS}
__all__ = ["DECIDE_TOPIC", "WATCH_TOPIC", "StoreSink", "StreamConfig", "Worker", "batches"]


@dataclass(frozen=True)
class StreamConfig:
    """How a worker runs: the broker, its partitions and its batching (settings, not code)."""

    broker: str  # host:port
    app_id: str = "riskmon"
    watch_partitions: int = 8
    batch: int = 1000  # messages taken at once from a topic
    within: float = 0.01  # seconds a partial batch waits
    max_bytes: int = DEFAULT_MAX_BYTES
    expire_every: int = 4096  # decided events between checks of waiting later events
    # kafka-notes: Faust's defaults keep a joining worker ~30 s in "(Re-)joining group"
    rebalance_timeout: float = 5.0
    session_timeout: float = 10.0
    heartbeat: float = 1.0
    commit_interval: float = 1.0
    batch_bytes: int = 65536  # producer batches: see `Settings.kafka_batch_bytes`
    fetch_wait: float = 0.025  # seconds the broker may hold a fetch: see streams/transport.py
    # paid orders between checkpoints of the online models (a checkpoint of a few MB holds the
    # decide stage for a fraction of a second; a stop and a rebalance checkpoint anyway)
    checkpoint_every: int = 50_000
    # a stable name for this worker in the consumer group (static membership), or none
    instance_id: str | None = None
    # seconds without input after which the decide stage releases every held watch ticket
    release_idle: float = 15.0
    # a frame of orders the catalog as read counts against waits until the catalog is current
    # as of its arrival plus this margin (the clocks of two workers), or `catalog_timeout`
    catalog_margin: float = 0.02
    catalog_timeout: float = 60.0
    # an order whose occurred_at is this far after its record's append time is a dead letter
    # (`occurred_in_future`); 0: no check (a demo whose simulated time runs ahead of the clock)
    future_tolerance: float = 86400.0
    # the checkout authorization API (streams/api.py): its port (0: none), the host the other
    # workers reach it at, the answer's deadline, and how long a reservation holds (event time)
    api_port: int = 0
    api_host: str = "127.0.0.1"
    api_deadline: float = 0.2
    checkout_hold: float = 1800.0
    # seconds between the garbage collector's full passes, run by the worker's timer once the
    # command has taken them out of the collector's hands (riskmon.tuning.for_latency; 0: none)
    full_collection_every: float = 600.0
    extra: dict[str, Any] = field(default_factory=dict)  # more Faust settings


class Worker:
    """One worker's Faust app and the stages it runs."""

    def __init__(
        self,
        config: StreamConfig,
        rules: ProgrammeRules,
        observers: Sequence[Observer] = (),
        metrics: MetricsObserver | None = None,
        store: StoreSink | None = None,
        learning: LearningConfig | None = None,
        tokens: Tokens | None = None,
    ) -> None:
        self.config = config
        self.rules = rules
        self.metrics = metrics
        self.store = store
        self.learning = learning
        extra: list[Any] = [o for o in (metrics, store) if o is not None]
        self.observers = Fanout([*observers, *extra])
        self.app = app = _faust_app(config)

        def topic(name: str, partitions: int, internal: bool = False) -> Any:
            return app.topic(
                name,
                partitions=partitions,
                key_type=bytes,
                value_type=bytes,
                key_serializer="raw",
                value_serializer="raw",
                internal=internal,
            )

        self.orders = topic("orders", PARTITIONS["orders"])
        self.catalog_in = topic("catalog", PARTITIONS["catalog"])
        self.labels = topic("labels", PARTITIONS["labels"])
        self.rules_in = topic("rules", PARTITIONS["rules"])
        self.controls_in = topic("controls", PARTITIONS["controls"])
        self.decide_topic = topic(DECIDE_TOPIC, 1, internal=True)
        self.watch_topic = topic(WATCH_TOPIC, config.watch_partitions, internal=True)
        # every worker reads the whole catalog itself, and knows how current it is
        self.catalog = Catalog()
        self.catalog_reader = CatalogReader(
            config.broker, self.catalog, max_bytes=config.max_bytes, fetch_wait=config.fetch_wait
        )
        self.boxes = {
            stage: Outbox(self._producer_for_stage)
            for stage in ("intake", "decide", "watch", "other")
        }
        decide_box, watch_box = self.boxes["decide"], self.boxes["watch"]
        self.models_table = self._backing("decide-models", 1, decide_box)
        recent = RecentOrders()  # the stages decode the same bytes: once is enough
        self.intake = Intake(
            recent,
            self.observers,
            config.max_bytes,
            metrics=metrics,
            future_tolerance=config.future_tolerance,
        )
        self.decide = DecideStage(
            rules,
            DecideSettings(
                config.max_bytes,
                config.watch_partitions,
                config.expire_every,
                config.checkpoint_every,
                config.checkout_hold,
            ),
            DurableState(
                self._backing("decide-state", 1, decide_box),
                {"catalog": self.catalog},
                on_restore=partial(self._restored, "decide"),
            ),
            self.catalog,
            recent,
            self.observers,
            learning=learning,
            models_table=self.models_table,
            metrics=metrics,
            ledger=cast(Observer, store) if store is not None else None,
        )
        self.watch = WatchStage(
            rules,
            DurableState(
                self._backing("watch-state", config.watch_partitions, watch_box),
                {"catalog": self.catalog},
                on_restore=partial(self._restored, "watch"),
            ),
            recent,
            self.observers,
            config.max_bytes,
            metrics,
        )
        self._handed: asyncio.Queue[list[Handed]] = asyncio.Queue()  # intake -> decide
        self.intake_runner = IntakeRunner(self.intake, self.boxes["intake"], self._handed)
        self.decide_runner = DecideRunner(
            self.decide,
            decide_box,
            self.boxes["other"],
            self.models_table,
            store,
            metrics,
            config.release_idle,
            catalog=self.catalog_reader,
            catalog_margin=config.catalog_margin,
            catalog_timeout=config.catalog_timeout,
            handing=self._handed,
        )
        self.watch_runner = WatchRunner(self.watch, watch_box, store)
        self.restores: list[tuple[str, int, int, int]] = []  # stage, partition, keys, rolled back

        app.agent(self.orders, name="intake")(_fatal(self._intake))
        app.agent(self.decide_topic, name="decide")(_fatal(self._decide))
        app.agent(self.watch_topic, name="watch")(_fatal(self._watch))
        app.agent(self.catalog_in, name="catalog")(_fatal(self._catalog))
        app.agent(self.labels, name="labels")(_fatal(self._labels))
        app.agent(self.rules_in, name="rules")(_fatal(self._rules))
        app.agent(self.controls_in, name="controls")(_fatal(self._controls))
        app.on_partitions_revoked.connect(cast(Any, self._revoked))  # faust types it loosely
        app.on_partitions_assigned.connect(cast(Any, self._assigned))
        app.on_before_shutdown.connect(cast(Any, self._shutting_down))
        app.timer(1.0)(self._release_idle)
        app.task(_fatal(self._take_handed))
        app.task(_fatal(self._read_catalog))
        self.api: AuthorizeAPI | None = None
        if config.api_port:
            self.boxes["api"] = Outbox(self._producer_for_stage)
            self.api = AuthorizeAPI(
                partial(self.decide_runner.authorize, append=self._append_checkout),
                self._decide_owner,
                tokens or _no_tokens,
                deadline=config.api_deadline,
                max_bytes=config.max_bytes,
                metrics=metrics,
                ready=lambda: 0 in self.decide.applied(),
            )
            app.task(_fatal(self._serve_api))
        if config.full_collection_every > 0:  # streams/collector.py says why
            app.timer(1.0)(Collector(config.full_collection_every).tick)
        if metrics is not None:
            app.timer(5.0)(self._report)

    def _backing(self, name: str, partitions: int, box: Outbox) -> TableBacking:
        """A Faust table of raw bytes as saved state; its changelog goes through `box`."""
        table = self.app.Table(
            name, partitions=partitions, key_type=str, value_type=bytes, default=None
        )
        serializer = cast(Any, table).key_serializer

        def encode_key(key: str) -> bytes:
            encoded: bytes = codecs.dumps(serializer, key)
            return encoded

        return TableBacking(table.data, box, table.changelog_topic.get_topic_name(), encode_key)

    # -- agents -------------------------------------------------------------------------------

    async def _intake(self, stream: Any) -> None:
        consumer = self.app.consumer
        tps: dict[int, TP] = {}

        def highwater(partition: int) -> int | None:
            tp = tps.get(partition)
            if tp is None:
                tp = tps[partition] = TP("orders", partition)
            end: int | None = consumer.highwater(tp)
            return end

        async for events in batches(stream, self.config):
            messages = [_message(event) for event in events]
            assigned = [tp.partition for tp in consumer.assignment() if tp.topic == "orders"]
            partitions = consumer.topic_partitions("orders")
            await _or_exit(self.intake_runner.batch(messages, highwater, assigned, partitions))

    async def _decide(self, stream: Any) -> None:
        async for events in batches(stream, self.config):
            await _or_exit(self.decide_runner.read([_message(event) for event in events]))

    async def _take_handed(self, app: Any) -> None:
        """The intake's frames, decided as soon as they are on the broker
        (`DecideRunner.handed`): each delivery round costs up to the broker's fetch wait, and
        tansu holds every fetch that long."""
        handed = self._handed
        while True:
            frames = await handed.get()
            while not handed.empty():
                frames.extend(handed.get_nowait())
            await _or_exit(self.decide_runner.handed(frames))

    async def _watch(self, stream: Any) -> None:
        async for events in batches(stream, self.config):
            await _or_exit(self.watch_runner.batch([_message(event) for event in events]))

    async def _warm_up(self) -> None:
        box = self.boxes["api"]
        producer = await box.producer()
        await (
            await producer.send(
                DECIDE_TOPIC, b'{"after": -2}', partition=0, headers=headers_of("tick")
            )
        )

    async def _serve_api(self, app: Any) -> None:
        assert self.api is not None
        await self.api.start("0.0.0.0", self.config.api_port)  # noqa: S104 - a service's port

    async def _append_checkout(self, raw: bytes) -> Any:
        """A checkout in the decide log (partition 0), delivered: its record's metadata."""
        producer = await self.boxes["api"].producer()
        headers = headers_of("checkout")
        return await (await producer.send(DECIDE_TOPIC, raw, partition=0, headers=headers))

    def _decide_owner(self) -> str | None:
        """None if this worker holds the decide partition, else the URL of the one that does
        (from the group's assignment); an empty string while nobody is known to."""
        if TP(DECIDE_TOPIC, 0) in self.app.consumer.assignment():
            return None
        try:
            return str(self.app.router.key_store("decide-state", "0"))
        except Exception:  # a rebalance under way: nobody to ask yet
            return ""

    async def _read_catalog(self, app: Any) -> None:
        await self.catalog_reader.run()

    async def _catalog(self, stream: Any) -> None:
        """The catalog's records checked once (by the worker holding its partition): a bad one
        goes to the dead letters, a good one to the observers (the store's product rows).
        Every worker reads the catalog itself for its decisions (`CatalogReader`)."""
        box = self.boxes["other"]
        async for events in batches(stream, self.config):
            for event in events:
                message = _message(event)
                try:
                    entry = decode_catalog(message.value, self.config.max_bytes)
                except DecodeError as exc:
                    self.observers.on_consumed("catalog", "invalid")
                    self._dead(box, exc.reason, exc.message, message)
                    continue
                self.observers.on_consumed("catalog", "catalog")
                self.observers.on_catalog(entry)
            await _or_exit(commit.deliver(box))

    async def _labels(self, stream: Any) -> None:
        """Verdicts validated; with learning, forwarded to the decide stage, whose models
        learn them in sequence with the orders."""
        box = self.boxes["other"]
        async for events in batches(stream, self.config):
            for event in events:
                message = _message(event)
                try:
                    decode_label(message.value, self.config.max_bytes)
                except DecodeError as exc:
                    self.observers.on_consumed("labels", "invalid")
                    self._dead(box, exc.reason, exc.message, message)
                    continue
                self.observers.on_consumed("labels", "label")
                if self.learning is not None:
                    box.add(DECIDE_TOPIC, message.key, message.value, headers=headers_of("label"))
            await _or_exit(commit.deliver(box))

    async def _rules(self, stream: Any) -> None:
        """Rules versions validated and forwarded to the decide stage, which applies each from
        its effective time to the orders it decides after it (detectors/versions.py)."""
        await self._forward(stream, "rules", decode_publication)

    async def _controls(self, stream: Any) -> None:
        """Controls validated (a record is whole or refused) and forwarded to the decide stage,
        which applies each to the orders it decides after it (detectors/controls.py)."""
        await self._forward(stream, "control", decode_control)

    async def _forward(self, stream: Any, kind: str, decode: Callable[[bytes, int], Any]) -> None:
        box = self.boxes["other"]
        async for events in batches(stream, self.config):
            for event in events:
                message = _message(event)
                try:
                    decode(message.value, self.config.max_bytes)
                except DecodeError as exc:
                    self.observers.on_consumed(message.topic, "invalid")
                    self._dead(box, exc.reason, exc.message, message)
                    continue
                self.observers.on_consumed(message.topic, kind)
                box.add(DECIDE_TOPIC, message.key, message.value, headers=headers_of(kind))
            await _or_exit(commit.deliver(box))

    def _dead(self, box: Outbox, reason: str, error: str, message: Message) -> None:
        record = dead_letter_record(
            reason=reason, error=error, raw=message.value, origin=message.origin
        )
        box.add("dead-letter", None, dumps(record))
        self.observers.on_dead_letter(record)

    # -- timers -------------------------------------------------------------------------------

    async def _release_idle(self) -> None:
        await _or_exit(self.decide_runner.idle())

    async def _report(self) -> None:
        """The gauges a batch does not set: consumer lag, the models' quality."""
        assert self.metrics is not None
        for found in self.decide.models.values():
            self.metrics.set_learning_quality(found.run.learner.quality())
        try:
            for topic, partition, lag in _lags(self.app.consumer):
                self.metrics.set_lag(topic, partition, lag)
        except Exception:  # a gauge must never stop the worker
            log.exception("consumer lag not reported")

    # -- checkpoints, rebalances, shutdown ----------------------------------------------------

    async def _shutting_down(self, sender: Any, *args: Any, **kwargs: Any) -> None:
        if self.api is not None:
            await self.api.stop()
        await _or_exit(self.decide_runner.shutdown())
        for box in self.boxes.values():  # everything delivered: each stage's batches waited
            await box.stop()

    def _restored(self, stage: str, partition: int, keys: int, rolled_back: int) -> None:
        self.restores.append((stage, partition, keys, rolled_back))
        if keys or rolled_back:  # a worker taking over state, not a first start
            log.warning(
                "restored %s partition %d from its changelog: %d keys, %d rolled back",
                stage,
                partition,
                keys,
                rolled_back,
            )

    async def _assigned(self, sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        assigned: set[TP] = args[0] if args else kwargs.get("assigned", set())
        if self.api is not None and TP(DECIDE_TOPIC, 0) in assigned:
            # a tick that releases nothing, so the stage takes the partition up (restores its
            # state) before the first checkout rather than while it waits for an answer
            asyncio.ensure_future(self._warm_up())
        mine = sorted(tp.partition for tp in assigned if tp.topic == "orders")
        log.info("assigned orders partitions %s", ",".join(map(str, mine)) or "none")

    async def _revoked(self, sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        revoked: set[TP] = args[0] if args else kwargs.get("revoked", set())
        self.intake.forget({tp.partition for tp in revoked if tp.topic == "orders"})
        decide = {tp.partition for tp in revoked if tp.topic == DECIDE_TOPIC}
        await _or_exit(self.decide_runner.revoke(decide))
        watch = {tp.partition for tp in revoked if tp.topic == WATCH_TOPIC}
        await _or_exit(self.watch_runner.revoke(watch))

    def _producer_for_stage(self) -> Any:
        """A stage's own Kafka producer (streams/outbox.py says why), configured as Faust's."""
        return aiokafka.AIOKafkaProducer(
            bootstrap_servers=self.config.broker,
            acks="all",
            linger_ms=0,  # a stage hands over a batch's outputs at once, then waits for them
            max_batch_size=self.config.batch_bytes,
            max_request_size=MAX_REQUEST_BYTES,
            client_id=f"{self.config.app_id}-stage",
        )


async def _no_tokens(token: str) -> str | None:
    return None  # no store to check tokens in: every request is refused


def _faust_app(config: StreamConfig) -> faust.App:
    app = faust.App(
        config.app_id,
        broker=f"kafka://{config.broker}",
        store="memory://",
        autodiscover=False,
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=config.watch_partitions,
        topic_replication_factor=1,
        broker_rebalance_timeout=config.rebalance_timeout,
        broker_session_timeout=config.session_timeout,
        broker_heartbeat_interval=config.heartbeat,
        broker_commit_interval=config.commit_interval,
        broker_max_poll_records=config.batch,
        stream_buffer_maxsize=4 * config.batch,
        consumer_max_fetch_size=32 << 20,  # a 10 MB message is read, then dead-lettered
        producer_max_request_size=MAX_REQUEST_BYTES,
        producer_linger=0.002,
        producer_max_batch_size=config.batch_bytes,
        consumer_auto_offset_reset="earliest",
        table_standby_replicas=0,
        consumer_group_instance_id=config.instance_id,
        # where the others reach this worker's authorization API (the group's assignment says)
        canonical_url=f"http://{config.api_host}:{config.api_port or 6066}",
        **config.extra,
    )
    with_fetch_wait(app, config.fetch_wait)
    with_kept_buffers(app)
    return app


def _lags(consumer: Any) -> list[tuple[str, int, int]]:
    """Each input partition's lag: its end as the last fetch saw it, less the read offset."""
    out = []
    for tp in consumer.assignment():
        if tp.topic not in {"orders", DECIDE_TOPIC, WATCH_TOPIC, "catalog", "labels"}:
            continue
        read = consumer._read_offset.get(tp)  # faust has no public position
        end = consumer.highwater(tp)
        if end is None:  # not known yet (a rebalance is under way)
            continue
        out.append((tp.topic, tp.partition, max(end - (read + 1 if read is not None else 0), 0)))
    return out


def _message(event: EventT[Any]) -> Message:
    message = event.message
    return Message(
        message.topic,
        message.partition,
        message.offset,
        message.value or b"",
        kind_of(message.headers),
        message.timestamp or 0.0,
        message.key,
    )


async def _or_exit(delivery: Awaitable[T]) -> T:
    """A delivery, or the end of the process.

    Faust would commit offsets past what was lost, and restarting one agent leaves its
    unacknowledged events in the way of every later commit: the process stops instead, and
    the group gives its partitions, from their last commits, to others.
    """
    try:
        return await delivery
    except Exception:
        log.critical("a stage's output was not delivered: stopping the worker", exc_info=True)
        logging.shutdown()
        os._exit(70)  # EX_SOFTWARE


def _fatal(stage: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
    """A stage whose error stops the worker.

    Faust would restart the agent alone, and the batch it was on, never acknowledged, would
    hold back every later commit of its partitions; stopped, the worker's partitions go to the
    group from their last commits, and their work is done again.
    """

    async def run(stream: Any) -> None:
        try:
            await stage(stream)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.critical("stage %s failed: stopping the worker", stage.__name__, exc_info=True)
            logging.shutdown()
            os._exit(70)  # EX_SOFTWARE

    run.__name__ = run.__qualname__ = stage.__name__
    return run


async def batches(stream: Any, config: StreamConfig) -> AsyncIterator[list[EventT[Any]]]:
    """The stream's events in batches (Faust's `take_events`), acknowledged only when done:
    step 6 of the commit protocol (docs/durability.md).

    `take_events` acknowledges a batch in a `finally`: after the agent's body has finished
    with it, but also when the body never finished (a worker stopping in the middle of a
    delivery, an error). Faust would then commit offsets past messages whose outputs never went
    out. Here a batch's acknowledgements go only once the body has asked for the next batch;
    a batch cut short stays unacknowledged, and the next holder of the partition does it again.
    """
    done = True
    acknowledge = stream.ack

    async def ack(event: EventT[Any]) -> bool:
        if not done:
            return False
        result: bool = await acknowledge(event)
        return result

    stream.ack = ack  # take_events calls it as self.ack
    async for events in stream.take_events(config.batch, config.within):
        done = False
        yield events
        done = True
