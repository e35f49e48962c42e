"""Money, counts, shares and dates as the reader's language writes them.

Chinese conventions: ¥1,234.56 (thousands grouped, to the fen), 2026年12月5日 in prose and
2026-12-05 in tables (the ISO day, which Chinese spreadsheets read), times on the 24-hour
clock. English: the same money, "5 December 2026" in prose.

>>> money("1234.5"), money(-98765432.1), share(0.8215)
('¥1,234.50', '-¥98,765,432.10', '82.2%')
>>> from datetime import date
>>> day_text(date(2026, 12, 5), "zh"), day_text(date(2026, 12, 5), "en")
('2026年12月5日', '5 December 2026')
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from reports.vocabulary import Lang

CENT = Decimal("0.01")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def amount(value: Any) -> Decimal:
    """A money value as it comes (Decimal, exact text, an int; never a float's noise)."""
    try:
        return Decimal(str(value)).quantize(CENT)
    except (InvalidOperation, ValueError):
        raise ValueError(f"not an amount of money: {value!r}") from None


def money(value: Any) -> str:
    """Yuan to the fen, thousands grouped, the sign in front of the ¥."""
    exact = amount(value)
    sign = "-" if exact < 0 else ""
    return f"{sign}¥{abs(exact):,.2f}"


def count(value: Any) -> str:
    """A whole number, thousands grouped (a float that is whole is shown without decimals).

    >>> count(12345), count(3.0), count(2.5)
    ('12,345', '3', '2.5')
    """
    number = float(value)
    return f"{int(number):,}" if number == int(number) else f"{number:,g}"


def share(value: Any, digits: int = 1) -> str:
    """A fraction as a percentage: 0.8 is 80.0%."""
    return f"{float(value) * 100:.{digits}f}%"


def day_text(value: date, lang: Lang) -> str:
    """A day in a sentence."""
    if lang == "zh":
        return f"{value.year}年{value.month}月{value.day}日"
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def day_cell(value: date) -> str:
    """A day in a table (both languages): the ISO day."""
    return value.isoformat()


def moment_cell(value: datetime) -> str:
    """A time in a table, on the 24-hour clock, to the second, in its own offset."""
    return value.strftime("%Y-%m-%d %H:%M:%S")


def hours_text(hours: Any, lang: Lang) -> str:
    """A window of hours; whole days said as days (72 hours stays 72 小时, as the rules say it).

    >>> hours_text(72, "zh"), hours_text(24, "en"), hours_text(1, "en")
    ('72 小时', '24 hours', '1 hour')
    """
    n = count(hours)
    if lang == "zh":
        return f"{n} 小时"
    return f"{n} hour" if n == "1" else f"{n} hours"


def days_text(days: Any, lang: Lang) -> str:
    """A span of days.

    >>> days_text(30, "zh"), days_text(1, "en")
    ('30 天', '1 day')
    """
    n = count(days)
    if lang == "zh":
        return f"{n} 天"
    return f"{n} day" if n == "1" else f"{n} days"
