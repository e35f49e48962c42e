"""Quotas per person (each budget line's `quota` in the rules file), and the hoarding they
reveal when claimed beyond.

Quota counts what was granted: units per category over the whole period, or subsidised orders
per budget line and calendar week or day. A cancellation or full refund gives them back.
"""

from __future__ import annotations

from detectors.base import Detector
from detectors.context import LaterContext, PaidContext, period_key
from detectors.store import Store
from schemas.money import ZERO
from schemas.rules import ProgrammeRules

ItemPlan = tuple[str, str, int, bool]
"""A category's quota: (quota key prefix, period, limit, counted per item)."""


def item_plans(rules: ProgrammeRules) -> dict[str, dict[str, ItemPlan]]:
    """Each programme's per-category quotas, as the quota check applies them to an item.

    >>> from schemas.rules import load_rules
    >>> item_plans(load_rules())["featured_goods"]["mobile_phone"]  # one phone a person
    ('featured_goods|mobile_phone|', 'programme', 1, True)
    """
    out: dict[str, dict[str, ItemPlan]] = {}
    for pname, programme in rules.programmes.items():
        plans = out[pname] = {}
        for lname, line in programme.budget_lines.items():
            if line.quota is None:
                continue
            for category in line.categories:
                scope = category if line.quota.per == "category" else lname
                plans[category] = (
                    f"{pname}|{scope}|",
                    line.quota.period,
                    line.quota_count(category) or 0,
                    line.quota.unit == "item",
                )
    return out


class Quotas(Detector):
    """The per-person quotas of each budget line; the over-quota part of a claim earns nothing.

    >>> from detectors.examples import order, run
    >>> run(order("alice", number=1), order("alice", number=2, hours=30))  # a second phone
    ['quota_breach: O-alice-2']
    """

    name = "quota_breach"
    risk = "hoarding"
    entities = ("consumer",)

    def __init__(self, rules: ProgrammeRules) -> None:
        super().__init__(rules)
        self._plans = item_plans(rules)

    def on_paid(self, ctx: PaidContext, store: Store) -> None:
        programme = ctx.programme
        if programme is None or ctx.consumer_problems or ctx.blocked:
            return
        used: dict[str, int] = store.table("quota").get(ctx.consumer, {})
        taking: dict[str, int] = {}
        cut = ZERO
        breaches = []
        pname = ctx.event.programme
        if programme.basis == "order":
            line = programme.budget_lines[ctx.order_line] if ctx.order_line else None
            if ctx.order_granted and line is not None and line.quota is not None:
                key = f"{pname}|{ctx.order_line}|{period_key(ctx.local, line.quota.period)}"
                if used.get(key, 0) >= line.quota.count:
                    ctx.order_granted = False
                    cut = ctx.order_subsidy
                    breaches.append({"quota": key, "limit": line.quota.count})
                else:
                    taking[key] = 1
        else:
            plans = self._plans[pname]
            for v in ctx.items:
                plan = plans.get(v.item.category) if v.granted_units else None
                if plan is None:
                    continue
                prefix, period, limit, per_item = plan
                key = prefix + period_key(ctx.local, period)
                had = used.get(key, 0)
                if per_item:
                    room = max(limit - had - taking.get(key, 0), 0)
                    grant = min(v.granted_units, room)
                    if grant:
                        taking[key] = taking.get(key, 0) + grant
                else:
                    grant = v.granted_units if had < limit else 0
                    if grant:
                        taking[key] = 1
                if grant < v.granted_units:
                    cut += v.unit_subsidy * (v.granted_units - grant)
                    breaches.append({"quota": key, "limit": limit, "used": had})
                    v.granted_units = grant
        ctx.quota_taking = taking
        if cut and ctx.claim > ctx.rule_amount():
            ctx.alert(
                self.name,
                self.risk,
                "medium",
                "block",
                ("consumer", ctx.consumer),
                [ctx.order_id],
                at_risk=min(cut, ctx.claim),
                evidence={"breaches": breaches, "programme": pname},
            )

    def on_decided(self, ctx: PaidContext, store: Store) -> None:
        taking = ctx.quota_taking
        if not taking or ctx.allowed <= 0:
            return
        table = store.table("quota")
        used = table.get(ctx.consumer)
        if used is None:
            used = dict(taking)
        else:
            for key, n in taking.items():
                used[key] = used.get(key, 0) + n
        table[ctx.consumer] = used
        ctx.order_state["quota"] = [[k, n] for k, n in taking.items()]

    def on_later(self, ctx: LaterContext, store: Store) -> None:
        taken = ctx.order.get("quota")
        if not ctx.released or not taken:
            return
        table = store.table("quota")
        consumer = ctx.order["consumer"]
        used = dict(table.get(consumer, {}))
        for key, n in taken:
            left = used.get(key, 0) - n
            if left > 0:
                used[key] = left
            else:
                used.pop(key, None)
        table[consumer] = used
