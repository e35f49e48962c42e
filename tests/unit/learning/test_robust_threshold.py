"""The anomaly threshold's calibration when "approved traffic" holds the fraud the rules
approve: a few % of the scores, all in the tail. The empirical 99.9 % quantile of a few thousand
of them lies inside that fraud; the one read from the centre stays where the honest tail is."""

from __future__ import annotations

import random
from statistics import NormalDist

from detectors.learning.calibration import Threshold

Q = 0.999


def robust() -> Threshold:
    return Threshold(
        q=Q, margin=1.0, warmup=100, legit_q=0.99, min_verdicts=30, tail_z=NormalDist().inv_cdf(Q)
    )


def plain() -> Threshold:
    return Threshold(q=Q, margin=1.0, warmup=1000, legit_q=0.99, min_verdicts=30)


def contaminated(seed: int, n: int, share: float) -> list[float]:
    """Honest scores N(0, 1); a `share` of fraud scores N(5, 0.7), interleaved."""
    rng = random.Random(seed)
    return [rng.gauss(5.0, 0.7) if rng.random() < share else rng.gauss(0, 1) for _ in range(n)]


def test_a_small_months_contamination_does_not_lift_the_threshold_into_the_fraud() -> None:
    honest_q = NormalDist().inv_cdf(Q)  # 3.09: where the honest orders' 99.9 % lies
    for seed in range(5):
        r, p = robust(), plain()
        for score in contaminated(seed, 4000, 0.04):
            r.observe(score)
            p.observe(score)
        assert p.value() > 4.5  # the empirical quantile sits among the fraud's scores
        # the robust one a little above the honest tail (4 % fraud moves the 90 % quantile),
        # below all but the lowest fraud
        assert honest_q - 0.3 < r.value() < 4.0, r.value()


def test_a_large_clean_month_reads_its_own_heavier_tail() -> None:
    """Past `trust` scores the empirical quantile joins: an honest tail heavier than normal
    (a Laplace's here) is not cut at the normal's 99.9 %."""
    rng = random.Random(3)
    r = robust()
    scores = [rng.expovariate(1.0) * rng.choice((-1, 1)) for _ in range(30_000)]
    for score in scores:
        r.observe(score)
    over = sum(score > r.value() for score in scores) / len(scores)
    assert over < 0.0025, over


def test_the_robust_threshold_is_ready_after_a_hundred_scores_and_survives_a_checkpoint() -> None:
    r = robust()
    for score in contaminated(1, 99, 0.0):
        r.observe(score)
    assert r.value() == float("inf")
    r.observe(0.0)
    assert r.value() < 5.0
    copy = robust()
    copy.load(r.state())
    assert copy.value() == r.value()
