"""Merchant drift: a merchant whose refund rate or subsidy share departs from its own past
(ADWIN, Bifet and Gavaldà 2007) and from its peers (the merchant fake-orders pattern).

Per merchant and stream (the fate of its orders: 1 for a cancellation or refund, 0 for a
delivery; the subsidy share of its paid orders), an ADWIN window and a recent level (an
exponentially weighted mean over its last few dozen values). When ADWIN drops the older part
of the window because the recent part's mean is higher, the merchant has departed from its
own past; for `watch_days` it is then compared with its peers, and once its recent level is
above the peers' median by a factor and a margin, a `merchant_drift` alert names it and its
latest orders of that kind. For `watch_days` after that alert every further release there
(or order, for the subsidy share) is named too, while the merchant stays above its peers. A
merchant with few values is never compared: ADWIN needs a past to depart from.

>>> drift = MerchantDrift(delta=0.01, min_events=60, watch_days=7.0)
>>> for n in range(400):
...     for m in ("M1", "M2", "M3"):
...         _ = drift.fate(m, f"O-{m}-{n}", n % 20 == 0, n * 600.0)
>>> alerts = [drift.fate("M1", f"O-x-{n}", n % 3 != 0, 300_000 + n * 600.0) for n in range(300)]
>>> first = next(a for a in alerts if a is not None)
>>> first.stream, first.merchant, first.after > 2 * first.peers, first.watching
('refund_rate', 'M1', True, False)
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from statistics import median
from typing import Any

from detectors.learning.models import Adwin

DAY = 86400.0
RECENT = 20  # orders named by a drift alert, the merchant's latest of that kind
REFRESH = 8  # values between refreshes of a window's cached mean
LEVEL = 0.03  # weight of each new value in a merchant's recent level
# (factor, margin): the merchant's recent level must exceed factor x the peers' median and the
# median plus the margin. Refund rates are small (a few per cent), subsidy shares capped by the
# rules (20 % at most), hence the different margins.
PEERS = {"refund_rate": (2.0, 0.10), "subsidy_share": (1.5, 0.05)}


@dataclass(frozen=True, slots=True)
class Drift:
    """What a drift alert says: the merchant, the stream, its mean before the change and its
    recent level, its peers' median, and the orders it names."""

    merchant: str
    stream: str
    before: float
    after: float
    peers: float
    order_ids: tuple[str, ...]
    watching: bool  # a further order of a merchant named before, not the first alert


class _Merchant:
    __slots__ = ("before", "events", "levels", "means", "recent", "streams", "suspect", "watch")

    def __init__(self, delta: float) -> None:
        self.streams = {name: Adwin(delta=delta) for name in PEERS}
        self.means = dict.fromkeys(PEERS, 0.0)  # each window's mean, refreshed now and then
        self.levels: dict[str, float | None] = dict.fromkeys(PEERS)  # recent levels
        self.events = dict.fromkeys(PEERS, 0)
        self.recent: dict[str, deque[str]] = {name: deque(maxlen=RECENT) for name in PEERS}
        self.before = dict.fromkeys(PEERS, 0.0)  # the window's mean before its last rise
        self.suspect = dict.fromkeys(PEERS, -math.inf)  # compared with peers until then
        self.watch = dict.fromkeys(PEERS, -math.inf)  # named, and every further order, until


class MerchantDrift:
    def __init__(self, *, delta: float, min_events: int, watch_days: float) -> None:
        self.delta = delta
        self.min_events = min_events
        self.span = watch_days * DAY
        self.merchants: dict[str, _Merchant] = {}

    def profile(self, merchant: str) -> tuple[float, float]:
        """(refund rate, subsidy share) of the merchant lately (its recent levels)."""
        state = self.merchants.get(merchant)
        if state is None:
            return 0.0, 0.0
        refund, share = state.levels["refund_rate"], state.levels["subsidy_share"]
        return refund or 0.0, share or 0.0

    def fate(self, merchant: str, order_id: str, released: bool, ts: float) -> Drift | None:
        """A later event: a cancellation or refund (`released`), or a delivery."""
        value = 1.0 if released else 0.0
        return self._update(merchant, "refund_rate", order_id, value, ts, released)

    def share(self, merchant: str, order_id: str, share: float, ts: float) -> Drift | None:
        """A paid order's subsidy share."""
        return self._update(merchant, "subsidy_share", order_id, share, ts, True)

    def _update(
        self, merchant: str, stream: str, order_id: str, value: float, ts: float, notable: bool
    ) -> Drift | None:
        state = self.merchants.get(merchant)
        if state is None:
            state = self.merchants[merchant] = _Merchant(self.delta)
        before = state.means[stream]
        window = state.streams[stream]
        changed = window.update(value)
        n = state.events[stream] = state.events[stream] + 1
        # ADWIN's mean is read through three Python properties: refreshed on a change and
        # every few values
        if changed or n % REFRESH == 0:
            state.means[stream] = window.mean
        level = state.levels[stream]
        level = state.levels[stream] = value if level is None else level + LEVEL * (value - level)
        if notable:
            state.recent[stream].append(order_id)
        if n < self.min_events:
            return None
        if changed and state.means[stream] > before:  # it departs from its own past
            state.suspect[stream] = ts + self.span
            state.before[stream] = before
        watching = ts <= state.watch[stream]
        if not (watching and notable) and ts > state.suspect[stream]:
            return None
        peers = self._peers(merchant, stream)
        factor, margin = PEERS[stream]
        if level <= factor * peers or level <= peers + margin:
            return None
        if watching:
            return Drift(merchant, stream, state.before[stream], level, peers, (order_id,), True)
        state.watch[stream] = ts + self.span
        state.suspect[stream] = -math.inf
        named = tuple(dict.fromkeys(state.recent[stream]))
        return Drift(merchant, stream, state.before[stream], level, peers, named, False)

    def _peers(self, merchant: str, stream: str) -> float:
        levels = [
            m.levels[stream] or 0.0
            for key, m in self.merchants.items()
            if key != merchant and m.events[stream] >= self.min_events
        ]
        return median(levels) if levels else 0.0

    def state(self) -> dict[str, Any]:
        return {
            key: {
                "streams": {name: w.detector for name, w in m.streams.items()},
                "means": m.means,
                "levels": m.levels,
                "events": m.events,
                "recent": {name: list(q) for name, q in m.recent.items()},
                "before": m.before,
                "suspect": m.suspect,
                "watch": m.watch,
            }
            for key, m in self.merchants.items()
        }

    def load(self, state: dict[str, Any]) -> None:
        self.merchants = {}
        for key, saved in state.items():
            m = _Merchant(self.delta)
            for name, detector in saved["streams"].items():
                m.streams[name].detector = detector
            m.means = dict(saved["means"])
            m.levels = dict(saved["levels"])
            m.events = dict(saved["events"])
            m.recent = {name: deque(ids, maxlen=RECENT) for name, ids in saved["recent"].items()}
            m.before = dict(saved["before"])
            m.suspect = dict(saved["suspect"])
            m.watch = dict(saved["watch"])
            self.merchants[key] = m
