"""Per-feature histograms: how rare each of an order's values is, summed (HBOS, Goldstein and
Dengel 2012), online.

Half-Space Trees average over trees that each look at a few random features, so an order odd
in one feature only (forty units of one product, a third order within the hour) is seen by few
of them, and a region holding 1 % of the orders scores much like one holding 0.01 % (a tree
stops at the first node under a tenth of its window). These histograms see every feature and
count every bin; they miss what only a combination shows, which the trees see: the stage
adds the two scores, each standardised.

Bins are fixed per feature (`SPANS`: its range, and whether counts are binned on a log scale),
so a bin means the same thing all year; values beyond the range fall in the end bins. Every
`halve_every` orders learnt, all counts are halved: the histograms follow a slow drift.

>>> h = Histograms({"x": (0.0, 10.0, False)}, bins=10)
>>> for n in range(1000):
...     h.learn({"x": float(n % 3)})
>>> h.score({"x": 1.0}) < h.score({"x": 9.0})
True
"""

from __future__ import annotations

import math
from typing import Any


class Histograms:
    def __init__(
        self, spans: dict[str, tuple[float, float, bool]], bins: int = 24, halve_every: int = 20_000
    ) -> None:
        self.bins = bins
        self.halve_every = halve_every
        # name -> (low, bins per unit, log scale)
        self.spans = {name: (lo, bins / (hi - lo), log) for name, (lo, hi, log) in spans.items()}
        self.counts: dict[str, list[float]] = {name: [0.0] * bins for name in spans}
        self.total = 0.0
        self.learnt = 0
        self._cells()
        # the last vector scored, and its rows and bins: learning it right after needs no
        # second binning
        self._scored: tuple[dict[str, float], list[list[float]], list[int]] | None = None

    def _cells(self) -> None:
        """Per feature, its binning and its row of counts, in one look-up."""
        counts = self.counts
        self._specs = {name: (*span, counts[name]) for name, span in self.spans.items()}

    def _bins(self, x: dict[str, float]) -> tuple[list[list[float]], list[int]]:
        specs, top = self._specs, self.bins - 1
        rows, bins = [], []
        for name, value in x.items():
            lo, scale, log, row = specs[name]
            if log:
                value = math.log1p(value) if value > 0 else 0.0
            b = int((value - lo) * scale)
            rows.append(row)
            bins.append(0 if b < 0 else (top if b > top else b))
        return rows, bins

    def score(self, x: dict[str, float]) -> float:
        """Sum over features of -log(share of past orders in this order's bin)."""
        specs, top = self._specs, self.bins - 1
        rows: list[list[float]] = []
        bins: list[int] = []
        keep_row, keep_bin = rows.append, bins.append
        total = self.total + 1.0
        surprise = 0.0
        log1p, log = math.log1p, math.log
        for name, value in x.items():  # binning and summing in one pass
            lo, scale, is_log, row = specs[name]
            if is_log:
                value = log1p(value) if value > 0 else 0.0
            b = int((value - lo) * scale)
            b = 0 if b < 0 else (top if b > top else b)
            keep_row(row)
            keep_bin(b)
            surprise -= log((row[b] + 0.5) / total)
        self._scored = (x, rows, bins)
        return surprise

    def learn(self, x: dict[str, float]) -> None:
        scored = self._scored
        self._scored = None
        rows, bins = scored[1:] if scored is not None and scored[0] is x else self._bins(x)
        for row, b in zip(rows, bins, strict=True):
            row[b] += 1.0
        self.total += 1.0
        self.learnt += 1
        if self.learnt % self.halve_every == 0:
            for row in self.counts.values():
                row[:] = [c / 2 for c in row]
            self.total /= 2

    def state(self) -> dict[str, Any]:
        return {"counts": self.counts, "total": self.total, "learnt": self.learnt}

    def load(self, state: dict[str, Any]) -> None:
        self.counts = {name: list(row) for name, row in state["counts"].items()}
        self.total = state["total"]
        self.learnt = state["learnt"]
        self._cells()
        self._scored = None
