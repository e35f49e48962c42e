"""When a model's score is worth an analyst's time: thresholds that follow the evidence.

Each learning detector that scores orders (`anomaly`, `classifier`, `edge_burst`) has its own
`Threshold`. It is set from two kinds of evidence, never from a share of orders to fill:

- **honest traffic**: a running high quantile (river's `stats.Quantile`, the P² estimator) of
  the scores of the orders the rules approved and the detector did not flag, times a margin. In
  the warm-up that is all there is: fraud is a few per cent of orders, so a 99.9 % quantile of
  approved traffic lies above almost every honest order and moves little when fraud is mixed in.
- **verdicts**: once analysts have judged enough orders, a high quantile of the scores of the
  orders they called `legit` (what the model took for odd and a person found ordinary): the
  threshold never sits below it. Every `legit` verdict above the threshold raises it.

A detector that flags nothing does not lower its threshold to find something: an alert needs the
score above both. Floods are capped separately (`Flood`): per entity per day and per detector
per event-time hour, counted and reported, never a reason to drop an event.

>>> t = Threshold(q=0.99, margin=1.0, warmup=500, legit_q=0.9, min_verdicts=20)
>>> for n in range(2000):
...     t.observe((n * 7919 % 1000) / 1000)
>>> 0.97 < t.value() < 1.0
True
>>> for n in range(40):
...     t.verdict(1.5 + n / 100, fraud=False)  # analysts keep calling such scores legit
>>> t.value() > 1.5
True
"""

from __future__ import annotations

import math
from typing import Any

from detectors.learning.models import Quantile

HOUR = 3600
DAY = 86400
Z90 = 1.2815515655446004  # the standard normal's 90 % quantile


class Threshold:
    def __init__(
        self,
        *,
        q: float,
        margin: float,
        warmup: int,
        legit_q: float,
        min_verdicts: int,
        tail_z: float | None = None,
    ) -> None:
        self.honest = Quantile(q)
        self.legit = Quantile(legit_q)
        self.margin = margin
        self.warmup = warmup
        self.min_verdicts = min_verdicts
        self.frauds = 0
        # `tail_z`: the q-quantile also read from the median and the 90 % quantile, as a normal
        # tail's `tail_z` deviations. "Approved traffic" holds the fraud the rules approve, a
        # few % of orders, and it scores high: a 99.9 % quantile of a few thousand approved
        # scores lies inside it (a small programme's month: 6.0 where the honest orders' is
        # 4.7), so the detector never spoke. The centre moves little with a few % mixed in.
        # The empirical quantile joins (the higher of the two) once `trust` scores are in: a
        # large programme's honest tail is heavier than normal past 99.9 %.
        self.tail_z = tail_z
        self.middle = Quantile(0.5)
        self.high = Quantile(0.9)
        self.trust = math.ceil(10 / (1 - q))

    def observe(self, score: float) -> None:
        """A score of honest-looking traffic (approved by the rules, not flagged)."""
        self.honest.update(score)
        if self.tail_z is not None:
            self.middle.update(score)
            self.high.update(score)

    def verdict(self, score: float, *, fraud: bool) -> None:
        """The score an order had when it was scored, and what an analyst found it to be."""
        if fraud:
            self.frauds += 1
        else:
            self.legit.update(score)

    @property
    def ready(self) -> bool:
        return self.honest.count >= self.warmup

    def value(self) -> float:
        """The threshold now (infinite until the warm-up has seen enough honest scores)."""
        if not self.ready:
            return float("inf")
        base = self.honest.get() or 0.0
        if self.tail_z is not None:
            middle, high = self.middle.get() or 0.0, self.high.get() or 0.0
            robust = middle + self.tail_z * (high - middle) / Z90
            base = robust if self.honest.count < self.trust else max(robust, base)
        base *= self.margin
        if self.legit.count >= self.min_verdicts:
            base = max(base, self.legit.get() or 0.0)
        return base

    def state(self) -> dict[str, Any]:
        return {
            "honest": self.honest.state(),
            "legit": self.legit.state(),
            "frauds": self.frauds,
            "middle": self.middle.state(),
            "high": self.high.state(),
        }

    def load(self, state: dict[str, Any]) -> None:
        self.honest.load(state["honest"])
        self.legit.load(state["legit"])
        self.frauds = state["frauds"]
        self.middle.load(state["middle"])
        self.high.load(state["high"])


class Flood:
    """At most `per_entity` alerts of a detector on one entity per event-time day, and
    `per_hour` of a detector per event-time hour; what is held back is counted.

    >>> f = Flood(per_entity=2, per_hour=3)
    >>> [f.allow("anomaly", "c1", 10.0) for _ in range(3)], f.allow("anomaly", "c2", 20.0)
    ([True, True, False], True)
    >>> f.allow("anomaly", "c3", 30.0), f.held
    (False, 2)
    """

    def __init__(self, *, per_entity: int, per_hour: int) -> None:
        self.per_entity = per_entity
        self.per_hour = per_hour
        self.hours: dict[str, list[int]] = {}  # detector -> [hour, alerts in it]
        self.today: dict[str, int] = {}  # "detector/entity/day" -> alerts that day
        self.day = -1
        self.held = 0

    def allow(self, detector: str, entity: str, ts: float) -> bool:
        day = int(ts // DAY)
        if day > self.day:  # yesterday's counts no longer matter
            self.day = day
            self.today = {k: v for k, v in self.today.items() if k.endswith(f"/{day}")}
        hour = int(ts // HOUR)
        slot = self.hours.setdefault(detector, [hour, 0])
        if hour > slot[0]:
            slot[0], slot[1] = hour, 0
        key = f"{detector}/{entity}/{day}"
        if slot[1] >= self.per_hour or self.today.get(key, 0) >= self.per_entity:
            self.held += 1
            return False
        slot[1] += 1
        self.today[key] = self.today.get(key, 0) + 1
        return True

    def state(self) -> dict[str, Any]:
        return {"hours": self.hours, "entities": self.today, "day": self.day, "held": self.held}

    def load(self, state: dict[str, Any]) -> None:
        self.hours = {k: list(v) for k, v in state["hours"].items()}
        self.today = dict(state["entities"])
        self.day = state["day"]
        self.held = state["held"]
