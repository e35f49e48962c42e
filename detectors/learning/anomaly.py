"""Unsupervised scoring: each order against the orders before it, thresholded to a budget.

Half-Space Trees score the order's features (min-max scaled online). After a warm-up, an
order whose score is above the running `1 - budget` quantile of the scores so far is
anomalous; it is not learnt, so a run of similar frauds does not teach the trees that they are
normal (river's `QuantileFilter` with `protect_anomaly_detector`, scoring once instead of
twice). The features that drove the score are those whose replacement by their running mean
lowers it most: what an analyst reads first.

>>> def usual(n: int) -> dict[str, float]:  # a tight cluster, and the corners now and then
...     if n % 100 == 0:
...         return {"a": float(n % 200 == 0), "b": float(n % 200 != 0)}
...     return {"a": 0.45 + 0.1 * (n * 0.618 % 1), "b": 0.45 + 0.1 * (n * 0.414 % 1)}
>>> stage = AnomalyStage(seed=1, budget=0.01, warmup=300)
>>> flagged = sum(stage.score(usual(n))[1] for n in range(2000))
>>> stage.score({"a": 0.9, "b": 0.5})[1], 5 < flagged < 40
(True, True)
>>> stage.drivers({"a": 0.9, "b": 0.5}, top=2)
[{'feature': 'a', 'value': 0.9, 'typical': 0.504}]
"""

from __future__ import annotations

from typing import Any

from detectors.learning.models import HalfSpace, Quantile

MEAN_EVERY = 8  # orders learnt per update of the running means the explanations start from


class AnomalyStage:
    def __init__(
        self,
        *,
        seed: int,
        budget: float,
        warmup: int,
        n_trees: int = 10,
        height: int = 8,
        window: int = 250,
    ) -> None:
        self.detector = HalfSpace(seed=seed, n_trees=n_trees, height=height, window=window)
        self.threshold = Quantile(1.0 - budget)
        self.warmup = warmup
        self.window = window
        self.learnt = 0
        self.means: dict[str, float] = {}

    def score(self, x: dict[str, float]) -> tuple[float, bool]:
        """The order's score, and whether it is anomalous; learns it unless it is."""
        score = self.detector.score(x)
        flagged = False
        if self.learnt >= self.window:  # the trees score 0 until their first window is full
            if self.learnt >= self.warmup:
                limit = self.threshold.get()
                flagged = limit is not None and score > limit
            self.threshold.update(score)
        if not flagged:
            self.detector.learn(x)
            self.learnt += 1
            if self.learnt % MEAN_EVERY == 1:  # the typical values need no more than a sample
                means = self.means
                n = float(self.learnt // MEAN_EVERY + 1)
                for name, value in x.items():
                    mean = means.get(name, value)
                    means[name] = mean + (value - mean) / n
        return score, flagged

    def drivers(self, x: dict[str, float], top: int) -> list[dict[str, Any]]:
        """The features whose running mean in place of their value lowers the score most."""
        base = self.detector.score(x)
        drops = []
        for name, value in x.items():
            typical = self.means.get(name, value)
            if typical == value:
                continue
            drop = base - self.detector.score({**x, name: typical})
            if drop > 0:
                drops.append((drop, name, value, typical))
        drops.sort(key=lambda d: (-d[0], d[1]))
        return [
            {"feature": name, "value": round(value, 3), "typical": round(typical, 3)}
            for _, name, value, typical in drops[:top]
        ]

    @property
    def limit(self) -> float | None:
        return self.threshold.get()

    def state(self) -> dict[str, Any]:
        return {
            "detector": self.detector.state(),
            "threshold": self.threshold.state(),
            "learnt": self.learnt,
            "means": self.means,
        }

    def load(self, state: dict[str, Any]) -> None:
        self.detector.load(state["detector"])
        self.threshold.load(state["threshold"])
        self.learnt = state["learnt"]
        self.means = dict(state["means"])
