"""Fraud that no rule names: the anomalies the online-learning stage is there for. Each
instance stays below every threshold of the rules file, on purpose, so only a model that
weighs many weak signals together (or a merchant's drift) can see it.

They live apart from `patterns.py` because they are opt-in (`generate(..., unnamed=True)`,
`riskmon simulate --unnamed`): without them the simulator writes the same bytes as before.

No pattern is tuned to one threshold: each seed draws its own `Style` (sizes, spacing,
intensity), and each pattern has an honest look-alike beside it (a canteen's bulk order, a
night-shift worker, a household sharing a tablet for weeks, a move into a new flat), labelled
legit, so a model that flags the shape alone pays for it in precision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from random import Random

from simulation.book import Book, Event, item
from simulation.catalog import APPLIANCES, RESALE, Catalog
from simulation.honest import Clock
from simulation.population import People, Person

# Every unnamed pattern's name; `evaluate` scores the learning stage on these.
UNNAMED = ("anomaly_basket", "odd_hour_burst", "slow_drip_ring", "merchant_drift")


@dataclass(frozen=True)
class Style:
    """One seed's way of committing the unnamed frauds: ranges, not a point a model could learn
    as a threshold."""

    crate: tuple[int, int]  # units of one local specialty in a crate
    appliances: tuple[int, int]  # appliances in a flat's-worth basket
    burst: tuple[int, int]  # orders in an odd-hour burst
    burst_gap: float  # most minutes between a burst's orders
    drip: tuple[int, int]  # identities in a slow ring
    drip_gap: tuple[float, float]  # hours between its identities
    drift_days: int  # days a merchant turns
    drift_orders: tuple[int, int]  # its extra orders a day
    drift_refunds: float  # share of them refunded

    @classmethod
    def draw(cls, rng: Random) -> Style:
        low = rng.randint(8, 25)
        # at least 43 h apart: never three identities in the rings' 72 h, five in a week
        drip_low = rng.uniform(43, 58)
        burst_low = rng.randint(2, 3)
        orders = rng.randint(10, 20)
        return cls(
            crate=(low, low + rng.randint(10, 40)),
            appliances=(rng.randint(3, 4), rng.randint(5, 6)),
            burst=(burst_low, burst_low + rng.randint(1, 3)),
            burst_gap=rng.uniform(10, 60),
            drip=(rng.randint(5, 7), rng.randint(8, 11)),
            drip_gap=(drip_low, drip_low + rng.uniform(5, 30)),
            drift_days=rng.randint(4, 8),
            drift_orders=(orders, orders + rng.randint(4, 12)),
            drift_refunds=rng.uniform(0.6, 0.95),
        )


class Unnamed:
    def __init__(
        self, book: Book, people: People, catalog: Catalog, clock: Clock, merchants: list[str]
    ) -> None:
        self.book, self.people, self.catalog, self.clock = book, people, catalog, clock
        self.rng = book.rng
        self.merchants = merchants
        self.style = Style.draw(self.rng)

    def all(self) -> dict[str, tuple[Callable[[], int], float]]:
        """pattern (or honest look-alike) -> (one instance, instances per 30 days)."""
        return {
            "anomaly_basket": (self.anomaly_basket, 24),
            "odd_hour_burst": (self.odd_hour_burst, 10),
            "slow_drip_ring": (self.slow_drip_ring, 5),
            "merchant_drift": (self.merchant_drift, 1),
            "bulk_canteen": (self.bulk_canteen, 24),
            "night_shift": (self.night_shift, 30),
            "shared_tablet": (self.shared_tablet, 12),
            "new_flat": (self.new_flat, 20),
        }

    # -- honest look-alikes ----------------------------------------------------------------

    def _honest(self, cohort: str, person: Person, at: datetime, goods: list[Event]) -> None:
        order = self.book.paid(
            person, at, goods, cohort=cohort, merchant=self.rng.choice(self.merchants)
        )
        self.book.aftermath(order, at, calm=True)

    def bulk_canteen(self) -> int:
        """A canteen's buyer orders a crate of a local specialty, smaller than most frauds'."""
        at = self.clock.any()
        sku = self.catalog.pick("local_specialty")
        qty = self.rng.randint(6, max(7, self.style.crate[0]))
        goods = [item(sku, self.catalog.price(sku), qty)]
        self._honest("bulk_canteen", self.people.person(at), at, goods)
        return 1

    def night_shift(self) -> int:
        """A night-shift worker orders once or twice between 01:00 and 05:00, each time an
        appliance of another category (within the programme's one per category)."""
        day = self.clock.any(margin_days=1).replace(hour=0, minute=0, second=0)
        person = self.people.person(day, new_account=self.rng.random() < 0.3)
        n = self.rng.randint(1, 2)
        for k, kind in enumerate(self.rng.sample(APPLIANCES, n)):
            when = day + timedelta(hours=self.rng.uniform(1, 5), days=k * self.rng.randint(1, 3))
            self._honest("night_shift", person, when, [self._unit(kind)])
        return n

    def shared_tablet(self) -> int:
        """Two or three members of a household order from one tablet and one card, days apart,
        over weeks."""
        members = self.rng.randint(2, 3)
        at = self.clock.any(margin_days=members * 5)
        device = self.people.shared("device")
        account = self.people.shared("pay")
        when = at
        for _ in range(members):
            person = self.people.person(when, new_account=False)
            person.device = device
            person.pay_hash = account
            self._honest("shared_tablet", person, when, [self._unit(self.rng.choice(APPLIANCES))])
            when += timedelta(days=self.rng.uniform(3, 9))
        return members

    def new_flat(self) -> int:
        """A couple furnishing a new flat: two or three appliances in one order."""
        at = self.clock.any()
        chosen = self.rng.sample(APPLIANCES, self.rng.randint(2, 3))
        self._honest("new_flat", self.people.person(at), at, [self._unit(c) for c in chosen])
        return 1

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
            goods = [item(sku, self.catalog.price(sku), self.rng.randint(*self.style.crate))]
        else:
            chosen = self.rng.sample(APPLIANCES, self.rng.randint(*self.style.appliances))
            goods = [self._unit(category) for category in chosen]
        self._paid("anomaly_basket", person, at, goods)
        return 1

    def odd_hour_burst(self) -> int:
        """A fresh account fires several subsidised orders between 01:00 and 05:00 within the
        hour, each of another category (no quota is crossed, and one identity is no ring)."""
        day = self.clock.any(margin_days=1).replace(hour=0, minute=0, second=0)
        start = day + timedelta(hours=self.rng.uniform(1, 4))
        person = self.people.person(start, new_account=True)
        choices = (*RESALE, "microwave", "water_heater")
        size = min(len(choices), self.rng.randint(*self.style.burst))
        categories = self.rng.sample(choices, size)
        when = start
        for category in categories:
            self._paid("odd_hour_burst", person, when, [self._unit(category)])
            when += timedelta(minutes=self.rng.uniform(2, self.style.burst_gap))
        return len(categories)

    def slow_drip_ring(self) -> int:
        """A ring that drips: one device and one payment account shared by a new identity
        every 43 hours or more (never three inside the rings' 72-hour window, never five
        identities' codes on the device within a week), old accounts, mixed categories; five
        to eleven identities over up to four weeks (`Style`)."""
        longest = self.style.drip_gap[1] / 24
        size = min(self.rng.randint(*self.style.drip), int(min(26, self.clock.days) / longest) + 1)
        at = self.clock.any(margin_days=size * longest)
        device = self.people.shared("device")
        account = self.people.shared("pay")
        when = at
        for k in range(size):
            person = self.people.person(when, new_account=False)
            person.device = device
            person.pay_hash = account
            category = RESALE[k % len(RESALE)] if k % 2 == 0 else self.rng.choice(APPLIANCES)
            self._paid("slow_drip_ring", person, when, [self._unit(category)])
            when += timedelta(hours=self.rng.uniform(*self.style.drip_gap))
        return size

    def merchant_drift(self) -> int:
        """An ordinary merchant turns: for four to eight days, extra orders from ordinary-looking
        buyers (their own devices and accounts, no burst of new ones) that are mostly refunded in
        full within two days. No single order or person is odd; the merchant's refund rate,
        three or four times its peers', is."""
        merchant = self.rng.choice(self.merchants)
        begin = self.clock.any(margin_days=self.style.drift_days + 2)
        made = 0
        for day in range(self.style.drift_days):
            for _ in range(self.rng.randint(*self.style.drift_orders)):
                when = begin + timedelta(days=day, hours=self.rng.uniform(0, 14))
                person = self.people.person(when, new_account=False)
                category = self.rng.choice(("mobile_phone", "tablet", *APPLIANCES[:4]))
                goods = [self._unit(category)]
                order = self._paid(
                    "merchant_drift", person, when, goods, merchant=merchant, calm=False
                )
                if self.rng.random() < self.style.drift_refunds:
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


__all__ = ["UNNAMED", "Style", "Unnamed"]
