"""Merchant drift (ADWIN, against the merchant's past and its peers) and edge bursts (MIDAS-R)."""

from __future__ import annotations

import random

import pytest

from detectors.learning.drift import MerchantDrift
from detectors.learning.edges import EdgeBursts, Sketch

DAY = 86400.0
MERCHANTS = [f"M{n}" for n in range(8)]


def steady(drift: MerchantDrift, days: int, rate: float, seed: int = 1) -> float:
    """Each merchant's orders for `days`, a share `rate` released; returns the last time."""
    rng = random.Random(seed)
    ts = 0.0
    for n in range(days * 40):
        ts = n * DAY / 40
        for m in MERCHANTS:
            assert drift.fate(m, f"{m}-{n}", rng.random() < rate, ts) is None
    return ts


def test_a_merchant_whose_refunds_jump_above_its_peers_is_named() -> None:
    drift = MerchantDrift(delta=0.01, min_events=60, watch_days=7)
    ts = steady(drift, 10, 0.06)
    rng = random.Random(2)
    alerts = []
    for n in range(400):
        released = rng.random() < 0.45
        found = drift.fate("M3", f"late-{n}", released, ts + n * 600)
        if found is not None:
            alerts.append(found)
    first = alerts[0]
    assert (first.merchant, first.stream, first.watching) == ("M3", "refund_rate", False)
    assert first.after > first.before and first.after > 2 * first.peers
    assert first.order_ids and all(o.startswith("late-") for o in first.order_ids[-5:])
    assert any(a.watching for a in alerts)  # each later release there, while it stays high


def test_a_drift_names_undelivered_refunds_of_the_week_not_returns_or_cancellations() -> None:
    drift = MerchantDrift(delta=0.01, min_events=60, watch_days=7)
    ts = steady(drift, 10, 0.06)
    named: set[str] = set()
    returns, cancelled, refunds = set(), set(), set()
    for n in range(400):
        at = ts + n * 600
        order = f"late-{n}"
        if n % 5 == 0:  # delivered, then returned: a buyer's right
            assert drift.fate("M3", order, False, at) is None
            found = drift.fate("M3", order, True, at + 60)
            returns.add(order)
        elif n % 5 == 1:  # cancelled before shipping
            found = drift.fate("M3", order, True, at, refund=False)
            cancelled.add(order)
        elif n % 5 == 2:  # paid back in full, nothing shipped
            found = drift.fate("M3", order, True, at)
            refunds.add(order)
        else:
            found = drift.fate("M3", order, False, at)
        if found is not None:
            named.update(found.order_ids)
    late = {o for o in named if o.startswith("late-")}  # besides, its steady days' releases
    assert late and late <= refunds
    assert not named & (returns | cancelled)
    first_refunds = sorted(refunds, key=lambda o: int(o.split("-")[1]))[:3]
    assert set(first_refunds) <= named  # the ones before the alert, named back to a week


def test_a_drift_checkpoint_carries_the_deliveries_and_the_refunds_to_name() -> None:
    drift = MerchantDrift(delta=0.01, min_events=60, watch_days=7)
    ts = steady(drift, 3, 0.06)
    drift.fate("M1", "shipped", False, ts + 1)
    drift.fate("M1", "paid-back", True, ts + 2)
    again = MerchantDrift(delta=0.01, min_events=60, watch_days=7)
    again.load(drift.state())
    assert again.state() == drift.state()
    assert "shipped" in again.delivered
    assert ("paid-back", ts + 2) in again.merchants["M1"].recent["refund_rate"]


def test_a_short_drift_after_weeks_of_history_is_named_and_chance_is_not() -> None:
    drift = MerchantDrift(delta=0.01, min_events=60, watch_days=7)
    ts = steady(drift, 30, 0.08)  # 1,200 fates each: a drift of days is a sliver of the window
    rng = random.Random(5)
    found, noise = [], []
    for n in range(120):  # three days at a third released, beside peers at 8 %
        at = ts + n * DAY / 40
        found.append(drift.fate("M3", f"short-{n}", rng.random() < 0.33, at))
        for m in ("M1", "M2"):  # ordinary days, ordinary luck
            noise.append(drift.fate(m, f"{m}-more-{n}", rng.random() < 0.08, at))
    assert any(a is not None and not a.watching for a in found)
    assert all(a is None for a in noise)


def test_a_merchant_that_turns_before_it_has_a_past_is_named_against_its_peers() -> None:
    """A small programme: a new merchant paying back half its orders from its first days has
    no past of its own to depart from; its whole window is as far above its peers as its
    level, and that is named. Its peers, at their ordinary rate, are not."""
    drift = MerchantDrift(delta=0.01, min_events=60, watch_days=7)
    rng = random.Random(1)
    found, noise = [], []
    for n in range(6 * 40):  # six days: the peers reach their 60 fates on the second
        at = n * DAY / 40
        for m in MERCHANTS:
            noise.append(drift.fate(m, f"{m}-{n}", rng.random() < 0.08, at))
        if n % 2 == 0:  # the new one: half as busy, half of it paid back undelivered
            found.append(drift.fate("NEW", f"new-{n}", rng.random() < 0.5, at))
    named = [a for a in found if a is not None]
    assert named and named[0].merchant == "NEW" and not named[0].watching
    assert named[0].after > 2 * named[0].peers
    assert all(a is None for a in noise)


def test_a_merchant_whose_first_orders_came_back_is_not_named_for_them() -> None:
    """Its recent level starts as the mean of its first fates, not as the first alone: two
    early refunds then kept its level near 0.2 after 60 orders, and it was named in three of
    these eight runs (honest merchants at 8 %, six days)."""
    for seed in range(1, 9):
        drift = MerchantDrift(delta=0.01, min_events=60, watch_days=7)
        rng = random.Random(seed)
        named = []
        for n in range(6 * 40):
            at = n * DAY / 40
            for m in MERCHANTS:
                released = (m == "M0" and n < 2) or rng.random() < 0.08
                found = drift.fate(m, f"{m}-{n}", released, at)
                if found is not None:
                    named.append(found.merchant)
        assert named == [], seed


def test_no_alert_when_every_merchant_moves_together() -> None:
    drift = MerchantDrift(delta=0.01, min_events=60, watch_days=7)
    ts = steady(drift, 10, 0.06)
    rng = random.Random(3)
    for n in range(400):
        for m in MERCHANTS:
            assert drift.fate(m, f"{m}-x{n}", rng.random() < 0.45, ts + n * 600) is None


def test_a_steady_merchant_is_left_alone_and_its_profile_is_its_rate() -> None:
    drift = MerchantDrift(delta=0.01, min_events=60, watch_days=7)
    steady(drift, 20, 0.08)
    rate, share = drift.profile("M0")
    assert 0.04 < rate < 0.12 and share == 0.0
    assert drift.profile("unknown") == (0.0, 0.0)


def test_subsidy_share_drift() -> None:
    drift = MerchantDrift(delta=0.01, min_events=60, watch_days=7)
    rng = random.Random(4)
    for n in range(600):
        for m in MERCHANTS:
            assert drift.share(m, f"{m}-{n}", 0.1 + rng.uniform(-0.03, 0.03), n * 300.0) is None
    found = [drift.share("M5", f"hi-{n}", 0.19, 200_000.0 + n) for n in range(300)]
    hit = next(a for a in found if a is not None)
    assert hit.stream == "subsidy_share" and hit.after > 0.15


def test_a_ring_burst_outscores_a_steady_station_and_a_repeat_buyer() -> None:
    bursts = EdgeBursts(width=1 << 12, decay=0.97, tick_seconds=3600.0)
    hour = 3600.0
    # a pickup station: one new resident a day for a month (node 500), others alone
    station = []
    for day in range(30):
        for k in range(20):
            bursts.score(
                10_000 + 20 * day + k, (20_000 + 20 * day + k,), (True,), day * 86400 + k * hour
            )
        station.append(bursts.score(900 + day, (500,), (True,), day * 86400 + 21 * hour)[0])
    # one person ordering five times in a day on their own device: not new links to the device
    repeat = [bursts.score(77, (600,), (n == 0,), 31 * 86400 + n * hour)[0] for n in range(5)]
    # a ring: five identities onto one new device within ten hours
    ring = [bursts.score(2_000 + k, (700,), (True,), 32 * 86400 + 2 * k * hour) for k in range(5)]
    assert max(station[5:]) < 2.5 <= ring[-1][0]
    assert ring[-1][1] == 0  # the device's node (target 0) is where the burst is
    assert repeat[-1] > 2.5  # ... whereas one pair repeated is an edge burst


def test_sketch_width_and_state() -> None:
    with pytest.raises(ValueError, match="power of two"):
        Sketch(1000)
    bursts = EdgeBursts(width=1 << 8, decay=0.9, tick_seconds=3600.0)
    for n in range(50):
        bursts.score(n, (n % 3, 99), (True, n % 5 == 0), n * 1800.0)
    again = EdgeBursts(width=1 << 8, decay=0.9, tick_seconds=3600.0)
    again.load(bursts.state())
    assert again.score(7, (1, 99), (True, False), 50 * 1800.0) == bursts.score(
        7, (1, 99), (True, False), 50 * 1800.0
    )
    with pytest.raises(ValueError, match="width"):
        EdgeBursts(width=1 << 9, decay=0.9, tick_seconds=3600.0).load(bursts.state())
