"""`young_burst`: an account younger than the rules' `new_account_days` that buys three
subsidised categories in separate orders within the hour is named, its hour's orders with it;
a basket of three categories, repeats of one category, an old account and orders hours apart
are not; the count survives a checkpoint."""

from __future__ import annotations

from decimal import Decimal

from detectors.alerts import Alert
from detectors.examples import order
from detectors.learning import Learner, LearningConfig
from detectors.pipeline import Outcome
from schemas.orders import OrderPaid
from schemas.rules import load_rules

RULES = load_rules()
CONFIG = LearningConfig(seed=3)
APPROVED = Outcome(
    "processed", decision={}, kind="approve", claim=Decimal(450), allowed=Decimal(450)
)
YOUNG = "2026-07-05T09:00:00+08:00"  # a day before the examples' first order
CATEGORIES = ("mobile_phone", "television", "refrigerator", "washing_machine")


def honest(learner: Learner, n: int = 300) -> list[Alert]:
    """One order each, old accounts: the calibration's ordinary traffic."""
    alerts: list[Alert] = []
    for k in range(n):
        alerts += learner.on_paid(order(f"h{k}", hours=k * 0.1, number=k), APPROVED)
    return alerts


def burst(
    learner: Learner,
    who: str,
    start: float,
    gap_hours: float,
    categories: tuple[str, ...],
    **kw: str,
) -> list[Alert]:
    alerts: list[Alert] = []
    for k, category in enumerate(categories):
        event = order(who, hours=start + k * gap_hours, number=k, category=category, **kw)
        alerts += learner.on_paid(event, APPROVED)
    return alerts


def named(alerts: list[Alert]) -> list[Alert]:
    return [a for a in alerts if a.detector == "young_burst"]


def test_a_young_accounts_three_categories_in_an_hour_are_named_together() -> None:
    learner = Learner(RULES, CONFIG)
    assert not named(honest(learner))
    alerts = named(burst(learner, "fresh", 31.0, 0.25, CATEGORIES[:3], created=YOUNG))
    assert len(alerts) == 1
    alert = alerts[0].record()
    assert alert["risk"] == "fraud" and alert["entity"]["type"] == "consumer"
    assert alert["order_ids"] == [f"O-fresh-{k}" for k in range(3)]
    evidence = alert["evidence"]
    assert evidence["categories"] == 3 and evidence["threshold"] == 3 and evidence["orders"] == 3
    assert 1.0 < evidence["account_age_days"] < 3.0
    assert evidence["drivers"][0]["feature"] == "categories_in_hour"
    # a fourth category in the hour: named again, the whole hour
    more = named(burst(learner, "fresh", 31.9, 0.0, CATEGORIES[3:], created=YOUNG))
    assert more and len(more[0].order_ids) == 4


def test_what_a_household_or_an_old_customer_does_is_not_a_burst() -> None:
    learner = Learner(RULES, CONFIG)
    alerts = honest(learner)
    # an old account's three categories in an hour: counted, not named (young accounts only)
    alerts += burst(learner, "old", 31.0, 0.25, CATEGORIES[:3])
    # a young account's one category three times: the quota rules' business
    alerts += burst(learner, "again", 31.0, 0.25, ("mobile_phone",) * 3, created=YOUNG)
    # a young account's three categories over three hours
    alerts += burst(learner, "slow", 31.0, 1.1, CATEGORIES[:3], created=YOUNG)
    # a young couple's new flat: three appliances in one basket
    flat = order("flat", hours=31.0, number=1, created=YOUNG, category="television")
    line = flat.items[0]
    items = [line.model_copy(update={"category": c}) for c in CATEGORIES[1:4]]
    alerts += learner.on_paid(flat.model_copy(update={"items": items}), APPROVED)
    assert not named(alerts)


def test_an_unsubsidised_order_is_not_counted() -> None:
    learner = Learner(RULES, CONFIG)
    honest(learner)
    alerts: list[Alert] = []
    for k, category in enumerate(CATEGORIES[:3]):
        event = order("cash", hours=31.0 + k * 0.2, number=k, category=category, created=YOUNG)
        if k == 1:
            event = event.model_copy(update={"subsidy_amount": Decimal(0)})
        alerts += learner.on_paid(event, APPROVED)
    assert not named(alerts)


def test_the_hour_survives_a_checkpoint() -> None:
    learner = Learner(RULES, CONFIG)
    honest(learner)
    burst(learner, "fresh", 31.0, 0.25, CATEGORIES[:2], created=YOUNG)
    again = Learner.restore(RULES, None, learner.checkpoint())
    last: OrderPaid = order("fresh", hours=31.6, number=2, category=CATEGORIES[2], created=YOUNG)
    alerts = named(again.on_paid(last, APPROVED))
    assert alerts and alerts[0].order_ids == [f"O-fresh-{k}" for k in range(3)]


def test_at_a_thin_hour_a_pair_is_a_burst() -> None:
    """Past two days and 1,000 subsidised orders, an hour of the day holding less than half of
    what a busy hour holds is thin: there a young account's two new categories within the hour
    are named."""
    learner = Learner(RULES, CONFIG)
    alerts: list[Alert] = []
    for k in range(1200):  # old accounts, every order between 10:00 and 20:00 local time
        day, slot = divmod(k, 100)
        event = order(f"d{k}", hours=day * 24 + slot * 0.1, number=k)
        alerts += learner.on_paid(event, APPROVED)
    assert not named(alerts)
    young = "2026-07-17T12:00:00+08:00"  # a day before
    by_day = 12 * 24.0 + 2.0  # 12:00 local: a busy hour, a pair is not enough
    assert not named(burst(learner, "noon", by_day, 0.2, CATEGORIES[:2], created=young))
    at_night = 12 * 24.0 + 15.5  # 01:30 local
    pair = named(burst(learner, "night", at_night, 0.2, CATEGORIES[:2], created=young))
    assert len(pair) == 1 and pair[0].evidence["thin_hour"] is True
    assert pair[0].order_ids == ["O-night-0", "O-night-1"]


def test_a_long_burst_is_named_whole_past_the_flood_cap() -> None:
    """Each further order of an alerted hour extends the case: named, whatever the cap per
    entity and day (3) says of new cases."""
    learner = Learner(RULES, CONFIG)
    honest(learner)
    six = (*CATEGORIES, "tablet", "smartwatch")
    alerts = named(burst(learner, "greedy", 31.0, 0.1, six, created=YOUNG))
    assert len(alerts) == 4  # the third order on
    assert alerts[-1].order_ids == [f"O-greedy-{k}" for k in range(6)]
    assert learner.counts["held"] == 0
