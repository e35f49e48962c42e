"""The synthetic product registry (补贴商品信息预录入) and the picks the scenarios need."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from schemas.money import to_fen

# (category, reference price range, energy grades offered)
CATEGORIES: dict[str, tuple[int, int, tuple[int, ...] | None]] = {
    "mobile_phone": (1500, 5400, None),
    "tablet": (1200, 4500, None),
    "smartwatch": (600, 3000, None),
    "refrigerator": (1800, 9000, (1, 2)),
    "washing_machine": (1500, 6000, (1, 2)),
    "air_conditioner": (2000, 8000, (1, 2)),
    "television": (1500, 12000, (1, 2)),
    "water_heater": (1000, 4000, (1, 2)),
    "range_hood": (1200, 5000, (1, 2)),
    "dishwasher": (2500, 7000, (1, 2)),
    "microwave": (400, 1500, (1, 2)),
    "local_specialty": (30, 600, None),
}
APPLIANCES = (
    "refrigerator",
    "washing_machine",
    "air_conditioner",
    "television",
    "water_heater",
    "range_hood",
    "dishwasher",
    "microwave",
)
RESALE = ("mobile_phone", "tablet", "smartwatch")


@dataclass(frozen=True)
class Sku:
    sku: str
    category: str
    reference: Decimal
    grade: int | None
    programmes: tuple[str, ...]
    merchant: str
    withdrawn_at: datetime | None = None


class Catalog:
    def __init__(
        self, rng: random.Random, start: datetime, days: int, merchants: list[str]
    ) -> None:
        self.rng = rng
        self.start = start
        self.skus: list[Sku] = []
        self.eligible: dict[str, list[Sku]] = {}
        self.special: dict[str, list[Sku]] = {}
        n = 0
        for category, (low, high, grades) in CATEGORIES.items():
            for _ in range(12):
                n += 1
                ref = Decimal(rng.randint(low, high)) - Decimal("0.01")
                grade = rng.choice(grades) if grades else None
                sku = Sku(
                    f"SKU-{n:05d}", category, ref, grade, ("featured_goods",), rng.choice(merchants)
                )
                self.skus.append(sku)
                self.eligible.setdefault(category, []).append(sku)
            if grades:  # appliances of a grade the rules do not subsidise
                for grade in (3, 4, 5):
                    n += 1
                    ref = Decimal(rng.randint(low, high)) - Decimal("0.01")
                    self._add_special(
                        "low_grade",
                        Sku(
                            f"SKU-{n:05d}",
                            category,
                            ref,
                            grade,
                            ("featured_goods",),
                            rng.choice(merchants),
                        ),
                    )
        for _ in range(4):
            n += 1
            ref = Decimal(rng.randint(6500, 9500)) - Decimal("0.01")
            self._add_special(
                "premium_phone",
                Sku(
                    f"SKU-{n:05d}",
                    "mobile_phone",
                    ref,
                    None,
                    ("featured_goods",),
                    rng.choice(merchants),
                ),
            )
            n += 1
            self._add_special(
                "other_programme",
                Sku(
                    f"SKU-{n:05d}",
                    "tablet",
                    Decimal("2999.00"),
                    None,
                    ("logistics_warehouse",),
                    rng.choice(merchants),
                ),
            )
            n += 1
            withdrawn = start + timedelta(days=rng.uniform(0, max(days, 1)) * 0.3)
            self._add_special(
                "withdrawn",
                Sku(
                    f"SKU-{n:05d}",
                    "smartwatch",
                    Decimal("1999.00"),
                    None,
                    ("featured_goods",),
                    rng.choice(merchants),
                    withdrawn.replace(microsecond=0),
                ),
            )

    def _add_special(self, kind: str, sku: Sku) -> None:
        self.skus.append(sku)
        self.special.setdefault(kind, []).append(sku)

    def pick(self, category: str, *, at: datetime | None = None) -> Sku:
        return self.rng.choice(self.eligible[category])

    def price(self, sku: Sku, low: float = -0.08, high: float = 0.08) -> Decimal:
        """A selling price near the reference (within the 10 % the rules tolerate by default)."""
        factor = Decimal(str(round(1 + self.rng.uniform(low, high), 4)))
        return to_fen(sku.reference * factor)

    def records(self, registered_at: datetime) -> list[dict[str, object]]:
        return [
            {
                "schema_version": 1,
                "sku": s.sku,
                "category": s.category,
                "brand": f"Brand {s.sku[-2:]}",
                "model": f"{s.category}-{s.sku[-5:]}",
                "energy_grade": s.grade,
                "reference_price": s.reference,
                "programmes": list(s.programmes),
                "merchant_id": s.merchant,
                "registered_at": registered_at.isoformat(),
                "withdrawn_at": s.withdrawn_at.isoformat() if s.withdrawn_at else None,
            }
            for s in self.skus
        ]
