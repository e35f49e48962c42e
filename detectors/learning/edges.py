"""Sudden dense groups of links between identities and shared attributes: MIDAS-R.

Each paid order is a set of edges from its identity to its device, payment account, delivery
address and phone. MIDAS-R (Bhatia et al., "MIDAS: Microcluster-Based Detector of Anomalies in
Edge Streams", AAAI 2020) keeps, in count-min sketches of fixed size, each edge's and each
node's count in the current time tick (decayed by `alpha` at every new tick rather than reset)
and in total, and scores an edge by the chi-squared statistic of its current count against its
average per tick: `(a - s/t)^2 * t^2 / (s * (t - 1))`, the edge's score being the largest of
the edge's, its source's and its destination's. A ring or a farm is a burst of links to one
device or account; a script firing orders is a burst of one edge.

Two departures, both written down: time ticks are event-time hours, and the score is divided
by `t`. In the original, an edge seen for the first time at tick `t` scores about `t`, so every
score grows with the age of the stream; here almost every order is a person's first, and divided
by `t` the score reads as "links now against the node's own past" (about `a^2 / s` for a node
seen only recently) and one threshold holds all year.

>>> bursts = EdgeBursts(width=1 << 10, decay=0.9, tick_seconds=3600.0)
>>> fresh = (True, True)
>>> quiet = [bursts.score(n, (100 + n, 200 + n), fresh, n * 3600.0)[0] for n in range(1, 50)]
>>> ring = [bursts.score(1000 + k, (7, 8), fresh, 50 * 3600.0 + k * 600) for k in range(4)]
>>> max(quiet[10:]) < ring[-1][0], ring[-1][1]
(True, 0)
"""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np

_MIX = 0x9E3779B97F4A7C15
_MIX2 = 0xBF58476D1CE4E5B9
_MASK64 = (1 << 64) - 1


class Sketch:
    """A count-min sketch of two rows: `add` returns the new estimate (the smaller cell)."""

    __slots__ = ("cells", "mask", "width")

    def __init__(self, width: int) -> None:
        if width & (width - 1) or not 16 <= width <= 1 << 30:
            raise ValueError("sketch width must be a power of two between 16 and 2**30")
        self.width = width
        self.mask = width - 1
        self.cells = array("f", bytes(8 * width))  # float32, two rows end to end

    def add(self, key: int, amount: float) -> float:
        cells = self.cells
        i = key & self.mask
        j = self.width + ((key >> 32) & self.mask)
        a = cells[i] + amount
        b = cells[j] + amount
        cells[i] = a
        cells[j] = b
        return a if a < b else b

    def get(self, key: int) -> float:
        a = self.cells[key & self.mask]
        b = self.cells[self.width + ((key >> 32) & self.mask)]
        return a if a < b else b

    def scale(self, factor: float) -> None:
        view = np.frombuffer(self.cells, dtype=np.float32)
        view *= np.float32(factor)


def _chi(a1: float, a2: float, s1: float, s2: float, t: float, t1: float) -> float:
    """MIDAS-R's chi-squared score of a current count `a` against a total `s` at tick `t`
    (`t1` = t - 1): `(a - s/t)^2 t^2 / (s (t - 1))`, each count the smaller of its sketch's two
    rows."""
    a = a1 if a1 < a2 else a2
    s = s1 if s1 < s2 else s2
    d = a - s / t
    return d * d * t * t / (s * t1)


class EdgeBursts:
    """MIDAS-R over identity -> attribute edges, in four count-min sketches of fixed size."""

    def __init__(self, width: int, decay: float, tick_seconds: float) -> None:
        self.decay = decay
        self.tick_seconds = tick_seconds
        self.edge_now = Sketch(width)
        self.edge_total = Sketch(width)
        self.node_now = Sketch(width)
        self.node_total = Sketch(width)
        self.first_tick: int | None = None
        self.tick = 0
        self.recent: list[float] = []  # the last order's targets' current counts

    def _advance(self, ts: float) -> float:
        tick = int(ts // self.tick_seconds)
        if self.first_tick is None:
            self.first_tick = self.tick = tick
        elif tick > self.tick:  # a late event counts in the current tick
            factor = self.decay ** (tick - self.tick)
            self.edge_now.scale(factor)
            self.node_now.scale(factor)
            self.tick = tick
        return float(self.tick - self.first_tick + 1)

    def score(
        self, source: int, targets: tuple[int, ...], fresh: tuple[bool, ...], ts: float
    ) -> tuple[float, int]:
        """Count one order: an edge from `source` (the identity) to each of `targets` (its
        attributes' fingerprints); a target's node counts the edge only when `fresh` says the
        identity is new to it, so a node's counts are links of distinct identities (a person's
        own device, used twice, is no ring). The highest per-tick score of the order's edges
        and nodes (0 in the stream's first tick), and where it was: the index of the target
        (its edge or its node), or -1 for the identity's own node. `recent` then holds each
        target node's current (decayed) count of distinct identities linking to it."""
        t = self._advance(ts)
        first = t <= 1.0
        t1 = t - 1.0
        # the sketches' cells inlined (`Sketch.add`, up to four times per edge): per order
        mask, width = self.edge_now.mask, self.edge_now.width
        e_now, e_total = self.edge_now.cells, self.edge_total.cells
        n_now, n_total = self.node_now.cells, self.node_total.cells
        recent = self.recent = [0.0] * len(targets)
        src = (source * _MIX) & _MASK64
        i, j = src & mask, width + ((src >> 32) & mask)
        a1 = n_now[i] + 1.0
        a2 = n_now[j] + 1.0
        s1 = n_total[i] + 1.0
        s2 = n_total[j] + 1.0
        n_now[i], n_now[j], n_total[i], n_total[j] = a1, a2, s1, s2
        best = 0.0 if first else _chi(a1, a2, s1, s2, t, t1)
        where = -1
        for n, target in enumerate(targets):
            edge = (src ^ (target * _MIX2)) & _MASK64
            i, j = edge & mask, width + ((edge >> 32) & mask)
            a1 = e_now[i] + 1.0
            a2 = e_now[j] + 1.0
            s1 = e_total[i] + 1.0
            s2 = e_total[j] + 1.0
            e_now[i], e_now[j], e_total[i], e_total[j] = a1, a2, s1, s2
            score = 0.0 if first else _chi(a1, a2, s1, s2, t, t1)
            i, j = target & mask, width + ((target >> 32) & mask)
            if fresh[n]:
                a1 = n_now[i] + 1.0
                a2 = n_now[j] + 1.0
                s1 = n_total[i] + 1.0
                s2 = n_total[j] + 1.0
                n_now[i], n_now[j], n_total[i], n_total[j] = a1, a2, s1, s2
                if not first:
                    node = _chi(a1, a2, s1, s2, t, t1)
                    if node > score:
                        score = node
                recent[n] = a1 if a1 < a2 else a2
            else:
                a1, a2 = n_now[i], n_now[j]
                recent[n] = a1 if a1 < a2 else a2
            if score > best:
                best = score
                where = n
        return best / t, where

    def state(self) -> dict[str, Any]:
        return {
            "first_tick": self.first_tick,
            "tick": self.tick,
            "sketches": [
                bytes(s.cells)
                for s in (self.edge_now, self.edge_total, self.node_now, self.node_total)
            ],
        }

    def load(self, state: dict[str, Any]) -> None:
        self.first_tick = state["first_tick"]
        self.tick = state["tick"]
        for sketch, raw in zip(
            (self.edge_now, self.edge_total, self.node_now, self.node_total),
            state["sketches"],
            strict=True,
        ):
            cells = array("f")
            cells.frombytes(raw)
            if len(cells) != len(sketch.cells):
                raise ValueError("checkpoint sketch width differs from the configuration")
            sketch.cells = cells
