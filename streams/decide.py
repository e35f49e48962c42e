"""The decide stage: every order decided in one sequence, pure (no Faust, no asyncio).

Quotas, qualification codes and the budget are first come, first served over every consumer,
so the messages of `riskmon-decide` (one partition) are applied in the log's order: frames of
orders from the intakes, verdicts, controls, rules versions, checkouts, and the stage's own idle
ticks. `DecideStage.apply` returns the records to send and the partitions it changed; the
runtime delivers them and saves the state by the commit protocol (docs/durability.md). Watch
tickets wait for every `orders` partition (streams/ordering.py); the models learn from them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from detectors.alerts import Alert
from detectors.learning import LearningConfig
from detectors.pipeline import Outcome
from detectors.versions import Versioned
from replay.observers import Observer, notify_outcome
from schemas.controls import HASHED_KINDS
from schemas.decode import (
    DecodeError,
    decode_control,
    decode_publication,
)
from schemas.orders import OrderPaid
from schemas.outputs import Origin, dead_letter_record, dumps
from schemas.rules import ProgrammeRules
from streams.catalog import catalog_wait
from streams.decoding import RecentOrders
from streams.failures import Failed, Where, isolating
from streams.frames import FrameError, unframe
from streams.messages import (
    DECIDE_TOPIC,
    WATCH_TOPIC,
    Message,
    event_id_of,
    headers_of,
    positions,
    tick_after,
)
from streams.models import ModelsFeed, PartitionModels, Table
from streams.ordering import IDLE_AFTER, WatchQueue
from streams.outbox import Outgoing
from streams.state import DurableState, PartitionStore
from streams.tickets import TicketFrames

log = logging.getLogger("riskmon.streams")

# a behavioural window may have moved past them (streams/ordering.py)
LATE = "decide partition %d: %d watch tickets released after later ones"


@dataclass(frozen=True)
class DecideSettings:
    max_bytes: int
    watch_partitions: int
    expire_every: int = 4096  # decided events between checks of waiting later events
    checkpoint_every: int = 50_000  # paid orders between checkpoints of the models
    checkout_hold: float = 1800.0  # seconds of event time a checkout's reservation holds
    partition_idle: float = IDLE_AFTER  # see streams/ordering.py


@dataclass
class DecideBatch:
    """What one batch made: the records to send, in order, and the partitions it changed
    (partition -> its state and the batch's last offset there)."""

    records: list[Outgoing] = field(default_factory=list)
    touched: dict[int, tuple[PartitionStore, int]] = field(default_factory=dict)
    frames: int = 0  # frames of orders among the messages applied
    # checkouts answered, by event id (None: it could not be answered: a dead letter)
    answers: dict[str, dict[str, Any] | None] = field(default_factory=dict)


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
        self.pipelines: dict[int, Versioned] = {}
        self.queues: dict[int, WatchQueue] = {}  # decide partition -> its held watch tickets
        self.learning_feed = ModelsFeed(rules, learning, models_table, settings.max_bytes, catalog)
        self.models = self.learning_feed.models  # decide partition -> its models
        self.tickets = TicketFrames(rules, settings.watch_partitions)
        self.ticked: dict[int, int] = {}  # decide partition -> the offset of its last tick
        self._event_time: dict[int, float] = {}  # orders partition -> latest event time seen
        self._decided = 0
        self._out: list[Outgoing] = []
        self._failed: dict[Where, str] = {}
        self._answers: dict[str, dict[str, Any] | None] = {}

    # -- batches ------------------------------------------------------------------------------

    def apply(self, messages: Sequence[Message]) -> DecideBatch:
        """Messages of `riskmon-decide`, applied in order; those applied before are skipped.
        One the stage fails on is dead-lettered and the batch applied again without it
        (streams/failures.py)."""
        return isolating(
            "decide",
            lambda failed: self._attempt(messages, failed),
            lambda: self._roll_back(messages),
            self._swap_observers,
            self.metrics,
        )

    def _swap_observers(self, observers: Observer | None) -> Observer:
        had = self.observers
        if observers is not None:
            self.observers = observers
        return had

    def _attempt(self, messages: Sequence[Message], failed: dict[Where, str]) -> DecideBatch:
        batch = DecideBatch(records=self._out)
        self._answers = batch.answers
        self._failed = failed
        for message in messages:
            store = self.take_up(message.partition)
            if message.offset <= store.applied:
                continue  # decided before a crash: its outputs went out then
            where = (message.partition, message.offset, -1)
            if where in failed:
                self._processing_error(failed[where], message.value, message.origin)
                if message.kind == "checkout":
                    self._answers[event_id_of(message.value)] = None
            else:
                try:
                    self._message(message)
                except Failed:
                    raise
                except Exception as exc:
                    raise Failed(where, type(exc).__name__) from exc
            batch.touched[message.partition] = (store, message.offset)
            batch.frames += message.kind == "orders"
        self._learn_fed()
        self._out.extend(self.tickets.take())
        self._out = []
        return batch

    def _roll_back(self, messages: Sequence[Message]) -> None:
        """Back to the state last saved: the partitions' tables, and every cache of this batch."""
        for partition in {message.partition for message in messages}:
            store = self.state.stores.get(partition)
            if store is not None:
                self.state.roll_back(store)
            queue = self.queues.get(partition)
            if queue is not None:
                queue.forget()
            self.learning_feed.forget(partition)
            pipeline = self.pipelines.get(partition)
            if pipeline is not None:
                pipeline.reservations.forget()
        self._out = []
        self.tickets.clear()

    def take_up(self, partition: int) -> PartitionStore:
        """The partition's state, rebuilt from its table the first time after an assignment,
        with its pipeline, held tickets and models."""
        store, fresh = self.state.partition(partition)
        if fresh or partition not in self.pipelines:
            pipeline = Versioned(
                self.rules,
                store,
                deliveries=self.learning is not None,
                hold_seconds=self.settings.checkout_hold,
            )
            for raw in store.table("rules_versions").values():  # read before: in force again
                published = decode_publication(raw.encode(), max(self.settings.max_bytes, len(raw)))
                pipeline.add(published.programme_rules(), published.effective_from.timestamp())
            self.pipelines[partition] = pipeline
            idle = self.settings.partition_idle
            self.queues[partition] = WatchQueue(store, self._decode_held, idle)
            self.learning_feed.take_up(partition, store)
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
            found = self.learning_feed.revoke(partition)
            if found is not None:
                leaving.append((partition, found))
        self.state.revoke(partitions)
        return leaving

    # -- the catalog ------------------------------------------------------------------------

    def catalog_wait(self, messages: Sequence[Message], margin: float = 0.0) -> float | None:
        """When the catalog must be current as of for `messages` (streams/catalog.py)."""
        return catalog_wait(
            messages,
            lambda p: self.state.stores[p].applied if p in self.state.stores else -1,
            self.catalog,
            self.rules,
            self.recent,
            self.settings.max_bytes,
            margin,
        )

    # -- the idle release ---------------------------------------------------------------------

    def idle_ticks(self) -> list[Outgoing]:
        """A tick to each partition that holds tickets and has applied something since its
        last tick: read back, it releases what only caught-up partitions held (the tail of a
        stream). The release is a record in the log, not the timer's doing: it is decided,
        saved and marked like any batch, so a redo releases the same tickets at the same
        point."""
        out: list[Outgoing] = []
        for partition, store, queue in self.taken_up():
            held = len(queue) or self.learning_feed.held(partition)
            if not held or self.ticked.get(partition) == store.applied:
                continue  # nothing held, or sent and not read yet
            after = orjson.dumps({"after": store.applied})
            out.append((DECIDE_TOPIC, None, after, partition, headers_of("tick")))
            self.ticked[partition] = store.applied
        return out

    def _tick(self, message: Message) -> None:
        try:
            after = tick_after(message.value)
        except FrameError as exc:
            self._dead("malformed_frame", str(exc), message.value, message.origin)
            return
        if after != message.offset - 1:
            return  # input came between: the stream is not idle after all
        partition = message.partition
        released = self._release(partition, message.offset, idle=True)
        self.learning_feed.idle(partition, message.offset)
        self.ticked[partition] = message.offset  # no tick for a tick: input first
        if left := len(self.queues[partition]):
            behind = ",".join(sorted(self.queues[partition].behind(), key=int)) or "none"
            said = "decide partition %d idle: %d tickets out, %d held for unread orders in %s"
            log.info(said, partition, released, left, behind)

    # -- messages -----------------------------------------------------------------------------

    def _message(self, message: Message) -> None:
        if message.kind == "tick":
            self._tick(message)
        elif message.kind == "label":
            self.learning_feed.verdict(message.partition, message.offset, message.value)
        elif message.kind == "rules":
            self._rules(message)
        elif message.kind == "control":
            self._control(message)
        elif message.kind == "checkout":
            self._checkout(message)
        else:
            self._frame(message)

    def _checkout(self, message: Message) -> None:
        """A checkout the authorization API appended (streams/api.py): its answer, and the
        reservation of what it allows (detectors/reservations.py)."""
        raw = message.value
        try:
            checkout = self.recent.checkout(raw, max(self.settings.max_bytes, len(raw)))
        except DecodeError as exc:
            self._dead(exc.reason, exc.message, raw, message.origin)
            self._answers[event_id_of(raw)] = None
            return
        outcome = self.pipelines[message.partition].authorize(checkout, raw, message.origin)
        for alert in outcome.alerts:
            self._alert(alert)
        self._updates(outcome.updates)
        self._answers[checkout.event_id] = outcome.authorization

    def _updates(self, updates: list[dict[str, Any]]) -> None:
        for record in updates:  # answers, commits, releases, expiries: by order
            key = record["order_id"].encode()
            self._out.append(("authorizations", key, dumps(record), None, None))

    def _control(self, message: Message) -> None:
        """A control (validated by the controls agent): in force for the orders decided from
        now on whose event time it covers (detectors/controls.py)."""
        raw = message.value
        try:
            control = decode_control(raw, max(self.settings.max_bytes, len(raw)))
        except DecodeError as exc:
            self._dead(exc.reason, exc.message, raw, message.origin)
            return
        if self.pipelines[message.partition].on_control(control):
            log.warning(
                "control %s read: %s %s %s from %s",
                control.control_id,
                control.action,
                control.kind,
                control.key if control.kind not in HASHED_KINDS else "(pseudonym)",
                control.effective_from.isoformat(),
            )

    def _rules(self, message: Message) -> None:
        """A rules version (validated by the rules agent): in force from its effective time
        for every order decided from now on, and sent on to every watch partition before any
        ticket decided under it."""
        raw = message.value
        try:
            published = decode_publication(raw, max(self.settings.max_bytes, len(raw)))
        except DecodeError as exc:
            self._dead(exc.reason, exc.message, raw, message.origin)
            return
        pipeline = self.pipelines[message.partition]
        if pipeline.add(published.programme_rules(), published.effective_from.timestamp()):
            log.warning(
                "rules version %s read: in force from %s",
                published.version,
                published.effective_from.isoformat(),
            )
        # saved and sent on even when read before (a redelivery, or a batch applied again
        # after a failure, whose first try left it in memory): both are idempotent
        versions = self.state.stores[message.partition].table("rules_versions")
        versions[published.version] = raw.decode()
        for partition in range(self.settings.watch_partitions):
            self._out.append((WATCH_TOPIC, None, raw, partition, headers_of("rules")))

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
                queue.stood(stood[i], meta.get("of"), meta.get("la"))
                continue
            at = meta.get("at") or (None, None)
            origin = Origin("orders", at[0], at[1])
            where = (partition, message.offset, i)
            if where in self._failed:
                self._processing_error(self._failed[where], body, origin)
                continue
            try:
                self._order(partition, body, origin, meta.get("ts", 0.0))
            except Exception as exc:
                raise Failed(where, type(exc).__name__) from exc
        self._release(partition, message.offset)
        self.learning_feed.learnt(partition, message.offset)

    def _order(self, partition: int, raw: bytes, origin: Origin, appended: float) -> None:
        started = time.perf_counter()
        try:
            order = self.recent.decode(raw, self.settings.max_bytes)
        except DecodeError as exc:  # not from an intake: say so rather than lose it
            self._dead(exc.reason, exc.message, raw, origin)
            return
        pipeline = self.pipelines[partition]
        outcome = pipeline.decide(order, raw, origin)
        queue = self.queues[partition]
        at = ts = order.occurred_at.timestamp()
        if origin.partition is not None:
            if ts > self._event_time.get(origin.partition, ts - 1):
                self._event_time[origin.partition] = ts
            at = queue.note(origin.partition, ts, appended)
        self._emit(order, outcome, queue, at, appended)
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

    def _emit(
        self, order: Any, outcome: Outcome, queue: WatchQueue, at: float, ap: float | None = None
    ) -> None:
        if outcome.updates:
            self._updates(outcome.updates)
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
            queue.hold(watch, at, ap)  # released when every orders partition has come past it
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

        A ticket's `seq` is [the decide offset it goes out at, its place in that release]:
        increasing at every watch partition, and the same when a restarted stage releases it
        again (the same tickets, in the same event-time order).
        """
        queue = self.queues[partition]
        late = queue.late
        tickets = queue.ready(idle)
        for i, ticket in enumerate(tickets):
            if ticket.watch.watched:
                self.tickets.route(ticket.watch, [offset, i])
            self.learning_feed.ticket(partition, offset, ticket)
        if went_late := queue.late - late:
            log.warning(LATE, partition, went_late)
            if self.metrics is not None:
                self.metrics.count_late(went_late)
        return len(tickets)

    def _learn_fed(self) -> None:
        """The models' part of the batch (streams/models.py `ModelsFeed.apply`)."""

        def failed(kind: str, raw: bytes, partition: int, offset: int) -> None:
            self._processing_error(kind, raw, Origin(DECIDE_TOPIC, partition, offset), "learn")
            if self.metrics is not None:
                self.metrics.count_processing_error("learn")

        self.learning_feed.apply(self._alert, failed)

    def _decode_held(self, raw: bytes) -> Any:
        return self.recent.decode(raw, max(self.settings.max_bytes, len(raw)))

    # -- outputs ------------------------------------------------------------------------------

    def _alert(self, alert: Alert) -> None:
        self._out.append(("alerts", alert.entity_key.encode(), dumps(alert.record()), None, None))
        self.observers.on_alert(alert)

    def _dead(self, reason: str, error: str, raw: bytes, origin: Origin) -> None:
        self._dead_record(dead_letter_record(reason=reason, error=error, raw=raw, origin=origin))

    def _processing_error(
        self, kind: str, raw: bytes, origin: Origin, stage: str = "decide"
    ) -> None:
        self._dead("processing_error", f"{kind} in the {stage} stage", raw, origin)

    def _dead_record(self, record: dict[str, Any]) -> None:
        self._out.append(("dead-letter", None, dumps(record), None, None))
        self.observers.on_dead_letter(record)

    def checkpoint_due(self, partition: int) -> PartitionModels | None:
        return self.learning_feed.checkpoint_due(partition, self.settings.checkpoint_every)
