"""Compliance: the programme's own rules, and the exact allowed subsidy."""

from __future__ import annotations

from decimal import Decimal

import pytest
from factories import PHONE, Run, item, paid


def test_eligible_phone_is_approved_at_the_rule_amount() -> None:
    order = paid()
    run = Run().feed(order)
    assert run.decision(order) == ("approve", Decimal("500.00"))
    assert run.alerts == []


def test_appliance_rate_follows_energy_grade_and_cap() -> None:
    fridge = paid(items=[item("SKU-FR-1", "refrigerator", "5000.00", grade=1)], subsidy="1000.00")
    aircon = paid(
        "p2", items=[item("SKU-AC-2", "air_conditioner", "4000.00", grade=2)], subsidy="600.00"
    )
    tv = paid("p3", items=[item("SKU-TV-1", "television", "20000.00", grade=1)], subsidy="2000.00")
    run = Run().feed(fridge, aircon, tv)
    assert run.decision(fridge) == ("approve", Decimal("1000.00"))  # 20 %
    assert run.decision(aircon) == ("approve", Decimal("600.00"))  # 15 %
    assert run.decision(tv) == ("approve", Decimal("2000.00"))  # capped
    assert run.alerts == []


def test_rounding_is_half_up_to_the_fen() -> None:
    # 15 % of 3000.10 = 450.015: half up gives 450.02 (banker's rounding would give 450.02 too,
    # but 450.005 -> 450.01 is where the two part ways; see test_money)
    order = paid(items=[item("SKU-TB-1", "tablet", "3000.10")], subsidy="450.02")
    run = Run().feed(order)
    assert run.decision(order) == ("approve", Decimal("450.02"))


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ({"consumer__real_name_verified": False}, "not_real_name_verified"),
        ({"consumer__id_checksum_ok": False}, "invalid_id_checksum"),
        ({"consumer__birth_year": 2009}, "under_age"),
        ({"delivery__region": "440307"}, "delivery_outside_district"),
        ({"qualification": None}, "qualification_missing"),
        ({"qualification": {"code": "GDQ-x", "verified": False}}, "qualification_unverified"),
        ({"occurred_at": "2027-01-02T10:00:00+08:00"}, "outside_programme_period"),
    ],
)
def test_ineligible_consumer_claiming_is_rejected(override: dict, problem: str) -> None:
    order = paid(**override)
    run = Run().feed(order)
    assert run.decision(order) == ("reject", Decimal("0.00"))
    assert run.detectors() == {"consumer_eligibility"}
    assert problem in run.decisions[order["order_id"]]["reasons"]


def test_born_in_2008_is_eligible_in_2026() -> None:
    order = paid(consumer__birth_year=2008)
    assert Run().feed(order).decision(order) == ("approve", Decimal("500.00"))


def test_ineligible_consumer_claiming_nothing_is_approved_without_alert() -> None:
    order = paid(subsidy="0", delivery__region="440307")
    run = Run().feed(order)
    assert run.decision(order) == ("approve", Decimal("0.00"))
    assert run.alerts == []


@pytest.mark.parametrize(
    ("line_item", "problem"),
    [
        (item("SKU-NOPE", "mobile_phone", "4999.00"), "sku_not_registered"),
        (item("SKU-TB-1", "mobile_phone", "3000.00"), "sku_category_mismatch"),
        (item("SKU-OLD", "mobile_phone", "2999.00"), "sku_withdrawn"),
        (item("SKU-FR-3", "refrigerator", "3000.00", grade=3), "energy_grade_not_eligible"),
        (item("SKU-PH-2", "mobile_phone", "7999.00"), "unit_price_above_limit"),
    ],
)
def test_ineligible_product_earns_nothing(line_item: dict, problem: str) -> None:
    order = paid(items=[line_item], subsidy="450.00")
    run = Run().feed(order)
    assert run.decision(order) == ("reject", Decimal("0.00"))
    assert run.detectors() == {"product_eligibility"}
    assert problem in run.alerts[0]["evidence"]["problems"]


def test_product_of_another_programme_is_not_eligible() -> None:
    from factories import CATALOG, catalog_entry

    catalog = [*CATALOG, catalog_entry("SKU-X", "mobile_phone", "3000.00", programmes=("other",))]
    order = paid(items=[item("SKU-X", "mobile_phone", "3000.00")], subsidy="450.00")
    run = Run(catalog=catalog).feed(order)
    assert run.decision(order) == ("reject", Decimal("0.00"))
    assert "sku_not_registered_for_programme" in run.alerts[0]["evidence"]["problems"]


def test_mixed_basket_claiming_only_the_eligible_units_is_honest() -> None:
    basket = [item(*PHONE), item("SKU-FR-3", "refrigerator", "3000.00", grade=3)]
    order = paid(items=basket, subsidy="500.00")
    run = Run().feed(order)
    assert run.decision(order) == ("approve", Decimal("500.00"))
    assert run.alerts == []


def test_claim_above_the_rules_is_cut_and_flagged() -> None:
    order = paid(subsidy="650.00")
    run = Run().feed(order)
    assert run.decision(order) == ("review", Decimal("500.00"))
    assert run.detectors() == {"subsidy_amount"}
    assert Decimal(str(run.alerts[0]["subsidy_at_risk"])) == Decimal("150")


def test_price_inflation_is_fraud_not_compliance() -> None:
    order = paid(items=[item("SKU-PH-1", "mobile_phone", "5999.00")], subsidy="500.00")
    run = Run().feed(order)
    assert run.decision(order) == ("reject", Decimal("0.00"))
    assert run.detectors() == {"price_inflation"}
    assert run.alerts[0]["risk"] == "fraud"


def test_price_within_the_margin_is_fine() -> None:
    order = paid(items=[item("SKU-PH-1", "mobile_phone", "5498.00")], subsidy="500.00")
    assert Run().feed(order).decision(order) == ("approve", Decimal("500.00"))


def test_logistics_order_subsidy_minimum_and_warehouse() -> None:
    basket = [item("SKU-any", "groceries", "250.00")]
    good = paid(
        programme="logistics_warehouse",
        items=basket,
        subsidy="25.00",
        warehouse_id="PS-WH-03",
        qualification=None,
    )
    capped = paid(
        "p2",
        programme="logistics_warehouse",
        items=[item("S", "tv", "2500.00")],
        subsidy="100.00",
        warehouse_id="PS-WH-12",
        qualification=None,
    )
    small = paid(
        "p3",
        programme="logistics_warehouse",
        items=[item("S", "x", "98.99")],
        subsidy="9.90",
        warehouse_id="PS-WH-01",
        qualification=None,
    )
    elsewhere = paid(
        "p4",
        programme="logistics_warehouse",
        items=basket,
        subsidy="25.00",
        warehouse_id="SZ-WH-99",
        qualification=None,
    )
    run = Run().feed(good, capped, small, elsewhere)
    assert run.decision(good) == ("approve", Decimal("25.00"))
    assert run.decision(capped) == ("approve", Decimal("100.00"))
    assert run.decision(small) == ("reject", Decimal("0.00"))
    assert run.decision(elsewhere) == ("reject", Decimal("0.00"))
    assert run.detectors() == {"product_eligibility"}
