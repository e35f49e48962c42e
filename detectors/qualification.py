"""Qualification codes (资格码): one paid order per code; codes are not traded.

A code held by a live order (paid, not cancelled or fully refunded) cannot earn a second order
anything; a code that passes between identities, or a device that claims many codes, is
qualification trading (资格码倒卖).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from detectors.base import Detector
from detectors.context import HOUR, LaterContext, PaidContext, window
from detectors.store import Store, revive


class CodeUse(NamedTuple):
    """An order that used a qualification code (table `codes`, in the order decided)."""

    order_id: str
    consumer: str
    live: bool  # it earned subsidy and is not cancelled or fully refunded: it holds the code


class DeviceCode(NamedTuple):
    """A code claimed on a device (table `device_codes`, oldest first)."""

    ts: float  # the order's event time
    code: str
    order_id: str
    consumer: str


class Qualification(Detector):
    """Codes held by live orders, codes passed between identities (the one-order rule).

    >>> from detectors.examples import order, run
    >>> run(order("alice", number=1, code="Q-1"), order("bob", number=2, hours=2, code="Q-1"))
    ['qualification_reuse: O-alice-1 O-bob-2']
    """

    name = "qualification"
    risk = "arbitrage"
    entities = ("qualification",)

    def on_paid(self, ctx: PaidContext, store: Store) -> None:
        qualification = ctx.event.qualification
        if qualification is None:
            return
        code = qualification.code
        uses: list[Any] | None = store.table("codes").get(code)
        if uses:
            self._reuse(ctx, code, revive(CodeUse, uses))

    def _reuse(self, ctx: PaidContext, code: str, uses: list[CodeUse]) -> None:
        order_id = ctx.order_id
        others = [u for u in uses if u.order_id != order_id]
        live = [u for u in others if u.live]
        if live and ctx.claim > 0 and all(u.consumer == ctx.consumer for u in live):
            # the person's own code, still held by a live order: the one-order rule, nothing more
            ctx.blocked = True
            if not ctx.consumer_problems:
                ctx.alert(
                    "consumer_eligibility",
                    "compliance",
                    "high",
                    "block",
                    ("consumer", ctx.consumer),
                    [ctx.order_id],
                    at_risk=ctx.claim,
                    evidence={
                        "problems": ["qualification_already_used"],
                        "live_orders": [u.order_id for u in live],
                    },
                )
                ctx.reasons.append("qualification_already_used")
        elif live and ctx.claim > 0:
            ctx.blocked = True
            ctx.alert(
                "qualification_reuse",
                self.risk,
                "high",
                "block",
                ("qualification", code),
                [u.order_id for u in live] + [order_id],
                at_risk=ctx.claim,
                evidence={
                    "live_orders": len(live),
                    "identities": len({u.consumer for u in others} | {ctx.consumer}),
                },
            )
        elif ctx.claim > 0 and any(u.consumer != ctx.consumer for u in others):
            ctx.alert(
                "qualification_shared",
                self.risk,
                "high",
                "hold",
                ("qualification", code),
                [u.order_id for u in others] + [order_id],
                at_risk=ctx.claim,
                evidence={"identities": len({u.consumer for u in others} | {ctx.consumer})},
            )

    def on_decided(self, ctx: PaidContext, store: Store) -> None:
        qualification = ctx.event.qualification
        if qualification is None:
            return
        table = store.table("codes")
        use = CodeUse(ctx.order_id, ctx.consumer, ctx.allowed > 0)
        uses = table.get(qualification.code)
        table[qualification.code] = (
            [*(u for u in revive(CodeUse, uses) if u.order_id != ctx.order_id), use]
            if uses
            else [use]
        )

    def on_later(self, ctx: LaterContext, store: Store) -> None:
        code = ctx.order.get("code")
        if not ctx.released or code is None:
            return
        table = store.table("codes")
        uses = revive(CodeUse, table.get(code, []))
        table[code] = [
            u._replace(live=False) if u.order_id == ctx.event.order_id else u for u in uses
        ]


class DeviceCodes(Detector):
    """A device claiming the codes of many people: qualification trading, watched per device.

    The honest look-alike it leaves alone: a household tablet on which each of four people
    claims their own code (up to `device_max_codes` identities; one person's new code per
    order is how codes work), tested in tests/unit/detectors/test_lookalikes.py.

    >>> from detectors.examples import order, run
    >>> found = run(*[order(p, number=n, hours=n, device="dv-desk", code=f"Q-{p}")
    ...               for n, p in enumerate("abcde")])
    >>> [a for a in found if a.startswith("device_many_codes")]  # a device ring, besides
    ['device_many_codes: O-a-0 O-b-1 O-c-2 O-d-3 O-e-4']
    """

    name = "device_codes"
    risk = "arbitrage"
    entities = ("device",)

    def on_paid(self, ctx: PaidContext, store: Store) -> None:
        qualification = ctx.event.qualification
        if qualification is None or not ctx.owns("device"):
            return
        code = qualification.code
        rule = self.rules.detectors.qualification
        table = store.table("device_codes")
        device = ctx.event.device_id
        entry = DeviceCode(ctx.ts, code, ctx.order_id, ctx.consumer)
        seen = table.get(device)
        if seen is None:  # most devices are seen once
            table[device] = [entry]
            return
        entries = window(revive(DeviceCode, seen), ctx.ts, rule.device_window_hours * HOUR)
        entries.append(entry)
        table[device] = entries
        if len(entries) <= rule.device_max_codes:
            return
        # codes of distinct people: one person's new code per order is how codes work
        holders = {e.consumer for e in entries}
        codes = {e.code for e in entries}
        if len(holders) > rule.device_max_codes and ctx.claim > 0:
            ctx.alert(
                "device_many_codes",
                self.risk,
                "high",
                "hold",
                ("device", device),
                list(dict.fromkeys(e.order_id for e in entries)),
                at_risk=ctx.claim,
                evidence={
                    "distinct_codes": len(codes),
                    "identities": len(holders),
                    "window_hours": rule.device_window_hours,
                },
            )
