"""Split orders (拆单): many small subsidised orders instead of one, to beat a per-order cap or
a daily count (the logistics programme: orders just above its minimum amount, many a day).

The honest look-alike it leaves alone: a consumer at exactly the allowed number of logistics
orders a day (three), each just above the minimum amount, day after day. The programme allows
that much, so it is never evidence on its own: an alert needs more near-minimum orders in one
of the quota's periods than the quota lets a person make (docs/detectors.md).
"""

from __future__ import annotations

from typing import NamedTuple

from detectors.base import Detector
from detectors.context import HOUR, PaidContext, period_key, window
from detectors.store import Store, revive
from schemas.rules import BudgetLine


class SplitEntry(NamedTuple):
    """A person's near-minimum subsidised order (table `splits`, oldest first)."""

    ts: float  # the order's event time
    order_id: str
    # the quota period it counted in ("" when the window counts instead); None in entries
    # saved before this field, which no period matches
    period: str | None = None


def allowed_orders(line: BudgetLine) -> tuple[int, str] | None:
    """The orders a person may make in one period of a line's per-order quota, and the period.

    >>> from schemas.rules import load_rules
    >>> rules = load_rules()
    >>> allowed_orders(rules.programmes["logistics_warehouse"].budget_lines["warehouse_orders"])
    (3, 'day')
    """
    quota = line.quota
    if quota is None or quota.unit != "order" or quota.per != "budget_line":
        return None
    return quota.count, quota.period


class SplitOrders(Detector):
    """More near-minimum orders of one person in a quota period than the quota allows
    (tested in tests/unit/detectors/test_hoarding.py and test_lookalikes.py).

    >>> from detectors.examples import logistics, run
    >>> run(*[logistics("alice", number=n, hours=n, amount=105.0) for n in range(3)])
    []
    >>> run(*[logistics("bob", number=n, hours=n, amount=105.0) for n in range(4)])[-1]
    'split_orders: O-bob-0 O-bob-1 O-bob-2 O-bob-3'
    """

    name = "split_orders"
    risk = "hoarding"
    entities = ("consumer",)

    def on_paid(self, ctx: PaidContext, store: Store) -> None:
        programme = ctx.programme
        if programme is None or programme.basis != "order" or ctx.claim <= 0:
            return
        if not ctx.owns("consumer"):
            return
        line = next(iter(programme.budget_lines.values()))
        if line.min_order_amount is None:
            return
        rule = self.rules.detectors.split_orders
        if ctx.event.order_amount >= line.min_order_amount * rule.near_minimum_ratio:
            return
        limit = allowed_orders(line)
        table = store.table("splits")
        kept = revive(SplitEntry, table.get(ctx.consumer, []))
        if limit is not None and limit[1] in ("day", "week"):
            # the quota's own period: a person at exactly its count is within the rules
            period = period_key(ctx.local, limit[1])
            entries = [e for e in kept if e.period == period]
            needed = max(rule.min_orders, limit[0] + 1)
        else:
            period = ""
            entries = window(kept, ctx.ts, rule.window_hours * HOUR)
            needed = rule.min_orders
        entries.append(SplitEntry(ctx.ts, ctx.order_id, period))
        table[ctx.consumer] = entries
        if len(entries) < needed:
            return
        ctx.alert(
            self.name,
            self.risk,
            "medium",
            "review",
            ("consumer", ctx.consumer),
            [e.order_id for e in entries],
            evidence={
                "orders_near_minimum": len(entries),
                "allowed_per_period": needed - 1,
                "period": period or f"{rule.window_hours:g}h",
                "min_order_amount": line.min_order_amount,
            },
        )
