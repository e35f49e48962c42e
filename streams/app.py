"""The Faust app: the detectors' pipeline spread over three stages and their topics.

```
orders (by consumer) --intake--> riskmon-decide (1 partition) --decide--> decisions, alerts
                                                               \\--> riskmon-watch (by entity)
                                                                     --watch--> alerts
catalog --catalog--> catalog table (global: every worker reads it)
labels  --labels--> validated (the online models of a later stage learn from them)
bad input of any stage --> dead-letter
```

- **intake** validates each message against the contract, so the costly parsing and the dead
  letters scale with the `orders` partitions.
- **decide** runs the deciding detectors. Quotas, qualification codes and the budget are
  first-come first-served over every consumer, so decisions are made in one sequence: one
  partition, a few microseconds of detector work per order.
- **watch** runs the behavioural detectors. Each message is addressed to the partition that
  holds its entities' state and says which kinds of entity it owns there (one message per
  distinct partition, so with one partition an order makes one message, with eight about five).

An order makes two topic hops to its decision (orders -> decide -> decisions) and three to a
behavioural alert. The worker holding the decide partition decides an intake frame it has just
delivered there without waiting to read it back, when the frame follows on from what it has
applied (`Worker._take_handed`). No detector logic lives here: this module moves bytes and state.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import zlib
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    Sequence,
)
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any, Protocol, cast

import aiokafka
import faust
import orjson
from faust.serializers import codecs
from faust.types import TP, EventT

from detectors.alerts import Alert
from detectors.learning import Learner, LearningConfig
from detectors.learning.codec import CheckpointError
from detectors.pipeline import Outcome, Pipeline, watching_detectors
from detectors.products import product
from detectors.watch import Watch, Watchers
from replay.learning import LearningRun
from replay.observers import Observer, notify_outcome
from schemas.catalog import CatalogEntry
from schemas.decode import (
    DEFAULT_MAX_BYTES,
    DecodeError,
    decode_catalog,
    decode_label,
)
from schemas.orders import OrderPaid
from schemas.outputs import Origin, dead_letter_record, dumps
from schemas.rules import ProgrammeRules
from streams import models
from streams.collector import Collector
from streams.decoding import RecentOrders
from streams.frames import FrameError, Framer, unframe
from streams.metrics import MetricsObserver
from streams.ordering import WatchQueue
from streams.state import DurableState, PartitionStore
from streams.topics import TOPICS
from streams.transport import with_fetch_wait, with_kept_buffers

log = logging.getLogger("riskmon.streams")
DECIDE_TOPIC = "riskmon-decide"
WATCH_TOPIC = "riskmon-watch"
PARTITIONS = {t.name: t.partitions for t in TOPICS}
# a produce request may carry this much: a 10 MB message is forwarded, then dead-lettered
MAX_REQUEST_BYTES = 32 << 20


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
    # docs/broker-notes.md: Faust's defaults keep a joining worker ~30 s in "(Re-)joining group"
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
    # seconds between the garbage collector's full passes, run by the worker's timer once the
    # command has taken them out of the collector's hands (riskmon.tuning.for_latency; 0: none)
    full_collection_every: float = 600.0
    extra: dict[str, Any] = field(default_factory=dict)  # more Faust settings


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


Outgoing = tuple[str, bytes | None, bytes, int | None, list[tuple[str, bytes]] | None]
ORDERS_HEADERS = [("kind", b"orders")]  # a decide message holding a frame of orders


@dataclass(frozen=True, slots=True)
class Handed:
    """An intake frame as delivered to `riskmon-decide`: the message the decide stage will
    read there, taken over in process (`Worker._take_handed`)."""

    partition: int
    offset: int
    value: bytes
    topic: str = DECIDE_TOPIC
    headers: tuple[tuple[str, bytes], ...] = tuple(ORDERS_HEADERS)


class Outbox:
    """One stage's outputs, in the order it made them, until the stage hands them over to its
    own Kafka producer.

    Each stage sends its own outputs straight to a Kafka client: Faust's `send_soon` buffer
    publishes one message per turn of the event loop, and its `flush()` gives up after 0.1 s
    without a delivery, which is no ground to save state on. Each stage has a producer of its
    own: aiokafka keeps one produce request in flight per connection and its `flush()` waits
    for every batch of the producer, so on Faust's one producer a stage's delivery waited for
    the other stages' outputs too (at 1,000 orders/s a delivery took 11 ms at the median and
    37 ms at p99, against 1 to 2 ms for the same records on an idle broker).
    """

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
    """A Faust table as the `Backing` of `DurableState`: raw bytes, explicit partitions.

    Its changelog records go into the stage's outbox, after the outputs they account for.
    """

    def __init__(self, table: Any, outbox: Outbox) -> None:
        self.table = table
        self.outbox = outbox
        self.topic: str = table.changelog_topic.get_topic_name()
        # the changelog's keys in the table's own serialisation (JSON strings): its recovery
        # decodes them so, and skips a record it cannot decode
        self.key_serializer = table.key_serializer

    def get(self, key: str) -> bytes | None:
        value: bytes | None = self.table.data.get(key)
        return value

    def items(self) -> Iterable[tuple[str, bytes]]:
        return list(self.table.data.items())

    def put(self, partition: int, key: str, value: bytes) -> None:
        # the batch spans partitions, so the changelog partition is named, not taken from
        # the event Faust happens to be on
        self.table.data[key] = value
        self.outbox.add(self.topic, codecs.dumps(self.key_serializer, key), value, partition)


def watch_partition(kind: str, key: str, partitions: int) -> int:
    """The watch partition that holds an entity's state: stable across processes.

    >>> watch_partition("device", "dv-1", 8) == watch_partition("device", "dv-1", 8)
    True
    """
    return zlib.crc32(f"{kind}|{key}".encode()) % partitions


def watch_meta(watch: Watch, owned: Sequence[str], seq: list[int]) -> dict[str, Any]:
    """A watch ticket's metadata (its body is the event as it came).

    `seq` is [decide offset, ticket number]: the decide stage sends in that order, and sends
    again what follows its last saved batch after a crash, numbering the tickets as it did
    then; a watch partition skips what it has seen.
    """
    # the order's amounts go as strings, as in saved state (frames are written so): a JSON
    # number comes back a float, and Decimal(float) is not the amount
    return {"owned": list(owned), "order": watch.order, "released": watch.released, "seq": seq}


class StoreSink(Observer, Protocol):
    """The store (`reports.observer.StoreObserver`): rows built by the hooks, written by
    `aflush()` (idempotent by id) in a thread, so the event loop goes on meanwhile."""

    async def aflush(self) -> None: ...


class Models:
    """The online models of one decide partition, and what they have learnt through."""

    def __init__(self, run: LearningRun, manifest: models.Manifest | None) -> None:
        self.run = run
        self.manifest = manifest  # of the last checkpoint written or read
        self.learnt = manifest.offset if manifest is not None else -1  # decide offset
        self.since_checkpoint = 0  # orders learnt since
        self.taught: dict[str, Any] = {}  # SKU -> the catalog product its reference came from

    def teach_catalog(self, catalog: CatalogView, order: OrderPaid) -> None:
        """The reference prices of the order's products, from the catalog table as it is."""
        for item in order.items:
            found = catalog.get(item.sku)
            if found is not None and self.taught.get(item.sku) is not found:
                self.taught[item.sku] = found
                self.run.catalog(found.entry)


class Worker:
    """One worker's app, its stages' state and what it reports to its observers."""

    def __init__(
        self,
        config: StreamConfig,
        rules: ProgrammeRules,
        observers: Sequence[Observer] = (),
        metrics: MetricsObserver | None = None,
        store: StoreSink | None = None,
        learning: LearningConfig | None = None,
    ) -> None:
        self.config = config
        self.rules = rules
        self.metrics = metrics
        self.store = store
        self.learning = learning
        extra: list[Observer] = [o for o in (metrics, store) if o is not None]
        self.observers = [*observers, *extra]
        self.app = app = faust.App(
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
            **config.extra,
        )
        with_fetch_wait(app, config.fetch_wait)
        with_kept_buffers(app)

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
        self.decisions = topic("decisions", PARTITIONS["decisions"])
        self.alerts = topic("alerts", PARTITIONS["alerts"])
        self.dead = topic("dead-letter", PARTITIONS["dead-letter"])
        self.decide_topic = topic(DECIDE_TOPIC, 1, internal=True)
        self.watch_topic = topic(WATCH_TOPIC, config.watch_partitions, internal=True)

        def table(name: str, partitions: int) -> Any:
            return app.Table(
                name,
                partitions=partitions,
                key_type=str,
                value_type=bytes,
                default=None,
            )

        # faust's advice for a global table read by several workers: one partition, and a
        # recovery buffer of one
        self.catalog_table = app.GlobalTable(
            "catalog-entries",
            partitions=1,
            key_type=str,
            value_type=bytes,
            default=None,
            recovery_buffer_size=1,
        )
        self.catalog = CatalogView(self.catalog_table)
        shared: dict[str, MutableMapping[str, Any]] = {"catalog": self.catalog}
        self.boxes = {
            stage: Outbox(self._producer_for_stage)
            for stage in ("intake", "decide", "watch", "other")
        }
        self.decide_state = DurableState(
            TableBacking(table("decide-state", 1), self.boxes["decide"]),
            shared,
            on_restore=partial(self._restored, "decide"),
        )
        self.watch_state = DurableState(
            TableBacking(table("watch-state", config.watch_partitions), self.boxes["watch"]),
            shared,
            on_restore=partial(self._restored, "watch"),
        )
        # the models' checkpoints, beside the decide stage's state (same partitions)
        self.models_table = TableBacking(table("decide-models", 1), self.boxes["decide"])
        self.recent = RecentOrders()  # the stages decode the same bytes: once is enough
        self.pipelines: dict[int, Pipeline] = {}
        self.watchers: dict[int, Watchers] = {}
        self.models: dict[int, Models] = {}
        self.watch_frames: dict[int, Framer] = {}  # watch partition -> this batch's tickets
        self._seen: dict[int, int] = {}  # orders partition -> the last offset taken in
        self.queues: dict[int, WatchQueue] = {}  # decide partition -> its held watch tickets
        self._decide_lock = asyncio.Lock()  # a batch, or a revocation's teardown
        self._decide_input = time.monotonic()  # when the decide stage last had input
        self._ticked: dict[int, int] = {}  # decide partition -> the offset of its last tick
        self._handed: asyncio.Queue[list[Handed]] = asyncio.Queue()  # intake -> decide, delivered
        self.restores: list[tuple[str, int, int, int]] = []  # stage, partition, keys, rolled back
        self._decided = 0
        self._event_time: dict[int, float] = {}  # orders partition -> latest event time seen
        # routes are pure: any Watchers computes them
        self._router = Watchers(rules, PartitionStore(-1, shared), [])

        app.agent(self.orders, name="intake")(_fatal(self._intake))
        app.agent(self.decide_topic, name="decide")(_fatal(self._decide))
        app.agent(self.watch_topic, name="watch")(_fatal(self._watch))
        app.agent(self.catalog_in, name="catalog")(_fatal(self._catalog))
        app.agent(self.labels, name="labels")(_fatal(self._labels))
        app.on_partitions_revoked.connect(cast(Any, self._revoked))  # faust types it loosely
        app.on_partitions_assigned.connect(cast(Any, self._assigned))
        app.on_before_shutdown.connect(cast(Any, self._shutting_down))
        app.timer(1.0)(self._release_idle)
        app.task(_fatal(self._take_handed))
        if config.full_collection_every > 0:  # streams/collector.py says why
            app.timer(1.0)(Collector(config.full_collection_every).tick)
        if metrics is not None:
            app.timer(5.0)(self._report)

    # -- stages ---------------------------------------------------------------------------

    async def _intake(self, stream: Any) -> None:
        max_bytes = self.config.max_bytes
        box = self.boxes["intake"]
        framer = Framer()
        consumer = self.app.consumer
        async for events in batches(stream, self.config):
            read: dict[int, Any] = {}  # orders partition -> its last message in this batch
            for event in events:
                message = event.message
                read[message.partition] = message
                last = self._seen.get(message.partition)
                if last is not None and message.offset > last + 1:
                    # nothing here makes gaps (no transactions, no compaction of orders):
                    # Faust did not hand these over; they are read again after a restart
                    log.warning(
                        "orders partition %d: offsets %d to %d were not handed to this worker",
                        message.partition,
                        last + 1,
                        message.offset - 1,
                    )
                self._seen[message.partition] = message.offset
                raw = message.value or b""
                try:
                    order = self.recent.decode(raw, max_bytes)
                except DecodeError as exc:
                    self._consumed("orders", "invalid")
                    self._dead(box, exc.reason, exc.message, raw, _origin(event))
                    continue
                self._consumed("orders", order.event_type)
                # where it came from, for dead letters, and when it was appended, for the
                # append-to-decision delay
                framer.add(
                    {"at": [message.partition, message.offset], "ts": message.timestamp or 0.0},
                    raw,
                )
            # where each partition's reader stands: one behind holds back the watch tickets of
            # the others (streams/ordering.py); the high watermark is the fetch's (right on
            # tansu, unlike its ListOffsets)
            pos = {str(p): [m.offset, consumer.highwater(m.tp)] for p, m in read.items()}
            framer.add({"pos": pos}, b"")
            frames = framer.take()
            for value in frames:
                box.add(DECIDE_TOPIC, None, value, headers=ORDERS_HEADERS)
            sent = await self._delivered(box)  # before Faust acknowledges the batch
            written = [meta for meta in sent if meta.topic == DECIDE_TOPIC]
            pairs = zip(written, frames, strict=True)
            self._handed.put_nowait([Handed(m.partition, m.offset, v) for m, v in pairs])

    async def _decide(self, stream: Any) -> None:
        config = self.config
        box = self.boxes["decide"]
        async for events in batches(stream, config):
            if any(_kind(event.message.headers) != b"tick" for event in events):
                self._decide_input = time.monotonic()
            async with self._decide_lock:
                await self._decide_batch(box, [event.message for event in events], "read")

    async def _take_handed(self, app: Any) -> None:
        """The intake's frames, decided as soon as they are on the broker, in the log's order.

        A frame the intake has delivered is in `riskmon-decide` at a known offset. When this
        worker holds that partition and the frame comes right after what the stage has applied
        there, deciding it now is deciding it as it will be read, without waiting for a fetch
        round (each costs up to the broker's fetch wait, and tansu holds every fetch that
        long). Any other frame (another worker's, or one after a verdict or a tick that is not
        applied yet) is left to the agent, which reads every frame and skips those applied.
        """
        box = self.boxes["decide"]
        handed = self._handed
        while True:
            frames = await handed.get()
            while not handed.empty():
                frames.extend(handed.get_nowait())
            async with self._decide_lock:
                messages = self._next_in_log(frames)
                if messages:
                    self._decide_input = time.monotonic()
                    await self._decide_batch(box, messages, "handed")

    def _next_in_log(self, frames: list[Handed]) -> list[Handed]:
        return follow_on(frames, {p: store.applied for p, store, _ in self._taken_up()})

    def _taken_up(self) -> list[tuple[int, PartitionStore, WatchQueue]]:
        """The decide partitions this worker holds and the stage has taken up, with their
        state and held tickets (a queue of a store restored anew since is not one of them)."""
        out = []
        for partition, queue in self.queues.items():
            store = self.decide_state.stores.get(partition)
            if store is not None and queue.store is store:
                out.append((partition, store, queue))
        return out

    async def _decide_batch(self, box: Outbox, messages: Sequence[Any], path: str) -> None:
        """Messages of riskmon-decide applied in order (`path`: how they came, for the metric)."""
        touched: dict[int, tuple[PartitionStore, int]] = {}
        frames = 0
        for message in messages:
            store, fresh = self.decide_state.partition(message.partition)
            if fresh or message.partition not in self.pipelines:
                self.pipelines[message.partition] = Pipeline(self.rules, store)
                self.queues[message.partition] = WatchQueue(store, self._decode_held)
                if self.learning is not None:
                    self.models[message.partition] = self._restore_models(message.partition)
            if message.offset <= store.applied:
                continue  # decided before a crash: its outputs went out then
            self._decide_message(box, message)
            touched[message.partition] = (store, message.offset)
            frames += _kind(message.headers) == b"orders"
        self._frames_out(box)
        await self._save(box, self.decide_state, touched)
        if self.metrics is not None and frames:
            self.metrics.count_decide_frames(path, frames)
        for partition, (store, _) in touched.items():
            if self.metrics is not None:
                self._report_budget(store)
            found = self.models.get(partition)
            if found is not None and found.since_checkpoint >= self.config.checkpoint_every:
                await self._checkpoint(partition, found)

    def _frames_out(self, box: Outbox) -> None:
        for partition, framer in sorted(self.watch_frames.items()):
            for value in framer.take():
                box.add(WATCH_TOPIC, None, value, partition)

    def _release(self, partition: int, offset: int, idle: bool = False) -> int:
        """The held tickets that are ready, to their watch partitions' frames; how many.

        A ticket's `seq` is [the decide offset it goes out at, its arrival number]: increasing
        at every watch partition, and the same when a restarted stage releases it again.
        """
        tickets = self.queues[partition].ready(idle)
        for ticket in tickets:
            self._route(ticket.watch, ticket.watch.raw, [offset, ticket.number])
        return len(tickets)

    async def _release_idle(self) -> None:
        """With no input for a while, a tick to each decide partition that holds tickets: what
        only caught-up partitions held goes out when it is read (the tail of a stream).

        The release is a record in the log, not the timer's doing: it is decided, saved and
        marked like any batch, so a crash in the middle of it rolls back, and a redo releases
        the same tickets at the same point. A tick counts only if nothing was appended between
        the offset it names and its own: a worker that sends one just as input arrives
        releases nothing early.
        """
        if time.monotonic() - self._decide_input < self.config.release_idle:
            return
        if self._decide_lock.locked():  # a batch (perhaps a tick) is being applied
            return
        box = self.boxes["other"]
        for partition, store, queue in self._taken_up():
            if not len(queue):
                continue
            if self._ticked.get(partition) == store.applied:
                continue  # sent, not read yet: nothing has been applied since
            after = orjson.dumps({"after": store.applied})
            box.add(DECIDE_TOPIC, None, after, partition, headers=[("kind", b"tick")])
            self._ticked[partition] = store.applied
        await self._delivered(box)

    def _tick(self, box: Outbox, message: Any) -> None:
        try:
            after = orjson.loads(message.value or b"")["after"]
            if not isinstance(after, int):
                raise TypeError(after)
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            origin = Origin(message.topic, message.partition, message.offset)
            reason = f"a tick names no offset: {exc!r}"
            self._dead(box, "malformed_frame", reason, message.value or b"", origin)
            return
        if after != message.offset - 1:
            return  # input came between: the stream is not idle after all
        released = self._release(message.partition, message.offset, idle=True)
        self._ticked[message.partition] = message.offset  # no tick for a tick: input first
        left = len(self.queues[message.partition])
        if left:
            behind = sorted(self.queues[message.partition].behind(), key=int)
            log.info(
                "decide partition %d idle: %d watch tickets released, %d held for orders "
                "partitions %s, whose readers have not read all they hold",
                message.partition,
                released,
                left,
                ",".join(behind) or "none",
            )

    def _decode_held(self, raw: bytes) -> Any:
        return self.recent.decode(raw, max(self.config.max_bytes, len(raw)))

    def _decide_message(self, box: Outbox, message: Any) -> None:
        """A frame of orders from the intake stage, or a verdict from the labels stage."""
        raw = message.value or b""
        partition = message.partition
        found = self.models.get(partition)
        kind = _kind(message.headers)
        if kind == b"tick":
            self._tick(box, message)
            return
        if kind == b"label":
            if found is not None:  # validated by the labels stage
                found.run.learner.on_label(decode_label(raw, max(self.config.max_bytes, len(raw))))
                found.learnt = message.offset
            return
        try:
            records = list(unframe(raw))
            positions = {i: _positions(m["pos"]) for i, (m, _) in enumerate(records) if "pos" in m}
        except FrameError as exc:  # not from an intake stage: say so rather than lose it
            origin = Origin(message.topic, partition, message.offset)
            self._dead(box, "malformed_frame", str(exc), raw, origin)
            return
        queue = self.queues[partition]
        for i, (meta, body) in enumerate(records):
            if i in positions:  # where the intake's partitions stood after the records before
                for part, (read, end) in positions[i].items():
                    queue.position(part, read, end)
                continue
            at = meta.get("at") or (None, None)
            origin = Origin("orders", at[0], at[1])
            self._decide_one(box, partition, message.offset, body, origin, meta.get("ts", 0.0))
        self._release(partition, message.offset)
        if found is not None:
            found.learnt = message.offset

    def _decide_one(
        self,
        box: Outbox,
        partition: int,
        offset: int,
        raw: bytes,
        origin: Origin,
        appended: float,
    ) -> None:
        started = time.perf_counter()
        found = self.models.get(partition)
        try:
            order = self.recent.decode(raw, self.config.max_bytes)
        except DecodeError as exc:  # not from intake: say so rather than lose it
            self._dead(box, exc.reason, exc.message, raw, origin)
            return
        pipeline = self.pipelines[partition]
        outcome = pipeline.decide(order, raw, origin)
        ts = order.occurred_at.timestamp()
        if origin.partition is not None:
            if ts > self._event_time.get(origin.partition, ts - 1):
                self._event_time[origin.partition] = ts
            self.queues[partition].note(origin.partition, ts, appended)
        self._emit(box, order, outcome, self.queues[partition])
        if found is not None:
            if isinstance(order, OrderPaid):
                found.teach_catalog(self.catalog, order)
                found.since_checkpoint += 1
            for alert in found.run.after(order, outcome):
                self._alert(box, alert)
        if self.metrics is not None:
            self.metrics.observe_processing(time.perf_counter() - started)
            if outcome.decision is not None and appended:
                self.metrics.observe_delay(max(time.time() - appended, 0.0))
        self._decided += 1
        if self._decided % self.config.expire_every == 0:
            # event time is as far as the slowest `orders` partition has come: catching up
            # on a backlog, one partition may run days ahead of another, and a payment still
            # on its way must not find its refund already reported unmatched
            if self._event_time:
                pipeline.watermark = min(self._event_time.values())
            for record in pipeline.expire():
                self._dead_record(box, record)

    async def _save(
        self, box: Outbox, state: DurableState, touched: dict[int, tuple[PartitionStore, int]]
    ) -> None:
        """Steps 5 to 7 of the per-batch protocol (docs/durability.md): the changes written and
        delivered together with the outputs, then the markers."""
        for store, offset in touched.values():
            state.write_changes(store, offset)
        await self._flush(box)
        if not touched:
            return
        for store, offset in touched.values():
            state.mark(store, offset)
        await self._delivered(box)  # before Faust acknowledges the batch and commits past it

    async def _flush(self, box: Outbox) -> None:
        """Everything a stage produced, delivered: the topics, then the store's rows."""
        await self._delivered(box)
        if self.store is not None:
            await self.store.aflush()

    def _producer_for_stage(self) -> Any:
        """A stage's own Kafka producer (see `Outbox`), configured as Faust's would be."""
        return aiokafka.AIOKafkaProducer(
            bootstrap_servers=self.config.broker,
            acks="all",
            linger_ms=0,  # a stage hands over a batch's outputs at once, then waits for them
            max_batch_size=self.config.batch_bytes,
            max_request_size=MAX_REQUEST_BYTES,
            client_id=f"{self.config.app_id}-stage",
        )

    async def _delivered(self, box: Outbox) -> list[Any]:
        try:
            return await box.delivered()
        except Exception:
            # Faust would commit offsets past what was lost, and restarting one agent leaves
            # its unacknowledged events in the way of every later commit: the process stops
            # instead, and the group gives its partitions, from their last commits, to others
            log.critical("a stage's output was not delivered: stopping the worker", exc_info=True)
            logging.shutdown()
            os._exit(70)  # EX_SOFTWARE
            raise  # not reached: os._exit does not return

    def _emit(self, box: Outbox, order: Any, outcome: Outcome, queue: WatchQueue) -> None:
        if outcome.decision is not None:
            box.add("decisions", outcome.decision["order_id"].encode(), dumps(outcome.decision))
        for alert in outcome.alerts:
            self._alert(box, alert)
        for record in outcome.dead_letters:
            self._dead_record(box, record)
        for watch in outcome.watch:
            queue.hold(watch)  # released when every orders partition has come that far
        if self.store is not None and isinstance(order, OrderPaid):
            for item in order.items:  # the sales ledger's energy grades, from the catalog
                found = self.catalog.get(item.sku)
                if found is not None:
                    self.store.on_catalog(found.entry)
        if outcome.status == "processed" and self.observers:
            notify_outcome(self.observers, order, outcome)

    def _route(self, watch: Watch, raw: bytes, seq: list[int]) -> None:
        """A ticket to each watch partition that holds one of the event's entities, in the
        frame that partition gets at the end of the batch."""
        partitions = self.config.watch_partitions
        owned: dict[int, list[str]] = {}
        for kind, key in self._router.routes(watch.event).items():
            owned.setdefault(watch_partition(kind, key, partitions), []).append(kind)
        for partition, kinds in sorted(owned.items()):
            framer = self.watch_frames.get(partition)
            if framer is None:
                framer = self.watch_frames[partition] = Framer()
            framer.add(watch_meta(watch, kinds, seq), raw)

    async def _watch(self, stream: Any) -> None:
        config = self.config
        box = self.boxes["watch"]
        async for events in batches(stream, config):
            touched: dict[int, tuple[PartitionStore, int]] = {}
            for event in events:
                message = event.message
                store, fresh = self.watch_state.partition(message.partition)
                if fresh or message.partition not in self.watchers:
                    self.watchers[message.partition] = Watchers(
                        self.rules, store, watching_detectors(self.rules)
                    )
                if message.offset <= store.applied:
                    continue
                self._watch_frame(box, self.watchers[message.partition], store, message)
                touched[message.partition] = (store, message.offset)
            await self._save(box, self.watch_state, touched)

    def _watch_frame(
        self, box: Outbox, watchers: Watchers, store: PartitionStore, message: Any
    ) -> None:
        raw = message.value or b""
        try:
            tickets = list(unframe(raw))
        except FrameError as exc:  # not from a decide stage: say so rather than lose it
            origin = Origin(message.topic, message.partition, message.offset)
            self._dead(box, "malformed_frame", str(exc), raw, origin)
            return
        progress = store.table("watch_progress")
        for meta, body in tickets:
            seq = meta["seq"]
            if seq <= progress.get("seq", [-1, -1]):
                continue  # sent again by a decide stage that restarted: applied here already
            progress["seq"] = seq
            event = self.recent.decode(body, max(self.config.max_bytes, len(body)))
            watch = Watch(event, meta["order"], meta["released"])
            for alert in watchers.watch(watch, frozenset(meta["owned"])):
                self._alert(box, alert)

    async def _catalog(self, stream: Any) -> None:
        box = self.boxes["other"]
        async for event in stream.events():
            message = event.message
            raw = message.value or b""
            try:
                entry: CatalogEntry = decode_catalog(raw, self.config.max_bytes)
            except DecodeError as exc:
                self._consumed("catalog", "invalid")
                self._dead(box, exc.reason, exc.message, raw, _origin(event))
                await self._delivered(box)
                continue
            self._consumed("catalog", "catalog")
            self.catalog_table[entry.sku] = raw
            # one record per batch: a global table's restore trusts the end offset, which
            # tansu reports as the last batch's base offset + 1
            await self.app.producer.flush()
            for observer in self.observers:
                observer.on_catalog(entry)

    async def _labels(self, stream: Any) -> None:
        """Verdicts validated; with learning, forwarded to the decide stage, whose models
        learn them in sequence with the orders."""
        box = self.boxes["other"]
        async for events in batches(stream, self.config):
            for event in events:
                message = event.message
                raw = message.value or b""
                try:
                    decode_label(raw, self.config.max_bytes)
                except DecodeError as exc:
                    self._consumed("labels", "invalid")
                    self._dead(box, exc.reason, exc.message, raw, _origin(event))
                    continue
                self._consumed("labels", "label")
                if self.learning is not None:
                    box.add(DECIDE_TOPIC, message.key, raw, headers=[("kind", b"label")])
            await self._delivered(box)

    # -- the models' checkpoints ------------------------------------------------------------

    def _restore_models(self, partition: int) -> Models:
        assert self.learning is not None
        view = _Prefixed(self.models_table, f"{partition}|")
        try:
            blob, manifest = models.load(view)
            learner = Learner.restore(self.rules, self.learning, blob)
        except models.CheckpointMissing as exc:
            if str(exc) != "no checkpoint yet":
                log.error("models of decide partition %d start afresh: %s", partition, exc)
            return Models(LearningRun(Learner(self.rules, self.learning)), None)
        except CheckpointError as exc:
            log.error("models of decide partition %d start afresh: %s", partition, exc)
            return Models(LearningRun(Learner(self.rules, self.learning)), None)
        log.warning(
            "restored the models of decide partition %d from their checkpoint at offset %d "
            "(%d orders learnt)",
            partition,
            manifest.offset,
            learner.counts["orders"],
        )
        return Models(LearningRun(learner), manifest)

    async def _checkpoint(self, partition: int, found: Models) -> None:
        """The models, as they are after the decide stage's last saved batch, made durable.

        Only then: models ahead of the saved state would, after a crash, learn again the
        orders the restarted stage decides again.
        """
        store = self.decide_state.stores.get(partition)
        if store is None or found.learnt != store.applied:
            return
        started = time.perf_counter()
        blob = found.run.learner.checkpoint()
        parts, manifest = models.records(blob, found.learnt, found.manifest)
        box = self.boxes["decide"]
        prefix = f"{partition}|"
        for key, value in parts:
            self.models_table.put(partition, prefix + key, value)
        await self._flush(box)  # the parts, whole, before the manifest that names them
        self.models_table.put(partition, prefix + manifest[0], manifest[1])
        await self._flush(box)
        found.manifest = models.Manifest.loads(manifest[1])
        found.since_checkpoint = 0
        log.info(
            "checkpointed the models of decide partition %d at offset %d: %d bytes in %d "
            "parts, %.0f ms",
            partition,
            found.learnt,
            len(blob),
            len(parts),
            (time.perf_counter() - started) * 1000,
        )

    async def _shutting_down(self, sender: Any, *args: Any, **kwargs: Any) -> None:
        for partition, found in list(self.models.items()):
            await self._checkpoint(partition, found)
        for box in self.boxes.values():  # everything delivered: each stage's batches waited
            await box.stop()

    # -- outputs and bookkeeping ----------------------------------------------------------

    def _alert(self, box: Outbox, alert: Alert) -> None:
        box.add("alerts", alert.entity_key.encode(), dumps(alert.record()))
        for observer in self.observers:
            observer.on_alert(alert)

    def _dead(self, box: Outbox, reason: str, error: str, raw: bytes, origin: Origin) -> None:
        record = dead_letter_record(reason=reason, error=error, raw=raw, origin=origin)
        self._dead_record(box, record)

    def _dead_record(self, box: Outbox, record: dict[str, Any]) -> None:
        box.add("dead-letter", None, dumps(record))
        for observer in self.observers:
            observer.on_dead_letter(record)

    def _consumed(self, topic: str, event_type: str) -> None:
        for observer in self.observers:
            observer.on_consumed(topic, event_type)

    def _report_budget(self, store: PartitionStore) -> None:
        """The budget lines' spend as the decide stage's state has it (the authority)."""
        assert self.metrics is not None
        budget = store.table("budget")
        for name, programme in self.rules.programmes.items():
            for line in programme.budget_lines:
                state = budget.get(f"{name}/{line}")
                if state is not None:
                    self.metrics.set_budget_used(name, line, Decimal(state["used"]))

    async def _report(self) -> None:
        """The gauges a batch does not set: consumer lag, the models' quality."""
        assert self.metrics is not None
        for found in self.models.values():
            self.metrics.set_learning_quality(found.run.learner.quality())
        consumer = self.app.consumer
        try:
            for tp in consumer.assignment():
                if tp.topic not in {"orders", DECIDE_TOPIC, WATCH_TOPIC, "catalog", "labels"}:
                    continue
                read = cast(Any, consumer)._read_offset.get(tp)  # faust has no public position
                end = consumer.highwater(tp)
                if end is None:  # not known yet (a rebalance is under way)
                    continue
                lag = end - (read + 1 if read is not None else 0)
                self.metrics.set_lag(tp.topic, tp.partition, max(lag, 0))
        except Exception:  # a gauge must never stop the worker
            log.exception("consumer lag not reported")

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
        mine = sorted(tp.partition for tp in assigned if tp.topic == "orders")
        log.info("assigned orders partitions %s", ",".join(map(str, mine)) or "none")

    async def _revoked(self, sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        revoked: set[TP] = args[0] if args else kwargs.get("revoked", set())
        for tp in revoked:
            if tp.topic == "orders":  # read from its commit when it comes back
                self._seen.pop(tp.partition, None)
        decide = {tp.partition for tp in revoked if tp.topic == DECIDE_TOPIC}
        # a batch still delivering would land its changes and its marker after the next
        # holder had restored the state without them
        async with self._decide_lock:
            for partition in sorted(decide):
                self.queues.pop(partition, None)
                self._ticked.pop(partition, None)
                found = self.models.pop(partition, None)
                if found is not None:  # the next holder starts from what these have learnt
                    await self._checkpoint(partition, found)
            self.decide_state.revoke(decide)
        self.watch_state.revoke({tp.partition for tp in revoked if tp.topic == WATCH_TOPIC})


class _Prefixed:
    """One partition's keys of a table, read without their prefix."""

    def __init__(self, table: TableBacking, prefix: str) -> None:
        self.table = table
        self.prefix = prefix

    def get(self, key: str) -> bytes | None:
        return self.table.get(self.prefix + key)


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
    """The stream's events in batches (Faust's `take_events`), acknowledged only once the body
    asks for the next batch: steps 1 and 8 of the per-batch protocol (docs/durability.md).

    `take_events` acknowledges a batch in a `finally`, also when the body never finished.
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


def _positions(pos: Any) -> dict[int, tuple[int, int | None]]:
    """An intake frame's positions ({partition: [last offset read, high watermark]}), checked.

    >>> _positions({"3": [9, 10], "5": [0, None]})
    {3: (9, 10), 5: (0, None)}
    """
    try:
        out = {}
        for part, (offset, end) in pos.items():
            if not isinstance(offset, int) or not isinstance(end, int | None):
                raise TypeError(part)
            out[int(part)] = (offset, end)
    except (AttributeError, TypeError, ValueError) as exc:
        raise FrameError(f"positions are not {{partition: [offset, end]}}: {exc!r}") from exc
    return out


def follow_on(frames: Iterable[Handed], applied: Mapping[int, int]) -> list[Handed]:
    """The frames that carry on from `applied` (the last offset applied, per partition held):
    each right after the one before it in its partition. The rest are left to be read.

    >>> f = lambda partition, offset: Handed(partition, offset, b"")
    >>> [x.offset for x in follow_on([f(0, 5), f(0, 6), f(0, 8), f(1, 3)], {0: 4})]
    [5, 6]
    """
    out: list[Handed] = []
    last = dict(applied)
    for frame in frames:
        if last.get(frame.partition, -2) + 1 == frame.offset:
            out.append(frame)
            last[frame.partition] = frame.offset
    return out


def _origin(event: EventT[Any]) -> Origin:
    message = event.message
    return Origin(message.topic, message.partition, message.offset)


def _kind(headers: Any) -> bytes:
    """What a decide message holds: b"orders" (a frame from intake), b"label" (a verdict
    from the labels stage) or b"tick" (the decide stage's own note that its input is idle)."""
    for name, value in headers or ():
        if name == "kind":
            return bytes(value)
    return b"orders"
