from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from schemas.money import money_text, to_fen
from schemas.outputs import dumps


def test_half_up_to_the_fen() -> None:
    assert to_fen(Decimal("450.005")) == Decimal("450.01")  # banker's rounding would say 450.00
    assert to_fen(Decimal("0.004")) == Decimal("0.00")


@given(st.decimals(min_value=0, max_value=Decimal("999999999999.99"), places=2))
def test_money_goes_out_as_the_exact_json_number(amount: Decimal) -> None:
    assert dumps({"x": amount}) == b'{"x":' + money_text(amount).encode() + b"}"
    assert Decimal(money_text(amount)) == amount
