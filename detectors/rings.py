"""Identity rings (借用身份证 / 一人多号) and resale pipelines through pickup points.

Several identities, each within its quota, that share one delivery address, device, phone or
payment account and buy the same high-resale category within days. A family shares a flat but
buys different things over weeks; an office reception or a pickup station (驿站) receives many
people's parcels, spread over time and categories: counting distinct identities per category
inside a short window keeps them apart. A pickup station serves a whole neighbourhood, so its
threshold is its own (`detectors.pickup_pipeline`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from detectors.base import Detector
from detectors.context import HOUR, PaidContext, window
from detectors.store import Store
from schemas.money import ZERO
from schemas.rules import ProgrammeRules, WindowRule


class IdentityRings(Detector):
    """Distinct identities per shared attribute and resale category, inside a window.

    >>> from detectors.examples import order, run
    >>> run(*[order(p, number=n, hours=n, device="dv-shared") for n, p in enumerate("abc")])
    ['device_ring: O-a-0 O-b-1 O-c-2']
    """

    name = "identity_rings"
    risk = "hoarding"
    entities = ("address", "device", "phone", "payment_account")

    def __init__(self, rules: ProgrammeRules) -> None:
        super().__init__(rules)
        self._resale = frozenset(rules.detectors.resale_categories)

    def on_paid(self, ctx: PaidContext, store: Store) -> None:
        if ctx.claim <= 0:
            return
        categories = {v.item.category for v in ctx.items} & self._resale
        if not categories:
            return
        event = ctx.event
        rules = self.rules.detectors
        if event.delivery.pickup_point:
            self._track(
                ctx,
                store,
                "pickup_point",
                event.delivery.address_hash,
                categories,
                rules.pickup_pipeline,
                "pickup_pipeline",
                "arbitrage",
            )
        else:
            self._track(
                ctx,
                store,
                "address",
                event.delivery.address_hash,
                categories,
                rules.rings,
                "address_ring",
                self.risk,
            )
        self._track(
            ctx, store, "device", event.device_id, categories, rules.rings, "device_ring", self.risk
        )
        self._track(
            ctx,
            store,
            "phone",
            event.consumer.phone_hash,
            categories,
            rules.rings,
            "phone_ring",
            self.risk,
        )
        self._track(
            ctx,
            store,
            "payment_account",
            event.payment.account_hash,
            categories,
            rules.rings,
            "payment_ring",
            self.risk,
        )

    def _track(
        self,
        ctx: PaidContext,
        store: Store,
        entity: str,
        key: str,
        categories: set[str],
        rule: WindowRule,
        detector: str,
        risk: str,
    ) -> None:
        if not ctx.owns("address" if entity == "pickup_point" else entity):
            return
        table = store.table(f"ring_{entity}")
        fresh = [[ctx.ts, ctx.consumer, c, ctx.order_id, ctx.claim] for c in sorted(categories)]
        seen = table.get(key)
        if seen is None:  # most addresses, devices, phones and accounts are seen once
            table[key] = fresh
            return
        entries: list[list[Any]] = window(seen, ctx.ts, rule.window_hours * HOUR)
        entries.extend(fresh)
        table[key] = entries
        if len(entries) < rule.min_identities:
            return
        for category in sorted(categories):
            members = [e for e in entries if e[2] == category]
            identities = {e[1] for e in members}
            if len(identities) < rule.min_identities:
                continue
            orders = list(dict.fromkeys(e[3] for e in members))
            at_risk = sum((Decimal(e[4]) for e in {e[3]: e for e in members}.values()), ZERO)
            ctx.alert(
                detector,
                risk,
                "high",
                "hold",
                (entity, key),
                orders,
                at_risk=at_risk,
                score=min(1.0, 0.6 + 0.1 * (len(identities) - rule.min_identities + 1)),
                evidence={
                    "distinct_consumers": len(identities),
                    "window_hours": rule.window_hours,
                    "category": category,
                    "min_identities": rule.min_identities,  # the threshold, for the reader
                },
            )
