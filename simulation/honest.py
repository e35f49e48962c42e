"""Honest traffic, and the honest look-alikes a useful monitor must leave alone."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from schemas.money import to_fen
from simulation.book import Book, Event, item
from simulation.catalog import APPLIANCES, RESALE, Catalog
from simulation.population import People, Person

CATEGORY_WEIGHTS = {
    "mobile_phone": 8,
    "tablet": 4,
    "smartwatch": 4,
    "refrigerator": 6,
    "washing_machine": 6,
    "air_conditioner": 6,
    "television": 6,
    "water_heater": 4,
    "range_hood": 3,
    "dishwasher": 3,
    "microwave": 4,
    "local_specialty": 16,
}
HOURS = [h for h in range(24) for _ in range(1 if h < 8 else 4)]  # daytime and evening shopping


class Clock:
    def __init__(self, rng: random.Random, start: datetime, days: int) -> None:
        self.rng, self.start, self.days = rng, start, days

    def any(self, *, margin_days: float = 0.0) -> datetime:
        span = max(self.days - margin_days, 0.5)
        day = self.rng.uniform(0, span)
        base = self.start + timedelta(days=int(day))
        return base + timedelta(hours=self.rng.choice(HOURS), seconds=self.rng.randrange(3600))

    def week_start(self, *, margin_days: float) -> datetime:
        """08:00 on the first day of a calendar week inside the period (a Monday, or the
        period's first day when the week began before it), leaving `margin_days` after it
        when the period is long enough: the local-specialty quota counts calendar weeks."""
        starts = [self.start]
        day = self.start + timedelta(days=(7 - self.start.weekday()) % 7 or 7)
        while day <= self.start + timedelta(days=self.days - margin_days):
            starts.append(day)
            day += timedelta(days=7)
        return self.rng.choice(starts).replace(hour=8, minute=0, second=0)

    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)


class Honest:
    def __init__(
        self, book: Book, people: People, catalog: Catalog, clock: Clock, merchants: list[str]
    ) -> None:
        self.book, self.people, self.catalog, self.clock = book, people, catalog, clock
        self.rng = book.rng
        self.merchants = merchants
        cats = list(CATEGORY_WEIGHTS)
        self._cats, self._weights = cats, [CATEGORY_WEIGHTS[c] for c in cats]

    def _categories(self, k: int) -> list[str]:
        """k different categories: an honest person stays within every per-category quota."""
        chosen: list[str] = []
        while len(chosen) < k:
            c = self.rng.choices(self._cats, self._weights)[0]
            if c not in chosen:
                chosen.append(c)
        return chosen

    def _featured(
        self,
        person: Person,
        at: datetime,
        category: str,
        *,
        cohort: str,
        qty: int = 1,
        code: str | bool = True,
        calm: bool = False,
    ) -> Event:
        sku = self.catalog.pick(category)
        order = self.book.paid(
            person,
            at,
            [item(sku, self.catalog.price(sku), qty)],
            cohort=cohort,
            merchant=self.rng.choice(self.merchants),
            code=code,
        )
        self.book.aftermath(order, at, calm=calm)
        return order

    def regular(self) -> int:
        at = self.clock.any()
        person = self.people.person(at)
        k = self.rng.choice((1, 1, 1, 2, 2, 3))
        times = sorted([at] + [self.clock.any() for _ in range(k - 1)])
        person.account_created = min(person.account_created, times[0] - timedelta(hours=2))
        for when, category in zip(times, self._categories(k), strict=True):
            qty = self.rng.randint(1, 3) if category == "local_specialty" else 1
            self._featured(person, when, category, cohort="regular", qty=qty)
        return k

    def late_payment(self) -> int:
        """The payment reaches the monitor after its own cancellation (a late delivery)."""
        at = self.clock.any(margin_days=1)
        person = self.people.person(at)
        sku = self.catalog.pick(self.rng.choice(("refrigerator", "tablet", "local_specialty")))
        cancelled = at + timedelta(hours=self.rng.uniform(0.5, 3))
        order = self.book.paid(
            person,
            at,
            [item(sku, self.catalog.price(sku))],
            cohort="late_payment",
            merchant=self.rng.choice(self.merchants),
            emit_at=cancelled + timedelta(minutes=self.rng.uniform(1, 60)),
        )
        self.book.later(order, "order_cancelled", cancelled)
        return 1

    def logistics(self) -> int:
        at = self.clock.any()
        person = self.people.person(at)
        n = self.rng.choice((1, 1, 2, 2, 3, 4))
        day = at
        for _ in range(n):
            goods = [
                item(self.catalog.pick("local_specialty"), Decimal(self.rng.randint(60, 900)))
                for _ in range(self.rng.randint(1, 3))
            ]
            for g in goods:
                g["category"] = self.rng.choice(("groceries", "household", "apparel", "books"))
                g["sku"] = f"WH-{g['sku']}"
                g["energy_grade"] = None
            if sum(g["unit_price"] * g["quantity"] for g in goods) < 125:
                goods[0]["unit_price"] += 130
            order = self.book.paid(
                person,
                day,
                goods,
                programme="logistics_warehouse",
                code=None,
                cohort="logistics",
                merchant=self.rng.choice(self.merchants),
                warehouse=f"PS-WH-{self.rng.randint(1, 12):02d}",
            )
            self.book.aftermath(order, day)
            day = day + timedelta(hours=self.rng.uniform(14, 60))  # at most two a day
        return n

    def repeat_local(self) -> int:
        """Local-specialty regulars: several orders a week, never above the weekly quota."""
        first = self.clock.week_start(margin_days=6)
        monday = first - timedelta(days=first.weekday())
        person = self.people.person(first)
        orders = 0
        refund_rate = self.rng.choice((0.0, 0.2, 0.35))
        for week in range(self.rng.randint(1, 4)):
            # days of this calendar week inside the period (the first week may start late)
            days = range(first.weekday() if week == 0 else 0, 7)
            count = min(self.rng.randint(3, 5), len(days))
            for d in sorted(self.rng.sample(days, count)):
                when = monday + timedelta(days=7 * week + d, hours=self.rng.uniform(1, 13))
                if when >= self.clock.end():
                    continue
                order = self._featured(
                    person,
                    when,
                    "local_specialty",
                    cohort="repeat_local",
                    qty=self.rng.randint(1, 4),
                    calm=True,
                )
                if self.rng.random() < refund_rate:  # a bad batch, sent back for its money
                    self.book.later(
                        order,
                        "order_refunded",
                        when + timedelta(hours=self.rng.uniform(30, 70)),
                        order["payment"]["paid_amount"],
                    )
                orders += 1
        return orders

    def family(self) -> int:
        """2-4 people in one flat, often one device and one payment account, different goods."""
        at = self.clock.any(margin_days=10)
        members = [self.people.person(at) for _ in range(self.rng.randint(2, 4))]
        address, device, account = (self.people.shared(k) for k in ("addr", "device", "pay"))
        share_device = self.rng.random() < 0.7
        share_pay = self.rng.random() < 0.6
        for m in members:
            m.addr_hash = address
            if share_device:
                m.device = device
            if share_pay:
                m.pay_hash = account
        categories = self._categories(len(members))
        when = at
        for m, category in zip(members, categories, strict=True):
            m.account_created = min(m.account_created, when - timedelta(hours=3))
            self._featured(m, when, category, cohort="family")
            when += timedelta(days=self.rng.uniform(4, 12))
        return len(members)

    def office(self) -> int:
        """A reception desk receiving parcels for many staff, spread over time and categories."""
        staff = self.rng.randint(15, 40)
        at = self.clock.start + timedelta(hours=self.rng.uniform(0, 48))
        address = self.people.shared("addr")
        prefix = self.people.ip().rsplit(".", 1)[0]
        rota = self._categories(10)
        # ten categories in turn, a turn longer than a ring's window: one colleague a category
        step = max(self.clock.days * 24 / staff, 7.5)
        for n in range(staff):
            when = at + timedelta(hours=n * step + self.rng.uniform(0, step / 3))
            if when >= self.clock.start + timedelta(days=self.clock.days):
                return n
            person = self.people.person(when)
            person.addr_hash = address
            person.ip = f"{prefix}.{self.rng.randint(1, 254)}"
            self._featured(person, when, rota[n % len(rota)], cohort="office")
            if n == 11:
                staff += self._launch(address, prefix, when)
        return staff

    def _launch(self, address: str, prefix: str, after: datetime) -> int:
        """A new phone out: three colleagues have it sent to the desk within days (with a
        fourth of the rota, now and then: still below a shared desk's five)."""
        colleagues = 3
        category = self.rng.choice(RESALE)
        made = 0
        for _ in range(colleagues):
            when = after + timedelta(hours=self.rng.uniform(1, 60))
            if when >= self.clock.end():
                continue
            person = self.people.person(when)
            person.addr_hash = address
            person.ip = f"{prefix}.{self.rng.randint(1, 254)}"
            self._featured(person, when, category, cohort="office")
            made += 1
        return made

    def pickup_station(self) -> int:
        """A neighbourhood pickup point (驿站): dozens of residents, every category, a month."""
        residents = self.rng.randint(20, 45)
        at = self.clock.start + timedelta(hours=self.rng.uniform(0, 24))
        address = self.people.shared("addr")
        rota = self._categories(11)
        step = max(self.clock.days * 24 / residents, 2.0)
        for n in range(residents):
            when = at + timedelta(hours=n * step + self.rng.uniform(0, step / 3))
            if when >= self.clock.start + timedelta(days=self.clock.days):
                return n
            person = self.people.person(when)
            person.addr_hash = address
            person.pickup = True
            self._featured(person, when, rota[n % len(rota)], cohort="pickup_station")
        return residents

    def at_limits(self) -> int:
        """One person at exactly the programme's limits for days on end: three logistics
        orders a day just above the minimum amount, and five local-specialty orders in a
        calendar week, one of them refunded for quality now and then."""
        first = self.clock.week_start(margin_days=6)
        person = self.people.person(first)
        days = self.rng.randint(3, 10)
        orders = 0
        for day in range(days):
            start = first.replace(hour=8) + timedelta(days=day)
            if start + timedelta(hours=14) >= self.clock.end():
                break
            for k in range(3):
                when = start + timedelta(hours=4 * k + self.rng.uniform(0, 3))
                amount = to_fen(Decimal(str(self.rng.uniform(99.0, 123.0))))
                sku = self.catalog.pick("local_specialty")
                goods = [item(sku, amount, category="groceries", grade=None)]
                goods[0]["sku"] = f"WH-{sku.sku}"
                order = self.book.paid(
                    person,
                    when,
                    goods,
                    programme="logistics_warehouse",
                    code=None,
                    cohort="at_limits",
                    merchant=self.rng.choice(self.merchants),
                    warehouse=f"PS-WH-{self.rng.randint(1, 12):02d}",
                )
                self.book.aftermath(order, when, calm=True)
                orders += 1
        monday = first - timedelta(days=first.weekday())
        week_days = range(first.weekday(), 7)
        for d in sorted(self.rng.sample(week_days, min(5, len(week_days)))):
            when = monday + timedelta(days=d, hours=self.rng.uniform(9, 20))
            if when >= self.clock.end():
                continue
            order = self._featured(person, when, "local_specialty", cohort="at_limits", calm=True)
            if self.rng.random() < 0.3:
                self.book.later(
                    order,
                    "order_refunded",
                    when + timedelta(hours=self.rng.uniform(30, 70)),
                    order["payment"]["paid_amount"],
                )
            orders += 1
        return orders

    def newcomers(self) -> int:
        """People who signed up for the subsidy this week and buy the popular phone, each on
        their own device; now and then a couple, both new, on one tablet and one account."""
        at = self.clock.any(margin_days=2)
        category = self.rng.choice(RESALE)
        made = 0
        couple = [self.people.shared(k) for k in ("device", "pay", "addr")]
        for n in range(self.rng.randint(4, 10)):
            when = at + timedelta(hours=self.rng.uniform(0, 30))
            person = self.people.person(when, new_account=True)
            if n < 2 and self.rng.random() < 0.6:
                person.device, person.pay_hash, person.addr_hash = couple
            bought = "local_specialty" if n == 1 else category
            self._featured(person, when, bought, cohort="newcomers")
            made += 1
        return made

    def rebuy_after_cancel(self) -> int:
        """Cancels a subsidised order, then buys the same category again with the same code."""
        at = self.clock.any(margin_days=4)
        person = self.people.person(at)
        category = self.rng.choice(RESALE + APPLIANCES[:3])
        code = self.book.new_code()
        sku = self.catalog.pick(category)
        first = self.book.paid(
            person,
            at,
            [item(sku, self.catalog.price(sku))],
            code=code,
            cohort="rebuy_after_cancel",
            merchant=self.rng.choice(self.merchants),
        )
        self.book.later(first, "order_cancelled", at + timedelta(hours=self.rng.uniform(0.5, 5)))
        again = at + timedelta(days=self.rng.uniform(1, 3))
        self._featured(person, again, category, cohort="rebuy_after_cancel", code=code, calm=True)
        return 2

    def mixed_basket(self) -> int:
        """An eligible item and one the rules do not subsidise; the claim covers the first only."""
        at = self.clock.any()
        person = self.people.person(at)
        good = self.catalog.pick(self.rng.choice(("refrigerator", "tablet", "mobile_phone")))
        if self.rng.random() < 0.5:
            other = item(
                self.catalog.pick("local_specialty"),
                Decimal(self.rng.randint(200, 3000)),
                category="furniture",
                grade=None,
            )
        else:
            sku = self.rng.choice(self.catalog.special["low_grade"])
            other = item(sku, self.catalog.price(sku, -0.05, 0.05))
        items = [item(good, self.catalog.price(good)), other]
        claim = self.book.featured_subsidy(items[:1])
        order = self.book.paid(
            person,
            at,
            items,
            claim=claim,
            cohort="mixed_basket",
            merchant=self.rng.choice(self.merchants),
        )
        self.book.aftermath(order, at)
        return 1

    def no_subsidy(self) -> int:
        """Someone the programme does not cover buys at full price and claims nothing."""
        at = self.clock.any()
        person = self.people.person(at)
        if self.rng.random() < 0.5:
            person.region = "outside"
        else:
            person.birth_year = at.year - self.rng.randint(14, 17)
        sku = self.catalog.pick(self.rng.choice(("tablet", "microwave", "local_specialty")))
        order = self.book.paid(
            person,
            at,
            [item(sku, self.catalog.price(sku))],
            claim=Decimal(0),
            code=None,
            cohort="no_subsidy",
            merchant=self.rng.choice(self.merchants),
        )
        self.book.aftermath(order, at)
        return 1


def price_with_markup(reference: Decimal, markup: float) -> Decimal:
    return to_fen(reference * Decimal(str(round(1 + markup, 4))))
