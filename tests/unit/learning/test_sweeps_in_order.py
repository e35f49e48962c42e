"""Tables swept by a scan that stops early forget exactly what a pass over all of them did
(and the peers' median read off a sorted ranking is the one a pass over all merchants gives).

The consumers' decayed counts and the analysts' quiet periods are kept in order of last
update; the daily sweep stops at the first entry that no later one can be older than (given
how late an update has ever come). Orders and verdicts arrive out of order here, hours late
and now and then days late, and each sweep must leave the entries a full pass leaves, in a
run and after a checkpoint (one from before, without the order, scans everything).
"""

from __future__ import annotations

import math
import random
from array import array
from statistics import median

import pytest

from detectors.learning import Learner
from detectors.learning.classifier import Verdicts
from detectors.learning.drift import MerchantDrift
from detectors.learning.features import DAY, HOUR, EntityState
from schemas.rules import load_rules


def arrivals(seed: int, n: int, per_day: int) -> list[tuple[int, float]]:
    """(key, event time) in arrival order: mostly in time order, some hours late, a few a
    week or more late."""
    rng = random.Random(seed)
    out = []
    for k in range(n):
        ts = k * DAY / per_day
        late = rng.random()
        if late < 0.05:
            ts -= rng.uniform(0, 6 * HOUR)
        elif late < 0.06:
            ts -= rng.uniform(5, 40) * DAY
        out.append((rng.randrange(n // 3), ts))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_consumers_swept_by_an_early_stop_as_by_a_full_pass(seed: int) -> None:
    state = EntityState(horizon_days=14)
    reference: dict[int, float] = {}  # key -> last event time, swept by a full pass
    forgotten = 0
    for key, ts in arrivals(seed, 12_000, per_day=150):
        day = state.swept
        state.sweep(ts)
        if state.swept != day:  # a new day of event time: the full pass
            before = len(reference)
            reference = {k: v for k, v in reference.items() if v >= ts - 30 * DAY}
            forgotten += before - len(reference)
        state.consumer(key, ts)
        reference[key] = max(reference.get(key, ts), ts)
        assert state.velocity.keys() == reference.keys()
    assert forgotten > 100 and state.late > 5 * DAY
    assert {k: v[0] for k, v in state.velocity.items()} == reference


def test_a_restored_table_sweeps_alike_and_an_old_checkpoint_scans_it_all() -> None:
    state = EntityState(horizon_days=14)
    for key, ts in arrivals(4, 6000, per_day=100):
        state.sweep(ts)
        state.consumer(key, ts)
    saved = state.state()
    again, old = EntityState(horizon_days=14), EntityState(horizon_days=14)
    again.load(saved)
    old.load({k: v for k, v in saved.items() if k not in ("newest", "late")})
    assert (again.newest, again.late) == (state.newest, state.late)
    assert math.isinf(old.late)
    later = 70 * DAY
    for table in (state, again, old):
        table.sweep(later)
    assert list(again.velocity) == list(state.velocity)
    assert old.velocity.keys() == state.velocity.keys()
    assert min(v[0] for v in state.velocity.values()) >= later - 30 * DAY


def test_quiet_periods_swept_by_an_early_stop_as_by_a_full_pass() -> None:
    rules = load_rules()
    learner = Learner(rules)
    rng = random.Random(5)
    reference: dict[int, float] = {}
    for n in range(3000):
        ts = n * HOUR / 4
        until = ts + 30 * DAY - (rng.uniform(0, 20) * DAY if rng.random() < 0.03 else 0.0)
        owners = tuple(rng.randrange(2000) for _ in range(4))
        learner._hush(owners, until)
        for key in owners:
            reference[key] = max(reference.get(key, -1.0), until)
        if n % 96 == 0:
            learner._sweep_quiet(ts)
            reference = {k: v for k, v in reference.items() if v >= ts}
            assert learner.quiet == reference
    assert learner.quiet_late > DAY and len(reference) > 100
    restored = Learner.restore(rules, None, learner.checkpoint())
    assert restored.quiet_late == learner.quiet_late
    for table in (learner, restored):
        table._sweep_quiet(3000 * HOUR / 4 + 20 * DAY)
    assert list(restored.quiet) == list(learner.quiet)


def test_kept_features_pack_as_float32_arrays_did_even_beyond_their_range() -> None:
    v = Verdicts(learning_rate=0.1, threshold=0.5, horizon_days=10, max_pending=100)
    x = {"a": 0.1, "b": 3.0, "c": -2.5e-3}
    v.remember("O1", 0.0, x, (1, 2, 3, 2**64 - 1))
    v.remember("O2", 0.0, {"a": 1e300, "b": float("nan"), "c": -1e39}, (1, 2, 3, 4))
    assert v.pending["O1"][1] == array("f", x.values()).tobytes()
    assert v.pending["O1"][2] == array("Q", (1, 2, 3, 2**64 - 1)).tobytes()
    far = array("f", v.pending["O2"][1])
    assert far[0] == math.inf and math.isnan(far[1]) and far[2] == -math.inf


def reference_peers(drift: MerchantDrift, merchant: str, stream: str) -> float:
    """The peers' median as a pass over every merchant gave it."""
    levels = [
        m.levels[stream] or 0.0
        for key, m in drift.merchants.items()
        if key != merchant and m.events[stream] >= drift.min_events
    ]
    return median(levels) if levels else 0.0


@pytest.mark.parametrize("seed", [1, 2])
def test_peers_median_read_off_the_ranking_as_a_pass_over_every_merchant(seed: int) -> None:
    rng = random.Random(seed)
    drift = MerchantDrift(delta=0.01, min_events=20, watch_days=7.0)
    merchants = [f"M{k}" for k in range(rng.randrange(30, 60))]
    for n in range(20_000):
        merchant = rng.choice(merchants[: 3 + n // 300])
        if rng.random() < 0.5:
            drift.fate(merchant, f"O{n}", rng.random() < 0.1, n * 60.0)
        else:
            drift.share(merchant, f"O{n}", rng.choice((0.0, 0.1, 0.15, 0.2)), n * 60.0)
        if n % 97 == 0:
            for stream in ("refund_rate", "subsidy_share"):
                for other in (merchant, rng.choice(merchants), "unknown"):
                    assert drift._peers(other, stream) == reference_peers(drift, other, stream)
    again = MerchantDrift(delta=0.01, min_events=20, watch_days=7.0)
    again.load(drift.state())
    assert again.ranked == drift.ranked and len(drift.ranked["refund_rate"]) > 20
