"""river behind small typed wrappers: the only module of the learning stage that calls it.

river is untyped; each wrapper says what goes in and out, so `mypy --strict` holds for the
rest of the stage. Each keeps its river objects in attributes a checkpoint can walk
(`codec.encode`), and takes its randomness only from a seed.

river is imported when a wrapper is built, not with this module: `river.drift` and
`river.preprocessing` load `river.datasets`, whose `river.stream.iter_sql` imports SQLAlchemy
whenever it is installed (it is, for `reports/`). Importing `detectors` must load no database
library (the layering test holds it to that); a learner that runs river loads what river loads.
"""

from __future__ import annotations

import math
from typing import Any


class Saved:
    """A wrapper whose attributes are river objects and plain data: its checkpoint is them."""

    def state(self) -> dict[str, Any]:
        return dict(vars(self))

    def load(self, state: dict[str, Any]) -> None:
        vars(self).update(state)


class MinMax(Saved):
    """Online min-max scaling, river's `preprocessing.MinMaxScaler` to the bit (a constant
    feature scales to 0) on plain floats: river's keeps a `stats.Min` and a `stats.Max` object
    per feature and costs several times more on the per-order path.

    >>> scaler = MinMax()
    >>> [scaler.learn({"x": v, "k": 1.0}) for v in (2.0, 4.0, 3.0)]
    [True, True, False]
    >>> scaler.transform({"x": 3.5, "k": 1.0})
    {'x': 0.75, 'k': 0.0}
    >>> scaler.scale({"x": 3.5, "k": 1.0}), scaler.scale({"x": 5.0, "k": 1.0})[1]
    (({'x': 0.75, 'k': 0.0}, False), True)
    """

    def __init__(self) -> None:
        self.low: dict[str, float] = {}
        self.high: dict[str, float] = {}
        # (low, high - low, high), kept at learning
        self.spans: dict[str, tuple[float, float, float]] = {}

    def learn(self, x: dict[str, float]) -> bool:
        """Widen the ranges to `x`; whether any moved (if not, the last scaling still holds)."""
        low, high = self.low, self.high
        moved = False
        for name, value in x.items():
            lo, hi = low.get(name, math.inf), high.get(name, -math.inf)
            if value < lo or value > hi:
                lo = low[name] = min(lo, value)
                hi = high[name] = max(hi, value)
                self.spans[name] = (lo, hi - lo, hi)
                moved = True
        return moved

    def transform(self, x: dict[str, float]) -> dict[str, float]:
        return self.scale(x)[0]

    def scale(self, x: dict[str, float]) -> tuple[dict[str, float], bool]:
        """`transform(x)`, and whether `learn(x)` would move a range (if not, learning `x`
        changes nothing here and the scaling stands): one pass over `x` for both."""
        spans = self.spans
        out = {}
        moved = False
        for name, value in x.items():
            lo, span, hi = spans.get(name, _UNSEEN)
            out[name] = (value - lo) / span if span else 0.0
            if value < lo or value > hi:
                moved = True
        return out, moved

    def load(self, state: dict[str, Any]) -> None:
        super().load(state)
        high = self.high
        self.spans = {name: (lo, high[name] - lo, high[name]) for name, lo in self.low.items()}

    def state(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high}


_UNSEEN = (math.inf, 0.0, -math.inf)  # a feature never learnt scales to 0, as in river


class Standard(Saved):
    """Online standard scaling: river's `preprocessing.StandardScaler` (the same running mean
    and variance), with each feature's 1/deviation kept from its last update, since the
    classifier scales every order and learns only from the few with a verdict.

    >>> scaler = Standard()
    >>> for v in (1.0, 3.0):
    ...     scaler.learn({"x": v, "k": 2.0})
    >>> scaler.transform({"x": 3.0, "k": 2.0, "new": 5.0})
    {'x': 1.0, 'k': 0.0, 'new': 0.0}
    """

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.means: dict[str, float] = {}
        self.vars: dict[str, float] = {}
        self.inverse: dict[str, float] = {}  # 1 / standard deviation, 0 while it is 0

    def learn(self, x: dict[str, float]) -> None:
        counts, means, variances, inverse = self.counts, self.means, self.vars, self.inverse
        for name, value in x.items():
            n = counts[name] = counts.get(name, 0) + 1
            old = means.get(name, 0.0)
            mean = means[name] = old + (value - old) / n
            var = variances.get(name, 0.0)
            var = variances[name] = var + ((value - old) * (value - mean) - var) / n
            inverse[name] = 1.0 / math.sqrt(var) if var > 0 else 0.0

    def transform(self, x: dict[str, float]) -> dict[str, float]:
        means, inverse = self.means, self.inverse
        return {
            name: (value - means.get(name, 0.0)) * inverse.get(name, 0.0)
            for name, value in x.items()
        }


class HalfSpace(Saved):
    """river's Half-Space Trees behind online min-max scaling (river's own recipe, the one its
    documentation scores on Shuttle): `score` before `learn`, higher is more anomalous.

    The trees are river's own objects (`HalfSpaceTrees`, its `PaddedBranch` nodes: the state,
    the checkpoint); `score` walks them itself, the same sums as river's `score_one` in the same
    order, and notes each tree's path to its leaf on the way. Learning the order just scored,
    when the scaling did not move (nearly always, once warm), then adds one to each node of
    those paths, which is river's `learn_one` without its second walk; otherwise `learn` is
    river's `learn_one` itself. `tests/unit/learning/test_half_space_walk.py` holds the scores
    and the trees' masses to river's, bit for bit.
    """

    def __init__(self, *, seed: int, n_trees: int = 10, height: int = 8, window: int = 250) -> None:
        from river import anomaly

        self.scaler = MinMax()
        self.trees: Any = anomaly.HalfSpaceTrees(
            n_trees=n_trees, height=height, window_size=window, seed=seed
        )
        # the last vector scored and the nodes of its paths (every tree's, root to leaf), when
        # learning it would not move the scaling
        self._scored: dict[str, float] | None = None
        self._path: list[Any] = []

    def score(self, x: dict[str, float]) -> float:
        scaled, moved = self.scaler.scale(x)
        hst = self.trees
        self._scored = None
        if hst._first_window:  # river's score_one: 0 until the first window is full
            return 0.0
        height = hst.height
        size_limit = 0.1 * hst.window_size
        path: list[Any] = []
        note = path.append
        total = 0.0
        for root in hst.trees:  # river's _walk_score, walking on to the leaf
            node = root
            depth_pow = 1
            score = 0.0
            counting = True
            for _ in range(height):
                note(node)
                if counting:
                    r = node.r_mass
                    score += r * depth_pow
                    if r < size_limit:
                        counting = False
                c = node.children
                try:
                    node = c[0] if scaled[node.feature] < node.threshold else c[1]
                except KeyError:  # a feature missing: the child visited most, as river
                    node = c[1] if c[0].l_mass < c[1].l_mass else c[0]
                depth_pow <<= 1
            note(node)
            if counting:
                score += node.r_mass * depth_pow
            total += score
        if not moved:
            self._scored, self._path = x, path
        return float(1 - total / hst._max_score)

    def learn(self, x: dict[str, float]) -> None:
        if self._scored is not x:
            self._scored = None
            self.scaler.learn(x)
            self.trees.learn_one(self.scaler.transform(x))
            return
        self._scored = None
        for node in self._path:  # river's _walk_learn on the paths `score` noted
            node.l_mass += 1
        hst = self.trees  # river's learn_one from here: the window's pivot
        hst.counter += 1
        if hst.counter == hst.window_size:
            for nodes in hst._tree_nodes:
                for node in nodes:
                    node.r_mass = node.l_mass
                    node.l_mass = 0
            hst._first_window = False
            hst.counter = 0

    def state(self) -> dict[str, Any]:
        return {"scaler": self.scaler.state(), "trees": self.trees}

    def load(self, state: dict[str, Any]) -> None:
        self.scaler.load(state["scaler"])
        self.trees = state["trees"]
        self._scored = None


class Loda(Saved):
    """river's LODA (lightweight online detector of anomalies), the comparison of the README."""

    def __init__(self, *, seed: int) -> None:
        from river import anomaly

        self.scaler = MinMax()
        self.model: Any = anomaly.LODA(seed=seed)

    def score(self, x: dict[str, float]) -> float:
        return float(self.model.score_one(self.scaler.transform(x)))

    def learn(self, x: dict[str, float]) -> None:
        self.scaler.learn(x)
        self.model.learn_one(self.scaler.transform(x))

    def state(self) -> dict[str, Any]:
        return {"scaler": self.scaler.state(), "model": self.model}

    def load(self, state: dict[str, Any]) -> None:
        self.scaler.load(state["scaler"])
        self.model = state["model"]


class Quantile(Saved):
    """river's running quantile (the P-squared estimator, as `anomaly.QuantileFilter` uses)."""

    def __init__(self, q: float) -> None:
        from river import stats

        self.estimator: Any = stats.Quantile(q)
        self.count = 0

    def update(self, value: float) -> None:
        self.estimator.update(value)
        self.count += 1

    def get(self) -> float | None:
        value = self.estimator.get()
        return None if value is None else float(value)


class Logistic(Saved):
    """river's logistic regression behind standard scaling, learning one verdict at a time.

    Every order is scored and few are learnt, so after each verdict the weights are folded
    with the scaling into one coefficient per feature and an offset: a score is then one pass
    over the order's features, the same sum as river's `predict_proba_one` on the scaled
    order (up to the order of the additions).

    >>> model = Logistic(learning_rate=0.5)
    >>> for n in range(200):
    ...     model.learn({"x": float(n % 2), "y": 3.0}, n % 2 == 1)
    >>> round(model.probability({"x": 1.0, "y": 3.0}), 3) == round(model.river_probability(
    ...     {"x": 1.0, "y": 3.0}), 3) and model.probability({"x": 1.0, "y": 3.0}) > 0.9
    True
    """

    def __init__(self, *, learning_rate: float) -> None:
        from river import linear_model, optim

        self.scaler = Standard()
        self.model: Any = linear_model.LogisticRegression(optimizer=optim.SGD(learning_rate))
        self._coef: dict[str, float] = {}
        self._offset = 0.0

    def probability(self, x: dict[str, float]) -> float:
        coef = self._coef
        z = self._offset
        for name, value in x.items():
            w = coef.get(name)
            if w is not None:
                z += w * value
        # river's sigmoid: clipped, so exp never overflows
        if z < -30:
            return 0.0
        if z > 30:
            return 1.0
        return 1.0 / (1.0 + math.exp(-z))

    def coefficients(self) -> tuple[dict[str, float], dict[str, float]]:
        """Each feature's weight on its raw value, and its mean over the verdicts learnt."""
        return self._coef, self.scaler.means

    def river_probability(self, x: dict[str, float]) -> float:
        """river's own reckoning of `probability` (for the tests)."""
        proba: dict[bool, float] = self.model.predict_proba_one(self.scaler.transform(x))
        return float(proba.get(True, 0.0))

    def learn(self, x: dict[str, float], fraud: bool) -> None:
        self.scaler.learn(x)
        self.model.learn_one(self.scaler.transform(x), fraud)
        self._fold()

    def _fold(self) -> None:
        means, inverse = self.scaler.means, self.scaler.inverse
        coef = {}
        offset = float(self.model.intercept)
        for name, weight in self.model.weights.items():
            w = float(weight) * inverse.get(name, 0.0)
            coef[name] = w
            offset -= w * means.get(name, 0.0)
        self._coef, self._offset = coef, offset

    def state(self) -> dict[str, Any]:
        return {"scaler": self.scaler.state(), "model": self.model}

    def load(self, state: dict[str, Any]) -> None:
        self.scaler.load(state["scaler"])
        self.model = state["model"]
        self._fold()


class Adwin(Saved):
    """river's ADWIN change detector over one stream of values in [0, 1]."""

    def __init__(self, *, delta: float) -> None:
        from river import drift

        self.detector: Any = drift.ADWIN(delta=delta)  # type: ignore[no-untyped-call]

    def update(self, value: float) -> bool:
        """Add a value; whether the window just dropped its older part (a change)."""
        self.detector.update(value)
        return bool(self.detector.drift_detected)

    @property
    def mean(self) -> float:
        return float(self.detector.estimation)

    @property
    def width(self) -> int:
        return int(self.detector.width)
