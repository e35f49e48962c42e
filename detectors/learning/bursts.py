"""A young account's burst: subsidised orders of new categories, one after another, within the hour.

The programme bounds each consumer per category (and a new account per week), never per hour:
a fresh account can fill several categories' quotas in separate orders inside an hour and no
limit objects. A household buys what it needs in one basket (one order, several lines: a new
flat's two or three appliances) or over days; an account made or bought for the subsidy is
spent at once, before anyone looks. What is counted, per consumer over the last hour of event
time, is the orders that each brought a category the hour's earlier orders had not: a basket
counts once, a repeat of a category not at all. The learner alerts (`young_burst`) when an
account younger than the rules' `new_account_days` reaches the calibrated count (never below
`LearningConfig.burst_orders`, one less at a `thin` hour of the day) and names every order of
the hour.

>>> hours = ConsumerHours()
>>> hours.add(1, "o1", 0.0, ("tv", "fridge"))  # one basket of two categories counts once
(1, ('o1',))
>>> hours.add(1, "o2", 600.0, ("tv",))  # a category the hour has seen
(1, ('o1', 'o2'))
>>> hours.add(1, "o3", 1200.0, ("phone",))
(2, ('o1', 'o2', 'o3'))
>>> hours.add(1, "o4", 4000.0, ("laptop",))  # o1 has left the hour: o2's tv is new in it
(3, ('o2', 'o3', 'o4'))
"""

from __future__ import annotations

from array import array
from typing import Any

HOUR = 3600.0
MAX_KEPT = 16  # orders of one consumer within the hour that are kept (and named)
THIN_FROM = 1000  # subsidised orders seen before an hour of the day may be called thin
THIN_AFTER = 2 * 86400.0  # ... and event time since the first


class ConsumerHours:
    """Each consumer's subsidised orders of the last hour of event time, newest last; the table
    in order of last use, so a sweep stops at the first consumer still inside the hour."""

    def __init__(self, window: float = HOUR) -> None:
        self.window = window
        # identity fingerprint -> ((event time, order id, categories), ...)
        self.recent: dict[int, tuple[tuple[float, str, tuple[str, ...]], ...]] = {}
        # identity fingerprint -> event time of its latest burst alert, while in the hour
        self.alerts: dict[int, float] = {}
        # subsidised orders per local hour of the day, for `thin`
        self.by_hour = [0] * 24
        self.since: float | None = None  # event time of the first order counted
        self.counted = 0  # sum(by_hour)

    def add(
        self, identity: int, order_id: str, ts: float, categories: tuple[str, ...]
    ) -> tuple[int, tuple[str, ...]]:
        """Count the order: the hour's orders that each brought a new category, and the hour's
        order ids (this one last)."""
        cutoff = ts - self.window
        kept = self.recent.pop(identity, ())
        orders = (*(o for o in kept if o[0] > cutoff), (ts, order_id, categories))[-MAX_KEPT:]
        self.recent[identity] = orders
        seen: set[str] = set()
        new = 0
        for _, _, cats in orders:
            if not seen.issuperset(cats):
                new += 1
                seen.update(cats)
        return new, tuple(o[1] for o in orders)

    def thin(self, hour: int, ts: float, *, ask: bool = True) -> bool:
        """Count an order at this local hour of the day; whether the hour holds less than half
        what a busy hour (the upper quartile of the 24) holds of the programme's subsidised
        orders, once two days and enough orders are in: a night, not a quiet afternoon (against
        the even share, 1/24, a small programme's nights were not thin). At
        such an hour a pair of new categories is rarer from honest buyers than a triple by day
        (the simulated month: 2-24 honest pairs a month at any hour, none at thin hours)."""
        by_hour = self.by_hour
        by_hour[hour] += 1
        self.counted += 1
        if self.since is None:
            self.since = ts
        # every hour seen twice over (a first day's evening is no thin hour at 23:38), and
        # enough orders for shares to mean something; `ask` False: only counted (the answer
        # would change nothing, and the sort below is the cost)
        if not ask or ts - self.since < THIN_AFTER or self.counted < THIN_FROM:
            return False
        return by_hour[hour] * 2 < sorted(by_hour)[18]  # half a busy hour's (upper quartile)

    def alerted(self, identity: int, ts: float) -> bool:
        """Whether the consumer's hour was alerted already: a later order extends that case."""
        return ts - self.alerts.get(identity, float("-inf")) <= self.window

    def mark(self, identity: int, ts: float) -> None:
        self.alerts[identity] = ts

    def sweep(self, ts: float) -> None:
        cutoff = ts - self.window
        expired = []
        for key, kept in self.recent.items():
            if kept[-1][0] > cutoff:
                break
            expired.append(key)
        for key in expired:
            del self.recent[key]
        if self.alerts:
            self.alerts = {k: t for k, t in self.alerts.items() if t > cutoff}

    def state(self) -> dict[str, Any]:
        return {
            "keys": array("Q", self.recent).tobytes(),
            "orders": [[[t, o, list(c)] for t, o, c in kept] for kept in self.recent.values()],
            "alert_keys": array("Q", self.alerts).tobytes(),
            "alert_times": array("d", self.alerts.values()).tobytes(),
            "by_hour": list(self.by_hour),
            "since": self.since,
        }

    def load(self, state: dict[str, Any]) -> None:
        keys = array("Q")
        keys.frombytes(state["keys"])
        self.recent = {
            key: tuple((t, o, tuple(c)) for t, o, c in kept)
            for key, kept in zip(keys, state["orders"], strict=True)
        }
        alert_keys, alert_times = array("Q"), array("d")
        alert_keys.frombytes(state["alert_keys"])
        alert_times.frombytes(state["alert_times"])
        self.alerts = dict(zip(alert_keys, alert_times, strict=True))
        self.by_hour = list(state["by_hour"])
        self.counted = sum(self.by_hour)
        self.since = state["since"]


__all__ = ["ConsumerHours"]
