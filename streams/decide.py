"""The decide stage: every order decided in one sequence, pure (no Faust, no asyncio).

Quotas, qualification codes and the budget are first come, first served over every consumer,
so decisions are made in one sequence: the messages of `riskmon-decide` (one partition), in
the log's order. A message is a frame of orders from an intake stage, an analyst's verdict
from the labels stage, or a tick the stage sent itself when its input went idle.

`DecideStage.apply` takes a batch of messages and returns the records to send (decisions,
alerts, dead letters, then one frame of watch tickets per watch partition) and the partitions
it changed; the runtime delivers them and saves the state by the commit protocol
(streams/commit.py, docs/durability.md). Watch tickets are held until every `orders` partition
has come as far in event time (streams/ordering.py); the online models, when on, learn from the
decided orders in the same stage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from detectors.alerts import Alert
from detectors.learning import LearningConfig
from detectors.pipeline import Outcome, Pipeline
from detectors.watch import Watch, Watchers
from replay.observers import Observer, notify_outcome
from schemas.decode import DecodeError, decode_label
from schemas.orders import OrderPaid
from schemas.outputs import Origin, dead_letter_record, dumps
from schemas.rules import ProgrammeRules
from streams.decoding import RecentOrders
from streams.frames import FrameError, Framer, unframe
from streams.messages import (
    DECIDE_TOPIC,
    WATCH_TOPIC,
    Message,
    headers_of,
    positions,
    watch_partition,
)
from streams.models import PartitionModels, Table
from streams.ordering import WatchQueue
from streams.outbox import Outgoing
from streams.state import DurableState, PartitionStore

log = logging.getLogger("riskmon.streams")


@dataclass(frozen=True)
class DecideSettings:
    max_bytes: int
    watch_partitions: int
    expire_every: int = 4096  # decided events between checks of waiting later events
    checkpoint_every: int = 50_000  # paid orders between checkpoints of the models


@dataclass
class DecideBatch:
    """What one batch made: the records to send, in order, and the partitions it changed
    (partition -> its state and the batch's last offset there)."""

    records: list[Outgoing] = field(default_factory=list)
    touched: dict[int, tuple[PartitionStore, int]] = field(default_factory=dict)
    frames: int = 0  # frames of orders among the messages applied


class DecideStage:
    """The deciding detectors over the partitions of `riskmon-decide` this worker holds."""

    def __init__(
        self,
        rules: ProgrammeRules,
        settings: DecideSettings,
        state: DurableState,
        catalog: Mapping[str, Any],
        recent: RecentOrders,
        observers: Observer,
        *,
        learning: LearningConfig | None = None,
        models_table: Table | None = None,
        metrics: Any = None,
        ledger: Observer | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rules = rules
        self.settings = settings
        self.state = state
        self.catalog = catalog
        self.recent = recent
        self.observers = observers
        self.learning = learning
        self.models_table = models_table
        self.metrics = metrics
        self.ledger = ledger  # the store, whose sales ledger wants each order's products
        self.clock = clock
        self.pipelines: dict[int, Pipeline] = {}
        self.queues: dict[int, WatchQueue] = {}  # decide partition -> its held watch tickets
        self.models: dict[int, PartitionModels] = {}
        self.ticked: dict[int, int] = {}  # decide partition -> the offset of its last tick
        self._frames: dict[int, Framer] = {}  # watch partition -> this batch's tickets
        self._event_time: dict[int, float] = {}  # orders partition -> latest event time seen
        self._decided = 0
        self._out: list[Outgoing] = []
        # routes are pure: any Watchers computes them
        self._router = Watchers(rules, PartitionStore(-1, {}), [])

    # -- batches ------------------------------------------------------------------------------

    def apply(self, messages: Sequence[Message]) -> DecideBatch:
        """Messages of `riskmon-decide`, applied in order; those applied before are skipped."""
        batch = DecideBatch(records=self._out)
        for message in messages:
            store = self.take_up(message.partition)
            if message.offset <= store.applied:
                continue  # decided before a crash: its outputs went out then
            self._message(message)
            batch.touched[message.partition] = (store, message.offset)
            batch.frames += message.kind == "orders"
        self._frames_out()
        self._out = []
        return batch

    def take_up(self, partition: int) -> PartitionStore:
        """The partition's state, rebuilt from its table the first time after an assignment,
        with its pipeline, held tickets and models."""
        store, fresh = self.state.partition(partition)
        if fresh or partition not in self.pipelines:
            self.pipelines[partition] = Pipeline(self.rules, store)
            self.queues[partition] = WatchQueue(store, self._decode_held)
            if self.learning is not None and self.models_table is not None:
                self.models[partition] = PartitionModels.restore(
                    self.models_table, partition, self.rules, self.learning
                )
        return store

    def taken_up(self) -> list[tuple[int, PartitionStore, WatchQueue]]:
        """The partitions this worker holds and the stage has taken up, with their state and
        held tickets (a queue of a store restored anew since is not one of them)."""
        out = []
        for partition, queue in self.queues.items():
            store = self.state.stores.get(partition)
            if store is not None and queue.store is store:
                out.append((partition, store, queue))
        return out

    def applied(self) -> dict[int, int]:
        """The last offset applied in each partition taken up."""
        return {partition: store.applied for partition, store, _ in self.taken_up()}

    def revoke(self, partitions: set[int]) -> list[tuple[int, PartitionModels]]:
        """Another worker holds these now; the models to checkpoint before it takes them."""
        leaving = []
        for partition in sorted(partitions):
            self.queues.pop(partition, None)
            self.pipelines.pop(partition, None)
            self.ticked.pop(partition, None)
            found = self.models.pop(partition, None)
            if found is not None:
                leaving.append((partition, found))
        self.state.revoke(partitions)
        return leaving

    # -- the idle release ---------------------------------------------------------------------

    def idle_ticks(self) -> list[Outgoing]:
        """A tick to each partition that holds tickets and has applied something since its
        last tick: read back, it releases what only caught-up partitions held (the tail of a
        stream). The release is a record in the log, not the timer's doing: it is decided,
        saved and marked like any batch, so a redo releases the same tickets at the same
        point."""
        out: list[Outgoing] = []
        for partition, store, queue in self.taken_up():
            if not len(queue) or self.ticked.get(partition) == store.applied:
                continue  # nothing held, or sent and not read yet
            after = orjson.dumps({"after": store.applied})
            out.append((DECIDE_TOPIC, None, after, partition, headers_of("tick")))
            self.ticked[partition] = store.applied
        return out

    def _tick(self, message: Message) -> None:
        try:
            after = orjson.loads(message.value)["after"]
            if not isinstance(after, int):
                raise TypeError(after)
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            reason = f"a tick names no offset: {exc!r}"
            self._dead("malformed_frame", reason, message.value, message.origin)
            return
        if after != message.offset - 1:
            return  # input came between: the stream is not idle after all
        partition = message.partition
        released = self._release(partition, message.offset, idle=True)
        self.ticked[partition] = message.offset  # no tick for a tick: input first
        left = len(self.queues[partition])
        if left:
            behind = sorted(self.queues[partition].behind(), key=int)
            log.info(
                "decide partition %d idle: %d watch tickets released, %d held for orders "
                "partitions %s, whose readers have not read all they hold",
                partition,
                released,
                left,
                ",".join(behind) or "none",
            )

    # -- messages -----------------------------------------------------------------------------

    def _message(self, message: Message) -> None:
        if message.kind == "tick":
            self._tick(message)
        elif message.kind == "label":
            found = self.models.get(message.partition)
            if found is not None:  # validated by the labels stage
                raw = message.value
                found.run.learner.on_label(
                    decode_label(raw, max(self.settings.max_bytes, len(raw)))
                )
                found.learnt = message.offset
        else:
            self._frame(message)

    def _frame(self, message: Message) -> None:
        """A frame of orders from an intake stage, with where its partitions stood."""
        partition = message.partition
        try:
            records = list(unframe(message.value))
            stood = {i: positions(m["pos"]) for i, (m, _) in enumerate(records) if "pos" in m}
        except FrameError as exc:  # not from an intake: say so, not lose it
            self._dead("malformed_frame", str(exc), message.value, message.origin)
            return
        queue = self.queues[partition]
        for i, (meta, body) in enumerate(records):
            if i in stood:  # where the intake's partitions stood after the records before
                for part, (read, end) in stood[i].items():
                    queue.position(part, read, end)
                continue
            at = meta.get("at") or (None, None)
            self._order(partition, body, Origin("orders", at[0], at[1]), meta.get("ts", 0.0))
        self._release(partition, message.offset)
        found = self.models.get(partition)
        if found is not None:
            found.learnt = message.offset

    def _order(self, partition: int, raw: bytes, origin: Origin, appended: float) -> None:
        started = time.perf_counter()
        found = self.models.get(partition)
        try:
            order = self.recent.decode(raw, self.settings.max_bytes)
        except DecodeError as exc:  # not from an intake: say so rather than lose it
            self._dead(exc.reason, exc.message, raw, origin)
            return
        pipeline = self.pipelines[partition]
        outcome = pipeline.decide(order, raw, origin)
        queue = self.queues[partition]
        ts = order.occurred_at.timestamp()
        if origin.partition is not None:
            if ts > self._event_time.get(origin.partition, ts - 1):
                self._event_time[origin.partition] = ts
            queue.note(origin.partition, ts, appended)
        self._emit(order, outcome, queue)
        if found is not None:
            if isinstance(order, OrderPaid):
                found.teach_catalog(self.catalog, order)
                found.since_checkpoint += 1
            for alert in found.run.after(order, outcome):
                self._alert(alert)
        metrics = self.metrics
        if metrics is not None:
            metrics.observe_processing(time.perf_counter() - started)
            if outcome.decision is not None and appended:
                metrics.observe_delay(max(self.clock() - appended, 0.0))
        self._decided += 1
        if self._decided % self.settings.expire_every == 0:
            # event time is as far as the slowest `orders` partition has come: catching up
            # on a backlog, one partition may run days ahead of another, and a payment still
            # on its way must not find its refund already reported unmatched
            if self._event_time:
                pipeline.watermark = min(self._event_time.values())
            for record in pipeline.expire():
                self._dead_record(record)

    def _emit(self, order: Any, outcome: Outcome, queue: WatchQueue) -> None:
        if outcome.decision is not None:
            decision = outcome.decision
            self._out.append(
                ("decisions", decision["order_id"].encode(), dumps(decision), None, None)
            )
        for alert in outcome.alerts:
            self._alert(alert)
        for record in outcome.dead_letters:
            self._dead_record(record)
        for watch in outcome.watch:
            queue.hold(watch)  # released when every orders partition has come that far
        if self.ledger is not None and isinstance(order, OrderPaid):
            for item in order.items:  # the sales ledger's energy grades, from the catalog
                found = self.catalog.get(item.sku)
                if found is not None:
                    self.ledger.on_catalog(found.entry)
        if outcome.status == "processed":
            notify_outcome([self.observers], order, outcome)

    # -- watch tickets ------------------------------------------------------------------------

    def _release(self, partition: int, offset: int, idle: bool = False) -> int:
        """The held tickets that are ready, to their watch partitions' frames; how many.

        A ticket's `seq` is [the decide offset it goes out at, its arrival number]: increasing
        at every watch partition, and the same when a restarted stage releases it again.
        """
        tickets = self.queues[partition].ready(idle)
        for ticket in tickets:
            self._route(ticket.watch, [offset, ticket.number])
        return len(tickets)

    def _route(self, watch: Watch, seq: list[int]) -> None:
        """A ticket to each watch partition that holds one of the event's entities, in the
        frame that partition gets at the end of the batch."""
        partitions = self.settings.watch_partitions
        owned: dict[int, list[str]] = {}
        for kind, key in self._router.routes(watch.event).items():
            owned.setdefault(watch_partition(kind, key, partitions), []).append(kind)
        for partition, kinds in sorted(owned.items()):
            framer = self._frames.get(partition)
            if framer is None:
                framer = self._frames[partition] = Framer()
            framer.add(watch_meta(watch, kinds, seq), watch.raw)

    def _frames_out(self) -> None:
        for partition, framer in sorted(self._frames.items()):
            for value in framer.take():
                self._out.append((WATCH_TOPIC, None, value, partition, None))

    def _decode_held(self, raw: bytes) -> Any:
        return self.recent.decode(raw, max(self.settings.max_bytes, len(raw)))

    # -- outputs ------------------------------------------------------------------------------

    def _alert(self, alert: Alert) -> None:
        self._out.append(("alerts", alert.entity_key.encode(), dumps(alert.record()), None, None))
        self.observers.on_alert(alert)

    def _dead(self, reason: str, error: str, raw: bytes, origin: Origin) -> None:
        self._dead_record(dead_letter_record(reason=reason, error=error, raw=raw, origin=origin))

    def _dead_record(self, record: dict[str, Any]) -> None:
        self._out.append(("dead-letter", None, dumps(record), None, None))
        self.observers.on_dead_letter(record)

    # -- figures ------------------------------------------------------------------------------

    def budget_used(self, store: PartitionStore) -> dict[tuple[str, str], Decimal]:
        """The budget lines' spend as the partition's state has it (the authority)."""
        budget = store.table("budget")
        out = {}
        for name, programme in self.rules.programmes.items():
            for line in programme.budget_lines:
                found = budget.get(f"{name}/{line}")
                if found is not None:
                    out[(name, line)] = Decimal(found["used"])
        return out

    def checkpoint_due(self, partition: int) -> PartitionModels | None:
        found = self.models.get(partition)
        if found is not None and found.since_checkpoint >= self.settings.checkpoint_every:
            return found
        return None


def watch_meta(watch: Watch, owned: Sequence[str], seq: list[int]) -> dict[str, Any]:
    """A watch ticket's metadata (its body is the event as it came).

    `seq` is [decide offset, ticket number]: the decide stage sends in that order, and sends
    again what follows its last saved batch after a crash, numbering the tickets as it did
    then; a watch partition skips what it has seen.
    """
    # the order's amounts go as strings, as in saved state (frames are written so): a JSON
    # number comes back a float, and Decimal(float) is not the amount
    return {"owned": list(owned), "order": watch.order, "released": watch.released, "seq": seq}
