"""A `Report` written as xlsx (a sheet per table, charts on their own sheet), html (one page,
charts embedded as PNG), md (charts as PNG files beside it) or csv (one file per table).

Money is integer fen in the report; it is written as yuan with two decimals: a number cell
formatted `#,##0.00` in xlsx, `1,234.56` text in html and md, `1234.56` in csv.

Text cells and facts go through `reports.cells.neutralise` in every format (a spreadsheet opens
html tables and csv alike): a merchant id such as `=HYPERLINK(...)` is shown, never run.
"""

from __future__ import annotations

import base64
import html
import io
import unicodedata
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from reports.cells import neutralise, neutralise_value
from reports.document import ColumnKind, Report, Section
from reports.frames import yuan
from reports.labels import label

Format = Literal["xlsx", "html", "md", "csv"]
FORMATS: tuple[Format, ...] = ("xlsx", "html", "md", "csv")


def write(report: Report, fmt: Format, out: Path) -> list[Path]:
    """Write `report` to `out`; returns every file written (md and csv may write several)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = {"xlsx": _xlsx, "html": _html, "md": _md, "csv": _csv}[fmt]
    return writer(report, out)


def _text(value: Any, kind: ColumnKind, *, grouped: bool = True) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if kind == "money":
        amount = yuan(int(value))
        return f"{amount:,}" if grouped else str(amount)
    if kind == "share":
        return f"{float(value):.2%}"
    if kind == "int":
        return f"{int(value):,}" if grouped else str(int(value))
    return neutralise(value) if isinstance(value, str) else str(value)


def _headings(report: Report, section: Section) -> list[str]:
    return [label(str(c), report.lang) for c in section.frame.columns]


def _title(report: Report) -> str:
    return label(report.key, report.lang)


# html ------------------------------------------------------------------------------------------

# Readable at 1,280 px without scrolling sideways: tables take the page's width, text cells
# wrap (long ids at any character), only numbers stay on one line.
_CSS = """
body { font-family: "WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC",
       "DejaVu Sans", sans-serif; margin: 20px 20px; color: #1f2933; max-width: 1600px; }
h1 { font-size: 22px; margin: 0 0 8px; } h2 { font-size: 17px; margin: 28px 0 8px; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 16px;
           font-size: 13px; margin: 0 0 8px; } dl.facts dt { color: #52606d; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; font-size: 12px; margin: 4px 0; width: 100%; }
th, td { border: 1px solid #cbd2d9; padding: 3px 5px; vertical-align: top; }
td, th { white-space: normal; overflow-wrap: anywhere; }
td.w { min-width: 16em; }
th { background: #f0f4f8; text-align: left; font-weight: 600; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:nth-child(even) td { background: #fafbfc; }
p.note { font-size: 12px; color: #52606d; margin: 4px 0; }
p.empty { font-size: 13px; margin: 6px 0; padding: 6px 10px; background: #fffbea;
          border-left: 3px solid #f0b429; }
div.charts { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0; }
img.chart { width: calc(50% - 6px); min-width: 420px; max-width: 100%; box-sizing: border-box;
            border: 1px solid #e4e7eb; }
"""


def _html_table(report: Report, section: Section) -> str:
    kinds = [section.kind(str(c)) for c in section.frame.columns]
    head = "".join(f"<th>{html.escape(h)}</th>" for h in _headings(report, section))
    body = []
    for row in section.frame.itertuples(index=False):
        cells = []
        for value, kind in zip(row, kinds, strict=True):
            css = {"text": "", "long": ' class="w"'}.get(kind, ' class="n"')
            cells.append(f"<td{css}>{html.escape(_text(value, kind))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _html(report: Report, out: Path) -> list[Path]:
    lang = report.lang
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">',
        f"<title>{html.escape(_title(report))}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(_title(report))}</h1>",
        '<dl class="facts">',
    ]
    for key, value in report.facts:
        shown = html.escape(neutralise(value))
        parts.append(f"<dt>{html.escape(label(key, lang))}</dt><dd>{shown}</dd>")
    parts.append("</dl>")
    if report.charts:
        parts.append('<div class="charts">')
        for chart in report.charts:
            data = base64.b64encode(chart.png).decode("ascii")
            alt = html.escape(label(chart.key, lang))
            parts.append(f'<img class="chart" alt="{alt}" src="data:image/png;base64,{data}">')
        parts.append("</div>")
    for section in report.sections:
        parts.append(f"<h2>{html.escape(label(section.key, lang))}</h2>")
        if section.note:
            parts.append(f'<p class="note">{html.escape(section.note)}</p>')
        if section.frame.empty and section.empty:
            parts.append(f'<p class="empty">{html.escape(section.empty)}</p>')
        else:
            parts.append(_html_table(report, section))
    parts.append("</body></html>\n")
    out.write_text("\n".join(parts), encoding="utf-8")
    return [out]


# markdown --------------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md(report: Report, out: Path) -> list[Path]:
    lang = report.lang
    lines = [f"# {_title(report)}", ""]
    lines += [f"- **{label(key, lang)}**: {neutralise(value)}" for key, value in report.facts]
    written = [out]
    for n, chart in enumerate(report.charts, start=1):
        picture = out.with_name(f"{out.stem}-chart-{n}.png")
        picture.write_bytes(chart.png)
        written.append(picture)
        lines += ["", f"![{label(chart.key, lang)}]({picture.name})"]
    for section in report.sections:
        lines += ["", f"## {label(section.key, lang)}", ""]
        if section.note:
            lines += [section.note, ""]
        if section.frame.empty and section.empty:
            lines.append(f"> {section.empty}")
            continue
        kinds = [section.kind(str(c)) for c in section.frame.columns]
        lines.append("| " + " | ".join(_md_cell(h) for h in _headings(report, section)) + " |")
        lines.append(
            "|" + "|".join("---" if k in ("text", "long") else "---:" for k in kinds) + "|"
        )
        for row in section.frame.itertuples(index=False):
            cells = [_md_cell(_text(v, k)) for v, k in zip(row, kinds, strict=True)]
            lines.append("| " + " | ".join(cells) + " |")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return written


# csv -------------------------------------------------------------------------------------------


def _plain(report: Report, section: Section) -> pd.DataFrame:
    """The table as text, headings translated, money as plain yuan."""
    frame = pd.DataFrame(
        {
            heading: [_text(v, section.kind(str(column)), grouped=False) for v in values]
            for heading, (column, values) in zip(
                _headings(report, section), section.frame.items(), strict=True
            )
        },
        dtype=object,
    )
    return frame


def _csv(report: Report, out: Path) -> list[Path]:
    written = []
    for n, section in enumerate(report.sections):
        path = out if n == 0 else out.with_name(f"{out.stem}-{section.key}{out.suffix or '.csv'}")
        # with a BOM, so that a spreadsheet opens the Chinese headings as UTF-8
        _plain(report, section).to_csv(path, index=False, encoding="utf-8-sig")
        written.append(path)
    return written


# xlsx ------------------------------------------------------------------------------------------


def _cell(value: Any, kind: ColumnKind) -> Any:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if kind == "money":
        return yuan(int(value))
    if kind == "int":
        return int(value)
    if kind == "share":
        return float(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return neutralise_value(value)  # a text cell, never a formula


WIDEST = 60  # characters: a wider text cell wraps instead


def shown_width(text: str) -> int:
    """Columns a text takes in a spreadsheet: a Chinese character takes two.

    >>> shown_width("2026-07-05 10:00:00"), shown_width("涉险补贴(元)")
    (19, 12)
    """
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _cell_text(value: Any, number_format: str) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal | float | int) and not isinstance(value, bool):
        if number_format == "0.00%":
            return f"{float(value):.2%}"
        if "0.00" in number_format:
            return f"{float(value):,.2f}"
        return f"{value:,}" if isinstance(value, int) else str(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def fit_columns(sheet: Any, *, skip_row: int | None = None) -> None:
    """Each column as wide as its widest cell (a heading included, a wrapped text at most
    `WIDEST`): timestamps and amounts are read whole, never as ###."""
    from openpyxl.styles import Alignment
    from openpyxl.utils import get_column_letter

    widths: dict[int, int] = {}
    for row in sheet.iter_rows():
        for cell in row:
            if cell.row == skip_row:
                continue  # an empty table's sentence: it may run past its column
            text = _cell_text(cell.value, cell.number_format)
            width = max((shown_width(part) for part in text.splitlines()), default=0)
            if width > WIDEST:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
                width = WIDEST
            widths[cell.column] = max(widths.get(cell.column, 0), width)
    for column, width in widths.items():
        sheet.column_dimensions[get_column_letter(column)].width = max(8, width + 2)


def _xlsx(report: Report, out: Path) -> list[Path]:
    from openpyxl.drawing.image import Image

    lang = report.lang
    formats = {"money": "#,##0.00", "int": "#,##0", "share": "0.00%"}
    with pd.ExcelWriter(out, engine="openpyxl") as writer:
        facts = pd.DataFrame(
            [(label(k, lang), neutralise(v)) for k, v in report.facts],
            columns=[label("summary", lang), ""],
        )
        summary = label(report.key, lang)[:31]
        facts.to_excel(writer, sheet_name=summary, index=False)
        fit_columns(writer.sheets[summary])
        for section in report.sections:
            kinds = [section.kind(str(c)) for c in section.frame.columns]
            frame = pd.DataFrame(
                {
                    heading: [_cell(v, k) for v in values]
                    for heading, k, (_, values) in zip(
                        _headings(report, section), kinds, section.frame.items(), strict=True
                    )
                },
                dtype=object,
            )
            name = _sheet_name(label(section.key, lang))
            frame.to_excel(writer, sheet_name=name, index=False)
            sheet = writer.sheets[name]
            sheet.freeze_panes = "A2"
            for i, kind in enumerate(kinds, start=1):
                if kind in formats:
                    for (cell,) in sheet.iter_rows(min_row=2, min_col=i, max_col=i):
                        cell.number_format = formats[kind]
            if section.frame.empty and section.empty:
                sheet.cell(row=2, column=1, value=neutralise(section.empty))
            fit_columns(sheet, skip_row=2 if section.frame.empty else None)
        if report.charts:
            sheet = writer.book.create_sheet("图表" if lang == "zh" else "Charts")
            row = 1
            for chart in report.charts:
                picture = Image(io.BytesIO(chart.png))
                sheet.add_image(picture, f"A{row}")
                row += int(picture.height / 20) + 2
    return [out]


def _sheet_name(title: str) -> str:
    """A heading as an xlsx sheet's name: Excel refuses []:*?/\\ in one, and more than 31
    characters.

    >>> _sheet_name("Logistics subsidy: public and platform money")
    'Logistics subsidy - public and '
    """
    for bad in "[]:*?/\\":
        title = title.replace(bad, " -" if bad == ":" else "-")
    return title[:31]
