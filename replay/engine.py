"""Replay a file of events through the pipeline, writing alerts, decisions and dead letters."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from detectors.alerts import Alert
from detectors.context import LaterEvent
from detectors.pipeline import Outcome, Pipeline
from detectors.store import MemoryStore, Store
from replay.learning import LearningRun
from replay.observers import Observer, notify_outcome
from schemas.decode import DEFAULT_MAX_BYTES, DecodeError, decode_catalog, decode_order
from schemas.money import ZERO
from schemas.orders import OrderPaid, extra_fields
from schemas.outputs import Origin, dead_letter_record, dumps_line
from schemas.rules import ProgrammeRules
from schemas.times import TimeWindow

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
            "seconds": round(self.seconds, 3),
            **({"learning": self.learning} if self.learning else {}),
        }


class _Sink:
    """JSON Lines out: a file, or nowhere (counting only)."""

    def __init__(self, handle: IO[bytes] | None) -> None:
        self.handle = handle

    def write(self, record: dict[str, Any]) -> None:
        if self.handle is not None:
            self.handle.write(dumps_line(record))


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
        window: TimeWindow | None = None,
    ) -> None:
        self.rules = rules
        self.window = window  # of accepted event times: the contract's default when None
        self.learning = learning  # the online models, run after each event
        self.observers = list(observers or [])
        self.store = store if store is not None else MemoryStore()
        self.pipeline = Pipeline(rules, self.store)
        self.max_bytes = max_bytes
        self.stats = ReplayStats()

    def load_catalog(self, path: Path, dead: _Sink | None = None) -> None:
        for number, line, _ in _lines(path):
            if not line or line.isspace():
                continue
            try:
                entry = decode_catalog(line, self.max_bytes, self.window)
            except DecodeError as exc:
                for observer in self.observers:
                    observer.on_consumed("catalog", "invalid")
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
            for observer in self.observers:
                observer.on_consumed("catalog", "catalog")
                observer.on_catalog(entry)

    def run(
        self,
        events: Path,
        *,
        catalog: Path | None = None,
        alerts_out: Path | None = None,
        decisions_out: Path | None = None,
        dead_letter_out: Path | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> ReplayStats:
        import time

        started = time.perf_counter()
        with ExitStack() as stack:

            def sink(path: Path | None) -> _Sink:
                return _Sink(stack.enter_context(path.open("wb")) if path else None)

            alerts, decisions, dead = sink(alerts_out), sink(decisions_out), sink(dead_letter_out)
            if catalog is not None:
                self.load_catalog(catalog, dead)
            name = events.name
            pipeline = self.pipeline
            stats = self.stats
            max_bytes = self.max_bytes
            window = self.window
            observers = self.observers
            learning = self.learning
            for number, line, done in _lines(events):
                if not line or line.isspace():
                    stats.blank_lines += 1
                    continue
                origin = Origin("orders", None, None, name, number)  # positional: it is per line
                try:
                    event = decode_order(line, max_bytes, window)
                except DecodeError as exc:
                    for observer in observers:
                        observer.on_consumed("orders", "invalid")
                    self._dead(dead, exc.reason, exc.message, line, origin)
                    continue
                for observer in observers:
                    observer.on_consumed("orders", event.event_type)
                stats.events += 1
                stats.by_type[event.event_type] += 1
                n_extra = extra_fields(event)
                if n_extra:
                    stats.extra_fields += n_extra
                outcome = pipeline.on_order(event, line, origin)
                learnt = learning.after(event, outcome) if learning is not None else []
                self._record(outcome, alerts, decisions, dead, learnt)
                if observers and outcome.status == "processed":
                    self._observe(event, outcome, learnt)
                if number % EXPIRE_EVERY == 0:
                    for record in pipeline.expire():
                        self._dead_record(dead, record)
                    if learning is not None and observers:
                        self._report_learning(learning.figures())
                    if progress is not None:
                        progress(done)
            for record in pipeline.expire(everything=True):
                self._dead_record(dead, record)
            if learning is not None:
                self.stats.learning = learning.finish()
                self._report_learning(self.stats.learning)
            for observer in self.observers:
                observer.close()
        self.stats.seconds = time.perf_counter() - started
        return self.stats

    def _observe(
        self, event: OrderPaid | LaterEvent, outcome: Outcome, learnt: list[Alert]
    ) -> None:
        notify_outcome(self.observers, event, outcome)
        for observer in self.observers:
            for alert in (*outcome.alerts, *learnt):
                observer.on_alert(alert)

    def _report_learning(self, figures: dict[str, float]) -> None:
        for observer in self.observers:
            observer.on_learning_quality(figures)

    def _record(
        self,
        outcome: Outcome,
        alerts: _Sink,
        decisions: _Sink,
        dead: _Sink,
        learnt: list[Alert] | None = None,
    ) -> None:
        stats = self.stats
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
        for alert in (*outcome.alerts, *learnt) if learnt else outcome.alerts:
            alerts.write(alert.record())
            stats.alerts[(alert.risk, alert.severity)] += 1
            stats.detectors[alert.detector] += 1
        for record in outcome.dead_letters:
            self._dead_record(dead, record)
        stats.clawed_back += outcome.clawback

    def _dead(
        self, sink: _Sink | None, reason: str, error: str, raw: bytes, origin: Origin
    ) -> None:
        record = dead_letter_record(reason=reason, error=error, raw=raw, origin=origin)
        self._dead_record(sink, record)

    def _dead_record(self, sink: _Sink | None, record: dict[str, Any]) -> None:
        self.stats.dead_letters[record["reason"]] += 1
        for observer in self.observers:
            observer.on_dead_letter(record)
        if sink is not None:
            sink.write(record)
