"""Reconciling a subsidy bill: injected over-claims, unknown orders and refunded orders claimed
whole are found, exactly those, with totals to the fen."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from conftest import Filled
from store_checks import billed_orders, injected_bill, write_bill

from reports.frames import fen, yuan
from reports.reconcile import BillError, read_bill, reconcile


def test_an_honest_bill_has_no_difference(filled: Filled, tmp_path: Path) -> None:
    honest = billed_orders(filled.engine)
    write_bill(tmp_path / "bill.csv", sorted(honest.items()))
    result = reconcile(filled.engine, read_bill(tmp_path / "bill.csv"))
    assert result.differences == []
    assert yuan(result.billed) == sum(honest.values())
    assert result.payable == result.billed == result.ledger_net


def test_injected_differences_are_found_exactly(filled: Filled, tmp_path: Path) -> None:
    over, unknown, refunded = injected_bill(filled.engine, tmp_path / "bill.csv")
    assert len(over) == 7 and len(unknown) == 3 and len(refunded) == 4
    result = reconcile(filled.engine, read_bill(tmp_path / "bill.csv"))
    found: dict[str, dict[str, Decimal]] = {}
    for d in result.differences:
        found.setdefault(str(d["kind"]), {})[str(d["order_id"])] = yuan(int(d["difference"]))  # type: ignore[call-overload]
    assert found == {
        "over_claimed": over,
        "unknown_order": unknown,
        "refunded_but_claimed": refunded,
    }
    excess = sum(over.values()) + sum(unknown.values()) + sum(refunded.values())
    assert yuan(result.billed - result.payable) == excess
    assert result.total("over_claimed") == fen(sum(over.values(), Decimal(0)))


def test_a_second_claim_of_an_order_and_an_under_claim_are_named(
    filled: Filled, tmp_path: Path
) -> None:
    order_id, net = sorted(billed_orders(filled.engine).items())[0]
    write_bill(tmp_path / "b.csv", [(order_id, net - Decimal("0.01")), (order_id, net)])
    result = reconcile(filled.engine, read_bill(tmp_path / "b.csv"))
    kinds = [(d["kind"], d["difference"], d["bill_line"]) for d in result.differences]
    assert kinds == [("under_claimed", -1, 2), ("duplicate_claim", fen(net), 3)]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("order,amount\nA,1\n", "header needs order_id and claimed_subsidy"),
        ("order_id,claimed_subsidy\nA,12.345\n", r"b.csv:2: claimed_subsidy must be yuan"),
        ("order_id,claimed_subsidy\nA,-1\n", r"b.csv:2: claimed_subsidy must be yuan"),
        ("order_id,claimed_subsidy\nA,lots\n", r"b.csv:2: claimed_subsidy is not a number"),
        ("order_id,claimed_subsidy\n,1.00\n", r"b.csv:2: order_id is empty"),
    ],
)
def test_a_bad_bill_is_refused_with_its_line(tmp_path: Path, text: str, error: str) -> None:
    (tmp_path / "b.csv").write_text(text, encoding="utf-8")
    with pytest.raises(BillError, match=error):
        read_bill(tmp_path / "b.csv")


def test_chinese_headings_and_thousands_separators_are_read(tmp_path: Path) -> None:
    (tmp_path / "b.csv").write_text('订单号,申报补贴金额\nPS1,"1,234.50"\n', encoding="utf-8-sig")
    (row,) = read_bill(tmp_path / "b.csv")
    assert (row.order_id, row.claimed, row.line) == ("PS1", Decimal("1234.50"), 2)
