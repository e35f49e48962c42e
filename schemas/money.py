"""Money: `Decimal` yuan from parsing to output, rounded to the fen in one place."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema as cs

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
# Twelve integer digits cover any programme budget; fourteen digits in all stay exact in the
# double the JSON decoder reads a number into, so the shortest repr gives back what was written.
MAX_DIGITS = 14


def to_fen(amount: Decimal) -> Decimal:
    """Round to the fen, half up (四舍五入), the rounding the programme rules use.

    >>> to_fen(Decimal("749.985"))
    Decimal('749.99')
    """
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def money_text(amount: Decimal) -> str:
    """The JSON text of an amount: a plain number with two decimals, never an exponent.

    >>> money_text(Decimal("5E+2"))
    '500.00'
    """
    return format(to_fen(amount), "f")


class _MoneyType:
    """A JSON number (never a string or a boolean) read into a `Decimal` of at most two places.

    The checks run inside pydantic-core: a Python-level validator would cost three times as much
    as the whole of the rest of an order's validation.
    """

    def __init__(self, *, positive: bool) -> None:
        self.positive = positive

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> cs.CoreSchema:
        gt, ge = (Decimal(0), None) if self.positive else (None, Decimal(0))
        decimal = cs.decimal_schema(
            max_digits=MAX_DIGITS, decimal_places=2, allow_inf_nan=False, strict=False, gt=gt, ge=ge
        )
        number = cs.union_schema(
            [cs.int_schema(strict=True), cs.float_schema(strict=True, allow_inf_nan=False)],
            custom_error_type="money_type",
            custom_error_message="money must be a JSON number of yuan",
        )
        return cs.json_or_python_schema(
            json_schema=cs.chain_schema([number, decimal]),
            python_schema=cs.decimal_schema(
                max_digits=MAX_DIGITS, decimal_places=2, allow_inf_nan=False, gt=gt, ge=ge
            ),
            serialization=cs.plain_serializer_function_ser_schema(_serialise, when_used="json"),
        )

    def __get_pydantic_json_schema__(
        self, schema: cs.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        limit = "exclusiveMinimum" if self.positive else "minimum"
        return {"type": "number", limit: 0, "multipleOf": 0.01, "description": "yuan"}


def _serialise(amount: Decimal) -> float:
    # Exact for MAX_DIGITS digits: the float's shortest repr is the two-decimal text.
    return float(amount)


Money = Annotated[Decimal, _MoneyType(positive=False)]
"""A non-negative amount in yuan with at most two decimal places."""
PositiveMoney = Annotated[Decimal, _MoneyType(positive=True)]
"""An amount in yuan above zero (prices)."""
