"""Learning from analysts' verdicts: an online classifier over the orders' features.

A verdict comes hours to days after its order, when the stream has moved on, so each order's
features (with its anomaly score and what the decide half made of it) are kept, packed as
float32, for `horizon` of event time; a verdict on an order older than that, or never seen,
is counted and dropped. When a verdict arrives the model scores the order first (progressive
validation: the figure is the model's, on an order it has not learnt) and then learns it.

>>> v = Verdicts(learning_rate=0.1, threshold=0.5, horizon_days=10, max_pending=100)
>>> for n in range(400):
...     v.remember(f"O{n}", n * 60.0, {"x": float(n % 2), "y": 0.5}, (n, 1, 2, 3))
...     _ = v.learn(f"O{n}", n % 2 == 1)
>>> v.probability({"x": 1.0, "y": 0.5}) > 0.9 > 0.1 > v.probability({"x": 0.0, "y": 0.5})
True
>>> v.quality.figures()["auc_recent"] > 0.99
True
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from detectors.learning.models import Logistic
from detectors.learning.quality import Progressive

DAY = 86400.0
OWNERS = 4  # fingerprints kept per order: consumer, device, payment account, phone
_OWNERS = struct.Struct(f"{OWNERS}Q")  # as array("Q") packs them


@dataclass(frozen=True, slots=True)
class Learnt:
    """What one verdict taught: the order's features (expanded), the probability the model
    gave it just before, and the fingerprints of who placed it."""

    x: dict[str, float]
    probability: float
    owners: tuple[int, ...]
    ts: float  # the order's event time


class Verdicts:
    def __init__(
        self,
        *,
        expand: Callable[[dict[str, float]], dict[str, float]] = lambda x: x,
        ignore: frozenset[str] = frozenset(),
        learning_rate: float,
        threshold: float,
        horizon_days: float,
        max_pending: int,
        milestones: tuple[int, ...] = (500, 1000, 2000, 5000),
    ) -> None:
        # what the model reads of a vector (derived features added, in place): applied after
        # `remember` has packed the vector as it came
        self.expand = expand
        # features kept with the order (the explanations, the thresholds read them) that the
        # model never learns, so never weighs: without a weight a feature adds nothing
        self.ignore = ignore
        self.model = Logistic(learning_rate=learning_rate)
        self.quality = Progressive(threshold, milestones=milestones)
        self.horizon = horizon_days * DAY
        self.max_pending = max_pending
        self.names: tuple[str, ...] = ()
        # order id -> (event time, features as float32 in `names` order, owners' fingerprints
        # as uint64), oldest first
        self.pending: dict[str, tuple[float, bytes, bytes]] = {}
        self.learnt = 0
        self.unmatched = 0  # verdicts on orders not (or no longer) remembered
        self.swept = -1
        self._pack: struct.Struct | None = None

    def remember(
        self, order_id: str, ts: float, x: dict[str, float], owners: tuple[int, ...]
    ) -> None:
        if not self.names:
            self.names = tuple(x)
        if self._pack is None or self._pack.size != 4 * len(x):
            self._pack = struct.Struct(f"{len(x)}f")
        try:  # struct packs a dict's values several times faster than array
            packed = self._pack.pack(*x.values())
        except OverflowError:  # beyond float32: array keeps it as infinity
            packed = array("f", x.values()).tobytes()
        self.pending[order_id] = (ts, packed, _OWNERS.pack(*owners))
        if len(self.pending) > self.max_pending:
            del self.pending[next(iter(self.pending))]

    def probability(self, x: dict[str, float]) -> float:
        return self.model.probability(self.expand(x))

    def learn(self, order_id: str, fraud: bool) -> Learnt | None:
        """Score then learn the order's verdict; None when its features are not kept."""
        kept = self.pending.pop(order_id, None)
        if kept is None:
            self.unmatched += 1
            return None
        x = self.expand(self._unpack(kept[1]))
        probability = self.model.probability(x)
        self.quality.update(fraud, probability)
        self.model.learn({k: v for k, v in x.items() if k not in self.ignore}, fraud)
        self.learnt += 1
        return Learnt(x, probability, tuple(array("Q", kept[2])), kept[0])

    def drivers(self, x: dict[str, float], top: int) -> list[dict[str, Any]]:
        """The features that raise the order's log-odds most above a typical order's: weight
        times (value - the verdicts' mean), each with its value and typical value."""
        coef, means = self.model.coefficients()
        pushes = []
        for name, value in x.items():
            w = coef.get(name)
            typical = means.get(name, 0.0)
            if w is not None and value != typical and w * (value - typical) > 0:
                pushes.append((w * (value - typical), name, value, typical))
        pushes.sort(key=lambda d: (-d[0], d[1]))
        return [
            {"feature": name, "value": round(value, 3), "typical": round(typical, 3)}
            for _, name, value, typical in pushes[:top]
        ]

    def _unpack(self, packed: bytes) -> dict[str, float]:
        values: Sequence[float] = array("f", packed)
        return dict(zip(self.names, values, strict=True))

    def expire(self, ts: float) -> None:
        """Forget orders older than the horizon, once a day of event time. Orders come nearly
        in event-time order, so the oldest are first: the scan stops at the first kept one (a
        late straggler behind it waits for a later day)."""
        day = int(ts // DAY)
        if day <= self.swept:
            return
        self.swept = day
        cutoff = ts - self.horizon
        pending = self.pending
        expired = []
        for order_id, (at, _, _) in pending.items():  # no copy of the table: it is large
            if at >= cutoff:
                break
            expired.append(order_id)
        for order_id in expired:
            del pending[order_id]

    def state(self) -> dict[str, Any]:
        ids = list(self.pending)
        return {
            "model": self.model.state(),
            "quality": self.quality.state(),
            "names": list(self.names),
            "ids": ids,
            "times": array("d", (self.pending[i][0] for i in ids)).tobytes(),
            "vectors": b"".join(self.pending[i][1] for i in ids),
            "owners": b"".join(self.pending[i][2] for i in ids),
            "learnt": self.learnt,
            "unmatched": self.unmatched,
            "swept": self.swept,
        }

    def load(self, state: dict[str, Any]) -> None:
        self.model.load(state["model"])
        self.quality.load(state["quality"])
        self.names = tuple(state["names"])
        times = array("d", state["times"])
        size = 4 * len(self.names)
        vectors, owners = state["vectors"], state["owners"]
        width = 8 * OWNERS
        self.pending = {
            order_id: (
                times[n],
                vectors[n * size : (n + 1) * size],
                owners[n * width : (n + 1) * width],
            )
            for n, order_id in enumerate(state["ids"])
        }
        self.learnt = state["learnt"]
        self.unmatched = state["unmatched"]
        self.swept = state["swept"]
