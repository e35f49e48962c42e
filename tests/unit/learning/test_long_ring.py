"""`long_ring`: one device and one payment account serving more identities over weeks than a
household and than honest traffic shows; the alert names the pair's orders, a family's
shared tablet stays quiet, and a checkpoint carries the pairs."""

from __future__ import annotations

from decimal import Decimal

from detectors.alerts import Alert
from detectors.examples import order
from detectors.learning import Learner, LearningConfig
from detectors.pipeline import Outcome
from schemas.rules import load_rules

RULES = load_rules()
# a smaller calibration than the month's default: the honest quantile settles on 1,000 orders
CONFIG = LearningConfig(seed=3, warmup_orders=400, ring_quantile=0.99)
APPROVED = Outcome(
    "processed", decision={}, kind="approve", claim=Decimal(450), allowed=Decimal(450)
)


def honest_days(learner: Learner, days: int) -> list[Alert]:
    """60 people a day, each with their own device and card; every tenth day a family of four
    on one tablet and card."""
    alerts: list[Alert] = []
    for day in range(days):
        for n in range(60):
            event = order(f"p{day}x{n}", hours=day * 24 + n * 0.3, number=n)
            alerts += learner.on_paid(event, APPROVED)
        if day % 10 == 0:
            for member in range(4):
                event = order(
                    f"fam{day}x{member}",
                    hours=day * 24 + 20 + member * 30,
                    number=member,
                    device=f"tablet-{day}",
                    payment=f"card-{day}",
                )
                alerts += learner.on_paid(event, APPROVED)
    return alerts


def drip(
    learner: Learner, start_hours: float, people: int, gap_hours: float, name: str = "drip"
) -> list[Alert]:
    alerts: list[Alert] = []
    for k in range(people):
        event = order(
            f"{name}{k}",
            hours=start_hours + k * gap_hours,
            number=k,
            device="dv-ring",
            payment="card-ring",
        )
        alerts += learner.on_paid(event, APPROVED)
    return alerts


def test_a_slow_ring_is_named_whole_once_it_passes_a_household() -> None:
    learner = Learner(RULES, CONFIG)
    assert [a for a in honest_days(learner, 25) if a.detector == "long_ring"] == []
    found = [a for a in drip(learner, 25 * 24, 7, 45.0) if a.detector == "long_ring"]
    assert found, "seven identities on one device and card over 12 days"
    first = found[0]
    assert first.evidence["identities"] == 5 and first.evidence["threshold"] == 5
    assert {f"O-drip{k}-{k}" for k in range(5)} <= set(first.order_ids)
    assert first.entity_type == "payment_account" and first.risk == "fraud"
    assert learner.counts["long_ring"] == len(found)


def test_a_household_and_a_ring_spread_past_the_horizon_raise_nothing() -> None:
    learner = Learner(RULES, CONFIG)
    honest_days(learner, 25)
    # four members: a household
    assert [a for a in drip(learner, 25 * 24, 4, 45.0) if a.detector == "long_ring"] == []
    learner = Learner(RULES, CONFIG)
    honest_days(learner, 25)
    # seven identities, but one every 12.5 days: never five within six weeks
    spread = drip(learner, 25 * 24, 7, 300.0)
    assert [a for a in spread if a.detector == "long_ring"] == []


def test_the_ring_limit_waits_for_its_calibration() -> None:
    learner = Learner(RULES, CONFIG)
    found = [a for a in drip(learner, 0.0, 8, 20.0) if a.detector == "long_ring"]
    assert found == []  # no honest traffic seen yet: no threshold, no alert


def test_a_checkpoint_carries_the_pairs_and_their_orders() -> None:
    learner = Learner(RULES, CONFIG)
    honest_days(learner, 20)
    drip(learner, 20 * 24, 3, 45.0)
    again = Learner.restore(RULES, CONFIG, learner.checkpoint())
    assert again.pairs == learner.pairs
    assert again.checkpoint() == learner.checkpoint()
    a = drip(learner, 23 * 24, 4, 45.0, name="more")
    b = drip(again, 23 * 24, 4, 45.0, name="more")
    assert [x.record() for x in a] == [x.record() for x in b]
    assert any(x.detector == "long_ring" for x in a)


def test_pairs_past_the_long_horizon_are_forgotten() -> None:
    learner = Learner(RULES, CONFIG)
    honest_days(learner, 3)
    kept = len(learner.pairs)
    assert kept >= 180
    # seven weeks later, one order: the daily sweep drops every pair of those three days
    learner.on_paid(order("later", hours=49 * 24, number=1), APPROVED)
    assert len(learner.pairs) == 1
