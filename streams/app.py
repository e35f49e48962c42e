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
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, cast

import aiokafka
import orjson
from faust.serializers import codecs
from faust.types import TP
from faust.utils import json as faust_json

from detectors.learning import LearningConfig
from detectors.products import Catalog
from replay.observers import Fanout, Observer
from schemas.rules import ProgrammeRules
from streams import commit
from streams.api import Tokens
from streams.catalog import CatalogReader
from streams.collector import API_TICK, TICK, Collector
from streams.commit import StoreSink
from streams.config import StreamConfig
from streams.decide import DecideSettings, DecideStage
from streams.decoding import RecentOrders
from streams.faust_io import batches, fatal, faust_app, lags, message_of, or_exit
from streams.inputs import SideInputs
from streams.intake import Intake
from streams.messages import DECIDE_TOPIC, WATCH_TOPIC, Handed, Message
from streams.metrics import MetricsObserver
from streams.outbox import MAX_REQUEST_BYTES, Outbox, TableBacking
from streams.readback import ReadBack
from streams.runners import DecideRunner, IntakeRunner, WatchRunner
from streams.serving import CheckoutService
from streams.state import DurableState
from streams.topics import TOPICS
from streams.watch import WatchStage

log = logging.getLogger("riskmon.streams")
PARTITIONS = {t.name: t.partitions for t in TOPICS}
LIST_ENDS_EVERY = 0.2  # seconds between listings of the orders partitions' ends
__all__ = ["DECIDE_TOPIC", "WATCH_TOPIC", "StoreSink", "StreamConfig", "Worker", "batches"]


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
        self.app = app = faust_app(config)

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
                config.partition_idle,
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
            # with the API, the holder's own appends are most of what it reads back
            readback=ReadBack(lambda: app.consumer, config.readback_pause, self._decide_applied)
            if config.api_port
            else None,
        )
        self.watch_runner = WatchRunner(self.watch, watch_box, store)
        self.restores: list[tuple[str, int, int, int]] = []  # stage, partition, keys, rolled back

        self.inputs = SideInputs(
            self.observers,
            self.boxes["other"],
            config.max_bytes,
            forward_labels=learning is not None,
        )
        app.agent(self.orders, name="intake")(fatal(self._intake))
        app.agent(self.decide_topic, name="decide")(fatal(self._decide))
        app.agent(self.watch_topic, name="watch")(fatal(self._watch))
        for side, check in (
            (self.catalog_in, self.inputs.catalog),
            (self.labels, self.inputs.labels),
            (self.rules_in, self.inputs.rules),
            (self.controls_in, self.inputs.controls),
        ):
            name = side.get_topic_name()
            app.agent(side, name=name)(fatal(partial(self._side, check), name))
        app.on_partitions_revoked.connect(cast(Any, self._revoked))  # faust types it loosely
        app.on_partitions_assigned.connect(cast(Any, self._assigned))
        app.on_before_shutdown.connect(cast(Any, self._shutting_down))
        app.timer(1.0)(self._release_idle)
        app.task(fatal(self._take_handed))
        app.task(fatal(self._read_catalog))
        self.listed: dict[int, int] = {}  # orders partition -> its end as last listed
        self.listed_at: float | None = None  # when (the clock, as the broker's append times)
        app.task(fatal(self._list_ends))
        self.api: CheckoutService | None = None
        if config.api_port:
            self.boxes["api"] = Outbox(self._producer_for_stage)
            self.api = CheckoutService(
                app,
                config,
                self.boxes["api"],
                self.decide_runner.authorize,
                ready=lambda: 0 in self.decide.applied(),
                tokens=tokens,
                metrics=metrics,
                decode=recent.checkout,
            )
            app.task(fatal(self._serve_api))
        if config.full_collection_every > 0:  # streams/collector.py says why
            tick = API_TICK if config.api_port else TICK
            app.timer(tick)(Collector(round(config.full_collection_every / tick)).tick)
        if metrics is not None:
            app.timer(5.0)(self._report)

    def _decide_applied(self) -> int | None:
        """The last offset of decide partition 0 whose batch is saved (None: not taken up)."""
        store = self.decide.state.stores.get(0)
        return None if store is None else store.applied

    def _backing(self, name: str, partitions: int, box: Outbox) -> TableBacking:
        """A Faust table of raw bytes as saved state; its changelog goes through `box`."""
        table = self.app.Table(
            name, partitions=partitions, key_type=str, value_type=bytes, default=None
        )
        serializer = cast(Any, table).key_serializer
        return TableBacking(
            table.data, box, table.changelog_topic.get_topic_name(), key_encoder(serializer)
        )

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
            messages = [message_of(event) for event in events]
            assigned = [tp.partition for tp in consumer.assignment() if tp.topic == "orders"]
            partitions = consumer.topic_partitions("orders")
            listed, at = self.listed, self.listed_at
            runner = self.intake_runner
            await or_exit(runner.batch(messages, highwater, assigned, partitions, listed, at))

    async def _list_ends(self, app: Any) -> None:
        """Every `orders` partition's end as the broker lists it, for the intake's reports:
        a partition whose reader died having read all it had fetched, with orders appended
        since, then holds the watch tickets back until a new reader has read them, instead of
        letting the others' tickets go ahead of orders nobody has read (streams/ordering.py)."""
        consumer = self.app.consumer
        while True:
            await asyncio.sleep(LIST_ENDS_EVERY)
            count = consumer.topic_partitions("orders")
            if not count:
                continue
            asked = time.time()  # every record appended before this is in the answer
            try:
                ends = await consumer.highwaters(*(TP("orders", p) for p in range(count)))
            except Exception:  # not started yet, a rebalance, a broker away: the next round
                log.debug("orders' end offsets not listed", exc_info=True)
                continue
            self.listed = {tp.partition: end for tp, end in ends.items() if end is not None}
            self.listed_at = asked

    async def _decide(self, stream: Any) -> None:
        async for events in batches(stream, self.config):
            await or_exit(self.decide_runner.read([message_of(event) for event in events]))

    async def _take_handed(self, app: Any) -> None:
        """The intake's frames, decided as soon as they are on the broker
        (`DecideRunner.handed`): each delivery round costs up to the broker's fetch wait, and
        tansu holds every fetch that long."""
        handed = self._handed
        while True:
            frames = await handed.get()
            while not handed.empty():
                frames.extend(handed.get_nowait())
            await or_exit(self.decide_runner.handed(frames))

    async def _watch(self, stream: Any) -> None:
        async for events in batches(stream, self.config):
            await or_exit(self.watch_runner.batch([message_of(event) for event in events]))

    async def _side(self, check: Callable[[list[Message]], None], stream: Any) -> None:
        """A side input's batch checked (streams/inputs.py), then its outputs delivered."""
        box = self.boxes["other"]
        async for events in batches(stream, self.config, self.config.side_within):
            check([message_of(event) for event in events])
            await or_exit(commit.deliver(box))

    async def _serve_api(self, app: Any) -> None:
        assert self.api is not None
        await self.api.serve()

    async def _read_catalog(self, app: Any) -> None:
        await self.catalog_reader.run()

    # -- timers -------------------------------------------------------------------------------

    async def _release_idle(self) -> None:
        await or_exit(self.decide_runner.idle())

    async def _report(self) -> None:
        """The gauges a batch does not set: consumer lag, the models' quality."""
        assert self.metrics is not None
        for found in self.decide.models.values():
            self.metrics.set_learning_quality(found.run.learner.quality())
        try:
            for topic, partition, lag in lags(self.app.consumer):
                self.metrics.set_lag(topic, partition, lag)
        except Exception:  # a gauge must never stop the worker
            log.exception("consumer lag not reported")

    # -- checkpoints, rebalances, shutdown ----------------------------------------------------

    async def _shutting_down(self, sender: Any, *args: Any, **kwargs: Any) -> None:
        if self.api is not None:
            await self.api.stop()
        await or_exit(self.decide_runner.shutdown())
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
        if self.api is not None:
            self.api.moved()
        if self.api is not None and TP(DECIDE_TOPIC, 0) in assigned:
            # a tick that releases nothing, so the stage takes the partition up (restores its
            # state) before the first checkout rather than while it waits for an answer
            asyncio.ensure_future(self.api.warm_up())
        mine = sorted(tp.partition for tp in assigned if tp.topic == "orders")
        log.info("assigned orders partitions %s", ",".join(map(str, mine)) or "none")

    async def _revoked(self, sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        revoked: set[TP] = args[0] if args else kwargs.get("revoked", set())
        if self.api is not None:
            self.api.moved()
        self.intake.forget({tp.partition for tp in revoked if tp.topic == "orders"})
        decide = {tp.partition for tp in revoked if tp.topic == DECIDE_TOPIC}
        await or_exit(self.decide_runner.revoke(decide))
        watch = {tp.partition for tp in revoked if tp.topic == WATCH_TOPIC}
        await or_exit(self.watch_runner.revoke(watch))

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


def key_encoder(serializer: Any) -> Callable[[str], bytes]:
    """A table's keys as its key serializer writes them (Faust's recovery decodes them so).

    Faust's `json` codec with orjson writes a str as `orjson.dumps` does (its options concern
    other types), and `raw` as `str.encode`: those are called directly, not through the codec
    lookup of `codecs.dumps` (a fortieth of the worker's CPU at 500 authorizations/s, about
    seven changelog records each). Any other serializer goes through Faust.
    """
    codec = codecs.get_codec(serializer) if serializer else None
    direct: Callable[[str], bytes] | None = None
    if type(codec) is codecs.json and getattr(faust_json, "orjson", None) is not None:
        direct = orjson.dumps
    elif type(codec) is codecs.raw:
        direct = str.encode
    probe = '0|orders|PS-1 \u00e9"\u4e2d'
    if direct is not None and direct(probe) == codecs.dumps(serializer, probe):
        return direct

    def encode_key(key: str) -> bytes:
        encoded: bytes = codecs.dumps(serializer, key)
        return encoded

    return encode_key
