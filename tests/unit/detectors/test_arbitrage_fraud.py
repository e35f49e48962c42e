"""Arbitrage and fraud: refunds, cycles, qualification codes, merchant bursts."""

from __future__ import annotations

from decimal import Decimal

from factories import Run, item, later, paid


def test_refund_above_paid_is_arbitrage() -> None:
    order = paid()  # paid 4499.00
    run = Run().feed(order, later(order, "order_refunded", at=5, refund="4999.00"))
    assert run.detectors() == {"refund_arbitrage"}
    alert = run.alerts[0]
    assert alert["order_ids"] == [order["order_id"]] and alert["severity"] == "critical"


def test_full_refund_within_paid_is_fine() -> None:
    order = paid()
    run = Run().feed(order, later(order, "order_refunded", at=5, refund="4499.00"))
    assert run.alerts == []


def test_buy_cancel_rebuy_once_is_honest_twice_is_cycling() -> None:
    first = paid("p1")
    second = paid("p1", at=24)
    third = paid("p1", at=48)
    run = Run().feed(first, later(first, "order_cancelled", at=2), second)
    assert run.alerts == []
    run.feed(later(second, "order_refunded", at=30, refund="4499.00"), third)
    assert run.detectors() == {"refund_cycling"}
    assert {first["order_id"], second["order_id"], third["order_id"]} <= run.flagged()


def test_qualification_code_reused_by_another_identity() -> None:
    code = {"code": "GDQ-SOLD", "verified": True}
    owner = paid("p1", qualification=code)
    buyer = paid("p2", at=5, qualification=code)
    run = Run().feed(owner, buyer)
    assert run.decision(buyer) == ("reject", Decimal("0.00"))
    assert run.detectors() == {"qualification_reuse"}
    assert run.alerts[0]["order_ids"] == [owner["order_id"], buyer["order_id"]]
    assert run.alerts[0]["risk"] == "arbitrage"


def test_code_released_then_used_by_someone_else_is_shared() -> None:
    code = {"code": "GDQ-PASSED", "verified": True}
    owner = paid("p1", qualification=code)
    other = paid("p2", at=10, qualification=code)
    run = Run().feed(owner, later(owner, "order_cancelled", at=1), other)
    assert run.decision(other)[0] == "review"
    assert run.detectors() == {"qualification_shared"}


def test_one_device_many_codes() -> None:
    orders = [paid(f"buyer{n}", at=n * 4, device_id="dv-trader") for n in range(5)]
    run = Run().feed(*orders)
    assert "device_many_codes" in run.detectors()
    assert {o["order_id"] for o in orders} <= run.flagged()


def test_merchant_burst_of_new_accounts_sharing_devices() -> None:
    fake = [
        paid(
            f"fake{n}",
            at=n * 0.5,
            merchant_id="M0666",
            device_id=f"dv-{n % 2}",
            payment__account_hash="c" * 64 if n % 2 else "d" * 64,
            consumer__account_created_at="2026-07-05T08:00:00+08:00",
            items=[item("SKU-LS-1", "local_specialty", "300.00")],
            subsidy="30.00",
        )
        for n in range(6)
    ]
    run = Run().feed(*fake)
    assert "merchant_fake_orders" in run.detectors()
    alert = [a for a in run.alerts if a["detector"] == "merchant_fake_orders"][-1]
    assert alert["entity"] == {"type": "merchant", "key": "M0666"}
    assert set(alert["order_ids"]) == {o["order_id"] for o in fake}


def test_new_customers_of_an_honest_shop_are_not_a_burst() -> None:
    orders = [
        paid(
            f"new{n}",
            at=n * 0.5,
            merchant_id="M0007",
            consumer__account_created_at="2026-07-05T08:00:00+08:00",
            items=[item("SKU-LS-1", "local_specialty", "300.00")],
            subsidy="30.00",
        )
        for n in range(12)
    ]
    run = Run().feed(*orders)
    assert run.alerts == []
