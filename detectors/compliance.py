"""Compliance: the programme's own rules, decided on the order itself.

Ineligible consumer, ineligible product and a claim above what the rules allow. Each unit's
subsidy is `min(round(rate * unit_price, 2), cap)` (the rules file's rates and caps); an
order-basis programme (the logistics warehouses) pays `min(round(rate * order_amount, 2), cap)`.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from decimal import Decimal

from detectors.base import Detector
from detectors.context import ItemVerdict, PaidContext
from detectors.products import Product, catalog_at, product_problems
from detectors.store import Store
from schemas.money import ZERO, to_fen
from schemas.orders import Item
from schemas.outputs import Action, Severity
from schemas.rules import ANY_CATEGORY, BudgetLine, ProgrammeRules


class Compliance(Detector):
    """Eligibility of the consumer and of each product, and the claimed amount.

    >>> from detectors.examples import order, run
    >>> run(order("alice", number=1, subsidy=650.0))  # 15 % of 4,999 is capped at 500
    ['subsidy_amount: O-alice-1']
    """

    name = "compliance"
    risk = "compliance"
    entities = ("sku",)

    def __init__(self, rules: ProgrammeRules) -> None:
        super().__init__(rules)
        self._lines: dict[str, dict[str, tuple[str, BudgetLine]]] = {
            pname: {
                category: (lname, line)
                for lname, line in programme.budget_lines.items()
                for category in line.categories
            }
            for pname, programme in rules.programmes.items()
        }
        self._regions = frozenset(rules.eligibility.delivery_regions)
        self._markups = {
            name: None if p.max_markup is None else 1 + p.max_markup
            for name, p in rules.programmes.items()
        }
        # epoch seconds: comparing floats is cheaper than comparing aware datetimes
        self._periods = {
            name: (p.start.timestamp(), p.end.timestamp()) for name, p in rules.programmes.items()
        }

    def on_paid(self, ctx: PaidContext, store: Store) -> None:
        event = ctx.event
        programme = ctx.programme
        problems = ctx.consumer_problems
        if programme is None:
            problems.append("unknown_programme")
        else:
            start, end = self._periods[event.programme]
            if not start <= ctx.ts <= end:
                problems.append("outside_programme_period")
            if programme.requires_qualification:
                if event.qualification is None:
                    problems.append("qualification_missing")
                elif not event.qualification.verified:
                    problems.append("qualification_unverified")
        consumer = event.consumer
        eligibility = self.rules.eligibility
        if eligibility.require_real_name and not consumer.real_name_verified:
            problems.append("not_real_name_verified")
        if eligibility.require_valid_id_checksum and not consumer.id_checksum_ok:
            problems.append("invalid_id_checksum")
        if ctx.local.year - consumer.birth_year < eligibility.min_age:
            problems.append("under_age")
        if event.delivery.region not in self._regions:
            problems.append("delivery_outside_district")

        if programme is not None:
            lines = self._lines[ctx.event.programme]
            if programme.basis == "order":
                self._assess_order(ctx)
            else:
                catalog = store.table("catalog") if programme.requires_catalog else None
                for item in event.items:
                    ctx.items.append(self._assess_item(ctx, item, lines, catalog))
        amount = ZERO
        if not problems:
            if ctx.order_line is not None:
                amount = ctx.order_subsidy if ctx.order_granted else ZERO
            else:
                for v in ctx.items:
                    if v.compliant:
                        amount += v.unit_subsidy * v.item.quantity
        ctx.compliant_amount = amount
        for v in ctx.items:
            if v.compliant and not v.inflated:
                v.granted_units = v.item.quantity
        if ctx.claim > amount:
            self._alert(ctx, amount)

    def _assess_item(
        self,
        ctx: PaidContext,
        item: Item,
        lines: dict[str, tuple[str, BudgetLine]],
        catalog: MutableMapping[str, Product] | None,
    ) -> ItemVerdict:
        verdict = ItemVerdict(item)
        found = lines.get(item.category)
        if found is None:
            verdict.problems.append("category_not_eligible")
            return verdict
        verdict.line_name, line = found
        verdict.line = line
        grade = item.energy_grade
        programme = ctx.programme
        if catalog is not None and programme is not None:
            name = ctx.event.programme
            found_product = catalog_at(catalog, item.sku, ctx.ts)
            problems, verdict.inflated = product_problems(
                found_product, item, name, ctx.ts, self._markups[name]
            )
            verdict.problems.extend(problems)
        rate = line.rate_for(grade)
        if rate is None:
            verdict.problems.append("energy_grade_not_eligible")
            return verdict
        if line.max_unit_price is not None and item.unit_price > line.max_unit_price:
            verdict.problems.append("unit_price_above_limit")
        unit = to_fen(rate * item.unit_price)
        if line.cap_per_unit is not None and unit > line.cap_per_unit:
            unit = line.cap_per_unit
        verdict.unit_subsidy = unit
        return verdict

    def _assess_order(self, ctx: PaidContext) -> None:
        programme = ctx.programme
        assert programme is not None
        # An order-basis programme has exactly one budget line (checked when the rules load).
        ctx.order_line, line = next(iter(programme.budget_lines.items()))
        event = ctx.event
        problems = []
        if programme.warehouses is not None and event.warehouse_id not in programme.warehouses:
            problems.append("warehouse_not_registered")
        if line.min_order_amount is not None and event.order_amount < line.min_order_amount:
            problems.append("order_below_minimum")
        if ANY_CATEGORY not in line.categories:
            if not any(item.category in line.categories for item in event.items):
                problems.append("category_not_eligible")
        rate = line.rate_for(None) or ZERO
        subsidy = to_fen(rate * event.order_amount)
        if line.cap_per_order is not None and subsidy > line.cap_per_order:
            subsidy = line.cap_per_order
        ctx.order_subsidy = subsidy
        ctx.order_granted = not problems
        ctx.items.extend(ItemVerdict(item, problems=list(problems)) for item in event.items)

    def _alert(self, ctx: PaidContext, amount: Decimal) -> None:
        item_problems = sorted({p for v in ctx.items for p in v.problems})
        severity: Severity
        action: Action
        if ctx.consumer_problems:
            detector, severity, action = "consumer_eligibility", "high", "block"
            entity = ("consumer", ctx.consumer)
            problems = ctx.consumer_problems
        elif item_problems:
            detector, severity, action = "product_eligibility", "medium", "block"
            entity = ("merchant", ctx.event.merchant_id)
            problems = item_problems
        else:
            detector, severity, action = "subsidy_amount", "medium", "hold"
            entity = ("merchant", ctx.event.merchant_id)
            problems = ["subsidy_above_rules"]
        ctx.alert(
            detector,
            "compliance",
            severity,
            action,
            entity,
            [ctx.order_id],
            at_risk=ctx.claim - amount,
            evidence={
                "problems": problems,
                "claimed": ctx.claim,
                "allowed_by_rules": amount,
                "programme": ctx.event.programme,
            },
        )
        for problem in problems:
            if problem not in ctx.reasons:
                ctx.reasons.append(problem)


class PriceInflation(Detector):
    """先涨价后补贴: a unit price above the registered reference price by more than the margin.

    The compliance pass marks such units; they earn nothing, and when the claim counted on them
    the merchant is flagged.

    >>> from detectors.examples import order, run
    >>> run(order("alice", number=1, price=5999.0))  # registered at 4,999
    ['price_inflation: O-alice-1']
    """

    name = "price_inflation"
    risk = "fraud"
    entities = ("merchant",)

    def on_paid(self, ctx: PaidContext, store: Store) -> None:
        inflated = [
            v for v in ctx.items if v.inflated and v.compliant and not ctx.consumer_problems
        ]
        if not inflated:
            return
        at_risk = sum((v.unit_subsidy * v.item.quantity for v in inflated), ZERO)
        if ctx.claim <= ctx.compliant_amount - at_risk:
            return
        catalog = store.table("catalog")
        skus = []
        for v in inflated:
            found = catalog_at(catalog, v.item.sku, ctx.ts)
            reference = found.entry.reference_price if found is not None else None
            skus.append(
                {
                    "sku": v.item.sku,
                    "unit_price": v.item.unit_price,
                    "reference_price": reference,
                    "markup": float(v.item.unit_price / reference - 1) if reference else None,
                }
            )
        ctx.alert(
            self.name,
            self.risk,
            "high",
            "block",
            ("merchant", ctx.event.merchant_id),
            [ctx.order_id],
            at_risk=min(at_risk, ctx.claim),
            evidence={
                "items": skus,
                "max_markup": self.rules.programmes[ctx.event.programme].max_markup,
            },
        )
