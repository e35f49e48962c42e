"""Merchant drift: a merchant whose refund rate or subsidy share departs from its own past
(ADWIN, Bifet and Gavaldà 2007) and from its peers (the merchant fake-orders pattern).

Per merchant and stream (the fate of its orders: 1 for a cancellation or refund, 0 for a
delivery; the subsidy share of its paid orders), an ADWIN window and a recent level (an
exponentially weighted mean over its last few dozen values). When ADWIN drops the older part
of the window because the recent part's mean is higher, or (refunds) when the recent level is
1.5 times the window's mean and further above the peers' rate than chance takes a merchant in
six standard deviations (a drift of days in weeks of history, which ADWIN may never cut), the
merchant has departed from its own past; for `watch_days` it is then compared with its
peers, and once its recent level is above the peers' median by a factor and a margin, a
`merchant_drift` alert names it and its orders of that kind within the last `watch_days`.
For `watch_days` after that alert every further one there is named too, while the merchant
stays above its peers. A merchant with fewer than `min_events` values is never compared. One
whose window as a whole is already that far above its peers (it turned in its first days, before
it had a past of its own to depart from: common in a small programme) is a suspect too.

Every release counts in the refund rate, but the orders named are the refunds of goods never
delivered: money paid, subsidised and paid back without anything shipped is the cycle a
merchant runs to make volume. A return after delivery is a buyer's ordinary right and a
cancellation the buyer's choice before shipping; both stay in the rate (a drifting merchant's
rate is the evidence) but name nobody: on the simulated months they were most of this
detector's false names (docs/learning.md). Deliveries are remembered for twice `watch_days`
(one entry per delivered order, about as much as the classifier keeps per paid order).

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
from bisect import bisect_left, insort
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from detectors.learning.models import Adwin

DAY = 86400.0
RECENT = 20  # paid orders named by a subsidy-share drift alert, the merchant's latest
REFUNDS = 400  # refunds kept per merchant for a refund-rate alert to name (within watch_days)
# a recent level this many times the merchant's window mean is a departure from its own past
# even before ADWIN cuts the window (a drift of days in a window of weeks: ADWIN may never cut)
DEPART = 1.5
SIGMAS = 6.0  # ... and when its level is this far above chance at its peers' rate
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
        # (order id, event time) of the orders an alert would name, newest last
        self.recent: dict[str, deque[tuple[str, float]]] = {
            name: deque(maxlen=REFUNDS if name == "refund_rate" else RECENT) for name in PEERS
        }
        self.before = dict.fromkeys(PEERS, 0.0)  # the window's mean before its last rise
        self.suspect = dict.fromkeys(PEERS, -math.inf)  # compared with peers until then
        self.watch = dict.fromkeys(PEERS, -math.inf)  # named, and every further order, until


class MerchantDrift:
    def __init__(self, *, delta: float, min_events: int, watch_days: float) -> None:
        self.delta = delta
        self.min_events = min_events
        self.span = watch_days * DAY
        self.merchants: dict[str, _Merchant] = {}
        # order id -> event time of its delivery, oldest first; swept past twice the span
        # (an OrderedDict: a plain dict's first key is found by scanning past the slots of
        # every key deleted before it, which made each delivery cost 20 µs)
        self.delivered: OrderedDict[str, float] = OrderedDict()
        # per stream, the recent levels of the merchants compared with peers (`min_events` or
        # more values), sorted: the peers' median without a pass over every merchant
        self.ranked: dict[str, list[float]] = {name: [] for name in PEERS}

    def profile(self, merchant: str) -> tuple[float, float]:
        """(refund rate, subsidy share) of the merchant lately (its recent levels)."""
        state = self.merchants.get(merchant)
        if state is None:
            return 0.0, 0.0
        refund, share = state.levels["refund_rate"], state.levels["subsidy_share"]
        return refund or 0.0, share or 0.0

    def fate(
        self, merchant: str, order_id: str, released: bool, ts: float, *, refund: bool = True
    ) -> Drift | None:
        """A later event: a cancellation or refund (`released`; `refund`: not a cancellation),
        or a delivery."""
        delivered = self.delivered
        if not released:
            delivered.pop(order_id, None)
            delivered[order_id] = ts
            horizon = ts - 2 * self.span
            while next(iter(delivered.values())) < horizon:  # this one is in: never empty
                delivered.popitem(last=False)
        notable = released and refund and order_id not in delivered
        value = 1.0 if released else 0.0
        return self._update(merchant, "refund_rate", order_id, value, ts, notable)

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
        old = state.levels[stream]
        # the mean of its first 1/LEVEL values, then the weighted one: seeded with the first
        # value alone, a merchant whose first order came back kept a level of 0.16 after 60
        level = state.levels[stream] = (
            value if old is None else old + max(LEVEL, 1.0 / n) * (value - old)
        )
        if n >= self.min_events:  # compared with peers: its level in the ranking
            ranked = self.ranked[stream]
            if n > self.min_events:
                del ranked[bisect_left(ranked, old or 0.0)]
            insort(ranked, level)
        if notable:
            state.recent[stream].append((order_id, ts))
        if n < self.min_events:
            return None
        mean = state.means[stream]
        peers: float | None = None  # the peers' median, computed once if at all
        factor, margin = PEERS[stream]
        if changed and mean > before:  # it departs from its own past: ADWIN cut its window
            state.suspect[stream] = ts + self.span
            state.before[stream] = before
        elif (
            stream == "refund_rate"
            and (level > DEPART * mean or mean > margin)  # (significance lies above margin)
            and ts > max(state.suspect[stream], state.watch[stream])
        ):  # or its level left its mean, further above its peers than chance takes it; or it
            # has no past of its own to leave (a merchant that turned in its first days: its
            # whole window as far above its peers as its level)
            peers = self._peers(merchant, stream)
            significant = _significant(peers)
            if level > significant and (level > DEPART * mean or mean > significant):
                state.suspect[stream] = ts + self.span
                state.before[stream] = mean
        watching = ts <= state.watch[stream]
        if not (watching and notable) and ts > state.suspect[stream]:
            return None
        if peers is None:
            peers = self._peers(merchant, stream)
        if level <= factor * peers or level <= peers + margin:
            return None
        if watching:
            if not notable:
                return None
            return Drift(merchant, stream, state.before[stream], level, peers, (order_id,), True)
        since = ts - self.span
        named = tuple(dict.fromkeys(o for o, at in state.recent[stream] if at >= since))
        if not named:  # nothing to name yet: still a suspect, compared again at the next one
            return None
        state.watch[stream] = ts + self.span
        state.suspect[stream] = -math.inf
        return Drift(merchant, stream, state.before[stream], level, peers, named, False)

    def _peers(self, merchant: str, stream: str) -> float:
        """The median level of the other merchants compared with peers (`statistics.median`
        of theirs, read off the sorted ranking without the merchant's own)."""
        ranked = self.ranked[stream]
        n = len(ranked)
        skip = n  # the merchant's own place in the ranking, if it is in it
        own = self.merchants.get(merchant)
        if own is not None and own.events[stream] >= self.min_events:
            skip = bisect_left(ranked, own.levels[stream] or 0.0)
            n -= 1
        if n == 0:
            return 0.0
        half = n // 2
        upper = ranked[half if half < skip else half + 1]
        if n % 2:
            return upper
        lower = ranked[half - 1 if half - 1 < skip else half]
        return (lower + upper) / 2

    def state(self) -> dict[str, Any]:
        merchants = {
            key: {
                "streams": {name: w.detector for name, w in m.streams.items()},
                "means": m.means,
                "levels": m.levels,
                "events": m.events,
                "recent": {name: [list(r) for r in q] for name, q in m.recent.items()},
                "before": m.before,
                "suspect": m.suspect,
                "watch": m.watch,
            }
            for key, m in self.merchants.items()
        }
        return {"merchants": merchants, "delivered": dict(self.delivered)}

    def load(self, state: dict[str, Any]) -> None:
        self.merchants = {}
        self.delivered = OrderedDict(state["delivered"])
        for key, saved in state["merchants"].items():
            m = _Merchant(self.delta)
            for name, detector in saved["streams"].items():
                m.streams[name].detector = detector
            m.means = dict(saved["means"])
            m.levels = dict(saved["levels"])
            m.events = dict(saved["events"])
            for name, kept in saved["recent"].items():
                m.recent[name].extend((order_id, at) for order_id, at in kept)
            m.before = dict(saved["before"])
            m.suspect = dict(saved["suspect"])
            m.watch = dict(saved["watch"])
            self.merchants[key] = m
        self.ranked = {
            name: sorted(
                m.levels[name] or 0.0
                for m in self.merchants.values()
                if m.events[name] >= self.min_events
            )
            for name in PEERS
        }


def _significant(p: float) -> float:
    """The refund level a merchant reaches by chance at its peers' rate `p` only `SIGMAS`
    standard deviations out: the level is an exponentially weighted mean of 0/1 fates, whose
    variance is p(1-p)·w/(2-w) for weight w."""
    if p <= 0.0:  # no peers compared yet, or none that ever releases: no chance to measure
        return math.inf
    return p + SIGMAS * math.sqrt(p * (1 - p) * LEVEL / (2 - LEVEL))
