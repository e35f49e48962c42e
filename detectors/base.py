"""The detector protocol: built from its slice of the rules, fed events and a store."""

from __future__ import annotations

from typing import ClassVar

from detectors.context import LaterContext, PaidContext
from detectors.store import Store
from schemas.rules import ProgrammeRules


class Detector:
    """One family of risk patterns (the README lists the detectors).

    A detector is configured at construction only and keeps state only in the store it is
    handed, keyed by the entity it is about (`entities`). It never reads a clock: time is the
    event's `occurred_at`. The pipeline calls, for each `order_paid`: `on_paid` (in the order the
    detectors are listed: the deciding ones first), then `on_decided` once the allowed subsidy
    is final; for each later event of a known order: `on_later`.
    """

    name: ClassVar[str]
    risk: ClassVar[str]
    entities: ClassVar[tuple[str, ...]] = ()

    def __init__(self, rules: ProgrammeRules) -> None:
        self.rules = rules

    def on_paid(self, ctx: PaidContext, store: Store) -> None:
        """Inspect a paid order; may cut what it earns, raise alerts, ask for a hold."""

    def on_decided(self, ctx: PaidContext, store: Store) -> None:
        """Commit what the final decision consumed (quota, code, budget)."""

    def on_later(self, ctx: LaterContext, store: Store) -> None:
        """Apply a cancellation, refund or delivery of an order decided earlier."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rules={self.rules.version!r})"
