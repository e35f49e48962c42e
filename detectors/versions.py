"""Rules versions over event time: each event decided and watched under the version in force.

A runtime starts with its rules file; a version published later (schemas/publications.py)
applies from its `effective_from` on: an order is decided under the latest version effective
at or before its event time, its decision names that version, and its watch ticket carries
it, so the watching detectors use that version's thresholds too. Every version shares the one
store: the budget spent, the quotas and codes taken carry over.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from detectors.alerts import Alert
from detectors.context import LaterEvent
from detectors.pipeline import Outcome, Pipeline
from detectors.reservations import Reservations
from detectors.store import Store
from detectors.watch import Watch
from schemas.catalog import CatalogEntry
from schemas.orders import OrderCheckout, OrderPaid
from schemas.outputs import Origin
from schemas.rules import ProgrammeRules


class Versioned:
    """Pipelines of every rules version read, over one store, chosen by event time.

    >>> from detectors.store import MemoryStore
    >>> from schemas.rules import load_rules
    >>> rules = load_rules()
    >>> v = Versioned(rules, MemoryStore())
    >>> v.add(rules.model_copy(update={"version": "later"}), 1_800_000_000.0)
    True
    >>> v.at(1_700_000_000.0).rules.version == rules.version, v.at(1_900_000_000.0).rules.version
    (True, 'later')
    """

    def __init__(self, rules: ProgrammeRules, store: Store, **options: Any) -> None:
        self.store = store
        # one store, so one set of reservations for every version's pipeline
        self.options = {"reservations": Reservations(store), **options}
        self.base = Pipeline(rules, store, **self.options)
        self._starts: list[float] = [float("-inf")]
        self._pipelines: list[Pipeline] = [self.base]
        self._by_version: dict[str, Pipeline] = {rules.version: self.base}
        self.watermark = float("-inf")

    @property
    def rules(self) -> ProgrammeRules:
        return self.base.rules

    def add(self, rules: ProgrammeRules, effective: float) -> bool:
        """A version read: it applies from `effective` (epoch seconds). False if that version
        was read already (a redelivery, or a second publication of one version)."""
        if rules.version in self._by_version:
            return False
        pipeline = Pipeline(rules, self.store, **self.options)
        at = bisect_right(self._starts, effective)
        self._starts.insert(at, effective)
        self._pipelines.insert(at, pipeline)
        self._by_version[rules.version] = pipeline
        return True

    def at(self, ts: float) -> Pipeline:
        """The pipeline of the version in force at event time `ts`."""
        if len(self._pipelines) == 1:
            return self.base
        return self._pipelines[bisect_right(self._starts, ts) - 1]

    def versions(self) -> list[tuple[float, str]]:
        return [(s, p.rules.version) for s, p in zip(self._starts, self._pipelines, strict=True)]

    def decide(
        self, event: OrderPaid | LaterEvent, raw: bytes, origin: Origin, ts: float | None = None
    ) -> Outcome:
        """`ts`: the event's time in epoch seconds, if the caller has it already."""
        if ts is None:
            ts = event.occurred_at.timestamp()
        if ts > self.watermark:
            self.watermark = ts
        pipeline = self.at(ts)
        pipeline.watermark = self.watermark  # one stream's time, whichever version decides
        outcome = pipeline.decide(event, raw, origin, ts)  # its decision names the version
        if len(self._pipelines) > 1:
            for watch in outcome.watch:
                watch.rules = pipeline.rules.version
        return outcome

    def authorize(self, checkout: OrderCheckout, raw: bytes, origin: Origin) -> Outcome:
        """A checkout's answer under the version in force at its event time."""
        ts = checkout.occurred_at.timestamp()
        if ts > self.watermark:
            self.watermark = ts
        pipeline = self.at(ts)
        pipeline.watermark = self.watermark
        return pipeline.authorize(checkout, raw, origin)

    @property
    def reservations(self) -> Reservations:
        reservations: Reservations = self.options["reservations"]
        return reservations

    def watch(self, watch: Watch, owned: frozenset[str] | None = None) -> list[Alert]:
        """The watching detectors of the ticket's version over it."""
        if len(self._pipelines) == 1:  # one version: no event time to look it up by
            return self.base.watchers.watch(watch, owned)
        pipeline = self._by_version.get(watch.rules) if watch.rules else None
        if pipeline is None:
            pipeline = self.at(watch.event.occurred_at.timestamp())
        return pipeline.watchers.watch(watch, owned)

    def on_catalog(self, entry: CatalogEntry) -> None:
        self.base.on_catalog(entry)

    def on_control(self, control: Any) -> bool:
        return self.base.on_control(control)

    def expire(self, *, everything: bool = False) -> list[dict[str, Any]]:
        """Waiting later events past the grace period of the version in force now."""
        pipeline = self.at(self.watermark)
        pipeline.watermark = self.watermark
        return pipeline.expire(everything=everything)
