"""Programme rules: the shipped files load, and a broken one is refused naming its line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from factories import CATALOG, Run, catalog_entry, item, paid

from schemas.rules import DEFAULT_RULES_PATH, RulesError, load_rules, parse_rules

NATIONAL = DEFAULT_RULES_PATH.parent / "national-2026.toml"
TEXT = DEFAULT_RULES_PATH.read_text(encoding="utf-8")


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_default_rules_hold_the_programme_numbers() -> None:
    rules = load_rules()
    featured = rules.programmes["featured_goods"]
    assert featured.budget == Decimal("30000000")
    appliances = featured.budget_lines["appliances"]
    assert appliances.rate_for(1) == Decimal("0.20") and appliances.rate_for(2) == Decimal("0.15")
    assert appliances.rate_for(3) is None and appliances.rate_for(None) is None
    assert appliances.quota_count("air_conditioner") == 3
    assert appliances.quota_count("refrigerator") == 1
    digital = featured.budget_lines["digital"]
    assert (digital.rate, digital.cap_per_unit, digital.max_unit_price) == (
        Decimal("0.15"),
        Decimal("500"),
        Decimal("6000"),
    )
    local = featured.budget_lines["local_specialty"]
    assert local.quota is not None and (local.quota.count, local.quota.period) == (5, "week")
    logistics = rules.programmes["logistics_warehouse"]
    assert logistics.warehouses == [f"PS-WH-{n:02d}" for n in range(1, 13)]
    line = logistics.budget_lines["warehouse_orders"]
    assert (line.min_order_amount, line.cap_per_order, line.budget) == (
        Decimal("99"),
        Decimal("100"),
        Decimal("12000000"),
    )
    assert rules.budget_alert_thresholds == [Decimal(x) for x in ("0.5", "0.8", "0.95", "1.0")]


@pytest.mark.parametrize(
    ("old", "new", "needle", "words"),
    [
        ("rate = 0.15\n", "rate = 1.5\n", "rate = 1.5", "less than or equal to 1"),
        (
            '"mobile_phone", "tablet", "smartwatch"]',
            '"mobile_phone", "tablet", "smartwach"]',
            "smartwach",
            "unknown category 'smartwach'",
        ),
        ("min_age = 18", 'min_age = "adult"', "min_age", "valid integer"),
        ("cap_per_unit = 500", "cap_per_unitt = 500", "cap_per_unitt", "Extra inputs"),
        (
            "quota_overrides = { air_conditioner = 3 }",
            "quota_overrides = { aircon = 3 }",
            "aircon",
            "not in this line",
        ),
    ],
)
def test_a_broken_rules_file_names_the_line(old: str, new: str, needle: str, words: str) -> None:
    assert old in TEXT
    broken = TEXT.replace(old, new, 1)
    with pytest.raises(RulesError) as caught:
        parse_rules(broken, source="bad.toml")
    message = str(caught.value)
    assert f"bad.toml:{line_of(broken, needle)}:" in message
    assert words in message


def test_not_toml_at_all() -> None:
    with pytest.raises(RulesError, match="not valid TOML"):
        parse_rules("version = ", source="x.toml")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "nope.toml")


def test_national_variant_loads() -> None:
    rules = load_rules(NATIONAL)
    appliances = rules.programmes["featured_goods"].budget_lines["appliances"]
    assert appliances.rate_for(1) == Decimal("0.15") and appliances.rate_for(2) is None
    assert "computer" in appliances.categories
    assert "local_specialty" not in rules.programmes["featured_goods"].budget_lines


def test_detectors_under_the_national_variant() -> None:
    rules = load_rules(NATIONAL)
    catalog = [
        *CATALOG,
        catalog_entry("SKU-PC-1", "computer", "8000.00", grade=1),
        catalog_entry("SKU-GL-1", "smart_glasses", "2000.00"),
    ]
    fridge1 = paid(
        "a", items=[item("SKU-FR-1", "refrigerator", "5000.00", grade=1)], subsidy="750.00"
    )
    aircon2 = paid(
        "b", items=[item("SKU-AC-2", "air_conditioner", "4000.00", grade=2)], subsidy="600.00"
    )
    tv = paid("c", items=[item("SKU-TV-1", "television", "20000.00", grade=1)], subsidy="1500.00")
    pc = paid("d", items=[item("SKU-PC-1", "computer", "8000.00", grade=1)], subsidy="1200.00")
    glasses = paid("e", items=[item("SKU-GL-1", "smart_glasses", "2000.00")], subsidy="300.00")
    local = paid("f", items=[item("SKU-LS-1", "local_specialty", "300.00")], subsidy="30.00")
    run = Run(rules=rules, catalog=catalog).feed(fridge1, aircon2, tv, pc, glasses, local)
    assert run.decision(fridge1) == ("approve", Decimal("750.00"))  # 15 %, not 20 %
    assert run.decision(aircon2) == ("reject", Decimal("0.00"))  # grade 2 no longer eligible
    assert run.decision(tv) == ("approve", Decimal("1500.00"))  # cap 1,500
    assert run.decision(pc) == ("approve", Decimal("1200.00"))
    assert run.decision(glasses) == ("approve", Decimal("300.00"))
    assert run.decision(local) == ("reject", Decimal("0.00"))  # no local-specialty line
    # the default rules read the same orders differently
    default = Run(catalog=catalog).feed(fridge1, aircon2)
    assert default.decision(aircon2) == ("approve", Decimal("600.00"))
