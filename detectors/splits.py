"""Split orders (拆单): many small subsidised orders instead of one, to beat a per-order cap or
a daily count (the logistics programme: orders just above its minimum amount, many a day)."""

from __future__ import annotations

from typing import Any

from detectors.base import Detector
from detectors.context import HOUR, PaidContext, window
from detectors.store import Store


class SplitOrders(Detector):
    """Orders of one person just above the logistics minimum, inside a window (tested in
    tests/unit/detectors/test_hoarding.py; the examples module makes featured-goods orders)."""

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
        table = store.table("splits")
        entries: list[list[Any]] = window(
            table.get(ctx.consumer, []), ctx.ts, rule.window_hours * HOUR
        )
        entries.append([ctx.ts, ctx.order_id])
        table[ctx.consumer] = entries
        if len(entries) < rule.min_orders:
            return
        ctx.alert(
            self.name,
            self.risk,
            "medium",
            "review",
            ("consumer", ctx.consumer),
            [e[1] for e in entries],
            evidence={
                "orders_near_minimum": len(entries),
                "window_hours": rule.window_hours,
                "min_order_amount": line.min_order_amount,
            },
        )
