"""Prometheus metrics of a worker or a replay: what was read, decided, raised and spent.

`Metrics` holds the families on its own registry (two instances, or a test, never clash);
`MetricsObserver` keeps them from the observer hooks both runtimes call, plus a few plain
methods for what only a streaming worker knows (processing time, delay, consumer lag):

    observer = MetricsObserver(rules)          # one per process
    server = observer.serve(settings.metrics_port)   # GET :9108/metrics
    ...                                        # runtime calls the hooks, and per message:
    observer.observe_processing(seconds)       # decode + pipeline + sends
    observer.observe_delay(seconds)            # wall clock now - event.occurred_at
    observer.set_lag(topic, partition, lag)    # end offset - committed offset
    observer.set_learning_quality(learner.quality())   # now and then, with the learning stage
    server.close()

Labels are only values the code or the rules fix (topics, event types, reasons, decisions,
risks, severities, detectors, programmes, budget lines, partitions, models): never an order,
consumer, address or merchant, so no series grows with the data. A programme the rules do not know
counts as "other", subsidy no budget line can be named for as "none".

Money stays `Decimal` up to here; it becomes a float only as it enters a metric.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from contextlib import suppress
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import start_http_server

from replay.observers import NullObserver
from schemas.money import ZERO, to_fen
from streams.learning_metrics import LearningQuality
from streams.money_metrics import BudgetGauges, MoneyCounter

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from detectors.alerts import Alert
    from detectors.context import LaterEvent
    from detectors.pipeline import Outcome
    from schemas.orders import OrderPaid
    from schemas.rules import ProgrammeRules

# A `_created` series beside every counter doubles what Prometheus stores; nothing reads them.
# (The function has no annotations; the cast keeps mypy --strict without an ignore.)
cast(Callable[[], None], disable_created_metrics)()

OTHER_PROGRAMME = "other"
NO_LINE = "none"
OUTCOMES = ("approved", "held", "rejected")
DECISIONS = ("approve", "review", "reject")
# Per-event work is tens of microseconds in-process and milliseconds with Kafka round trips.
PROCESSING_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
# The bureau's concern is minutes: a hold must land before the goods ship.
DELAY_BUCKETS = (
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1800.0,
    3600.0,
)


class _Children:
    """A family's labelled children, cached: `.labels()` on every call costs four times as much
    as a cached child (docs/broker-notes.md), and the hooks run once per event."""

    __slots__ = ("_cache", "_family")

    def __init__(self, family: Any) -> None:
        self._family = family
        self._cache: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._cache.get(values)
        if child is None:
            child = self._cache[values] = self._family.labels(*values)
        return child


class Metrics:
    """Every riskmon metric family, on `registry` (a fresh one unless given)."""

    def __init__(self, registry: CollectorRegistry | None = None, *, process: bool = True) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        if process:
            # process_* and python_info: the worker-health panels and the restart count
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
        r = self.registry
        self.events = Counter(
            "riskmon_events",
            "Messages read, by topic and event type",
            ["topic", "event_type"],
            registry=r,
        )
        self.dead_letters = Counter(
            "riskmon_dead_letters",
            "Messages sent to the dead letters, by reason",
            ["reason"],
            registry=r,
        )
        self.decisions = Counter(
            "riskmon_decisions", "Orders decided, by decision", ["decision"], registry=r
        )
        self.alerts = Counter(
            "riskmon_alerts",
            "Alerts raised, by risk, severity and detector",
            ["risk", "severity", "detector"],
            registry=r,
        )
        self.subsidy = MoneyCounter(
            "riskmon_subsidy_yuan",
            "Subsidy claimed by decided orders, by outcome (approved, held, rejected), in yuan",
            ("programme", "budget_line", "outcome"),
            registry=r,
        )
        self.returned = MoneyCounter(
            "riskmon_subsidy_returned_yuan",
            "Subsidy given back to the budget by cancellations and refunds, in yuan",
            ("programme", "budget_line"),
            registry=r,
        )
        self.budget = BudgetGauges(registry=r)
        self.processing = Histogram(
            "riskmon_processing_seconds",
            "Time to process one message",
            buckets=PROCESSING_BUCKETS,
            registry=r,
        )
        self.delay = Histogram(
            "riskmon_event_to_decision_seconds",
            "Wall-clock time from an event's occurred_at to its decision",
            buckets=DELAY_BUCKETS,
            registry=r,
        )
        self.decide_frames = Counter(
            "riskmon_decide_frames",
            "Intake frames the decide stage applied, by path: handed over in process once"
            " delivered, or read back from riskmon-decide",
            ["path"],
            registry=r,
        )
        self.late_events = Counter(
            "riskmon_late_events",
            "Decided events given to the behavioural detectors and the models after a later one"
            " had gone (out of event-time order beyond what the stage waits for): counted, never"
            " dropped",
            registry=r,
        )
        self.processing_errors = Counter(
            "riskmon_processing_errors",
            "Messages a stage failed on unexpectedly and sent to the dead letters"
            " (processing_error), by stage",
            ["stage"],
            registry=r,
        )
        self.catalog_wait = Histogram(
            "riskmon_catalog_wait_seconds",
            "Time the decide stage held orders until the catalog it had read was current as of"
            " their arrival",
            buckets=DELAY_BUCKETS,
            registry=r,
        )
        self.authorizations = Counter(
            "riskmon_authorizations",
            "Checkout authorization requests, by outcome (answered, forwarded, deadline: 503 "
            "past the deadline, failed, invalid, unauthorized, unavailable)",
            ["outcome"],
            registry=r,
        )
        self.authorization_seconds = Histogram(
            "riskmon_authorization_seconds",
            "Time to answer a checkout authorization request",
            buckets=PROCESSING_BUCKETS,
            registry=r,
        )
        self.lag = Gauge(
            "riskmon_consumer_lag",
            "Messages not yet consumed, by topic and partition",
            ["topic", "partition"],
            registry=r,
        )
        self.learning = LearningQuality(registry=r)

    def names(self) -> set[str]:
        """Every series name this registry can expose (`_total`, `_bucket`... included),
        whether or not it has a sample yet."""
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
        return {
            family.name + suffix
            for family in self.registry.collect()
            for suffix in suffixes.get(family.type, ("",))
        }

    def exposition(self) -> bytes:
        """The text format, as GET /metrics returns it."""
        return generate_latest(self.registry)

    def serve(self, port: int, addr: str = "0.0.0.0") -> MetricsServer:  # noqa: S104
        """Serve GET /metrics on `port` (0: any free port) from a daemon thread."""
        return MetricsServer(*start_http_server(port, addr, registry=self.registry))


class MetricsServer:
    """A running /metrics endpoint; `close()` stops it and frees the port."""

    def __init__(self, httpd: WSGIServer, thread: threading.Thread) -> None:
        self._httpd = httpd
        self._thread = thread
        self.port: int = httpd.server_port

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class MetricsObserver(NullObserver):
    """The observer hooks (replay/observers.py) as metrics, built from the programme rules.

    The budget it reports is what this process decided: approved and held `outcome.lines`,
    less each claw-back shared over the order's lines as `detectors/budget.py` shares it. Two
    workers each report their share; the dashboards and the alert rules sum over instances.
    """

    def __init__(self, rules: ProgrammeRules, metrics: Metrics | None = None) -> None:
        self.metrics = m = metrics if metrics is not None else Metrics()
        self._events = _Children(m.events)
        self._dead = _Children(m.dead_letters)
        self._decisions = _Children(m.decisions)
        self._alerts = _Children(m.alerts)
        self._lag = _Children(m.lag)
        self._line_of: dict[str, Callable[[str], str | None]] = {}
        self._budgets: dict[tuple[str, str], Decimal] = {}
        for pname, programme in rules.programmes.items():
            self._line_of[pname] = _category_lines(programme.budget_lines)
            for lname, line in programme.budget_lines.items():
                self._budgets[(pname, lname)] = line.budget
                m.budget.set_budget(pname, lname, line.budget)
                # known series start at 0, so rate() sees their first increment and every line
                # has a row on the dashboards before it has spent anything
                for outcome in OUTCOMES:
                    m.subsidy.inc((pname, lname, outcome), ZERO)
                m.returned.inc((pname, lname), ZERO)
        for kind in DECISIONS:
            self._decisions(kind)
        # what each subsidised order still holds per line, to share its claw-backs; an order
        # leaves once it has given everything back. Tuples of strings and decimals only: the
        # cyclic collector stops tracking those, and there is one per live order.
        self._granted: dict[str, tuple[str, tuple[tuple[str, Decimal], ...], Decimal]] = {}

    # -- the observer hooks ------------------------------------------------------------------

    def on_consumed(self, topic: str, event_type: str) -> None:
        self._events(topic, event_type).inc()

    def on_dead_letter(self, record: dict[str, Any]) -> None:
        self._dead(str(record["reason"])).inc()

    def on_alert(self, alert: Alert) -> None:
        self._alerts(alert.risk, alert.severity, alert.detector).inc()

    def on_decided(self, event: OrderPaid, outcome: Outcome) -> None:
        m = self.metrics
        kind = outcome.kind or "approve"
        self._decisions(kind).inc()
        pname = event.programme if event.programme in self._line_of else OTHER_PROGRAMME
        spent = "approved" if kind == "approve" else "held"
        charged = ZERO
        for lname, amount in outcome.lines.items():
            if amount:
                m.subsidy.inc((pname, lname, spent), amount)
                self._spend(pname, lname, amount)
                charged += amount
        if outcome.allowed != charged:  # not expected: every allowed fen is on some line
            m.subsidy.inc((pname, NO_LINE, spent), outcome.allowed - charged)
        rejected = outcome.claim - outcome.allowed
        if rejected > 0:
            for lname, amount in self._rejected_by_line(event, pname, rejected).items():
                m.subsidy.inc((pname, lname, "rejected"), amount)
        if outcome.allowed > 0 and outcome.lines:
            lines = tuple(outcome.lines.items())
            self._granted[event.order_id] = (pname, lines, outcome.allowed)

    def on_later(self, event: LaterEvent, outcome: Outcome) -> None:
        clawback = outcome.clawback
        if clawback <= 0:
            return
        pname = event.programme
        held = self._granted.pop(event.order_id, None)
        if held is None:
            # decided before this process started: the line is known only in a one-line
            # programme; otherwise the money is counted back without touching any line's ratio
            known = self._budgets_of(pname)
            if len(known) == 1:
                self._give_back(pname, known[0], clawback)
            else:
                label = pname if pname in self._line_of else OTHER_PROGRAMME
                self.metrics.returned.inc((label, NO_LINE), clawback)
            return
        pname, lines, left = held
        granted = sum((amount for _, amount in lines), ZERO)
        for lname, amount in lines:
            # the same share, rounded the same way, as detectors/budget.py gives back
            back = clawback if granted == 0 else to_fen(clawback * amount / granted)
            self._give_back(pname, lname, back)
        if left - clawback > 0:
            self._granted[event.order_id] = (pname, lines, left - clawback)

    # -- what only a streaming worker knows ---------------------------------------------------

    def observe_processing(self, seconds: float) -> None:
        """Time spent on one message (decode, pipeline, sends)."""
        self.metrics.processing.observe(seconds)

    def observe_delay(self, seconds: float) -> None:
        """Wall-clock seconds from an event's `occurred_at` to its decision being sent."""
        self.metrics.delay.observe(seconds)

    def count_decide_frames(self, path: str, frames: int) -> None:
        """Intake frames applied by the decide stage: `handed` in process, or `read`."""
        self.metrics.decide_frames.labels(path).inc(frames)

    def count_late(self, events: int) -> None:
        """Decided events released after a later one (`riskmon_late_events_total`)."""
        self.metrics.late_events.inc(events)

    def count_processing_error(self, stage: str) -> None:
        """A message a stage failed on and dead-lettered (`processing_error`)."""
        self.metrics.processing_errors.labels(stage).inc()

    def observe_catalog_wait(self, seconds: float) -> None:
        """Orders held for the catalog to be current as of their arrival."""
        self.metrics.catalog_wait.observe(seconds)

    def count_authorization(self, outcome: str, seconds: float) -> None:
        """A checkout authorization request answered (or refused) after `seconds`."""
        self.metrics.authorizations.labels(outcome).inc()
        self.metrics.authorization_seconds.observe(seconds)

    def set_lag(self, topic: str, partition: int, lag: int) -> None:
        """Messages behind the end of `topic`'s `partition` (end offset - position)."""
        self._lag(topic, str(partition)).set(lag)

    def set_budget_used(self, programme: str, budget_line: str, used: Decimal) -> None:
        """Replace a line's used amount, e.g. from the budget state a worker restored."""
        if (programme, budget_line) not in self._budgets:
            raise KeyError(f"no budget line {programme}/{budget_line} in the rules")
        self.metrics.budget.set_used(programme, budget_line, used)

    def budget_used(self) -> dict[tuple[str, str], Decimal]:
        """(programme, budget line) -> what this process counts as used, exact."""
        return self.metrics.budget.used()

    def set_learning_quality(self, figures: Mapping[str, float]) -> None:
        """The online learner's quality, `Learner.quality()` (streams/learning_metrics.py has
        the series). Call it now and then, not per event; it never raises: a figure missing or
        not a number leaves its series as it was."""
        with suppress(Exception):  # belt and braces: a gauge must never stop a worker
            self.metrics.learning.update(figures)

    def on_learning_quality(self, figures: Mapping[str, float]) -> None:
        """The observer hook (the replay calls it): `set_learning_quality`."""
        self.set_learning_quality(figures)

    def serve(self, port: int, addr: str = "0.0.0.0") -> MetricsServer:  # noqa: S104
        """Serve this observer's metrics on GET /metrics (see `Metrics.serve`)."""
        return self.metrics.serve(port, addr)

    # -- helpers ------------------------------------------------------------------------------

    def _budgets_of(self, pname: str) -> list[str]:
        return [line for (p, line) in self._budgets if p == pname]

    def _spend(self, pname: str, lname: str, amount: Decimal) -> None:
        if (pname, lname) in self._budgets:
            budget = self.metrics.budget
            budget.set_used(pname, lname, budget.used_of(pname, lname) + amount)

    def _give_back(self, pname: str, lname: str, amount: Decimal) -> None:
        self.metrics.returned.inc((pname, lname), amount)
        if (pname, lname) in self._budgets:
            budget = self.metrics.budget
            budget.set_used(pname, lname, max(budget.used_of(pname, lname) - amount, ZERO))

    def _rejected_by_line(
        self, event: OrderPaid, pname: str, amount: Decimal
    ) -> dict[str, Decimal]:
        """The refused part of a claim, put on the lines of the order's items in proportion to
        their value: the claim itself is one amount for the whole order."""
        line_of = self._line_of.get(pname)
        weights: dict[str, Decimal] = {}
        if line_of is not None:
            for item in event.items:
                lname = line_of(item.category) or NO_LINE
                weights[lname] = weights.get(lname, ZERO) + item.quantity * item.unit_price
        return split(amount, weights or {NO_LINE: Decimal(1)})


def split(amount: Decimal, weights: dict[str, Decimal]) -> dict[str, Decimal]:
    """`amount` shared in proportion to `weights`, to the fen, adding up to `amount` exactly
    (the heaviest share takes the rounding).

    >>> split(Decimal("10.00"), {"a": Decimal(1), "b": Decimal(2)})
    {'a': Decimal('3.33'), 'b': Decimal('6.67')}
    """
    total = sum(weights.values(), ZERO)
    if total <= 0:
        return {next(iter(weights)): amount}
    shares = {k: to_fen(amount * w / total) for k, w in weights.items()}
    heaviest = max(weights, key=lambda k: weights[k])
    shares[heaviest] += amount - sum(shares.values(), ZERO)
    return shares


def _category_lines(lines: dict[str, Any]) -> Callable[[str], str | None]:
    """category -> the budget line that pays for it ("*" pays for any category)."""
    exact = {c: name for name, line in lines.items() for c in line.categories if c != "*"}
    wildcard = next((n for n, line in lines.items() if "*" in line.categories), None)
    return lambda category: exact.get(category, wildcard)


__all__ = ["Metrics", "MetricsObserver", "MetricsServer", "MoneyCounter", "split"]
