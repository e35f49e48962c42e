"""Why the classifier reads no bucket indicators any more ("device_ids=3", "hour=0").

Until 2026-12-05 each order's vector got one key per bucket of 16 counts and of the hour, set
to 1.0 when the count fell in it and absent otherwise. The standard scaler counts a key only
when present, so it saw each one constant at 1.0: deviation 0, scaled value 0, and the
logistic regression's gradient on it, and so its weight, stayed 0. They never moved a
probability: without them the model gives the same probabilities bit for bit, 4-6 µs less an
order (docs/learning.md).
"""

from __future__ import annotations

import random

import pytest

from detectors.learning.models import Logistic


def indicators(x: dict[str, float]) -> dict[str, float]:
    """`x` with an indicator of its bucket per count, as the classifier once read it."""
    z = dict(x)
    for name in ("ids", "orders"):
        value = x[name]
        z[f"{name}={round(value) if value < 6.5 else '7+'}"] = 1.0
    z[f"hour={int(x['hour']) // 3 * 3}"] = 1.0
    return z


def vector(rng: random.Random) -> tuple[dict[str, float], bool]:
    ids = float(rng.choice((1, 1, 1, 2, 3, 6, 9)))
    x = {
        "amount": rng.gauss(5, 1),
        "ids": ids,
        "orders": float(rng.randrange(1, 9)),
        "hour": rng.uniform(0, 24),
        "share": rng.random() * 0.3,
    }
    return x, rng.random() < 0.1 + 0.1 * ids


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_bucket_indicators_never_weigh_and_change_no_probability(seed: int) -> None:
    rng = random.Random(seed)
    plain, expanded = Logistic(learning_rate=0.02), Logistic(learning_rate=0.02)
    for _ in range(1500):
        x, fraud = vector(rng)
        assert plain.probability(x) == expanded.probability(indicators(x))
        assert plain.river_probability(x) == expanded.river_probability(indicators(x))
        plain.learn(x, fraud)
        expanded.learn(indicators(x), fraud)
    coef, _ = expanded.coefficients()
    assert {name: w for name, w in coef.items() if "=" in name and w != 0.0} == {}
    assert {name: w for name, w in coef.items() if "=" not in name} == plain.coefficients()[0]
    assert any(w != 0.0 for w in plain.coefficients()[0].values())
