"""The order book a simulation writes: events in emission order and the truth of every order."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas.money import ZERO, to_fen
from schemas.rules import ProgrammeRules
from simulation.catalog import Sku
from simulation.population import Person

Event = dict[str, Any]


def item(
    sku: Sku,
    price: Decimal,
    quantity: int = 1,
    *,
    category: str | None = None,
    grade: int | None | str = "catalog",
) -> dict[str, Any]:
    return {
        "sku": sku.sku,
        "category": category or sku.category,
        "quantity": quantity,
        "unit_price": price,
        "energy_grade": sku.grade if grade == "catalog" else grade,
    }


class Book:
    def __init__(self, seed: int, rng: random.Random, rules: ProgrammeRules) -> None:
        self.seed = seed
        self.rng = rng
        self.rules = rules
        self.events: list[tuple[datetime, int, Event]] = []
        self.truth: dict[str, dict[str, Any]] = {}
        self._n = 0

    # -- amounts the rules allow (the oracle the decisions are checked against) -------------

    def unit_subsidy(self, category: str, price: Decimal, grade: int | None) -> Decimal:
        for line in self.rules.programmes["featured_goods"].budget_lines.values():
            if category in line.categories:
                rate = line.rate_for(grade)
                if rate is None or (
                    line.max_unit_price is not None and price > line.max_unit_price
                ):
                    return ZERO
                unit = to_fen(rate * price)
                cap = line.cap_per_unit
                return min(unit, cap) if cap is not None else unit
        return ZERO

    def line_of(self, event: Event) -> str | None:
        """The budget line an order's subsidy is charged to (its first subsidised line)."""
        programme = self.rules.programmes[event["programme"]]
        if programme.basis == "order":
            return f"{event['programme']}/{next(iter(programme.budget_lines))}"
        for i in event["items"]:
            for name, line in programme.budget_lines.items():
                if i["category"] in line.categories:
                    return f"{event['programme']}/{name}"
        return None

    def respect_budgets(self) -> int:
        """Honest orders stop claiming once their budget line is spent, as the platform stops
        offering the discount then; returns how many orders were turned into full-price ones."""
        budgets = {
            f"{p}/{n}": line.budget
            for p, prog in self.rules.programmes.items()
            for n, line in prog.budget_lines.items()
        }
        spent: dict[str, Decimal] = {}
        turned = 0
        # in the order the monitor reads them: a late payment is charged when it arrives
        paid = sorted((at, n, e) for at, n, e in self.events if e["event_type"] == "order_paid")
        for _, _, event in paid:
            truth = self.truth[event["order_id"]]
            line = self.line_of(event)
            amount = truth["expected_subsidy"]
            if line is None or not amount:
                continue
            used = spent.get(line, ZERO)
            if truth["label"] == "legit" and used + amount > budgets[line]:
                event["subsidy_amount"] = ZERO
                event["payment"]["paid_amount"] = event["order_amount"]
                truth["expected_subsidy"] = ZERO
                turned += 1
                continue
            spent[line] = used + amount
        return turned

    def featured_subsidy(self, items: list[dict[str, Any]]) -> Decimal:
        return sum(
            (
                self.unit_subsidy(i["category"], i["unit_price"], i["energy_grade"]) * i["quantity"]
                for i in items
            ),
            ZERO,
        )

    def logistics_subsidy(self, amount: Decimal) -> Decimal:
        line = next(iter(self.rules.programmes["logistics_warehouse"].budget_lines.values()))
        if line.min_order_amount is not None and amount < line.min_order_amount:
            return ZERO
        rate = line.rate or ZERO
        unit = to_fen(rate * amount)
        return min(unit, line.cap_per_order) if line.cap_per_order is not None else unit

    # -- events -----------------------------------------------------------------------------

    def _next(self) -> int:
        self._n += 1
        return self._n

    def emit(self, at: datetime, event: Event, emit_at: datetime | None = None) -> None:
        self.events.append((emit_at or at, self._next(), event))

    def paid(
        self,
        person: Person,
        at: datetime,
        items: list[dict[str, Any]],
        *,
        cohort: str,
        pattern: str = "none",
        risk: str | None = None,
        programme: str = "featured_goods",
        claim: Decimal | None = None,
        expected: Decimal | None = None,
        code: str | None | bool = True,
        code_verified: bool = True,
        merchant: str = "M0001",
        warehouse: str | None = None,
        device: str | None = None,
        emit_at: datetime | None = None,
    ) -> Event:
        at = at.replace(microsecond=0)
        n = self._next()
        order_id = f"PS{at:%Y%m%d}{self.seed % 100:02d}{n:07d}"
        amount = sum((i["unit_price"] * i["quantity"] for i in items), ZERO)
        if programme == "featured_goods":
            rule = self.featured_subsidy(items)
        else:
            rule = self.logistics_subsidy(amount)
        claim = rule if claim is None else claim
        expected = min(claim, rule) if expected is None else expected
        if code is True:
            code = self.new_code()
        event: Event = {
            "schema_version": 1,
            "event_id": f"ev-{self.seed}-{n:08d}",
            "event_type": "order_paid",
            "occurred_at": at.isoformat(),
            "order_id": order_id,
            "programme": programme,
            "merchant_id": merchant,
            "consumer": {
                "account_id": person.account_id,
                "id_hash": person.id_hash,
                "id_region": person.region if person.region != "outside" else "440307",
                "birth_year": person.birth_year,
                "id_checksum_ok": person.checksum_ok,
                "phone_hash": person.phone_hash,
                "real_name_verified": person.real_name,
                "account_created_at": person.account_created.isoformat(),
            },
            "qualification": {"code": code, "verified": code_verified} if code else None,
            "device_id": device or person.device,
            "ip": person.ip,
            "payment": {
                "account_hash": person.pay_hash,
                "method": self.rng.choice(("wechat", "alipay", "unionpay", "card")),
                "paid_amount": amount - claim,
            },
            "delivery": {
                "address_hash": person.addr_hash,
                "region": "440307" if person.region == "outside" else "440310",
                "pickup_point": person.pickup,
            },
            "warehouse_id": warehouse,
            "items": items,
            "order_amount": amount,
            "subsidy_amount": claim,
            "refund_amount": None,
        }
        self.emit(at, event, emit_at)
        self.truth[order_id] = {
            "order_id": order_id,
            "label": "legit" if risk is None else "fraud",
            "risk": risk,
            "pattern": pattern,
            "cohort": cohort,
            "programme": programme,
            "expected_subsidy": expected,
        }
        return event

    def new_code(self) -> str:
        self._codes = getattr(self, "_codes", 0) + 1
        return f"GDQ-2026-{self.seed % 100:02d}{self._codes:07d}"

    def later(self, order: Event, kind: str, at: datetime, refund: Decimal | None = None) -> Event:
        n = self._next()
        event: Event = {
            "schema_version": 1,
            "event_id": f"ev-{self.seed}-{n:08d}",
            "event_type": kind,
            "occurred_at": at.replace(microsecond=0).isoformat(),
            "order_id": order["order_id"],
            "programme": order["programme"],
            "merchant_id": order["merchant_id"],
            "consumer": {"id_hash": order["consumer"]["id_hash"]},
        }
        if refund is not None:
            event["refund_amount"] = refund
        self.emit(at, event)
        return event

    def aftermath(self, order: Event, at: datetime, *, calm: bool = False) -> None:
        """What usually follows a payment: delivery; now and then a cancellation or a refund.

        `calm` orders are only delivered (a scenario that depends on what follows them)."""
        r = self.rng.random()
        paid = order["payment"]["paid_amount"]
        if calm or r < 0.92:
            self.later(order, "order_delivered", at + timedelta(hours=self.rng.uniform(20, 120)))
        elif r < 0.95:
            self.later(order, "order_cancelled", at + timedelta(hours=self.rng.uniform(0.2, 6)))
        else:
            delivered = at + timedelta(hours=self.rng.uniform(20, 100))
            self.later(order, "order_delivered", delivered)
            share = paid if self.rng.random() < 0.5 else to_fen(paid * Decimal("0.3"))
            self.later(
                order, "order_refunded", delivered + timedelta(hours=self.rng.uniform(2, 90)), share
            )
