"""The deciding detectors' state, rebuilt from the store: what the decision API decides against.

The store keeps the monitor's decisions and ledgers, not the detectors' own state, so the state
is derived from them, the way the detectors built it:

- `seen_events`, `orders`: the event and order ids decided (a repeat is refused);
- `quota`: per consumer, what each order granted took of each quota key, replayed in event-time
  order with the releases (a cancellation or full refund: its claw-backs reach the whole
  allowed subsidy) at their own times, with the quota check's own room rule;
- `budget`: each line's and programme's spend, grants and holds less claw-backs, to the fen;
- `catalog`: the catalog file (the store keeps none).

An order's lines count towards its quota as the quota check counted them: only those the
compliance check grants (run again, on the stored line and the catalog). Not in the store, so
not here: the qualification codes of earlier orders (the store does not record an order's
code), so the API's code check sees only the order it is asked about; and a line whose stated
energy grade differed from the catalog's (the ledger keeps the catalog's).
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, select

from detectors.compliance import Compliance
from detectors.context import period_key
from detectors.products import Product, product
from detectors.quotas import item_plans
from reports.rows import CLAWBACK, GRANT, HOLD
from reports.tables import decisions, fund_ledger, sales_ledger
from schemas.decode import decode_catalog
from schemas.money import ZERO
from schemas.orders import Item
from schemas.rules import ProgrammeRules


@dataclass
class Snapshot:
    """State tables as `detectors.store.Store` holds them, plus what it was built from."""

    tables: dict[str, Any] = field(default_factory=dict)
    orders: int = 0
    built_at: float = 0.0


def load_catalog(path: Path | None) -> dict[str, Product]:
    """The catalog file's products by SKU (a later line replaces an earlier one)."""
    out: dict[str, Product] = {}
    if path is None:
        return out
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                entry = decode_catalog(line.rstrip(b"\r\n"))
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: {exc}") from None
            out[entry.sku] = product(entry)
    return out


class _Plans:
    """Each category's quota, the quota check's own (`item_plans`); and each order-basis
    programme's quota: (key prefix, period, limit)."""

    def __init__(self, rules: ProgrammeRules) -> None:
        self.rules = rules
        self.items = item_plans(rules)
        self.orders: dict[str, tuple[str, str, int]] = {}
        for pname, programme in rules.programmes.items():
            if programme.basis != "order":
                continue
            for lname, line in programme.budget_lines.items():
                if line.quota is not None:
                    self.orders[pname] = (f"{pname}|{lname}|", line.quota.period, line.quota.count)

    def taking(
        self, programme: str, at: datetime, lines: list[tuple[str, int]], used: dict[str, int]
    ) -> dict[str, int]:
        """What an order granted something took of its consumer's quotas."""
        local = at.astimezone(self.rules.timezone)
        taking: dict[str, int] = {}
        known = self.rules.programmes.get(programme)
        if known is None:
            return taking
        if known.basis == "order":
            plan = self.orders.get(programme)
            if plan is not None:
                prefix, period, limit = plan
                key = prefix + period_key(local, period)
                if used.get(key, 0) < limit:
                    taking[key] = 1
            return taking
        plans = self.items.get(programme, {})
        for category, quantity in lines:
            item_plan = plans.get(category)
            if item_plan is None:
                continue
            prefix, period, limit, per_item = item_plan
            key = prefix + period_key(local, period)
            had = used.get(key, 0)
            if per_item:
                grant = min(quantity, max(limit - had - taking.get(key, 0), 0))
                if grant:
                    taking[key] = taking.get(key, 0) + grant
            elif had < limit:
                taking[key] = 1
        return taking


def build(connection: Connection, rules: ProgrammeRules, catalog: dict[str, Product]) -> Snapshot:
    """The deciding detectors' tables as the store's decisions and ledgers imply them."""
    seen: dict[str, int] = {}
    orders: dict[str, int] = {}
    granted: dict[str, tuple[datetime, str, str, Decimal]] = {}
    for row in connection.execute(
        select(
            decisions.c.order_id,
            decisions.c.event_id,
            decisions.c.decided_at,
            decisions.c.programme,
            decisions.c.consumer,
            decisions.c.allowed_subsidy,
        )
    ):
        seen[row.event_id] = 1
        orders[row.order_id] = 1
        if row.allowed_subsidy > 0:
            granted[row.order_id] = (
                row.decided_at,
                row.programme,
                row.consumer,
                row.allowed_subsidy,
            )
    budget, released = _budget(connection, rules, granted)
    quota = _quota(connection, rules, catalog, granted, released)
    tables: dict[str, Any] = {
        "seen_events": seen,
        "orders": orders,
        "quota": quota,
        "budget": budget,
        "codes": {},
        "pending": {},
        "catalog": catalog,
    }
    return Snapshot(tables, len(orders))


def _budget(
    connection: Connection,
    rules: ProgrammeRules,
    granted: dict[str, tuple[datetime, str, str, Decimal]],
) -> tuple[dict[str, Any], dict[str, datetime]]:
    """Spend per line and programme; and when each fully given back order was released."""
    used: dict[str, Decimal] = defaultdict(lambda: ZERO)
    clawed: dict[str, Decimal] = defaultdict(lambda: ZERO)
    last_clawback: dict[str, datetime] = {}
    for row in connection.execute(
        select(
            fund_ledger.c.order_id,
            fund_ledger.c.booked_at,
            fund_ledger.c.programme,
            fund_ledger.c.budget_line,
            fund_ledger.c.kind,
            fund_ledger.c.amount,
        ).where(fund_ledger.c.kind.in_((GRANT, HOLD, CLAWBACK)))
    ):
        if row.budget_line is None:
            continue
        key = f"{row.programme}/{row.budget_line}"
        if row.kind == CLAWBACK:
            used[key] -= row.amount
            clawed[row.order_id] += row.amount
            at = last_clawback.get(row.order_id)
            if at is None or row.booked_at > at:
                last_clawback[row.order_id] = row.booked_at
        else:
            used[key] += row.amount
    table: dict[str, Any] = {}
    for pname, programme in rules.programmes.items():
        total = ZERO
        for lname, line in programme.budget_lines.items():
            key = f"{pname}/{lname}"
            spent = max(used.get(key, ZERO), ZERO)
            total += spent
            if key in used:
                table[key] = {"used": spent, "sent": _crossed(rules, spent, line.budget)}
        if len(programme.budget_lines) > 1 and total > 0:
            table[pname] = {"used": total, "sent": _crossed(rules, total, programme.budget)}
    released = {
        order_id: last_clawback[order_id]
        for order_id, amount in clawed.items()
        if order_id in granted and amount >= granted[order_id][3]
    }
    return table, released


def _crossed(rules: ProgrammeRules, used: Decimal, budget: Decimal) -> list[str]:
    return [str(t) for t in rules.budget_alert_thresholds if used >= t * budget]


class _Granting:
    """Whether the compliance check grants a stored order line: its own code, run again."""

    def __init__(self, rules: ProgrammeRules, catalog: dict[str, Product]) -> None:
        self.rules = rules
        self.catalog = catalog
        self.compliance = Compliance(rules)
        self.lines = {
            pname: {
                c: (lname, line) for lname, line in p.budget_lines.items() for c in line.categories
            }
            for pname, p in rules.programmes.items()
        }

    def grants(self, row: Any) -> bool:
        programme = self.rules.programmes.get(row.programme)
        if programme is None or programme.basis == "order":
            return programme is not None
        item = Item.model_construct(
            sku=row.sku,
            category=row.category,
            quantity=row.quantity,
            unit_price=row.unit_price,
            energy_grade=row.energy_grade,
        )
        # the three things of an order that the check of one line reads
        ctx: Any = SimpleNamespace(
            programme=programme,
            ts=row.sold_at.timestamp(),
            event=SimpleNamespace(programme=row.programme),
        )
        catalog = self.catalog if programme.requires_catalog else None
        verdict = self.compliance._assess_item(ctx, item, self.lines[row.programme], catalog)
        return verdict.compliant and not verdict.inflated


def _quota(
    connection: Connection,
    rules: ProgrammeRules,
    catalog: dict[str, Product],
    granted: dict[str, tuple[datetime, str, str, Decimal]],
    released: dict[str, datetime],
) -> dict[str, dict[str, int]]:
    lines: dict[str, list[tuple[str, int]]] = defaultdict(list)
    granting = _Granting(rules, catalog)
    for row in connection.execute(
        select(
            sales_ledger.c.order_id,
            sales_ledger.c.sold_at,
            sales_ledger.c.programme,
            sales_ledger.c.sku,
            sales_ledger.c.category,
            sales_ledger.c.energy_grade,
            sales_ledger.c.unit_price,
            sales_ledger.c.quantity,
        ).order_by(sales_ledger.c.order_id, sales_ledger.c.line_no)
    ):
        if row.order_id in granted and granting.grants(row):
            lines[row.order_id].append((row.category, row.quantity))
    # decisions and releases in event-time order, a decision first at the same instant
    timeline: list[tuple[datetime, int, str]] = [
        (at, 0, order_id) for order_id, (at, _, _, _) in granted.items()
    ]
    timeline.extend((at, 1, order_id) for order_id, at in released.items())
    heapq.heapify(timeline)
    plans = _Plans(rules)
    quota: dict[str, dict[str, int]] = {}
    took: dict[str, dict[str, int]] = {}
    while timeline:
        at, kind, order_id = heapq.heappop(timeline)
        _, programme, consumer, _ = granted[order_id]
        used = quota.setdefault(consumer, {})
        if kind == 0:
            taking = plans.taking(programme, at, lines.get(order_id, []), used)
            for key, n in taking.items():
                used[key] = used.get(key, 0) + n
            took[order_id] = taking
        else:
            for key, n in took.pop(order_id, {}).items():
                left = used.get(key, 0) - n
                if left > 0:
                    used[key] = left
                else:
                    used.pop(key, None)
    return {consumer: used for consumer, used in quota.items() if used}
