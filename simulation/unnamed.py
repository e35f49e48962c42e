"""Fraud that no rule names: the anomalies the online-learning stage is there for. Each
instance stays below every threshold of the rules file, on purpose, so only a model that
weighs many weak signals together (or a merchant's drift) can see it.

They live apart from `patterns.py` because they are opt-in (`generate(..., unnamed=True)`,
`riskmon simulate --unnamed`): without them the simulator writes the same bytes as before.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from simulation.book import Book, Event, item
from simulation.catalog import APPLIANCES, RESALE, Catalog
from simulation.honest import Clock
from simulation.population import People, Person

# Every unnamed pattern's name; `evaluate` scores the learning stage on these.
UNNAMED = ("anomaly_basket", "odd_hour_burst", "slow_drip_ring", "merchant_drift")


class Unnamed:
    def __init__(
        self, book: Book, people: People, catalog: Catalog, clock: Clock, merchants: list[str]
    ) -> None:
        self.book, self.people, self.catalog, self.clock = book, people, catalog, clock
        self.rng = book.rng
        self.merchants = merchants

    def all(self) -> dict[str, tuple[Callable[[], int], float]]:
        """pattern -> (one instance, instances per 30 days)."""
        return {
            "anomaly_basket": (self.anomaly_basket, 24),
            "odd_hour_burst": (self.odd_hour_burst, 10),
            "slow_drip_ring": (self.slow_drip_ring, 5),
            "merchant_drift": (self.merchant_drift, 1),
        }

    def _unit(self, category: str) -> Event:
        """One unit of an eligible product of the category, at a price near its reference."""
        sku = self.catalog.pick(category)
        return item(sku, self.catalog.price(sku))

    def _paid(
        self,
        pattern: str,
        person: Person,
        at: datetime,
        goods: list[Event],
        *,
        merchant: str | None = None,
        calm: bool = True,
    ) -> Event:
        """A fraud order of the pattern, claimed in full, at one of the ordinary merchants unless
        named; `calm`: only delivered after (nothing that would draw a rule's attention)."""
        order = self.book.paid(
            person,
            at,
            goods,
            cohort="fraud",
            risk="fraud",
            pattern=pattern,
            merchant=self.rng.choice(self.merchants) if merchant is None else merchant,
        )
        if calm:
            self.book.aftermath(order, at, calm=True)
        return order

    def anomaly_basket(self) -> int:
        """One order nobody honest places: a crate of one local specialty (the weekly quota
        counts orders, not units) or a whole flat's worth of appliances at once, each within
        its per-category quota; claimed in full, so no compliance rule objects."""
        at = self.clock.any()
        person = self.people.person(at)
        if self.rng.random() < 0.5:
            sku = self.catalog.pick("local_specialty")
            goods = [item(sku, self.catalog.price(sku), self.rng.randint(25, 60))]
        else:
            chosen = self.rng.sample(APPLIANCES, self.rng.randint(4, 6))
            goods = [self._unit(category) for category in chosen]
        self._paid("anomaly_basket", person, at, goods)
        return 1

    def odd_hour_burst(self) -> int:
        """A fresh account fires several subsidised orders between 01:00 and 05:00 within the
        hour, each of another category (no quota is crossed, and one identity is no ring)."""
        day = self.clock.any(margin_days=1).replace(hour=0, minute=0, second=0)
        start = day + timedelta(hours=self.rng.uniform(1, 4))
        person = self.people.person(start, new_account=True)
        categories = self.rng.sample((*RESALE, "microwave", "water_heater"), self.rng.randint(3, 5))
        when = start
        for category in categories:
            self._paid("odd_hour_burst", person, when, [self._unit(category)])
            when += timedelta(minutes=self.rng.uniform(3, 20))
        return len(categories)

    def slow_drip_ring(self) -> int:
        """A ring that drips: one device and one payment account shared by a new identity
        every 43 to 62 hours (never three inside the rings' 72-hour window, never five
        identities' codes on the device within a week), old accounts, mixed categories; 6 to
        10 identities over three weeks."""
        size = self.rng.randint(6, 10)
        at = self.clock.any(margin_days=size * 2.5)
        device = self.people.shared("device")
        account = self.people.shared("pay")
        when = at
        for k in range(size):
            person = self.people.person(when, new_account=False)
            person.device = device
            person.pay_hash = account
            category = RESALE[k % len(RESALE)] if k % 2 == 0 else self.rng.choice(APPLIANCES)
            self._paid("slow_drip_ring", person, when, [self._unit(category)])
            when += timedelta(hours=self.rng.uniform(43, 62))
        return size

    def merchant_drift(self) -> int:
        """An ordinary merchant turns: for six days, extra orders from ordinary-looking buyers
        (their own devices and accounts, no burst of new ones) that are mostly refunded in
        full within two days. No single order or person is odd; the merchant's refund rate,
        three or four times its peers', is."""
        merchant = self.rng.choice(self.merchants)
        begin = self.clock.any(margin_days=8)
        made = 0
        for day in range(6):
            for _ in range(self.rng.randint(18, 26)):
                when = begin + timedelta(days=day, hours=self.rng.uniform(0, 14))
                person = self.people.person(when, new_account=False)
                category = self.rng.choice(("mobile_phone", "tablet", *APPLIANCES[:4]))
                goods = [self._unit(category)]
                order = self._paid(
                    "merchant_drift", person, when, goods, merchant=merchant, calm=False
                )
                if self.rng.random() < 0.85:
                    self.book.later(
                        order,
                        "order_refunded",
                        when + timedelta(hours=self.rng.uniform(12, 48)),
                        order["payment"]["paid_amount"],
                    )
                else:
                    self.book.aftermath(order, when, calm=True)
                made += 1
        return made


__all__ = ["UNNAMED", "Unnamed"]
