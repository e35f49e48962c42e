"""Every risk pattern the detectors name, each instance labelled with its risk and pattern."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas.money import ZERO, to_fen
from simulation.book import Book, Event, item
from simulation.catalog import APPLIANCES, RESALE, Catalog, Sku
from simulation.honest import Clock, price_with_markup
from simulation.population import People, Person


class Patterns:
    def __init__(
        self,
        book: Book,
        people: People,
        catalog: Catalog,
        clock: Clock,
        merchants: list[str],
        fraud_merchants: list[str],
    ) -> None:
        self.book, self.people, self.catalog, self.clock = book, people, catalog, clock
        self.rng = book.rng
        self.merchants = merchants
        self.fraud_merchants = fraud_merchants

    def all(self) -> dict[str, tuple[Callable[[], int], float]]:
        """pattern -> (one instance, instances per 30 days)."""
        return {
            "ineligible_consumer": (self.ineligible_consumer, 60),
            "ineligible_product": (self.ineligible_product, 60),
            "wrong_subsidy": (self.wrong_subsidy, 40),
            "quota_breach": (self.quota_breach, 40),
            "split_orders": (self.split_orders, 15),
            "identity_ring_address": (lambda: self.ring("addr"), 8),
            "identity_ring_device": (lambda: self.ring("device"), 8),
            "identity_ring_phone": (lambda: self.ring("phone"), 8),
            "identity_ring_payment": (lambda: self.ring("pay"), 8),
            "account_farm": (self.account_farm, 6),
            "refund_arbitrage": (self.refund_arbitrage, 20),
            "refund_cycling": (self.refund_cycling, 10),
            "qualification_reuse": (self.qualification_reuse, 12),
            "qualification_trading": (self.qualification_trading, 8),
            "pickup_pipeline": (self.pickup_pipeline, 8),
            "merchant_fake_orders": (self.merchant_fake_orders, 6),
            "price_inflation": (self.price_inflation, 30),
        }

    def _merchant(self) -> str:
        return self.rng.choice(self.merchants)

    def _buy(
        self,
        person: Person,
        at: datetime,
        sku: Sku,
        *,
        pattern: str,
        risk: str,
        price: Decimal | None = None,
        claim: Decimal | None = None,
        expected: Decimal | None = None,
        qty: int = 1,
        calm: bool = True,
        **kw: Any,
    ) -> Event:
        price = self.catalog.price(sku) if price is None else price
        order = self.book.paid(
            person,
            at,
            [item(sku, price, qty)],
            cohort="fraud",
            risk=risk,
            pattern=pattern,
            claim=claim,
            expected=expected,
            merchant=kw.pop("merchant", None) or self._merchant(),
            **kw,
        )
        if calm:
            self.book.aftermath(order, at, calm=True)
        return order

    # -- compliance ----------------------------------------------------------------------

    def ineligible_consumer(self) -> int:
        at = self.clock.any()
        person = self.people.person(at)
        sku = self.catalog.pick(self.rng.choice(("tablet", "refrigerator", "local_specialty")))
        variant = self.rng.randrange(6)
        kw: dict[str, Any] = {}
        if variant == 0:
            person.real_name = False
        elif variant == 1:
            person.checksum_ok = False
        elif variant == 2:
            person.birth_year = at.year - self.rng.randint(12, 17)
        elif variant == 3:
            person.region = "outside"
        elif variant == 4:
            kw["code"] = None
        else:
            kw["code_verified"] = False
        price = self.catalog.price(sku)
        claim = self.book.featured_subsidy([item(sku, price)])
        self._buy(
            person,
            at,
            sku,
            price=price,
            claim=claim,
            expected=ZERO,
            pattern="ineligible_consumer",
            risk="compliance",
            **kw,
        )
        return 1

    def ineligible_product(self) -> int:
        at = self.clock.any()
        person = self.people.person(at)
        variant = self.rng.randrange(6)
        special = self.catalog.special
        category = None
        if variant == 0:  # not in the catalog at all
            sku = self.catalog.pick("tablet")
            sku = type(sku)(
                f"SKU-UNREG-{self.rng.randrange(10**6):06d}",
                "tablet",
                sku.reference,
                None,
                ("featured_goods",),
                sku.merchant,
            )
        elif variant == 1:  # registered under another category
            sku = self.catalog.pick("tablet")
            category = "mobile_phone"
        elif variant == 2:
            sku = self.rng.choice(special["other_programme"])
        elif variant == 3:
            sku = self.rng.choice(special["withdrawn"])
            withdrawn = sku.withdrawn_at
            assert withdrawn is not None
            at = max(at, withdrawn + timedelta(hours=self.rng.uniform(1, 48)))
        elif variant == 4:
            sku = self.rng.choice(special["low_grade"])
        else:
            sku = self.rng.choice(special["premium_phone"])
        price = self.catalog.price(sku, -0.05, 0.05)
        line = item(sku, price, category=category)
        unit = self.book.unit_subsidy(line["category"], price, 1 if sku.grade else None)
        claim = unit if unit > 0 else to_fen(price * Decimal("0.15")).min(Decimal(500))
        order = self.book.paid(
            person,
            at,
            [line],
            cohort="fraud",
            risk="compliance",
            pattern="ineligible_product",
            claim=claim,
            expected=ZERO,
            merchant=self._merchant(),
        )
        self.book.aftermath(order, at, calm=True)
        return 1

    def wrong_subsidy(self) -> int:
        at = self.clock.any()
        person = self.people.person(at)
        # goods dear enough that the padded claim stays below the price (paid_amount >= 0)
        sku = self.catalog.pick(
            self.rng.choice(("refrigerator", "mobile_phone", "washing_machine", "television"))
        )
        price = self.catalog.price(sku)
        rule = self.book.featured_subsidy([item(sku, price)])
        claim = rule + Decimal(self.rng.randint(50, 300))
        self._buy(
            person,
            at,
            sku,
            price=price,
            claim=claim,
            expected=rule,
            pattern="wrong_subsidy",
            risk="compliance",
        )
        return 1

    # -- hoarding ------------------------------------------------------------------------

    def quota_breach(self) -> int:
        at = self.clock.any(margin_days=3)
        person = self.people.person(at)
        variant = self.rng.randrange(4)
        honest: dict[str, Any] = {"cohort": "regular"}
        if variant == 0:  # a second phone, claimed, days later
            sku = self.catalog.pick("mobile_phone")
            first = self.book.paid(
                person,
                at,
                [item(sku, self.catalog.price(sku))],
                merchant=self._merchant(),
                **honest,
            )
            self.book.aftermath(first, at, calm=True)
            self._buy(
                person,
                at + timedelta(days=self.rng.uniform(1, 3)),
                self.catalog.pick("mobile_phone"),
                expected=ZERO,
                pattern="quota_breach",
                risk="hoarding",
            )
            return 2
        if variant == 1:  # two phones in one order, both claimed
            sku = self.catalog.pick("mobile_phone")
            price = self.catalog.price(sku)
            unit = self.book.unit_subsidy("mobile_phone", price, None)
            self._buy(
                person,
                at,
                sku,
                price=price,
                qty=2,
                claim=unit * 2,
                expected=unit,
                pattern="quota_breach",
                risk="hoarding",
            )
            return 1
        if variant == 2:  # a sixth local-specialty order in one calendar week
            week = self.clock.week_start(margin_days=6)
            days_left = 7 - week.weekday()
            times = sorted(
                week + timedelta(hours=self.rng.uniform(0, 24 * days_left - 10)) for _ in range(6)
            )
            for when in times[:5]:
                sku = self.catalog.pick("local_specialty")
                order = self.book.paid(
                    person,
                    when,
                    [item(sku, self.catalog.price(sku))],
                    merchant=self._merchant(),
                    **honest,
                )
                self.book.aftermath(order, when, calm=True)
            self._buy(
                person,
                times[5],
                self.catalog.pick("local_specialty"),
                expected=ZERO,
                pattern="quota_breach",
                risk="hoarding",
            )
            return 6
        for h in range(3):  # a fourth logistics order in one day
            order = self._logistics(
                person,
                at.replace(hour=8) + timedelta(hours=3 * h),
                Decimal(self.rng.randint(200, 800)),
                cohort="regular",
            )
        self._logistics(
            person,
            at.replace(hour=8) + timedelta(hours=10),
            Decimal(self.rng.randint(200, 800)),
            pattern="quota_breach",
            risk="hoarding",
            expected=ZERO,
        )
        del order
        return 4

    def _logistics(
        self,
        person: Person,
        at: datetime,
        amount: Decimal,
        *,
        cohort: str = "fraud",
        pattern: str = "none",
        risk: str | None = None,
        expected: Decimal | None = None,
    ) -> Event:
        sku = self.catalog.pick("local_specialty")
        goods = [item(sku, amount, category="groceries", grade=None)]
        goods[0]["sku"] = f"WH-{sku.sku}"
        order = self.book.paid(
            person,
            at,
            goods,
            programme="logistics_warehouse",
            code=None,
            cohort=cohort,
            pattern=pattern,
            risk=risk,
            expected=expected,
            merchant=self._merchant(),
            warehouse=f"PS-WH-{self.rng.randint(1, 12):02d}",
        )
        self.book.aftermath(order, at, calm=True)
        return order

    def split_orders(self) -> int:
        at = self.clock.any(margin_days=1).replace(hour=9)
        person = self.people.person(at)
        n = self.rng.randint(4, 6)
        for k in range(n):
            amount = to_fen(Decimal(self.rng.uniform(99.5, 119.9)))
            self._logistics(
                person,
                at + timedelta(hours=k * self.rng.uniform(0.5, 2.5)),
                amount,
                pattern="split_orders",
                risk="hoarding",
                expected=None if k < 3 else ZERO,
            )
        return n

    def ring(self, shared: str) -> int:
        """Identities each within quota, sharing one attribute, buying one resale category.

        Three of them buy within two days; the rest may come days before or after (up to
        four days later), which only whole-group alerts name."""
        at = self.clock.any(margin_days=5)
        category = self.rng.choice(RESALE)
        value = self.people.shared(shared)
        size = self.rng.randint(3, 6)
        pattern = {
            "addr": "identity_ring_address",
            "device": "identity_ring_device",
            "phone": "identity_ring_phone",
            "pay": "identity_ring_payment",
        }[shared]
        spread = self.rng.choice((44.0, 44.0, 96.0))
        for k in range(size):
            when = at + timedelta(hours=self.rng.uniform(0, 44 if k < 3 else spread))
            person = self.people.person(when, new_account=False)
            if shared == "addr":
                person.addr_hash = value
            elif shared == "device":
                person.device = value
            elif shared == "phone":
                person.phone_hash = value
            else:
                person.pay_hash = value
            self._buy(person, when, self.catalog.pick(category), pattern=pattern, risk="hoarding")
        return size

    def account_farm(self) -> int:
        """New accounts opened days before their orders, spread so that no device carries five:
        three or four a device, two a device paying from a few shared accounts, or one a
        device on one IP range, all within a day; half the farms buy one resale category, the
        rest a mix."""
        at = self.clock.any(margin_days=3)
        variant = self.rng.randrange(3)
        size = self.rng.randint(8, 12) if variant == 2 else self.rng.randint(6, 12)
        per_device = (4, 2, 1)[variant]  # at most: the first kind shares out three or four
        devices = [self.people.shared("device") for _ in range(-(-size // per_device))]
        accounts = [self.people.shared("pay") for _ in range(-(-size // 4))]
        prefix = self.people.ip().rsplit(".", 1)[0]
        mix = (
            "refrigerator",
            "television",
            "local_specialty",
            "washing_machine",
            "microwave",
            "water_heater",
        )
        same = self.rng.choice(RESALE) if self.rng.random() < 0.5 else None
        span = self.rng.uniform(6.0, 20.0)  # a farm works through its accounts in a day
        for k in range(size):
            when = at + timedelta(hours=self.rng.uniform(0, span))
            person = self.people.person(when, new_account=True)
            person.account_created = (when - timedelta(days=self.rng.uniform(0.1, 5))).replace(
                microsecond=0
            )
            person.device = devices[k % len(devices)] if variant == 0 else devices[k // per_device]
            if variant == 1:
                person.pay_hash = accounts[k % len(accounts)]
            if variant == 2:
                person.ip = f"{prefix}.{self.rng.randint(1, 254)}"
            self._buy(
                person,
                when,
                self.catalog.pick(same or mix[k % len(mix)]),
                pattern="account_farm",
                risk="hoarding",
            )
        return size

    # -- arbitrage -----------------------------------------------------------------------

    def refund_arbitrage(self) -> int:
        at = self.clock.any(margin_days=5)
        person = self.people.person(at)
        sku = self.catalog.pick(self.rng.choice(("mobile_phone", "refrigerator", "tablet")))
        order = self._buy(person, at, sku, pattern="refund_arbitrage", risk="arbitrage", calm=False)
        delivered = at + timedelta(days=self.rng.uniform(1, 3))
        self.book.later(order, "order_delivered", delivered)
        paid = order["payment"]["paid_amount"]
        self.book.later(
            order,
            "order_refunded",
            delivered + timedelta(hours=self.rng.uniform(5, 40)),
            paid + order["subsidy_amount"],
        )
        return 1

    def refund_cycling(self) -> int:
        at = self.clock.any(margin_days=10)
        person = self.people.person(at, new_account=False)
        category = self.rng.choice(RESALE)
        code = self.book.new_code()
        when = at
        for k in range(3):
            order = self._buy(
                person,
                when,
                self.catalog.pick(category),
                code=code,
                pattern="refund_cycling",
                risk="arbitrage",
                calm=False,
            )
            if k < 2:
                release = when + timedelta(hours=self.rng.uniform(1, 30))
                if self.rng.random() < 0.5:
                    self.book.later(order, "order_cancelled", release)
                else:
                    self.book.later(
                        order, "order_refunded", release, order["payment"]["paid_amount"]
                    )
                when = release + timedelta(hours=self.rng.uniform(2, 60))
            else:
                self.book.later(order, "order_delivered", when + timedelta(days=2))
        return 3

    def qualification_reuse(self) -> int:
        at = self.clock.any(margin_days=3)
        code = self.book.new_code()
        size = self.rng.randint(2, 4)
        for _ in range(size):
            when = at + timedelta(hours=self.rng.uniform(0, 60))
            person = self.people.person(when, new_account=False)
            sku = self.catalog.pick(self.rng.choice(("refrigerator", "tablet", "air_conditioner")))
            self._buy(person, when, sku, code=code, pattern="qualification_reuse", risk="arbitrage")
        return size

    def qualification_trading(self) -> int:
        at = self.clock.any(margin_days=3)
        device = self.people.shared("device")
        size = self.rng.randint(5, 8)
        categories = (
            "refrigerator",
            "washing_machine",
            "television",
            "microwave",
            "local_specialty",
            "air_conditioner",
            "water_heater",
            "dishwasher",
        )
        for k in range(size):
            when = at + timedelta(hours=self.rng.uniform(0, 60))
            person = self.people.person(when, new_account=False)
            person.device = device
            self._buy(
                person,
                when,
                self.catalog.pick(categories[k]),
                pattern="qualification_trading",
                risk="arbitrage",
            )
        return size

    def pickup_pipeline(self) -> int:
        at = self.clock.any(margin_days=3)
        category = self.rng.choice(RESALE)
        station = self.people.shared("addr")
        size = self.rng.randint(6, 12)
        for _ in range(size):
            when = at + timedelta(hours=self.rng.uniform(0, 44))
            person = self.people.person(when, new_account=False)
            person.addr_hash = station
            person.pickup = True
            self._buy(
                person,
                when,
                self.catalog.pick(category),
                pattern="pickup_pipeline",
                risk="arbitrage",
            )
        return size

    # -- fraud ---------------------------------------------------------------------------

    def merchant_fake_orders(self) -> int:
        at = self.clock.any(margin_days=3)
        merchant = self.rng.choice(self.fraud_merchants)
        devices = [self.people.shared("device") for _ in range(self.rng.randint(2, 3))]
        accounts = [self.people.shared("pay") for _ in range(2)]
        size = self.rng.randint(8, 20)
        categories = APPLIANCES[:6] + ("local_specialty",)
        for k in range(size):
            when = at + timedelta(hours=self.rng.uniform(0, 20))
            person = self.people.person(when, new_account=True)
            person.device = devices[k % len(devices)]
            person.pay_hash = accounts[k % 2]
            order = self._buy(
                person,
                when,
                self.catalog.pick(categories[k % len(categories)]),
                merchant=merchant,
                pattern="merchant_fake_orders",
                risk="fraud",
                calm=False,
            )
            if self.rng.random() < 0.7:
                self.book.later(
                    order,
                    "order_refunded",
                    when + timedelta(days=self.rng.uniform(2, 6)),
                    order["payment"]["paid_amount"],
                )
        return size

    def price_inflation(self) -> int:
        at = self.clock.any()
        person = self.people.person(at)
        category = self.rng.choice(("refrigerator", "television", "tablet", "air_conditioner"))
        sku = self.catalog.pick(category)
        if category == "tablet" and sku.reference > 4200:
            sku = min(self.catalog.eligible["tablet"], key=lambda s: s.reference)
        price = price_with_markup(sku.reference, self.rng.uniform(0.15, 0.4))
        claim = self.book.featured_subsidy([item(sku, price)])
        self._buy(
            person,
            at,
            sku,
            price=price,
            claim=claim,
            expected=ZERO,
            pattern="price_inflation",
            risk="fraud",
        )
        return 1
