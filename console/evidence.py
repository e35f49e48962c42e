"""An alert's evidence as an analyst reads it: its figures one by one, each with its label in
the user's language, pseudonyms masked. The JSON stays on the page, one click away.

>>> figures('{"identities": 6, "window_hours": 72, "threshold": 5}', "zh")
[('关联身份数', '6'), ('时间窗口(小时)', '72'), ('阈值', '5')]
>>> figures('{"used": 81234.5, "ratio": 0.9}', "en")
[('used (yuan)', '¥81,234.50'), ('share used', '0.9')]
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from console.words import NAMES, lang_of, name, yuan
from reports.masking import mask_pseudonyms

LISTED = 10  # items of a list shown; the rest are counted
# figures in yuan: their labels say so
MONEY = frozenset(key for key, pair in NAMES["evidence"].items() if pair[1].endswith("(yuan)"))


def figures(evidence: str, lang: str) -> list[tuple[str, str]]:
    """(label, value) for each figure of the evidence JSON, in its order."""
    try:
        data = orjson.loads(evidence)
    except orjson.JSONDecodeError:
        return [("", mask_pseudonyms(evidence))]
    if not isinstance(data, dict):
        return [("", _value(data, lang))]
    return [
        (name("evidence", str(key), lang), _value(value, lang, str(key)))
        for key, value in data.items()
    ]


def pretty(evidence: str) -> str:
    """The evidence JSON, indented, pseudonyms masked."""
    try:
        data = orjson.loads(evidence)
    except orjson.JSONDecodeError:
        return mask_pseudonyms(evidence)
    return mask_pseudonyms(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def _value(value: Any, lang: str, key: str = "") -> str:
    if isinstance(value, bool):
        return ("是" if value else "否") if lang != "en" else ("yes" if value else "no")
    if isinstance(value, int | float):
        if key in MONEY:
            return yuan(Decimal(str(value)))
        if isinstance(value, int) or value.is_integer():
            return f"{int(value):,}"
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.2f}"
    if isinstance(value, str):
        return name("category", value, lang) if key == "category" else mask_pseudonyms(value)
    if value is None:
        return "—"
    if isinstance(value, dict):
        return ", ".join(
            f"{name('evidence', str(k), lang)}: {_value(v, lang, str(k))}" for k, v in value.items()
        )
    if isinstance(value, list):
        shown = [_value(item, lang, key) for item in value[:LISTED]]
        if len(value) > LISTED:
            more = len(value) - LISTED
            shown.append(f"…(另 {more} 项)" if lang != "en" else f"… ({more} more)")
        return "; ".join(shown)
    return mask_pseudonyms(str(value))


def sentence(alert: dict[str, Any], raw_evidence: str, lang: str) -> str:
    """The evidence said in one sentence with its figures (reports/evidence.py, shared with the
    reports), pseudonyms masked; the figures and the JSON follow it on the page."""
    from reports.evidence import evidence_sentence

    said = evidence_sentence({**alert, "evidence": raw_evidence or "{}"}, lang_of(lang))
    return mask_pseudonyms(said)
