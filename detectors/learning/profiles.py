"""What is usual where: the features that compare an order with its category, its merchant and
its consumer's own past, for what no rule names.

Per category, the running mean and spread of the log units of a line and of its log amount;
per merchant, of the order's log amount, its hours of day (a 24-bin profile, decayed), and
its mean mark-up on the catalog's references across all its sales. Each is an exponentially
weighted mean (weight at least `1 / SPAN`: the profile follows a slow change of habits);
an order is compared with the profile before it is counted in it.

>>> p = Profiles()
>>> for n in range(300):
...     _ = p.compare(("rice",), (1 + n % 2,), (40.0,), "M1", 3.0 + n % 8, 0.0, 40.0)
>>> x = dict(zip(NAMES, p.compare(("rice",), (40,), (40.0,), "M1", 3.0, 0.0, 1600.0)))
>>> x["units_vs_category"] > 5, x["amount_vs_merchant"] > 3, x["merchant_hour"] < 3
(True, True, True)
>>> p.compare(("rice",), (1,), (40.0,), "M1", 23.5, 0.0, 40.0)[NAMES.index("merchant_hour")] > 4
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

# the comparisons, in the order `Profiles.compare` gives them
NAMES = (
    "units_vs_category",
    "amount_vs_category",
    "amount_vs_merchant",
    "merchant_hour",
    "merchant_markup",
)
SPAN = 2000  # orders: the longest memory of a profile
HOURS = 24
_FLOOR = 0.25  # smallest spread a z-score divides by (log units): one odd value is no alarm


def _z(profile: list[float], value: float) -> float:
    """`value` against `profile` = [count, mean, variance] in spreads, then `profile` learns it."""
    n, mean, var = profile
    z = (value - mean) / max(math.sqrt(var), _FLOOR) if n >= 5 else 0.0
    n += 1.0
    w = max(1.0 / n, 1.0 / SPAN)
    delta = value - mean
    mean += w * delta
    var = (1.0 - w) * (var + w * delta * delta)
    profile[0], profile[1], profile[2] = n, mean, var
    return z


class Profiles:
    def __init__(self) -> None:
        # category -> [[n, mean, var] of log1p(units)], [[n, mean, var] of log1p(line amount)]
        self.categories: dict[str, list[list[float]]] = {}
        # merchant -> [[n, mean, var] of log1p(amount), [n, mean markup, 0], 24 hour weights]
        self.merchants: dict[str, list[list[float]]] = {}

    def compare(
        self,
        categories: Sequence[str],
        units: Sequence[int],
        prices: Sequence[float],
        merchant: str,
        hour: float,
        markup: float,
        amount: float,
    ) -> tuple[float, float, float, float, float]:
        """The order's comparisons (lines given as parallel sequences), in `NAMES` order (a
        tuple: no dict to build per order), then the profiles learn it."""
        worst_units = worst_amount = 0.0
        for category, qty, price in zip(categories, units, prices, strict=True):
            profile = self.categories.get(category)
            if profile is None:
                profile = self.categories[category] = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
            worst_units = max(worst_units, _z(profile[0], math.log1p(qty)))
            worst_amount = max(worst_amount, _z(profile[1], math.log1p(qty * price)))
        shop = self.merchants.get(merchant)
        if shop is None:
            shop = self.merchants[merchant] = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0] * HOURS]
        by_amount = _z(shop[0], math.log1p(amount))
        seen = shop[1]
        usual_markup = seen[1]
        seen[0] += 1.0
        seen[1] += max(1.0 / seen[0], 1.0 / SPAN) * (markup - seen[1])
        weights = shop[2]
        total = sum(weights)
        slot = int(hour) % HOURS
        # surprise of the hour at this merchant, smoothed: a young profile says little
        rarity = -math.log((weights[slot] + 1.0) / (total + HOURS)) if total >= 50 else 0.0
        if total >= SPAN:
            weights[:] = [w * 0.5 for w in weights]
        weights[slot] += 1.0
        return worst_units, worst_amount, by_amount, rarity, usual_markup

    def state(self) -> dict[str, Any]:
        return {"categories": self.categories, "merchants": self.merchants}

    def load(self, state: dict[str, Any]) -> None:
        self.categories = {k: [list(r) for r in v] for k, v in state["categories"].items()}
        self.merchants = {k: [list(r) for r in v] for k, v in state["merchants"].items()}
