"""Refund arbitrage (套利): refunds above what was paid, and buy-refund-rebuy cycles.

A refund returns at most what the consumer paid (the programme's refund rule); above that, the
subsidy changes hands. One cancellation followed by a re-purchase is ordinary; the same
category released again and again within weeks recycles a quota or a qualification code.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple

from detectors.base import Detector
from detectors.context import DAY, LaterContext, PaidContext, window
from detectors.store import Store, revive
from schemas.rules import ANY_CATEGORY, ProgrammeRules


class Release(NamedTuple):
    """A person's purchase of a category given back, cancelled or refunded in full (table
    `released`: per consumer, per category, oldest first)."""

    ts: float  # the release's event time
    order_id: str
    # the fields below are absent from entries saved before them: such a release counts
    code: str | None = None  # the order's qualification code
    scarce: bool = True  # its quota does not renew by the day or week


class RefundArbitrage(Detector):
    """Refunds, added up, above what the consumer paid: money that does not add up.

    The honest look-alike it leaves alone: a full refund of exactly what was paid, or several
    partial ones adding up to it (tests/unit/detectors/test_arbitrage_fraud.py).

    >>> from detectors.examples import order, refund, run
    >>> paid = order("alice", number=1)  # paid 4,499 after the 500 discount
    >>> run(paid, refund(paid, 4999.0, hours=3))
    ['refund_arbitrage: O-alice-1']
    """

    name = "refund_arbitrage"
    risk = "arbitrage"
    entities = ("consumer",)

    def on_later(self, ctx: LaterContext, store: Store) -> None:
        event = ctx.event
        if event.refund_amount is None or not ctx.owns("consumer"):
            return
        paid = Decimal(ctx.order["paid"])
        refunded = Decimal(ctx.order["refunded"])
        if refunded <= paid:
            return
        ctx.alert(
            self.name,
            self.risk,
            "critical",
            "hold",
            ("consumer", ctx.order["consumer"]),
            [event.order_id],
            at_risk=refunded - paid,
            evidence={
                "paid_amount": paid,
                "refunded_total": refunded,
                "excess": refunded - paid,
                "merchant_id": ctx.order["merchant"],
            },
        )


class RefundCycling(Detector):
    """Released purchases of one category by one person, inside a window, that recycled
    something scarce: a once-per-programme quota, or the same qualification code.

    The honest look-alike it leaves alone: a repeat local-specialty buyer within the weekly
    limit who now and then sends back a bad batch for a refund. The weekly quota renews by
    itself and each order has its own code, so those refunds recycle nothing; a refund is the
    programme's own remedy for poor quality (tests/unit/detectors/test_lookalikes.py).

    >>> from detectors.examples import cancel, order, run
    >>> a, b, c = (order("alice", number=n, hours=10 * n, code="Q") for n in range(3))
    >>> run(a, cancel(a, hours=1), b, cancel(b, hours=11), c)
    ['refund_cycling: O-alice-0 O-alice-1 O-alice-2']
    """

    name = "refund_cycling"
    risk = "arbitrage"
    entities = ("consumer",)

    def __init__(self, rules: ProgrammeRules) -> None:
        super().__init__(rules)
        # (programme, category) whose quota renews by the day or week: a release gives back
        # nothing the calendar would not give back anyway
        self._renewing: set[tuple[str, str]] = set()
        for programme_name, programme in rules.programmes.items():
            for line in programme.budget_lines.values():
                if line.quota is not None and line.quota.period in ("day", "week"):
                    self._renewing.update((programme_name, c) for c in line.categories)

    def _scarce(self, programme: str, category: str) -> bool:
        return (programme, category) not in self._renewing and (
            programme,
            ANY_CATEGORY,
        ) not in self._renewing

    def on_paid(self, ctx: PaidContext, store: Store) -> None:
        if ctx.claim <= 0 or not ctx.owns("consumer"):
            return
        history: dict[str, list[Any]] = store.table("released").get(ctx.consumer, {})
        if not history:
            return
        rule = self.rules.detectors.refund_cycling
        qualification = ctx.event.qualification
        code = qualification.code if qualification is not None else None
        for category in sorted({v.item.category for v in ctx.items}):
            kept = revive(Release, history.get(category, []))
            released = _recycled(window(kept, ctx.ts, rule.window_days * DAY), code)
            if len(released) >= rule.min_released:
                ctx.alert(
                    self.name,
                    self.risk,
                    "high",
                    "hold",
                    ("consumer", ctx.consumer),
                    [e.order_id for e in released] + [ctx.order_id],
                    at_risk=ctx.claim,
                    evidence={
                        "released_before": len(released),
                        "category": category,
                        "window_days": rule.window_days,
                    },
                )

    def on_later(self, ctx: LaterContext, store: Store) -> None:
        categories: list[str] = ctx.order.get("cats") or []
        if not ctx.released or not categories or not ctx.owns("consumer"):
            return
        rule = self.rules.detectors.refund_cycling
        table = store.table("released")
        consumer = ctx.order["consumer"]
        code = ctx.order.get("code")
        programme = ctx.order.get("programme", "")
        history: dict[str, list[Any]] = dict(table.get(consumer, {}))
        for category in categories:
            kept = revive(Release, history.get(category, []))
            released = window(kept, ctx.ts, rule.window_days * DAY)
            entry = Release(ctx.ts, ctx.event.order_id, code, self._scarce(programme, category))
            released = [*released, entry]
            history[category] = released
            recycled = _recycled(released, code)
            if len(recycled) > rule.min_released:
                ctx.alert(
                    self.name,
                    self.risk,
                    "high",
                    "hold",
                    ("consumer", consumer),
                    [e.order_id for e in recycled],
                    evidence={
                        "released": len(recycled),
                        "category": category,
                        "window_days": rule.window_days,
                    },
                )
        table[consumer] = history


def _recycled(released: list[Release], code: str | None) -> list[Release]:
    """The releases that gave back something scarce: a once-per-programme quota, or the
    qualification code `code`. Entries saved before these fields count (the defaults)."""
    return [e for e in released if e.scarce or (code is not None and e.code == code)]
