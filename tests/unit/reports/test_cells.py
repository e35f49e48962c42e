"""No export runs a formula: every writer of cells neutralises text that a spreadsheet would run.

Issue 18 item 3: merchant ids and SKUs such as `=HYPERLINK("http://x","y")` were written as
formulas in `report ledger` (xlsx) and unescaped in csv, in `reconcile --out`, and a failed
login's user name reached `/audit.csv`. Here the payloads go in through the contract (orders
and catalog replayed into a store), a bill and the audit trail, and come out of every writer
with a single quote in front, as text; amounts stay numbers, negative ones included.
"""

from __future__ import annotations

import csv
import html.parser
import io
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from factories import catalog_entry, item, jsonl, paid
from store_checks import billed_orders, write_bill
from typer.testing import CliRunner

from console.audit import export_csv, record
from reports import migrate
from reports.cells import FORMULA_STARTS, neutralise
from reports.db import open_engine
from riskmon.cli import app

PAYLOADS = ('=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1)", "-1+2")
NUMBER = re.compile(r"-?[0-9][0-9,]*(\.[0-9]+)?%?")
runner = CliRunner()


def test_the_rule_is_owasps() -> None:
    for payload in (*PAYLOADS, "\tx", "\rx"):
        assert neutralise(payload) == "'" + payload
    for safe in ("M0042", "SKU-1", "坪山", "", " =1", "'=1"):
        assert neutralise(safe) == safe
    assert set(FORMULA_STARTS) == {"=", "+", "-", "@", "\t", "\r"}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A store whose merchants and SKUs are the payloads, replayed through the contract."""
    folder = tmp_path_factory.mktemp("cells")
    url = f"sqlite:///{folder}/store.db"
    engine = open_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    catalog = [
        catalog_entry(payload, "mobile_phone", "4999.00", merchant=payload) for payload in PAYLOADS
    ]
    orders = [
        paid(f"p{n}", merchant_id=payload, items=[item(payload, "mobile_phone", "4999.00")])
        for n, payload in enumerate(PAYLOADS)
    ]
    (folder / "catalog.jsonl").write_bytes(jsonl(catalog))
    (folder / "events.jsonl").write_bytes(jsonl(orders))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RISKMON_DATABASE_URL", url)
        result = runner.invoke(
            app,
            [
                "replay",
                "--events",
                str(folder / "events.jsonl"),
                "--catalog",
                str(folder / "catalog.jsonl"),
                "--store",
            ],
        )
    assert result.exit_code == 0, result.output
    yield url, folder


def _cli(url: str, *args: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RISKMON_DATABASE_URL", url)
        result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output


def _ledger(url: str, folder: Path, fmt: str) -> list[Path]:
    out = folder / f"ledger.{fmt}"
    _cli(url, "report", "ledger", "--date", "2026-07-06", "--out", str(out))
    return sorted(folder.glob(f"ledger*.{fmt}"))


def _reconcile(url: str, folder: Path, fmt: str) -> list[Path]:
    engine = open_engine(url)
    try:
        (order_id, net), *_ = sorted(billed_orders(engine).items())
    finally:
        engine.dispose()
    # unknown orders named by the payloads, and an under-claim: a negative difference
    rows = [(p, Decimal("10.00")) for p in PAYLOADS] + [(order_id, net - Decimal("1.00"))]
    write_bill(folder / "bill.csv", rows)
    out = folder / f"differences.{fmt}"
    _cli(url, "reconcile", "--bill", str(folder / "bill.csv"), "--out", str(out))
    return sorted(folder.glob(f"differences*.{fmt}"))


def _audit(url: str, folder: Path, fmt: str) -> list[Path]:
    engine = open_engine(url)
    try:
        with engine.begin() as connection:
            for payload in PAYLOADS:
                record(connection, payload, "login_failed", remote="203.0.113.9")
        with engine.connect() as connection:
            text = "".join(export_csv(connection))
    finally:
        engine.dispose()
    out = folder / "audit.csv"
    out.write_text(text, encoding="utf-8")
    return [out]


class _Cells(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("td", "dd"):
            self._in = ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "dd") and self._in is not None:
            self.cells.append(self._in)
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self._in += data


def text_cells(path: Path) -> list[str]:
    """Every text cell of an export (an xlsx cell that is a number is left out)."""
    suffix = path.suffix
    if suffix == ".csv":
        return [c for row in csv.reader(io.StringIO(path.read_text("utf-8-sig"))) for c in row]
    if suffix == ".html":
        parser = _Cells()
        parser.feed(path.read_text("utf-8"))
        return parser.cells
    if suffix == ".md":
        cells = []
        for line in path.read_text("utf-8").splitlines():
            if line.startswith("| "):
                cells += [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            elif line.startswith("- **"):
                cells.append(line.split("**: ", 1)[1])
        return cells
    book = openpyxl.load_workbook(path)
    out = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"a formula in {sheet.title}!{cell.coordinate}"
                if cell.data_type == "s":
                    out.append(str(cell.value))
    return out


def numbers(path: Path) -> list[float]:
    book = openpyxl.load_workbook(path)
    return [
        float(cell.value)
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if cell.data_type == "n" and cell.value is not None
    ]


WRITERS = [
    ("ledger", "xlsx"),
    ("ledger", "csv"),
    ("ledger", "html"),
    ("ledger", "md"),
    ("reconcile", "xlsx"),
    ("reconcile", "csv"),
    ("reconcile", "html"),
    ("reconcile", "md"),
    ("audit", "csv"),
]


@pytest.mark.parametrize(("writer", "fmt"), WRITERS)
def test_every_writer_neutralises_formulas_and_keeps_numbers_numbers(
    store: tuple[str, Path], tmp_path: Path, writer: str, fmt: str
) -> None:
    url, _ = store
    make = {"ledger": _ledger, "reconcile": _reconcile, "audit": _audit}[writer]
    written = make(url, tmp_path, fmt)
    assert written
    cells = [c for path in written for c in text_cells(path)]
    for payload in PAYLOADS:
        assert "'" + payload in cells, (payload, writer, fmt)
    for cell in cells:
        if cell.startswith(FORMULA_STARTS):
            assert NUMBER.fullmatch(cell), f"{writer} {fmt}: {cell!r} would run"
    if writer == "reconcile" and fmt == "xlsx":
        assert any(n < 0 for n in numbers(written[0]))  # the under-claim, still a number
    if writer == "reconcile" and fmt == "csv":
        assert any(NUMBER.fullmatch(c) and c.startswith("-") for c in cells)
