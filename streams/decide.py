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
from bisect import insort
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from detectors.alerts import Alert
from detectors.learning import LearningConfig
from detectors.pipeline import Outcome
from detectors.products import catalog_at, product_problems
from detectors.versions import Versioned
from detectors.watch import Watch, Watchers
from replay.observers import Deferred, Observer, notify_outcome
from schemas.controls import HASHED_KINDS
from schemas.decode import (
    DecodeError,
    decode_checkout,
    decode_control,
    decode_label,
    decode_publication,
)
from schemas.labels import Label
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
from streams.ordering import Ticket, WatchQueue
from streams.outbox import Outgoing
from streams.state import DurableState, PartitionStore

log = logging.getLogger("riskmon.streams")


Where = tuple[int, int, int]  # decide partition, offset, record in the frame (-1: the message)


class _Failed(Exception):
    """A message or a frame's record the stage failed on (the cause is chained)."""

    def __init__(self, where: Where, kind: str) -> None:
        super().__init__(where, kind)
        self.where = where
        self.kind = kind


@dataclass(frozen=True)
class DecideSettings:
    max_bytes: int
    watch_partitions: int
    expire_every: int = 4096  # decided events between checks of waiting later events
    checkpoint_every: int = 50_000  # paid orders between checkpoints of the models
    checkout_hold: float = 1800.0  # seconds of event time a checkout's reservation holds


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
        self.models: dict[int, PartitionModels] = {}
        self.ticked: dict[int, int] = {}  # decide partition -> the offset of its last tick
        self._verdicts: dict[int, PendingVerdicts] = {}
        self._frames: dict[int, Framer] = {}  # watch partition -> this batch's tickets
        self._event_time: dict[int, float] = {}  # orders partition -> latest event time seen
        self._decided = 0
        self._out: list[Outgoing] = []
        # the models' part of the batch, applied once the deciding part has gone through:
        # (partition, offset, a ticket | a verdict's bytes | None for an idle tick's flush)
        self._feed: list[tuple[int, int, Ticket | bytes | None]] = []
        self._failed: dict[Where, str] = {}
        self._answers: dict[str, dict[str, Any] | None] = {}
        # routes are pure: any Watchers computes them
        self._router = Watchers(rules, PartitionStore(-1, {}), [])

    # -- batches ------------------------------------------------------------------------------

    def apply(self, messages: Sequence[Message]) -> DecideBatch:
        """Messages of `riskmon-decide`, applied in order; those applied before are skipped.

        No message stops the stage. An order (or a message) the stage fails on unexpectedly
        goes to the dead letters as `processing_error`, with the exception's type, not its
        data; the batch is then applied again from the state last saved without it, so what
        the failure had half done leaves no trace (docs/durability.md).
        """
        failed: dict[Where, str] = {}
        target = self.observers
        while True:
            deferred = Deferred(target)
            self.observers = deferred
            try:
                batch = self._attempt(messages, failed)
            except _Failed as exc:
                deferred.drop()
                self._roll_back(messages)
                failed[exc.where] = exc.kind
                log.error(
                    "decide partition %d offset %d: %s on %s; dead-lettered, batch applied again",
                    exc.where[0],
                    exc.where[1],
                    exc.kind,
                    "the message" if exc.where[2] < 0 else f"record {exc.where[2]}",
                    exc_info=exc.__cause__,
                )
                continue
            finally:
                self.observers = target
            deferred.release()
            if failed and self.metrics is not None:
                for _ in failed:
                    self.metrics.count_processing_error("decide")
            return batch

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
                    self._answers[_event_id(message.value)] = None
            else:
                try:
                    self._message(message)
                except _Failed:
                    raise
                except Exception as exc:
                    raise _Failed(where, type(exc).__name__) from exc
            batch.touched[message.partition] = (store, message.offset)
            batch.frames += message.kind == "orders"
        self._learn_fed()
        self._frames_out()
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
            verdicts = self._verdicts.get(partition)
            if verdicts is not None:
                verdicts.forget()
            pipeline = self.pipelines.get(partition)
            if pipeline is not None:
                pipeline.reservations.forget()
        self._out = []
        self._frames = {}
        self._feed = []

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
            self.queues[partition] = WatchQueue(store, self._decode_held)
            self._verdicts[partition] = PendingVerdicts(store, self.settings.max_bytes)
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
            self._verdicts.pop(partition, None)
            self.pipelines.pop(partition, None)
            self.ticked.pop(partition, None)
            found = self.models.pop(partition, None)
            if found is not None:
                leaving.append((partition, found))
        self.state.revoke(partitions)
        return leaving

    # -- the catalog ------------------------------------------------------------------------

    def catalog_wait(self, messages: Sequence[Message]) -> float | None:
        """The latest arrival (wall time, as the intake saw it) of a frame among `messages`
        holding an order the catalog as read would count against; None if there is none.

        The runner holds the batch until the catalog is current as of then
        (streams/catalog.py): no order is refused for a product not read yet."""
        latest: float | None = None
        for message in messages:
            store = self.state.stores.get(message.partition)
            if store is not None and message.offset <= store.applied:
                continue
            if message.kind == "checkout":  # as the API appended it, at its own time
                if message.timestamp and self._catalog_against(message.value, checkout=True):
                    latest = max(latest or 0.0, message.timestamp)
                continue
            if message.kind != "orders":
                continue
            try:
                records = list(unframe(message.value))
            except FrameError:
                continue  # dead-lettered when applied
            arrived = next((m.get("rx") for m, _ in reversed(records) if "pos" in m), None)
            if not isinstance(arrived, int | float) or (latest is not None and arrived <= latest):
                continue
            for meta, body in records:
                if "pos" not in meta and self._catalog_against(body):
                    latest = float(arrived)
                    break
        return latest

    def _catalog_against(self, raw: bytes, checkout: bool = False) -> bool:
        try:
            if checkout:
                order: Any = decode_checkout(raw, max(self.settings.max_bytes, len(raw)))
            else:
                order = self.recent.decode(raw, self.settings.max_bytes)
        except DecodeError:
            return False
        if not checkout and not isinstance(order, OrderPaid):
            return False
        programme = self.rules.programmes.get(order.programme)
        if programme is None or not programme.requires_catalog:
            return False
        ts = order.occurred_at.timestamp()
        markup = None if programme.max_markup is None else 1 + programme.max_markup
        for item in order.items:
            found = catalog_at(self.catalog, item.sku, ts)
            problems, inflated = product_problems(found, item, order.programme, ts, markup)
            if problems or inflated:
                return True
        return False

    # -- the idle release ---------------------------------------------------------------------

    def idle_ticks(self) -> list[Outgoing]:
        """A tick to each partition that holds tickets and has applied something since its
        last tick: read back, it releases what only caught-up partitions held (the tail of a
        stream). The release is a record in the log, not the timer's doing: it is decided,
        saved and marked like any batch, so a redo releases the same tickets at the same
        point."""
        out: list[Outgoing] = []
        for partition, store, queue in self.taken_up():
            held = len(queue) or (partition in self.models and len(self._verdicts[partition]))
            if not held or self.ticked.get(partition) == store.applied:
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
        found = self.models.get(partition)
        if found is not None:  # the verdicts still ahead of the models' time, as a file's end
            self._feed.append((partition, message.offset, None))
            found.learnt = message.offset
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
                self._feed.append((message.partition, message.offset, message.value))
                found.learnt = message.offset
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
            checkout = decode_checkout(raw, max(self.settings.max_bytes, len(raw)))
        except DecodeError as exc:
            self._dead(exc.reason, exc.message, raw, message.origin)
            self._answers[_event_id(raw)] = None
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
                for part, (read, end) in stood[i].items():
                    queue.position(part, read, end)
                of = meta.get("of")
                if isinstance(of, int):
                    queue.expect(of)
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
                raise _Failed(where, type(exc).__name__) from exc
        self._release(partition, message.offset)
        found = self.models.get(partition)
        if found is not None:
            found.learnt = message.offset

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
        self._emit(order, outcome, queue, at)
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

    def _emit(self, order: Any, outcome: Outcome, queue: WatchQueue, at: float) -> None:
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
            queue.hold(watch, at)  # released when every orders partition has come past it
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
        learning = partition in self.models
        for i, ticket in enumerate(tickets):
            if ticket.watch.watched:
                self._route(ticket.watch, [offset, i])
            if learning:
                self._feed.append((partition, offset, ticket))
        if queue.late > late and self.metrics is not None:
            self.metrics.count_late(queue.late - late)
        return len(tickets)

    def _learn_fed(self) -> None:
        """The models' part of the batch, once the deciding part has gone through whole: the
        released tickets, in event-time order, and the verdicts and ticks, as they came.

        A failure here dead-letters the event (`processing_error`, stage `learn`) and goes on:
        the models' state is not saved per batch (its checkpoints are), so there is nothing to
        roll back to, and a model is no ledger."""
        feed, self._feed = self._feed, []
        for partition, offset, item in feed:
            found = self.models.get(partition)
            if found is None:
                continue
            verdicts = self._verdicts[partition]
            try:
                if item is None:
                    for label in verdicts.flush():
                        found.run.verdict(label)
                elif isinstance(item, bytes):
                    verdicts.add(item, offset)
                else:
                    self._learn(found, verdicts, item)
            except Exception as exc:
                log.error("the models failed: %s", type(exc).__name__, exc_info=exc)
                raw = item if isinstance(item, bytes) else b"" if item is None else item.watch.raw
                origin = Origin(DECIDE_TOPIC, partition, offset)
                self._processing_error(type(exc).__name__, raw, origin, "learn")
                if self.metrics is not None:
                    self.metrics.count_processing_error("learn")

    def _learn(self, found: PartitionModels, verdicts: PendingVerdicts, ticket: Ticket) -> None:
        """One decided event for the models, in event-time order: first the verdicts due by
        its time, as the replay merges them (replay/learning.py)."""
        for label in verdicts.due(ticket.at):
            found.run.verdict(label)
        event = ticket.watch.event
        if isinstance(event, OrderPaid):
            found.teach_catalog(self.catalog, event)
            found.since_checkpoint += 1
        for alert in found.run.learn(ticket.watch, ticket.at):
            self._alert(alert)

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

    def _processing_error(
        self, kind: str, raw: bytes, origin: Origin, stage: str = "decide"
    ) -> None:
        self._dead("processing_error", f"{kind} in the {stage} stage", raw, origin)

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
    meta: dict[str, Any] = {
        "owned": list(owned),
        "order": watch.order,
        "released": watch.released,
        "seq": seq,
    }
    if watch.allowed:
        meta["allowed"] = [list(pair) for pair in watch.allowed]
    if watch.rules:
        meta["rules"] = watch.rules
    return meta


class PendingVerdicts:
    """Analysts' verdicts held in the partition's saved state until the models' event time
    reaches their `labelled_at`, as the replay merges them; one that comes later than that is
    due at once (the models then learn it a little later than a replay of the same files)."""

    def __init__(self, store: PartitionStore, max_bytes: int) -> None:
        self.table = store.table("label_pending")
        self.clock = store.table("learning")  # "time": the newest event time the models saw
        self.max_bytes = max_bytes
        self._keys: list[str] | None = None  # held keys in labelled_at order, built on first use

    def add(self, raw: bytes, offset: int) -> None:
        label = decode_label(raw, max(self.max_bytes, len(raw)))
        # fixed width, so the keys sort as the times do; the offset keeps repeats apart
        key = f"{label.labelled_at.timestamp():020.6f}|{offset:012d}"
        self.table[key] = raw.decode()
        if self._keys is not None:
            insort(self._keys, key)

    def forget(self) -> None:
        """The saved state was restored under it: read the held keys again."""
        self._keys = None

    def flush(self) -> list[Label]:
        """Every verdict held, in `labelled_at` order (the stream has gone quiet)."""
        keys, self._keys = sorted(self.table), []
        return [self._pop(key) for key in keys]

    def __len__(self) -> int:
        return len(self.table)

    def _pop(self, key: str) -> Label:
        raw = self.table.pop(key).encode()
        return decode_label(raw, max(self.max_bytes, len(raw)))

    def due(self, ts: float) -> list[Label]:
        """The verdicts due at or before `ts`, in `labelled_at` order; `ts` is now the time."""
        if ts > self.clock.get("time", float("-inf")):
            self.clock["time"] = ts
        now = self.clock["time"]
        keys = self._keys
        if keys is None:
            keys = self._keys = sorted(self.table)
        out = []
        while keys and float(keys[0].split("|", 1)[0]) <= now:
            out.append(self._pop(keys.pop(0)))
        return out


def _event_id(raw: bytes) -> str:
    """A checkout's event id, from bytes that may not decode (its waiting caller's key)."""
    try:
        found = orjson.loads(raw).get("event_id")
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    return found if isinstance(found, str) else ""
