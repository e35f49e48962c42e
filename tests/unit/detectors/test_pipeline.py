"""The engine: duplicates, late payments, dead letters, budgets, alert ids."""

from __future__ import annotations

from decimal import Decimal

from factories import Run, later, paid

from detectors.alerts import alert_id


def test_duplicate_event_changes_nothing() -> None:
    order = paid()
    run = Run().feed(order)
    before = dict(run.store.table("quota"))
    run.feed(order, order)
    assert len(run.decisions) == 1
    assert run.store.table("quota") == before
    assert run.dead == []


def test_same_order_paid_twice_under_new_event_id_is_a_dead_letter() -> None:
    order = paid()
    again = {**order, "event_id": "e-other"}
    run = Run().feed(order, again)
    assert [d["reason"] for d in run.dead] == ["duplicate_order"]


def test_an_event_id_reused_by_another_order_is_a_dead_letter_not_a_repeat() -> None:
    first = paid("p1")
    other = {**paid("p2", at=1), "event_id": first["event_id"]}
    run = Run().feed(first, other)
    assert list(run.decisions) == [first["order_id"]]
    assert [d["reason"] for d in run.dead] == ["event_id_reused"]
    assert first["event_id"] in run.dead[0]["error"]


def test_an_event_id_reused_by_another_event_of_the_order_is_a_dead_letter() -> None:
    order = paid()
    delivered = {**later(order, "order_delivered", at=3), "event_id": order["event_id"]}
    run = Run().feed(order, delivered, order)  # the payment's redelivery stays a repeat
    assert [d["reason"] for d in run.dead] == ["event_id_reused"]


def test_refund_before_payment_waits_and_is_applied() -> None:
    order = paid()
    cancel = later(order, "order_cancelled", at=2)
    run = Run().feed(cancel)
    assert run.decisions == {} and run.dead == []
    run.feed(order)
    assert run.store.table("orders")[order["order_id"]]["released"] is True
    assert run.store.table("pending") == {}
    again = paid("p1", at=30)
    assert run.feed(again).decision(again)[0] == "approve"  # the quota came back


def test_unmatched_later_event_is_reported_after_grace() -> None:
    order = paid()
    stray = later(order, "order_refunded", at=0, refund="10.00")
    run = Run().feed(stray)
    assert run.pipeline.expire() == []
    run.feed(paid("p9", at=80))  # event time moves past the 72 h grace
    dead = run.pipeline.expire()
    assert [d["reason"] for d in dead] == ["unmatched_order"]
    assert dead[0]["raw_base64"]


def test_later_event_with_another_consumer_is_a_dead_letter() -> None:
    order = paid()
    odd = later(order, "order_delivered", at=30)
    odd["consumer"] = {"id_hash": "f" * 64}
    run = Run().feed(order, odd)
    assert [d["reason"] for d in run.dead] == ["consumer_mismatch"]


def test_budget_thresholds_and_exhaustion() -> None:
    from schemas.rules import load_rules

    rules = load_rules()
    digital = rules.programmes["featured_goods"].budget_lines["digital"]
    small = digital.model_copy(update={"budget": Decimal("1200.00")})
    featured = rules.programmes["featured_goods"]
    lines = {**featured.budget_lines, "digital": small}
    rules = rules.model_copy(
        update={
            "programmes": {
                **rules.programmes,
                "featured_goods": featured.model_copy(update={"budget_lines": lines}),
            }
        }
    )
    orders = [paid(f"p{n}", at=n) for n in range(3)]
    run = Run(rules=rules).feed(*orders)
    assert [run.decision(o) for o in orders] == [
        ("approve", Decimal("500.00")),
        ("approve", Decimal("500.00")),
        ("review", Decimal("200.00")),
    ]
    notes = [
        a
        for a in run.alerts
        if a["detector"] == "budget_threshold" and a["entity"]["key"] == "featured_goods/digital"
    ]
    assert [a["evidence"]["threshold"] for a in notes] == [0.5, 0.8, 0.95, 1.0]
    assert all(a["action"] == "notify" for a in notes)
    assert "budget_exhausted" in run.detectors()
    # a cancellation gives the money back to the line
    run.feed(later(orders[0], "order_cancelled", at=5))
    assert run.store.table("budget")["featured_goods/digital"]["used"] == Decimal("700.00")


def test_alert_ids_are_stable_and_distinct() -> None:
    a = alert_id("address_ring", "address", "k", "e-1")
    assert a == alert_id("address_ring", "address", "k", "e-1")
    assert (
        len(
            {
                a,
                alert_id("device_ring", "address", "k", "e-1"),
                alert_id("address_ring", "address", "k2", "e-1"),
                alert_id("address_ring", "address", "k", "e-2"),
            }
        )
        == 4
    )


def test_replaying_the_same_events_gives_the_same_alert_ids() -> None:
    events = [paid(f"r{n}", at=n, device_id="dv-shared") for n in range(4)]
    first = Run().feed(*events)
    second = Run().feed(*events)
    assert [a["alert_id"] for a in first.alerts] == [a["alert_id"] for a in second.alerts]
    assert first.alerts


def test_a_one_line_programme_notifies_each_threshold_once() -> None:
    from factories import item

    from schemas.rules import load_rules

    rules = load_rules()
    logistics = rules.programmes["logistics_warehouse"]
    line = logistics.budget_lines["warehouse_orders"].model_copy(update={"budget": Decimal("40")})
    programme = logistics.model_copy(update={"budget_lines": {"warehouse_orders": line}})
    rules = rules.model_copy(
        update={"programmes": {**rules.programmes, "logistics_warehouse": programme}}
    )
    order = paid(
        programme="logistics_warehouse",
        items=[item("S", "food", "250.00")],
        subsidy="25.00",
        warehouse_id="PS-WH-01",
        qualification=None,
    )
    run = Run(rules=rules).feed(order)
    notes = [a["entity"]["key"] for a in run.alerts if a["detector"] == "budget_threshold"]
    assert notes == ["logistics_warehouse/warehouse_orders"]


def test_waiting_events_are_applied_in_event_time_order() -> None:
    order = paid()  # paid 4499.00
    refund = later(order, "order_refunded", at=5, refund="1000.00")
    rest = later(order, "order_refunded", at=9, refund="3499.00")
    run = Run().feed(rest, refund)  # arrive in the wrong order, both before the payment
    run.feed(order)
    state = run.store.table("orders")[order["order_id"]]
    assert state["refunded"] == Decimal("4499.00") and state["released"] is True
    assert state["clawed"] == Decimal("500.00")  # 111.14 for the first share, the rest on release
    assert run.alerts == []
