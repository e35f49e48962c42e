"""The anomaly stage's own walks give river's answers bit for bit.

`HalfSpace` walks river's Half-Space Trees itself (one walk for the score and the learning
that follows it) and `Histograms` bins and sums in one pass: both must give exactly what the
plain calls gave (river's `score_one` then `learn_one` on the min-max scaled order; binning,
then summing), on random streams whose ranges keep moving, with features missing now and then
and orders scored but not learnt (a flagged order).
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from detectors.learning.histograms import Histograms
from detectors.learning.models import HalfSpace, MinMax

NAMES = ("a", "b", "c", "d", "e")


def stream(seed: int, n: int) -> list[dict[str, float]]:
    rng = random.Random(seed)
    out = []
    for k in range(n):
        x = {
            "a": rng.gauss(0, 1),
            "b": rng.expovariate(1.0),
            "c": float(rng.randrange(4)),  # ties on thresholds' sides
            "d": rng.random(),
            "e": 3.0,  # constant: scales to 0
        }
        if k % 97 == 13:
            x["a"] = rng.choice((-1.0, 1.0)) * rng.uniform(4, 40)  # moves the range
        if rng.random() < 0.02:
            del x[rng.choice(NAMES)]  # a feature missing: river takes the busier child
        out.append(x)
    return out


class RiverHalfSpace:
    """The reference: river's `score_one` and `learn_one` on the scaled order."""

    def __init__(self, **kw: Any) -> None:
        from river import anomaly

        self.scaler = MinMax()
        self.trees: Any = anomaly.HalfSpaceTrees(**kw)

    def score(self, x: dict[str, float]) -> float:
        return float(self.trees.score_one(self.scaler.transform(x)))

    def learn(self, x: dict[str, float]) -> None:
        self.scaler.learn(x)
        self.trees.learn_one(self.scaler.transform(x))


def masses(trees: Any) -> list[tuple[int, int]]:
    return [(node.l_mass, node.r_mass) for nodes in trees._tree_nodes for node in nodes]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_half_space_trees_score_and_learn_as_river_does(seed: int) -> None:
    rng = random.Random(seed + 100)
    window, height, n_trees = rng.choice((20, 50, 250)), rng.choice((3, 6, 8)), 4
    ours = HalfSpace(seed=seed, n_trees=n_trees, height=height, window=window)
    river = RiverHalfSpace(seed=seed, n_trees=n_trees, height=height, window_size=window)
    xs = stream(seed, 3000)
    nonzero = 0
    for k, x in enumerate(xs):
        got, want = ours.score(x), river.score(x)
        assert got == want and isinstance(got, float), (k, got, want)
        nonzero += got != 0.0
        if k % 53 == 7:  # scored, not learnt (flagged), then another order scored
            other = xs[k - 1]
            assert ours.score(other) == river.score(other)
            continue
        if k % 71 == 5:  # learnt without being scored just before
            ours.learn(xs[k - 3])
            river.learn(xs[k - 3])
        ours.learn(x)
        river.learn(x)
    assert nonzero > 2000
    assert masses(ours.trees) == masses(river.trees)
    assert ours.trees.counter == river.trees.counter
    assert ours.scaler.state() == river.scaler.state()


def test_min_max_scale_says_whether_learning_would_move_a_range() -> None:
    scaler, probe = MinMax(), MinMax()
    for x in stream(9, 500):
        scaled, moved = scaler.scale(x)
        assert scaled == scaler.transform(x)
        probe.load({k: dict(v) for k, v in scaler.state().items()})
        assert moved == probe.learn(x)
        scaler.learn(x)
    assert scaler.scale({"new": 1.0}) == ({"new": 0.0}, True)


def reference_histogram_score(h: Histograms, x: dict[str, float]) -> float:
    total = h.total + 1.0
    surprise = 0.0
    for name, value in x.items():
        lo, scale, log = h.spans[name]
        if log:
            value = math.log1p(value) if value > 0 else 0.0
        b = min(max(int((value - lo) * scale), 0), h.bins - 1)
        surprise -= math.log((h.counts[name][b] + 0.5) / total)
    return surprise


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_histograms_score_in_one_pass_as_binning_then_summing(seed: int) -> None:
    spans = {"a": (-3.0, 3.0, False), "b": (0.0, 4.0, True), "c": (0.0, 3.0, True)}
    h = Histograms(spans, bins=12, halve_every=500)
    rng = random.Random(seed)
    for k in range(2000):
        x = {"a": rng.gauss(0, 2), "b": rng.expovariate(0.5), "c": float(rng.randrange(5))}
        assert h.score(x) == reference_histogram_score(h, x)
        if k % 31 == 0:
            continue  # flagged: not learnt
        if k % 37 == 0:
            h.learn({"a": 0.0, "b": 1.0, "c": 2.0})  # learnt without being scored
        h.learn(x)
    again = Histograms(spans, bins=12, halve_every=500)
    again.load(h.state())
    x = {"a": 0.5, "b": 9.0, "c": 1.0}
    assert again.score(x) == h.score(x) == reference_histogram_score(h, x)
