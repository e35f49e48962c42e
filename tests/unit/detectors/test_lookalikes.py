"""Honest look-alikes at the programme's limits, and the patterns just beyond them (issue 21).

What the programme's own limits allow is never evidence on its own (docs/detectors.md): each
behavioural detector leaves its look-alike alone at the limit, and still catches the pattern.
"""

from __future__ import annotations

from typing import Any

from factories import Run, h, item, later, paid

LOCAL = ("SKU-LS-1", "local_specialty", "300.00")
TABLET = ("SKU-TB-1", "tablet", "3000.00")
FRIDGE = ("SKU-FR-1", "refrigerator", "5000.00", 1, 1)
AIRCON = ("SKU-AC-2", "air_conditioner", "4000.00", 1, 2)
YOUNG = "2026-07-04T08:00:00+08:00"  # two days before T0: a new account


def _logistics(person: str, at: float, amount: str = "104.00") -> dict[str, Any]:
    claim = f"{float(amount) * 0.1:.2f}"
    return paid(
        person,
        at=at,
        programme="logistics_warehouse",
        items=[item("WH-1", "groceries", amount)],
        subsidy=claim,
        warehouse_id="PS-WH-03",
        qualification=None,
    )


def _code(person: str, n: int) -> dict[str, Any]:
    return {"qualification": {"code": f"GDQ-{person}-{n}", "verified": True}}


def test_consumer_at_every_limit_for_a_month_is_not_flagged() -> None:
    """Three near-minimum logistics orders every day, five local-specialty orders every week
    with a quality refund, a phone, a tablet, a fridge and three air conditioners."""
    events: list[dict[str, Any]] = []
    n = 0
    for day in range(30):
        base = day * 24.0  # T0 is a Monday, 10:00
        for hour, amount in ((-2.0, "99.00"), (3.0, "103.50"), (13.5, "118.00")):
            events.append(_logistics("limit", base + hour, amount))
    for week in range(4):
        monday = week * 7 * 24.0
        for k in range(5):
            n += 1
            order = paid(
                "limit",
                at=monday + k * 24 + 1,
                items=[item(*LOCAL)],
                subsidy="30.00",
                **_code("limit", n),
            )
            events.append(order)
            if k == 2:  # a bad batch: its money back, the quota and the code with it
                events.append(
                    later(order, "order_refunded", at=monday + k * 24 + 30, refund="270.00")
                )
    featured = [
        (("SKU-PH-1", "mobile_phone", "4999.00"), "500.00"),
        (TABLET, "450.00"),
        (FRIDGE, "1000.00"),
        (AIRCON, "600.00"),
        (AIRCON, "600.00"),
        (AIRCON, "600.00"),
    ]
    for k, (spec, claim) in enumerate(featured):
        n += 1
        events.append(
            paid("limit", at=k * 100 + 5, items=[item(*spec)], subsidy=claim, **_code("limit", n))
        )
    events.sort(key=lambda e: e["occurred_at"])
    run = Run().feed(*events)
    assert run.alerts == [] or run.detectors() == set()
    assert run.flagged() == set()
    assert len(run.decisions) == 30 * 3 + 4 * 5 + len(featured)


def test_split_orders_need_more_than_the_daily_count() -> None:
    # three late in the evening, three after midnight: a rolling day holds six, each calendar
    # day three, which the programme allows
    evening = [_logistics("night", 10 + k) for k in range(3)]  # 20:00-22:00
    morning = [_logistics("night", 15 + k) for k in range(3)]  # 01:00-03:00 the next day
    run = Run().feed(*evening, *morning)
    assert run.flagged() == set()
    fourth = _logistics("night", 18.5)  # 04:30: the fourth of that calendar day
    run.feed(fourth)
    split = [a for a in run.alerts if a["detector"] == "split_orders"]
    assert split and split[-1]["order_ids"] == [o["order_id"] for o in [*morning, fourth]]


def test_repeat_local_buyer_with_quality_refunds_is_not_cycling() -> None:
    events: list[dict[str, Any]] = []
    for n in range(12):  # three a week for four weeks, every third sent back
        order = paid(
            "regular",
            at=n * 56.0,
            items=[item(*LOCAL)],
            subsidy="30.00",
            **_code("regular", n),
        )
        events.append(order)
        if n % 3 == 1:
            events.append(later(order, "order_refunded", at=n * 56.0 + 40, refund="270.00"))
    events.sort(key=lambda e: e["occurred_at"])
    run = Run().feed(*events)
    assert run.flagged() == set()


def test_recycling_a_programme_quota_is_cycling() -> None:
    orders = [
        paid("cycler", at=30.0 * n, items=[item(*TABLET)], subsidy="450.00", **_code("cycler", n))
        for n in range(3)
    ]
    run = Run().feed(
        orders[0],
        later(orders[0], "order_cancelled", at=5),
        orders[1],
        later(orders[1], "order_refunded", at=40, refund="2550.00"),
        orders[2],
    )
    assert "refund_cycling" in run.detectors()
    assert {o["order_id"] for o in orders} <= run.flagged()


def _staff(n: int, at: float, spec: tuple[Any, ...], claim: str) -> dict[str, Any]:
    return paid(
        f"staff{n}",
        at=at,
        items=[item(*spec)],
        subsidy=claim,
        delivery__address_hash=h("addr:reception"),
    )


def test_office_reception_with_three_colleagues_buying_the_new_phone() -> None:
    rota = [(LOCAL, "30.00"), (FRIDGE, "1000.00"), (TABLET, "450.00"), (AIRCON, "600.00")]
    month = [_staff(n, n * 40.0, *rota[n % 4]) for n in range(10)]
    phone = (("SKU-PH-1", "mobile_phone", "4999.00"), "500.00")
    launch = [_staff(20 + k, 420 + k * 12.0, *phone) for k in range(4)]
    run = Run().feed(*month, *launch)
    assert run.flagged() == set()
    # five colleagues in three days are more than a shared desk's count
    run.feed(_staff(30, 460, *phone))
    assert run.detectors() == {"address_ring"}


def test_three_identities_at_a_flat_are_an_address_ring() -> None:
    ring = [paid(f"r{n}", at=n * 10.0, delivery__address_hash=h("addr:flat")) for n in range(3)]
    run = Run().feed(*ring)
    assert run.detectors() == {"address_ring"}
    assert {o["order_id"] for o in ring} <= run.flagged()


def test_farm_spread_so_no_device_reaches_the_per_device_count() -> None:
    """Eight new accounts on four devices (two each, the device count is five) paying from
    two shared accounts, buying a mix of goods within half a day."""
    goods = [(LOCAL, "30.00"), (FRIDGE, "1000.00"), (TABLET, "450.00"), (AIRCON, "600.00")]
    farm = [
        paid(
            f"farm{n}",
            at=n * 1.5,
            items=[item(*goods[n % 4][0])],
            subsidy=goods[n % 4][1],
            device_id=f"dv-farm-{n // 2}",
            payment__account_hash=h(f"pay:farm-{n % 2}"),
            consumer__account_created_at=YOUNG,
        )
        for n in range(8)
    ]
    run = Run().feed(*farm)
    assert "account_farm" in run.detectors()
    assert {o["order_id"] for o in farm} <= run.flagged()
    assert all(
        a["entity"]["type"] == "payment_account"
        for a in run.alerts
        if a["detector"] == "account_farm"
    )


def test_farm_on_one_ip_range_each_account_on_its_own_device() -> None:
    farm = [
        paid(f"ipfarm{n}", at=n * 2.0, ip=f"113.90.7.{10 + n}", consumer__account_created_at=YOUNG)
        for n in range(8)
    ]
    run = Run().feed(*farm)
    assert "account_farm" in run.detectors()
    assert {o["order_id"] for o in farm} <= run.flagged()


def test_new_accounts_that_are_simply_new() -> None:
    # a launch day: six people who signed up this week buy the phone, each on their own
    newcomers = [paid(f"new{n}", at=n * 2.0, consumer__account_created_at=YOUNG) for n in range(6)]
    # a couple, both new, on one tablet and one account, the same afternoon
    couple = {"device_id": "dv-couple", "payment__account_hash": h("pay:couple")}
    pair = [
        paid("wife", at=3, consumer__account_created_at=YOUNG, **couple),
        paid(
            "husband",
            at=4,
            consumer__account_created_at=YOUNG,
            items=[item(*LOCAL)],
            subsidy="30.00",
            **couple,
        ),
    ]
    run = Run().feed(*newcomers, *pair)
    assert run.flagged() == set()


def test_a_ring_names_its_whole_group_and_its_later_orders() -> None:
    device = {"device_id": "dv-ring"}
    first = paid("m0", at=0, **device)
    crossing = [paid(f"m{n}", at=at, **device) for n, at in ((1, 80), (2, 100), (3, 110))]
    latecomer = paid("m4", at=200, **device)
    run = Run().feed(first, *crossing)
    ring = [a for a in run.alerts if a["detector"] == "device_ring"]
    # the member of day one is named, though the count was crossed four days later
    assert ring and ring[-1]["order_ids"] == [o["order_id"] for o in [first, *crossing]]
    run.feed(latecomer)
    last = [a for a in run.alerts if a["detector"] == "device_ring"][-1]
    assert latecomer["order_id"] in last["order_ids"]


def test_a_household_tablet_claiming_four_peoples_codes() -> None:
    goods = [(LOCAL, "30.00"), (FRIDGE, "1000.00"), (TABLET, "450.00"), (AIRCON, "600.00")]
    home = [
        paid(
            f"home{n}",
            at=n * 20.0,
            items=[item(*goods[n][0])],
            subsidy=goods[n][1],
            device_id="dv-home",
        )
        for n in range(4)
    ]
    run = Run().feed(*home)
    assert run.flagged() == set()
    fifth = paid("lodger", at=90.0, items=[item(*LOCAL)], subsidy="30.00", device_id="dv-home")
    assert "device_many_codes" in run.feed(fifth).detectors()


def test_pickup_station_at_its_count_and_beyond() -> None:
    station = {"delivery__address_hash": h("addr:station"), "delivery__pickup_point": True}
    residents = [paid(f"resident{n}", at=n * 15.0, **station) for n in range(4)]
    run = Run().feed(*residents)
    assert run.flagged() == set()  # four phones in three days: a busy week at the station
    fifth = paid("resident9", at=66.0, **station)
    assert run.feed(fifth).detectors() == {"pickup_pipeline"}
    assert {o["order_id"] for o in [*residents, fifth]} <= run.flagged()


def test_two_people_of_a_household_buying_the_same_phone() -> None:
    home = {"device_id": "dv-flat", "payment__account_hash": h("pay:flat")}
    home["delivery__address_hash"] = h("addr:flat2")
    pair = [paid(p, at=at, **home) for p, at in (("partner1", 0.0), ("partner2", 2.0))]
    assert Run().feed(*pair).flagged() == set()


def test_an_address_receiving_only_phones_is_no_reception_desk() -> None:
    # eight identities over two weeks, all phones, never three in three days: a drop address,
    # not a desk of many goods; then three in a day are a ring, not the five a desk needs
    drop = {"delivery__address_hash": h("addr:drop")}
    slow = [paid(f"drop{n}", at=n * 50.0, **drop) for n in range(8)]
    run = Run().feed(*slow)
    assert run.flagged() == set()
    burst = [paid(f"drop{n}", at=400 + n, **drop) for n in range(8, 11)]
    run.feed(*burst)
    assert run.detectors() == {"address_ring"}
    assert {o["order_id"] for o in burst} <= run.flagged()
