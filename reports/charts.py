"""The reports' charts, drawn with matplotlib (no display: the Agg canvas) into PNG bytes.

Chinese titles need a CJK font; where none is installed (`make system` installs one) the charts
fall back to English rather than draw empty boxes: builders ask `chart_lang` which to use.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import findSystemFonts, fontManager
from matplotlib.ticker import FuncFormatter, PercentFormatter

from reports.labels import Lang

# Families that hold the Chinese glyphs, in order of preference.
CJK_FAMILIES = (
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Droid Sans Fallback",
)
_SIZE = (7.0, 3.8)
_DPI = 110


# Their files, for a matplotlib font cache made before the font was installed.
_CJK_FILES = ("wqy-microhei", "wqy-zenhei", "notosanscjk", "sourcehansans", "droidsansfallback")


@cache
def cjk_family() -> str | None:
    """An installed font family with Chinese glyphs, or None."""
    found = _known_cjk_family()
    if found is None:
        for path in findSystemFonts():
            if any(part in Path(path).name.lower() for part in _CJK_FILES):
                fontManager.addfont(path)
        found = _known_cjk_family()
    return found


def _known_cjk_family() -> str | None:
    installed = {font.name for font in fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in installed), None)


def chart_lang(lang: Lang) -> Lang:
    """The language the charts can be drawn in here."""
    return "zh" if lang == "zh" and cjk_family() is not None else "en"


def _x(days: list[date]) -> np.ndarray[Any, np.dtype[np.datetime64]]:
    return np.array(days, dtype="datetime64[D]")


@contextmanager
def _drawing(lang: Lang, title: str) -> Iterator[tuple[Figure, Axes, io.BytesIO]]:
    family = cjk_family() if lang == "zh" else None
    families = [family, "DejaVu Sans"] if family else ["DejaVu Sans"]
    out = io.BytesIO()
    with rc_context({"font.family": families, "axes.unicode_minus": False}):
        figure = Figure(figsize=_SIZE, dpi=_DPI, layout="constrained")
        axes = figure.add_subplot()
        yield figure, axes, out
        axes.set_title(title)
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small", loc="upper left")
        figure.autofmt_xdate()
        # no timestamp in the file: the same data draws the same bytes
        figure.savefig(out, format="png", metadata={"Software": None})


def cumulative_share(
    days: list[date], series: dict[str, list[float]], title: str, lang: Lang
) -> bytes:
    """One line per budget line: its cumulative spend as a share of its budget, by day."""
    with _drawing(lang, title) as (_, axes, out):
        for name, values in series.items():
            axes.plot(_x(days), values, marker="o" if len(days) <= 31 else None, label=name)
        axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
        axes.set_ylim(bottom=0)
    return out.getvalue()


def daily_bars(days: list[date], series: dict[str, list[float]], title: str, lang: Lang) -> bytes:
    """Stacked bars: net spend per day, one colour per programme."""
    with _drawing(lang, title) as (_, axes, out):
        bottom = [0.0] * len(days)
        for name, values in series.items():
            axes.bar(_x(days), values, bottom=bottom, label=name, width=0.8)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    return out.getvalue()
