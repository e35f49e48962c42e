"""Cells of a spreadsheet or CSV export: text that a spreadsheet would run stays text.

A merchant id, a SKU or a failed login's user name comes from outside; written as it is, a
cell such as `=HYPERLINK("http://x","y")` or `+cmd|' /C calc'!A0` is a formula when the file is
opened in Excel, WPS or LibreOffice. OWASP's rule for CSV injection: a text cell that starts
with `=`, `+`, `-`, `@`, a tab or a carriage return gets a single quote in front, which the
spreadsheet shows and never evaluates. Numbers are not text: a negative amount stays a number
(the writers only pass text cells here), and in xlsx a text cell is written as a string, never
as a formula (`reports.render`).
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """`text` as a cell that cannot run.

    >>> neutralise('=HYPERLINK("http://x","y")'), neutralise("-1+2"), neutralise("M0042")
    ('\\'=HYPERLINK("http://x","y")', "'-1+2", 'M0042')
    """
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def neutralise_value(value: Any) -> Any:
    """A text value neutralised; any other value (a number, a date, None) as it is."""
    return neutralise(value) if isinstance(value, str) else value


__all__ = ["FORMULA_STARTS", "neutralise", "neutralise_value"]
