"""Merchant drift: a merchant whose refund rate or subsidy share departs from its own past
(ADWIN, Bifet and Gavaldà 2007) and from its peers (patterns.md, merchant fake orders).

Per merchant, two ADWIN windows: the fate of its orders (1 for a cancellation or refund, 0 for
a delivery) and the subsidy share of its paid orders. When ADWIN drops the older part of a
window because the recent part's mean differs, and the mean went up, and the merchant's new
mean is above its peers' median by a factor and a margin, a `merchant_drift` alert names the
merchant and its recent orders of that kind; for `watch_days` afterwards, every further
release there (or order, for the subsidy share) is named too while the merchant stays above
its peers. A merchant with few orders is never compared: ADWIN needs a past to depart from.

>>> from decimal import Decimal
>>> drift = MerchantDrift(delta=0.002, min_events=60, watch_days=7.0)
>>> day = 86400.0
>>> for m in ("M1", "M2", "M3"):
...     for n in range(400):
...         _ = drift.fate(m, f"O-{m}-{n}", n % 20 == 0, n * 600.0)
>>> alerts = [drift.fate("M1", f"O-x-{n}", n % 3 != 0, day * 3 + n * 600.0) for n in range(200)]
>>> first = next(a for a in alerts if a is not None)
>>> first.stream, first.merchant, first.after > 2 * first.peers
('refund_rate', 'M1', True)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from statistics import median
from typing import Any

from detectors.learning.models import Adwin

DAY = 86400.0
REFRESH = 8  # values between refreshes of a window's cached mean
RECENT = 20  # orders named by a drift alert, the merchant's latest of that kind
# (factor, margin): the merchant's new mean must exceed factor x the peers' median and the
# median plus the margin. Refund rates are small (a few per cent), subsidy shares capped by the
# rules (20 % at most), hence the different margins.
PEERS = {"refund_rate": (2.0, 0.10), "subsidy_share": (1.5, 0.05)}


@dataclass(frozen=True, slots=True)
class Drift:
    """What a drift alert says: the merchant, the stream, its mean before and after, its peers'
    median, and the orders it names."""

    merchant: str
    stream: str
    before: float
    after: float
    peers: float
    order_ids: tuple[str, ...]
    watching: bool  # raised while watching a merchant that drifted before, not by ADWIN now


class _Merchant:
    __slots__ = ("events", "means", "recent", "streams", "watch_until")

    def __init__(self, delta: float) -> None:
        self.streams = {name: Adwin(delta=delta) for name in PEERS}
        self.means = dict.fromkeys(PEERS, 0.0)  # each window's mean, read on every order
        self.events = dict.fromkeys(PEERS, 0)
        self.recent: dict[str, deque[str]] = {name: deque(maxlen=RECENT) for name in PEERS}
        self.watch_until = dict.fromkeys(PEERS, float("-inf"))


class MerchantDrift:
    def __init__(self, *, delta: float, min_events: int, watch_days: float) -> None:
        self.delta = delta
        self.min_events = min_events
        self.watch = watch_days * DAY
        self.merchants: dict[str, _Merchant] = {}

    def profile(self, merchant: str) -> tuple[float, float]:
        """(refund rate, subsidy share) of the merchant now (its ADWIN windows' means)."""
        state = self.merchants.get(merchant)
        if state is None:
            return 0.0, 0.0
        return state.means["refund_rate"], state.means["subsidy_share"]

    def fate(self, merchant: str, order_id: str, released: bool, ts: float) -> Drift | None:
        """A later event: a cancellation or refund (`released`), or a delivery."""
        return self._update(
            merchant, "refund_rate", order_id, 1.0 if released else 0.0, ts, released
        )

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
        state.events[stream] += 1
        # ADWIN's mean is read through three Python properties: refreshed on a change and
        # every few values (the features can do with a mean a few orders old)
        if changed or state.events[stream] % REFRESH == 0:
            state.means[stream] = window.mean
        after = state.means[stream]
        if notable:
            state.recent[stream].append(order_id)
        if state.events[stream] < self.min_events:
            return None
        rising = changed and after > before
        watching = ts <= state.watch_until[stream] and notable
        if not (rising or watching):
            return None
        peers = self._peers(merchant, stream)
        factor, margin = PEERS[stream]
        if after <= factor * peers or after <= peers + margin:
            return None
        if rising:
            state.watch_until[stream] = ts + self.watch
            named = tuple(dict.fromkeys(state.recent[stream]))
        else:
            named = (order_id,)
        return Drift(merchant, stream, before, after, peers, named, not rising)

    def _peers(self, merchant: str, stream: str) -> float:
        means = [
            m.means[stream]
            for key, m in self.merchants.items()
            if key != merchant and m.events[stream] >= self.min_events
        ]
        return median(means) if means else 0.0

    def state(self) -> dict[str, Any]:
        return {
            key: {
                "streams": {name: w.detector for name, w in m.streams.items()},
                "events": m.events,
                "means": m.means,
                "recent": {name: list(q) for name, q in m.recent.items()},
                "watch_until": m.watch_until,
            }
            for key, m in self.merchants.items()
        }

    def load(self, state: dict[str, Any]) -> None:
        self.merchants = {}
        for key, saved in state.items():
            m = _Merchant(self.delta)
            for name, detector in saved["streams"].items():
                m.streams[name].detector = detector
            m.events = dict(saved["events"])
            m.means = dict(saved["means"])
            m.recent = {name: deque(ids, maxlen=RECENT) for name, ids in saved["recent"].items()}
            m.watch_until = dict(saved["watch_until"])
            self.merchants[key] = m
