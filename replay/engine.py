"""Replay a file of events through the pipeline, writing alerts, decisions and dead letters."""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from detectors.alerts import Alert
from detectors.context import LaterEvent
from detectors.pipeline import Outcome
from detectors.sequence import EventTimeBuffer, Released
from detectors.store import MemoryStore, Store
from detectors.versions import Versioned
from replay.learning import LearningRun
from replay.learning_process import LearningProcess, Pending
from replay.observers import Fanout, Observer, notify_outcome
from schemas.controls import Control
from schemas.decode import (
    DEFAULT_MAX_BYTES,
    DecodeError,
    decode_catalog,
    decode_checkout,
    decode_order_counted,
)
from schemas.money import ZERO
from schemas.orders import OrderPaid
from schemas.outputs import Origin, dead_letter_record, dumps_line
from schemas.publications import RulesPublication
from schemas.rules import ProgrammeRules
from schemas.times import TimeWindow
from streams.clients import partition_of
from streams.topics import TOPICS

log = logging.getLogger("riskmon.replay")
_CHECKOUT = b"order_checkout"
ORDERS_PARTITIONS = next(t.partitions for t in TOPICS if t.name == "orders")
# How often (in lines) waiting later events are checked against the grace period, and the
# learning stage's figures go to the observers (a scrape during a long replay sees them move).
EXPIRE_EVERY = 4096


@dataclass
class ReplayStats:
    events: int = 0
    blank_lines: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    pending: int = 0
    extra_fields: int = 0
    catalog_entries: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    alerts: Counter[tuple[str, str]] = field(default_factory=Counter)
    detectors: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)
    approved: Decimal = ZERO
    held: Decimal = ZERO
    rejected: Decimal = ZERO
    clawed_back: Decimal = ZERO
    lines: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    late_events: int = 0  # decided events released after a later one (a file out of order)
    processing_errors: int = 0  # events a detector failed on (dead-lettered)
    checkouts: Counter[str] = field(default_factory=Counter)  # answers, by decision
    learning: dict[str, float] = field(default_factory=dict)  # the learner's figures, if on

    @property
    def orders(self) -> int:
        return sum(self.decisions.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "orders": self.orders,
            "duplicates": self.duplicates,
            "dead_letters": sum(self.dead_letters.values()),
            "decisions": dict(self.decisions),
            "alerts": sum(self.alerts.values()),
            "approved_yuan": str(self.approved),
            "held_yuan": str(self.held),
            "rejected_yuan": str(self.rejected),
            "late_events": self.late_events,
            "seconds": round(self.seconds, 3),
            **({"learning": self.learning} if self.learning else {}),
        }


class _Sink:
    """JSON Lines out: a file, or nowhere (counting only).

    With the learning stage in a process of its own, what comes after an event whose learning
    has not answered yet waits behind it (`queue`), so that the file is written in the same
    order as in one process."""

    def __init__(self, handle: IO[bytes] | None) -> None:
        self.handle = handle
        self.queue: deque[dict[str, Any] | Pending] = deque()

    def write(self, record: dict[str, Any]) -> None:
        if self.queue:
            self.queue.append(record)
        elif self.handle is not None:
            self.handle.write(dumps_line(record))

    def emit(self, record: dict[str, Any]) -> None:
        """Written now, whatever waits (the queue's own flushing)."""
        if self.handle is not None:
            self.handle.write(dumps_line(record))

    def wait(self, pending: Pending) -> None:
        """What is written from now on waits for `pending`'s answer."""
        self.queue.append(pending)


def _lines(path: Path) -> Iterator[tuple[int, bytes, int]]:
    """(line number, line without its newline, bytes read so far), read a megabyte at a time."""
    done = 0
    number = 0
    rest = b""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                number += 1
                done += len(line) + 1
                yield number, line[:-1] if line.endswith(b"\r") else line, done
    if rest:
        yield number + 1, rest.removesuffix(b"\r"), done + len(rest)


class Replay:
    """Runs every detector over a catalog and an event file, in file order, in-process."""

    def __init__(
        self,
        rules: ProgrammeRules,
        store: Store | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        observers: list[Observer] | None = None,
        learning: LearningRun | None = None,
        learning_process: bool = False,
        orders_partitions: int | None = None,
        versions: list[RulesPublication] | None = None,
        controls: list[Control] | None = None,
        window: TimeWindow | None = None,
    ) -> None:
        self.rules = rules
        self.window = window  # of accepted event times: the contract's default when None
        self.learning = learning  # the online models, run after each event
        # ... in a process of its own, beside this one (where fork is available): the same
        # outputs and `stats.learning`, but this process's `learning` stays as it was when the
        # run began (replay/learning_process.py)
        self.learning_process = learning_process
        self._apart: LearningProcess | None = None
        # the watching detectors and the models see the decided events in the order a worker
        # reading `orders` with this many partitions gives them (detectors/sequence.py)
        self.orders_partitions = orders_partitions or ORDERS_PARTITIONS
        self._partitions: dict[str, int] = {}
        self.observers = Fanout(observers or [])
        self.store = store if store is not None else MemoryStore()
        self.pipeline = Versioned(rules, self.store, deliveries=learning is not None)
        for published in versions or ():
            self.pipeline.add(published.programme_rules(), published.effective_from.timestamp())
        # a backtest of controls: each applies from its effective time, as if read then
        for control in controls or ():
            self.pipeline.on_control(control)
        self.max_bytes = max_bytes
        self.stats = ReplayStats()

    def load_catalog(self, path: Path, dead: _Sink | None = None) -> None:
        for number, line, _ in _lines(path):
            if not line or line.isspace():
                continue
            try:
                entry = decode_catalog(line, self.max_bytes, self.window)
            except DecodeError as exc:
                self.observers.on_consumed("catalog", "invalid")
                self._dead(
                    dead,
                    exc.reason,
                    exc.message,
                    line,
                    Origin("catalog", file=path.name, line=number),
                )
                continue
            self.pipeline.on_catalog(entry)
            if self.learning is not None:
                self.learning.catalog(entry)
            self.stats.catalog_entries += 1
            self.observers.on_consumed("catalog", "catalog")
            self.observers.on_catalog(entry)

    def run(
        self,
        events: Path,
        *,
        catalog: Path | None = None,
        alerts_out: Path | None = None,
        decisions_out: Path | None = None,
        dead_letter_out: Path | None = None,
        progress: Callable[[int], None] | None = None,
        authorizations_out: Path | None = None,
    ) -> ReplayStats:
        import time

        started = time.perf_counter()
        with ExitStack() as stack:

            def sink(path: Path | None) -> _Sink:
                return _Sink(stack.enter_context(path.open("wb")) if path else None)

            alerts, decisions, dead = sink(alerts_out), sink(decisions_out), sink(dead_letter_out)
            answers = sink(authorizations_out)
            if catalog is not None:
                self.load_catalog(catalog, dead)
            if self.learning is not None and self.learning_process and _can_fork():
                for handle in (alerts.handle, decisions.handle, dead.handle, answers.handle):
                    if handle is not None:
                        handle.flush()  # nothing buffered for the child to inherit
                self._apart = LearningProcess(self.learning)
                self._apart.start()
                stack.callback(self._stop_apart)
            name = events.name
            pipeline = self.pipeline
            stats = self.stats
            max_bytes = self.max_bytes
            window = self.window
            observers = self.observers
            learning = self.learning
            apart = self._apart
            # decided events, until the stream's event time has passed them
            held = EventTimeBuffer(self.orders_partitions)
            observing = bool(observers)  # no observer: no call per event to tell none
            partition = self._partition
            for number, line, done in _lines(events):
                if not line or line.isspace():
                    stats.blank_lines += 1
                    continue
                origin = Origin("orders", None, None, name, number)  # positional: it is per line
                # find, not `in`: `bytes in bytes` raises and clears a TypeError each time
                if line.find(_CHECKOUT) >= 0 and self._checkout(
                    line, origin, dead, answers, alerts
                ):
                    continue
                try:
                    event, n_extra = decode_order_counted(line, max_bytes, window)
                except DecodeError as exc:
                    observers.on_consumed("orders", "invalid")
                    self._dead(dead, exc.reason, exc.message, line, origin)
                    continue
                if observing:
                    observers.on_consumed("orders", event.event_type)
                stats.events += 1
                stats.by_type[event.event_type] += 1
                if n_extra:  # unknown fields, tolerated (counted by the screening)
                    stats.extra_fields += n_extra
                try:
                    ts = event.occurred_at.timestamp()  # once, for every stage that needs it
                    outcome = pipeline.decide(event, line, origin, ts)
                except Exception as exc:  # no event stops the run; its type, not its data
                    self._failed(dead, exc, line, origin, "decide")
                    continue
                at = held.note(partition(event), ts)
                for watch in outcome.watch:
                    held.hold(watch, at)
                released = held.ready()
                watched = self._watch(released, dead) if released else []
                self._record(outcome, alerts, decisions, dead, watched)
                for update in outcome.updates:
                    answers.write(update)
                if observing:
                    self._observe(event, outcome, watched)
                if apart is not None and apart.fresh:
                    self._flush(alerts, dead)
                if number % EXPIRE_EVERY == 0:
                    for record in pipeline.expire():
                        self._dead_record(dead, record)
                    if apart is not None and observers:
                        apart.ask_figures()
                        self._report_learning(apart.figures())
                    elif learning is not None and observers:
                        self._report_learning(learning.figures())
                    if progress is not None:
                        progress(done)
            watched = self._watch(held.drain(), dead)
            for alert in watched:
                if isinstance(alert, Pending):
                    alerts.wait(alert)
                    continue
                alerts.write(alert.record())
                self._count(alert)
                observers.on_alert(alert)
            stats.late_events = held.late
            for record in pipeline.expire(everything=True):
                self._dead_record(dead, record)
            if apart is not None:
                self.stats.learning = apart.finish()
                self._flush(alerts, dead)
                assert not alerts.queue and not dead.queue, "every learning answer arrived"
                self._report_learning(self.stats.learning)
            elif learning is not None:
                self.stats.learning = learning.finish()
                self._report_learning(self.stats.learning)
            self.observers.close()
        self.stats.seconds = time.perf_counter() - started
        return self.stats

    def _watch(self, released: Released, dead: _Sink) -> list[Alert | Pending]:
        """The watching detectors and the models over decided events, in event-time order
        (the models' alerts `Pending` while their process has not answered)."""
        if not released:
            return []
        alerts: list[Alert | Pending] = []
        watch = self.pipeline.watch
        learning = self.learning
        apart = self._apart
        for at, ticket in released:
            try:
                if ticket.watched:
                    alerts.extend(watch(ticket))
            except Exception as exc:
                self._failed(dead, exc, ticket.raw, Origin("orders"), "watch")
            if apart is not None:
                pending = apart.learn(ticket, at)
                alerts.append(pending)  # its alerts, when they come
                dead.wait(pending)  # its dead letter, if it failed
            elif learning is not None:
                try:
                    alerts.extend(learning.learn(ticket, at))
                except Exception as exc:
                    self._failed(dead, exc, ticket.raw, Origin("orders"), "learn")
        return alerts

    def _failed(self, dead: _Sink, exc: Exception, raw: bytes, origin: Origin, stage: str) -> None:
        """An event a detector failed on: a dead letter naming the exception's type only.

        Unlike a worker, which applies its batch again from saved state, the replay keeps what
        the failing detector had changed before it raised (docs/durability.md)."""
        self._failed_named(dead, type(exc).__name__, raw, origin, stage)

    def _failed_named(
        self, dead: _Sink, name: str, raw: bytes, origin: Origin, stage: str, now: bool = False
    ) -> None:
        log.error("replay: %s in the %s stage at %s", name, stage, origin)
        self.stats.processing_errors += 1
        error = f"{name} in the {stage} stage"
        record = dead_letter_record(reason="processing_error", error=error, raw=raw, origin=origin)
        self._dead_record(dead, record, now)

    def _flush(self, alerts: _Sink, dead: _Sink) -> None:
        """Write what waited for the learning process's answers that have come (in order)."""
        assert self._apart is not None
        self._apart.fresh = False
        observers = self.observers

        def alerted(pending: Pending) -> None:
            for alert in pending.alerts:
                alerts.emit(alert.record())
                self._count(alert)
                observers.on_alert(alert)

        def failed(pending: Pending) -> None:
            if pending.error is not None:
                origin = Origin("orders")
                self._failed_named(dead, pending.error, pending.raw, origin, "learn", now=True)

        _drain(alerts, alerted)
        _drain(dead, failed)

    def _stop_apart(self) -> None:
        if self._apart is not None:
            self._apart.close()
            self._apart = None

    def _partition(self, event: OrderPaid | LaterEvent) -> int:
        """The `orders` partition a worker would read the event from (its consumer's)."""
        key = event.consumer.id_hash
        found = self._partitions.get(key)
        if found is None:
            found = self._partitions[key] = partition_of(key.encode(), self.orders_partitions)
        return found

    def _observe(
        self, event: OrderPaid | LaterEvent, outcome: Outcome, watched: list[Alert | Pending]
    ) -> None:
        if outcome.status == "processed":
            notify_outcome([self.observers], event, outcome)
            for alert in outcome.alerts:
                self.observers.on_alert(alert)
        for item in watched:
            if not isinstance(item, Pending):  # a pending one's, when it comes (`_flush`)
                self.observers.on_alert(item)

    def _report_learning(self, figures: dict[str, float]) -> None:
        self.observers.on_learning_quality(figures)

    def _record(
        self,
        outcome: Outcome,
        alerts: _Sink,
        decisions: _Sink,
        dead: _Sink,
        watched: list[Alert | Pending] | None = None,
    ) -> None:
        stats = self.stats
        for alert in watched or ():  # of events released now, whatever this one was
            if isinstance(alert, Pending):
                alerts.wait(alert)
                continue
            alerts.write(alert.record())
            self._count(alert)
        status = outcome.status
        if status == "duplicate":
            stats.duplicates += 1
            return
        if status == "pending":
            stats.pending += 1
            return
        if outcome.decision is not None:
            decisions.write(outcome.decision)
            kind = outcome.kind or "approve"
            stats.decisions[kind] += 1
            if kind == "approve":
                stats.approved += outcome.allowed
            else:
                stats.held += outcome.allowed
            stats.rejected += outcome.claim - outcome.allowed
        for alert in outcome.alerts:
            alerts.write(alert.record())
            self._count(alert)
        for record in outcome.dead_letters:
            self._dead_record(dead, record)
        stats.clawed_back += outcome.clawback

    def _checkout(
        self, line: bytes, origin: Origin, dead: _Sink, answers: _Sink, alerts: _Sink
    ) -> bool:
        """An `order_checkout` line: answered as the authorization API answers it, its
        reservation made (detectors/reservations.py). False if the line is not one."""
        try:
            checkout = decode_checkout(line, self.max_bytes)
        except DecodeError as exc:
            if b'"event_type":"order_checkout"' not in line.replace(b" ", b""):
                return False  # another event that mentions it: decoded as such
            self._dead(dead, exc.reason, exc.message, line, origin)
            return True
        self.observers.on_consumed("orders", checkout.event_type)
        self.stats.events += 1
        self.stats.by_type[checkout.event_type] += 1
        self.pipeline.watermark = max(self.pipeline.watermark, checkout.occurred_at.timestamp())
        outcome = self.pipeline.authorize(checkout, line, origin)
        self.stats.checkouts[
            outcome.authorization["decision"] if outcome.authorization else "?"
        ] += 1
        for record in outcome.updates:
            answers.write(record)
        for alert in outcome.alerts:
            alerts.write(alert.record())
            self._count(alert)
        return True

    def _count(self, alert: Alert) -> None:
        self.stats.alerts[(alert.risk, alert.severity)] += 1
        self.stats.detectors[alert.detector] += 1

    def _dead(
        self, sink: _Sink | None, reason: str, error: str, raw: bytes, origin: Origin
    ) -> None:
        record = dead_letter_record(reason=reason, error=error, raw=raw, origin=origin)
        self._dead_record(sink, record)

    def _dead_record(self, sink: _Sink | None, record: dict[str, Any], now: bool = False) -> None:
        self.stats.dead_letters[record["reason"]] += 1
        self.observers.on_dead_letter(record)
        if sink is not None:
            if now:
                sink.emit(record)
            else:
                sink.write(record)


def _can_fork() -> bool:
    # read from the module when asked (a test stands in a machine without fork there)
    from replay import learning_process

    return learning_process.available()


def _drain(sink: _Sink, answered: Callable[[Pending], None]) -> None:
    """Write `sink`'s queue up to the first learning answer still missing (`answered` takes
    each one that came, in its place)."""
    queue = sink.queue
    while queue:
        head = queue[0]
        if isinstance(head, Pending):
            if not head.done:
                break
            answered(head)
        else:
            sink.emit(head)
        queue.popleft()
