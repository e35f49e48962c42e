"""Hoarding: quotas, split orders, identity rings, account farms; and their honest look-alikes."""

from __future__ import annotations

from decimal import Decimal

from factories import Run, h, item, later, paid

TABLET = ("SKU-TB-1", "tablet", "3000.00")


def test_second_phone_breaches_the_quota() -> None:
    first = paid("p1")
    second = paid(
        "p1",
        at=48,
        items=[item("SKU-PH-1", "mobile_phone", "4999.00")],
        qualification={"code": "GDQ-p1-second", "verified": True},
    )
    run = Run().feed(first, second)
    assert run.decision(first) == ("approve", Decimal("500.00"))
    assert run.decision(second) == ("reject", Decimal("0.00"))
    assert run.detectors() == {"quota_breach"}
    assert run.alerts[0]["order_ids"] == [second["order_id"]]


def test_own_code_on_a_second_live_order_is_the_one_order_rule() -> None:
    first = paid("p1")
    second = paid("p1", at=5, items=[item("SKU-TB-1", "tablet", "3000.00")], subsidy="450.00")
    run = Run().feed(first, second)
    assert run.decision(second) == ("reject", Decimal("0.00"))
    assert run.detectors() == {"consumer_eligibility"}
    assert "qualification_already_used" in run.decisions[second["order_id"]]["reasons"]


def test_two_units_in_one_order_only_one_subsidised() -> None:
    order = paid(items=[item("SKU-PH-1", "mobile_phone", "4999.00", qty=2)], subsidy="1000.00")
    run = Run().feed(order)
    assert run.decision(order) == ("review", Decimal("500.00"))
    assert run.detectors() == {"quota_breach"}


def test_buying_two_but_claiming_one_is_honest() -> None:
    order = paid(items=[item("SKU-PH-1", "mobile_phone", "4999.00", qty=2)], subsidy="500.00")
    run = Run().feed(order)
    assert run.decision(order) == ("approve", Decimal("500.00"))
    assert run.alerts == []


def test_air_conditioners_allow_three() -> None:
    orders = [
        paid(
            "p1",
            at=i * 24,
            items=[item("SKU-AC-2", "air_conditioner", "4000.00", grade=2)],
            subsidy="600.00",
            qualification={"code": f"Q{i}", "verified": True},
        )
        for i in range(4)
    ]
    run = Run().feed(*orders)
    assert [run.decision(o)[0] for o in orders] == ["approve"] * 3 + ["reject"]


def test_cancellation_releases_quota_and_code() -> None:
    first = paid("p1")
    again = paid("p1", at=30)
    run = Run().feed(first, later(first, "order_cancelled", at=2), again)
    assert run.decision(again) == ("approve", Decimal("500.00"))
    assert run.alerts == []


def test_partial_refund_keeps_the_quota() -> None:
    first = paid("p1")
    again = paid("p1", at=30, qualification={"code": "GDQ-p1-new", "verified": True})
    run = Run().feed(first, later(first, "order_refunded", at=2, refund="100.00"), again)
    assert run.decision(again)[0] == "reject"


def test_local_specialty_five_orders_a_week() -> None:
    orders = [
        paid(
            "p1",
            at=i * 20,
            items=[item("SKU-LS-1", "local_specialty", "300.00", qty=2)],
            subsidy="60.00",
            qualification={"code": f"Q{i}", "verified": True},
        )
        for i in range(7)
    ]  # i=0..6 spans Mon 10:00 .. Fri 10:00 of one week
    run = Run().feed(*orders)
    kinds = [run.decision(o)[0] for o in orders]
    assert kinds == ["approve"] * 5 + ["reject"] * 2
    # the next Monday opens a new week
    monday = paid(
        "p1",
        at=7 * 24 - 9.5,
        items=[item("SKU-LS-1", "local_specialty", "300.00")],
        subsidy="30.00",
        qualification={"code": "Q9", "verified": True},
    )
    assert run.feed(monday).decision(monday) == ("approve", Decimal("30.00"))


def test_logistics_three_a_day_and_split_orders() -> None:
    def small(i: int, at: float) -> dict:
        return paid(
            "p1",
            at=at,
            programme="logistics_warehouse",
            items=[item("S", "food", "105.00")],
            subsidy="10.50",
            warehouse_id="PS-WH-02",
            qualification=None,
        )

    orders = [small(i, i) for i in range(4)]
    run = Run().feed(*orders)
    # the third is within the quota: the rules approve it, and the split alert holds it
    assert [run.decision(o)[0] for o in orders] == ["approve", "approve", "approve", "reject"]
    assert run.detectors() == {"split_orders", "quota_breach"}
    first = [a for a in run.alerts if a["detector"] == "split_orders"][0]
    assert first["action"] == "review" and orders[2]["order_id"] in first["order_ids"]
    split = [a for a in run.alerts if a["detector"] == "split_orders"][-1]
    assert split["order_ids"] == [o["order_id"] for o in orders]


def test_logistics_normal_orders_are_not_split() -> None:
    orders = [
        paid(
            "p1",
            at=i * 3,
            programme="logistics_warehouse",
            items=[item("S", "x", "480.00")],
            subsidy="48.00",
            warehouse_id="PS-WH-02",
            qualification=None,
        )
        for i in range(3)
    ]
    run = Run().feed(*orders)
    assert run.alerts == []


def _ring_member(n: int, at: float, shared: str) -> dict:
    person = f"ring{n}"
    over: dict = {}
    if shared == "address":
        over["delivery__address_hash"] = h("addr:ring")
    elif shared == "device":
        over["device_id"] = "dv-ring"
    elif shared == "phone":
        over["consumer__phone_hash"] = h("phone:ring")
    elif shared == "payment":
        over["payment__account_hash"] = h("pay:ring")
    return paid(person, at=at, **over)


def test_identity_rings_through_each_attribute() -> None:
    for shared, detector in [
        ("address", "address_ring"),
        ("device", "device_ring"),
        ("phone", "phone_ring"),
        ("payment", "payment_ring"),
    ]:
        members = [_ring_member(n, at=n * 10, shared=shared) for n in range(4)]
        run = Run().feed(*members)
        assert run.detectors() == {detector}, shared
        last = run.alerts[-1]
        assert last["order_ids"] == [m["order_id"] for m in members]
        assert last["risk"] == "hoarding" and last["action"] == "hold"
        # the rules approve each order; the ring's hold reaches them through the alert
        assert {run.decision(m)[0] for m in members} == {"approve"}
        assert members[2]["order_id"] in run.alerts[0]["order_ids"]


def test_family_sharing_a_flat_is_not_a_ring() -> None:
    shared = {
        "delivery__address_hash": h("addr:fam"),
        "device_id": "dv-fam",
        "payment__account_hash": h("pay:fam"),
    }
    orders = [
        paid("f1", at=0, **shared),
        paid("f2", at=24 * 9, items=[item(*TABLET)], subsidy="450.00", **shared),
        paid(
            "f3",
            at=24 * 20,
            items=[item("SKU-FR-1", "refrigerator", "5000.00", grade=1)],
            subsidy="1000.00",
            **shared,
        ),
        paid(
            "f4",
            at=24 * 30,
            items=[item("SKU-LS-1", "local_specialty", "300.00")],
            subsidy="30.00",
            **shared,
        ),
    ]
    run = Run().feed(*orders)
    assert run.alerts == []
    assert run.flagged() == set()


def test_office_reception_over_a_month_is_not_a_ring() -> None:
    reception = {"delivery__address_hash": h("addr:office")}
    cats = [
        ("SKU-PH-1", "mobile_phone", "4999.00", "500.00"),
        ("SKU-TB-1", "tablet", "3000.00", "450.00"),
        ("SKU-LS-1", "local_specialty", "300.00", "30.00"),
    ]
    orders = []
    for n in range(24):
        sku, cat, price, claim = cats[n % 3]
        orders.append(
            paid(f"staff{n}", at=n * 30, items=[item(sku, cat, price)], subsidy=claim, **reception)
        )
    run = Run().feed(*orders)
    assert run.flagged() == set()


def test_pickup_point_neighbourhood_versus_resale_pipeline() -> None:
    station = {"delivery__address_hash": h("addr:yizhan"), "delivery__pickup_point": True}
    # honest: a phone every day or so, among other things
    honest = [paid(f"res{n}", at=n * 26, **station) for n in range(20)]
    run = Run().feed(*honest)
    assert run.flagged() == set()
    pipeline = [paid(f"mule{n}", at=600 + n * 3, **station) for n in range(6)]
    run.feed(*pipeline)
    assert run.detectors() == {"pickup_pipeline"}
    flagged = run.flagged()
    assert {o["order_id"] for o in pipeline} <= flagged
    assert all(a["risk"] == "arbitrage" for a in run.alerts)


def test_account_farm_on_one_device() -> None:
    farm = [
        paid(
            f"farm{n}",
            at=n * 2,
            device_id="dv-farm",
            consumer__account_created_at="2026-07-04T08:00:00+08:00",
        )
        for n in range(5)
    ]
    run = Run().feed(*farm)
    assert "account_farm" in run.detectors()
    assert {o["order_id"] for o in farm} <= run.flagged()


def test_new_accounts_of_a_family_on_one_tablet_are_not_a_farm() -> None:
    family = [
        paid(
            f"fam{n}",
            at=n * 30,
            device_id="dv-home",
            consumer__account_created_at="2026-07-04T08:00:00+08:00",
            items=[item(*spec)],
            subsidy=claim,
        )
        for n, (spec, claim) in enumerate(
            [
                (("SKU-PH-1", "mobile_phone", "4999.00"), "500.00"),
                (TABLET, "450.00"),
                (("SKU-LS-1", "local_specialty", "300.00"), "30.00"),
                (("SKU-FR-1", "refrigerator", "5000.00", 1, 1), "1000.00"),
            ]
        )
    ]
    run = Run().feed(*family)
    assert run.alerts == []
