"""Unsupervised scoring: each order against the orders before it.

Two detectors, learnt online, score the order's features: river's Half-Space Trees (min-max
scaled; they see odd combinations) and per-feature histograms (`histograms.py`; they see a
value odd on its own). The order's anomaly score is the sum of the two scores, each
standardised by its running mean and deviation: neither scale dominates, and an order odd to
either stands out. Comparisons on the simulated month are in the README.

After a warm-up, an order whose score is above the threshold the caller gives (calibrated on
honest traffic and verdicts: `calibration.py`) is anomalous, and is not learnt, so a run of
similar frauds does not teach the detectors that they are normal (river's `QuantileFilter` with
`protect_anomaly_detector`, scoring once instead of twice). The features that drove the score
are those whose replacement by their running mean lowers it most: what an analyst reads first.

>>> def usual(n: int) -> dict[str, float]:  # a tight cluster, and the corners now and then
...     if n % 100 == 0:
...         return {"a": float(n % 200 == 0), "b": float(n % 200 != 0)}
...     return {"a": 0.45 + 0.1 * (n * 0.618 % 1), "b": 0.45 + 0.1 * (n * 0.414 % 1)}
>>> spans = {"a": (0.0, 1.0, False), "b": (0.0, 1.0, False)}
>>> stage = AnomalyStage(spans, seed=1, warmup=300)
>>> flagged = sum(stage.score(usual(n), limit=4.0)[1] for n in range(2000))
>>> stage.score({"a": 0.9, "b": 0.5}, limit=4.0)[1], flagged < 40
(True, True)
>>> stage.drivers({"a": 0.9, "b": 0.5}, top=2)[0]["feature"]
'a'
"""

from __future__ import annotations

import math
from typing import Any

from detectors.learning.histograms import Histograms
from detectors.learning.models import HalfSpace

MEAN_EVERY = 8  # orders learnt per update of the running means the explanations start from


class _Standard:
    """A running mean and deviation (Welford), to put a score on a common scale."""

    __slots__ = ("m2", "mean", "n")

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0

    def z(self, value: float) -> float:
        if self.n < 2 or self.m2 <= 0:
            return 0.0
        return (value - self.mean) / math.sqrt(self.m2 / self.n)

    def update(self, value: float) -> None:
        self.n += 1
        delta = value - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (value - self.mean)


class AnomalyStage:
    def __init__(
        self,
        spans: dict[str, tuple[float, float, bool]],
        *,
        seed: int,
        warmup: int,
        n_trees: int = 10,
        height: int = 8,
        window: int = 250,
    ) -> None:
        self.trees = HalfSpace(seed=seed, n_trees=n_trees, height=height, window=window)
        self.histograms = Histograms(spans)
        self.scales = (_Standard(), _Standard())
        self.warmup = warmup
        self.window = window
        self.learnt = 0
        self.means: dict[str, float] = {}

    def _combined(self, x: dict[str, float]) -> tuple[float, float, float]:
        trees = self.trees.score(x)
        histograms = self.histograms.score(x)
        return self.scales[0].z(trees) + self.scales[1].z(histograms), trees, histograms

    def score(self, x: dict[str, float], limit: float) -> tuple[float, bool]:
        """The order's score, and whether it is above `limit` after the warm-up; learns it
        unless it is. Before the trees' first window is full the score is 0 (nothing is
        compared yet)."""
        flagged = False
        if self.learnt >= self.window:  # the trees score 0 until their first window is full
            score, trees, histograms = self._combined(x)
            flagged = self.learnt >= self.warmup and score > limit
            self.scales[0].update(trees)
            self.scales[1].update(histograms)
        else:
            score = 0.0
        if not flagged:
            self.trees.learn(x)
            self.histograms.learn(x)
            self.learnt += 1
            if self.learnt % MEAN_EVERY == 1:  # the typical values need no more than a sample
                means = self.means
                n = float(self.learnt // MEAN_EVERY + 1)
                for name, value in x.items():
                    mean = means.get(name, value)
                    means[name] = mean + (value - mean) / n
        return score, flagged

    @property
    def scoring(self) -> bool:
        """Whether the trees' first window is full: scores mean something from here on."""
        return self.learnt > self.window

    @property
    def warm(self) -> bool:
        """Whether scores are comparisons yet (and may raise alerts)."""
        return self.learnt >= self.warmup

    def drivers(self, x: dict[str, float], top: int) -> list[dict[str, Any]]:
        """The features whose running mean in place of their value lowers the score most."""
        base = self._combined(x)[0]
        drops = []
        for name, value in x.items():
            typical = self.means.get(name, value)
            if typical == value:
                continue
            drop = base - self._combined({**x, name: typical})[0]
            if drop > 0:
                drops.append((drop, name, value, typical))
        drops.sort(key=lambda d: (-d[0], d[1]))
        return [
            {"feature": name, "value": round(value, 3), "typical": round(typical, 3)}
            for _, name, value, typical in drops[:top]
        ]

    def state(self) -> dict[str, Any]:
        return {
            "trees": self.trees.state(),
            "histograms": self.histograms.state(),
            "scales": [[s.n, s.mean, s.m2] for s in self.scales],
            "learnt": self.learnt,
            "means": self.means,
        }

    def load(self, state: dict[str, Any]) -> None:
        self.trees.load(state["trees"])
        self.histograms.load(state["histograms"])
        for scale, (n, mean, m2) in zip(self.scales, state["scales"], strict=True):
            scale.n, scale.mean, scale.m2 = n, mean, m2
        self.learnt = state["learnt"]
        self.means = dict(state["means"])
