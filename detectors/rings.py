"""Identity rings (借用身份证 / 一人多号) and resale pipelines through pickup points.

Several identities, each within its quota, that share one delivery address, device, phone or
payment account and buy the same high-resale category within days. A family shares a flat but
buys different things over weeks; an office reception or a pickup station (驿站) receives many
people's parcels, spread over time and categories: counting distinct identities per category
inside a short window keeps them apart. A pickup station serves a whole neighbourhood, so its
threshold is its own (`detectors.pickup_pipeline`); so does an address that many people have
received goods of several categories at lately (`detectors.reception`: an office reception, a
building's front desk), even when the platform does not mark it a pickup point; a pipeline's
address, where many identities receive the same goods, stays an address.

The honest look-alikes it leaves alone: a family of 2-4 in one flat, often on one device and one
payment account, buying different things over weeks; an office reception where three colleagues
buy the same new phone in one week; a pickup station with dozens of residents. Sharing an
address or a device is what households and offices do, so it is never evidence on its own: an
alert needs several identities buying the same resale goods within days (tests in
tests/unit/detectors/test_lookalikes.py).

Once a group crosses its threshold, its alert names every order of the group the state still
holds (back to `follow_hours`, earlier ones included), and each later order of the group, up to
`follow_hours` after the last alert, gets its own alert naming the group again.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import NamedTuple

from detectors.base import Detector
from detectors.context import DAY, HOUR, PaidContext, window
from detectors.store import Store, revive
from schemas.money import ZERO
from schemas.rules import ProgrammeRules, WindowRule


class RingEntry(NamedTuple):
    """One order's resale category at a shared attribute (tables `ring_<entity>`, oldest first):
    an order of several categories leaves one entry per category."""

    ts: float  # the order's event time
    consumer: str
    category: str
    order_id: str
    claim: Decimal | str  # the subsidy claimed: a string once restored, read with Decimal(x)


class Recipients(NamedTuple):
    """Who received subsidised goods at an address lately, and of which categories (table
    `recipients`): each with the event time it was last seen there."""

    consumers: dict[str, float]
    categories: dict[str, float]


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
        event = ctx.event
        rules = self.rules.detectors
        busy = False
        if not event.delivery.pickup_point and ctx.owns("address"):
            busy = self._shared_desk(ctx, store, event.delivery.address_hash)
        categories = {v.item.category for v in ctx.items} & self._resale
        if not categories:
            return
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
                rules.pickup_pipeline if busy else rules.rings,
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

    def _shared_desk(self, ctx: PaidContext, store: Store, address: str) -> bool:
        """Whether many identities received subsidised goods of several categories at
        `address` lately (this order included): a reception desk, not a flat. The identities and
        the categories are kept with the time each was last seen there."""
        table = store.table("recipients")
        stored: Sequence[dict[str, float]] | None = table.get(address)
        categories = {v.item.category for v in ctx.items}
        if stored is None:  # most addresses are one household's
            table[address] = Recipients({ctx.consumer: ctx.ts}, dict.fromkeys(categories, ctx.ts))
            return False
        seen = Recipients(*stored)  # a list once restored
        rule = self.rules.detectors.reception
        cutoff = ctx.ts - rule.days * DAY
        who = {k: t for k, t in seen.consumers.items() if t >= cutoff}
        what = {k: t for k, t in seen.categories.items() if t >= cutoff}
        who[ctx.consumer] = ctx.ts
        what.update(dict.fromkeys(categories, ctx.ts))
        table[address] = Recipients(who, what)
        return len(who) >= rule.min_identities and len(what) >= rule.min_categories

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
        fresh = [
            RingEntry(ctx.ts, ctx.consumer, c, ctx.order_id, ctx.claim) for c in sorted(categories)
        ]
        seen = table.get(key)
        if seen is None:  # most addresses, devices, phones and accounts are seen once
            table[key] = fresh
            return
        span = rule.window_hours * HOUR
        follow = (rule.follow_hours or rule.window_hours) * HOUR
        entries = window(revive(RingEntry, seen), ctx.ts, max(span, follow))
        entries.extend(fresh)
        table[key] = entries
        flags = store.table(f"ring_alerted_{entity}")
        alerted: dict[str, float] = flags.get(key) or {}
        if len(entries) < rule.min_identities and not alerted:
            return
        cutoff = ctx.ts - span
        raised = False
        for category in sorted(categories):
            members = [e for e in entries if e.category == category]
            identities = {e.consumer for e in members if e.ts >= cutoff}
            last = alerted.get(category)
            following = last is not None and ctx.ts - last <= follow
            if len(identities) < rule.min_identities and not following:
                continue
            raised = True
            alerted = {**alerted, category: ctx.ts}
            orders = list(dict.fromkeys(e.order_id for e in members))
            group = {e.consumer for e in members}
            # one claim per order (its categories share it)
            by_order = {e.order_id: e for e in members}
            at_risk = sum((Decimal(e.claim) for e in by_order.values()), ZERO)
            ctx.alert(
                detector,
                risk,
                "high",
                "hold",
                (entity, key),
                orders,
                at_risk=at_risk,
                score=min(1.0, 0.6 + 0.1 * (len(group) - rule.min_identities + 1)),
                evidence={
                    "distinct_consumers": len(group),
                    "within_window": len(identities),
                    "window_hours": rule.window_hours,
                    "category": category,
                    "min_identities": rule.min_identities,  # the threshold, for the reader
                },
            )
        if raised:
            flags[key] = alerted
