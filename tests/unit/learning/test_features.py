"""Features of one order, and the compact entity state they come from."""

from __future__ import annotations

import math

from factories import PHONE, h, item, line, paid

from detectors.learning.features import (
    FEATURES,
    VERDICT_FEATURES,
    EntityState,
    VerdictContext,
    order_features,
    verdict_features,
)
from schemas.decode import decode_order
from schemas.orders import OrderPaid
from schemas.rules import load_rules

RULES = load_rules()
OFFSET = 8 * 3600.0  # the programme's +08:00


def order(**kw: object) -> OrderPaid:
    event = decode_order(line(paid(**kw)))  # type: ignore[arg-type]
    assert isinstance(event, OrderPaid)
    return event


def verdict(
    x: dict[str, float],
    event: OrderPaid,
    *,
    anomaly: float = 0.0,
    allowed: float = 500.0,
    approved: bool = True,
    recent: list[float] | None = None,
    strangers: int = 0,
) -> dict[str, float]:
    """`verdict_features` of an order claiming 500 yuan."""
    return verdict_features(
        x,
        event,
        VerdictContext(RULES),
        anomaly=anomaly,
        claim=500.0,
        allowed=allowed,
        approved=approved,
        recent=recent or [0.0, 0.0, 0.0, 0.0],
        strangers=strangers,
    )


def test_features_of_one_order_from_its_fields() -> None:
    state = EntityState(horizon_days=14)
    event = order(
        person="alice",
        at=2.5,  # 12:30 local
        items=[item(*PHONE), item("SKU-LS-1", "local_specialty", "300.00", qty=3)],
        subsidy="600.00",
    )
    x = order_features(event, state, {"SKU-PH-1": 4545.0}, OFFSET)
    assert tuple(x) == FEATURES
    assert math.isclose(x["amount"], math.log1p(4999.0 + 900.0))
    assert math.isclose(x["subsidy_share"], 600.0 / 5899.0)
    assert (x["lines"], x["categories"]) == (2.0, 2.0)
    assert math.isclose(x["units"], math.log1p(4))
    assert math.isclose(x["hour"], 12.5)
    assert math.isclose(x["markup"], 4999.0 / 4545.0 - 1)  # the SKU without a reference: 0
    assert x["account_age"] > math.log1p(500)  # created 2025-01-01
    assert (x["consumer_2h"], x["device_ids"], x["address_ids"]) == (1.0, 1.0, 1.0)


def test_a_burst_of_one_consumer_counts_and_then_decays() -> None:
    state = EntityState(horizon_days=14)
    counts = [order_features(order(person="bob", at=t), state, {}, OFFSET) for t in (0, 0.2, 0.4)]
    assert 2.5 < counts[-1]["consumer_2h"] <= 3.0
    later = order_features(order(person="bob", at=48), state, {}, OFFSET)
    assert later["consumer_2h"] < 1.01  # 2-hour half-life: the burst is forgotten
    assert 1.74 < later["consumer_1d"] < 1.76  # 1-day half-life: 3 x 1/4, plus this order


def test_identities_per_attribute_within_the_horizon() -> None:
    state = EntityState(horizon_days=14)
    shared = {"device_id": "dv-flat", "delivery__address_hash": h("addr:flat")}
    family = [
        order_features(order(person=p, at=24 * n, **shared), state, {}, OFFSET)
        for n, p in enumerate(("mum", "dad", "kid"))
    ]
    assert [x["device_ids"] for x in family] == [1.0, 2.0, 3.0]
    assert state.fresh[0]  # the kid was new to the device
    again = order_features(order(person="dad", at=80, **shared), state, {}, OFFSET)
    assert again["device_ids"] == 3.0 and not state.fresh[0]
    # 17 days after the first order, 14 days after dad's last: mum and the kid have left
    late = order_features(order(person="guest", at=24 * 17, **shared), state, {}, OFFSET)
    assert late["device_ids"] == 2.0  # dad and the guest
    assert late["payment_ids"] == 1.0  # each pays with their own account


def test_strangers_tell_a_family_s_tablet_from_a_ring_s_device() -> None:
    """A family shares a tablet, a card and a flat: nobody on them lives elsewhere. A ring
    shares a device or a card across flats: each identity from another flat is a stranger."""
    state = EntityState(horizon_days=14)
    flat = {"device_id": "dv-flat", "delivery__address_hash": h("addr:flat")}
    for n, p in enumerate(("mum", "dad", "kid")):
        x = order_features(order(person=p, at=24 * n, **flat), state, {}, OFFSET)
        assert x["device_ids"] == n + 1 and state.strangers == 0
    for n in range(4):  # four identities, four flats, one device
        ring = {"device_id": "dv-ring", "delivery__address_hash": h(f"addr:r{n}")}
        order_features(order(person=f"r{n}", at=100 + n, **ring), state, {}, OFFSET)
        assert state.strangers == n
    event = order(person="r4", at=110, device_id="dv-ring")
    x = order_features(event, state, {}, OFFSET)
    z = verdict(x, event, strangers=state.strangers)
    assert z["strangers"] == 4.0 and math.isclose(z["resale_shared"], math.log(5))


def test_the_state_sweeps_and_round_trips() -> None:
    state = EntityState(horizon_days=14)
    for n in range(30):
        order_features(order(person=f"p{n % 7}", at=n * 12, device_id="dv-1"), state, {}, OFFSET)
    state.sweep(order(at=30 * 24).occurred_at.timestamp())
    again = EntityState(horizon_days=14)
    again.load(state.state())
    assert again.links == state.links and again.velocity == state.velocity
    state.sweep(order(at=60 * 24).occurred_at.timestamp())
    assert not state.links and not state.velocity


def test_verdict_features_spell_out_what_a_linear_model_cannot_see() -> None:
    state = EntityState(horizon_days=14)
    event = order(person="eve", at=-9.5, delivery__pickup_point=True)  # 00:30 local
    x = order_features(event, state, {}, OFFSET)
    z = verdict(x, event, anomaly=1.5, allowed=250.0, approved=False, recent=[1.0, 1.0, 2.0, 1.0])
    assert tuple(z) == VERDICT_FEATURES
    assert (z["over_claim"], z["held"], z["night"], z["pickup"], z["resale"]) == (
        0.5,
        1.0,
        1.0,
        1.0,
        1.0,
    )
    assert z["address_recent"] == 2.0 and z["order_basis"] == 0.0
