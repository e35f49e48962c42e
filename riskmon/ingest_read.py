"""Reading a raw export for `riskmon ingest`: its encoding, its columns, its records by line.

Chinese spreadsheets save CSV as GBK (GB18030's older subset) unless told otherwise, or as
UTF-8 with a byte-order mark ("CSV UTF-8" in Excel). The encoding is detected, or given with
`--encoding`: a UTF-8 byte-order mark means UTF-8; a file that is valid UTF-8 is UTF-8; any
other is read as GB18030 (which reads GBK exactly). A file is in one encoding: bytes that do not
decode, or a file whose first lines are UTF-8 and a later one is not, fail the whole run with
the line named, rather than every row being rejected one by one.

The CSV columns are `CSV_COLUMNS` (documented in docs/ingest.md); `OPTIONAL_COLUMNS` may be
left out, any other missing column fails the run. Columns the monitor does not know are
ignored, and named in the run's summary. Line numbers count physical lines, so a quoted cell
that spans lines or is too long to read does not shift the numbers of the rows after it.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

import orjson

MAX_LINE_BYTES = 1 << 20
SNIFF_BYTES = 1 << 20

# (column, path in the JSON Lines shape, cell type): builds a CSV row's order and names a
# rejected field by the column the operator knows.
CSV_FIELDS: tuple[tuple[str, tuple[str | int, ...], str], ...] = (
    ("event_id", ("event_id",), "text"),
    ("event_type", ("event_type",), "text"),
    ("occurred_at", ("occurred_at",), "text"),
    ("order_id", ("order_id",), "text"),
    ("programme", ("programme",), "text"),
    ("merchant_id", ("merchant_id",), "text"),
    ("account_id", ("consumer", "account_id"), "text"),
    ("id_number", ("consumer", "id_number"), "text"),
    ("phone", ("consumer", "phone"), "text"),
    ("real_name_verified", ("consumer", "real_name_verified"), "bool"),
    ("account_created_at", ("consumer", "account_created_at"), "text"),
    ("qualification_code", ("qualification", "code"), "text"),
    ("qualification_verified", ("qualification", "verified"), "bool"),
    ("device_id", ("device_id",), "text"),
    ("ip", ("ip",), "text"),
    ("payment_account", ("payment", "account"), "text"),
    ("payment_method", ("payment", "method"), "text"),
    ("paid_amount", ("payment", "paid_amount"), "money"),
    ("address", ("delivery", "address"), "text"),
    ("delivery_region", ("delivery", "region"), "text"),
    ("pickup_point", ("delivery", "pickup_point"), "bool"),
    ("warehouse_id", ("warehouse_id",), "text"),
    ("sku", ("items", 0, "sku"), "text"),
    ("category", ("items", 0, "category"), "text"),
    ("quantity", ("items", 0, "quantity"), "int"),
    ("unit_price", ("items", 0, "unit_price"), "money"),
    ("energy_grade", ("items", 0, "energy_grade"), "int"),
    ("order_amount", ("order_amount",), "money"),
    ("subsidy_amount", ("subsidy_amount",), "money"),
    ("refund_amount", ("refund_amount",), "money"),
)
CSV_COLUMNS: tuple[str, ...] = tuple(column for column, _, _ in CSV_FIELDS)
OPTIONAL_COLUMNS = frozenset(("warehouse_id", "energy_grade", "refund_amount"))
"""Columns an export may leave out: their cells are null whenever they are empty anyway."""
# The JSON Lines shape: what the converter reads of each object (anything else is ignored).
JSONL_FIELDS: dict[str, frozenset[str]] = {
    "": frozenset(
        "schema_version event_id event_type occurred_at order_id programme merchant_id "
        "consumer qualification device_id ip payment delivery warehouse_id items "
        "order_amount subsidy_amount refund_amount".split()
    ),
    "consumer": frozenset(
        "account_id id_number phone real_name_verified account_created_at".split()
    ),
    "qualification": frozenset(("code", "verified")),
    "payment": frozenset(("account", "method", "paid_amount")),
    "delivery": frozenset(("address", "region", "pickup_point")),
    "items": frozenset(("sku", "category", "quantity", "unit_price", "energy_grade")),
}
_TRUE = frozenset(("true", "1", "yes", "y"))
_FALSE = frozenset(("false", "0", "no", "n"))


class IngestError(ValueError):
    """The export as a whole cannot be ingested: its format, encoding or columns, or nothing
    in it could be converted, or it cannot be read or written. Never quotes a cell."""


class Reject(Exception):
    """One record that cannot be converted: the field (or `row`, `line`) and the rule."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


@dataclass
class Source:
    """An export opened for reading: (line, record or Reject) in file order, its encoding,
    and the columns or fields it has that are ignored (known once the records are read)."""

    records: Iterator[tuple[int, dict[str, Any] | Reject]]
    encoding: str
    ignored: dict[str, None] = field(default_factory=dict)  # an ordered set


def detect_encoding(path: Path) -> str:
    """ "utf-8-sig", "utf-8" or "gb18030" for `path` (see the module's docstring)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 0
    seen_other = False  # non-ASCII text before the bytes that are not UTF-8: a mixed file
    with path.open("rb") as handle:
        head = handle.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            raise IngestError(
                f"{path.name}: UTF-16 text (Excel's 'Unicode text'): save it as CSV UTF-8 or CSV"
            )
        handle.seek(0)
        while True:
            chunk = handle.read(SNIFF_BYTES)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                before = chunk[: max(exc.start, 0)]
                if seen_other or not before.isascii():
                    line = lines + before.count(b"\n") + 1
                    raise IngestError(
                        f"{path.name}: line {line} is not UTF-8 text, though the lines before "
                        "it are: the file mixes encodings; export it again in one encoding"
                    ) from None
                return "gb18030"
            if not chunk:
                return "utf-8"
            seen_other = seen_other or not chunk.isascii()
            lines += chunk.count(b"\n")


def check_encoding(name: str) -> str:
    """The codec's name; one that writes the CSV punctuation and line breaks as ASCII does,
    since lines are split on their bytes (UTF-8, GB18030, GBK, Big5 do; UTF-16 does not)."""
    try:
        codec = codecs.lookup(name)
    except LookupError:
        raise IngestError(f"unknown encoding {name!r} (try utf-8, gb18030 or gbk)") from None
    try:
        ascii_like = codec.encode(',"\r\n{}:0aZ')[0] == b',"\r\n{}:0aZ'
    except UnicodeError:
        ascii_like = False
    if not ascii_like:
        raise IngestError(
            f"encoding {name!r} is not read here: save the export as CSV UTF-8 or as GBK"
        )
    return codec.name


def _decode_failure(path: Path, encoding: str, line: int) -> IngestError:
    return IngestError(
        f"{path.name}: line {line} is not valid {encoding} text: the file is in another "
        "encoding (leave out --encoding to have it detected) or it is damaged"
    )


class _Lines:
    """The physical lines of an export as text, counted, with the quotes of the current
    record (a CSV record ends at the end of a line where its quotes are even).

    Decoded a line at a time, so that bytes that do not decode are named by their line: no
    byte of a line break is ever part of a UTF-8 or GB18030 character.
    """

    def __init__(self, path: Path, handle: IO[bytes], encoding: str) -> None:
        self.path = path
        self.handle = handle
        self.encoding = encoding
        self.decoder = codecs.getincrementaldecoder(encoding)()
        self.number = 0
        self.quotes = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        raw = self.handle.readline()
        if not raw:
            raise StopIteration
        self.number += 1
        try:
            line = self.decoder.decode(raw)
        except UnicodeError:
            raise _decode_failure(self.path, self.encoding, self.number) from None
        self.quotes += line.count('"')
        return line


def _cell(text: str, kind: str, column: str) -> Any:
    if kind == "text":
        return text
    if kind == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise Reject(column, "not a boolean (true/false, 1/0, yes/no)")
    try:
        return int(text) if kind == "int" else Decimal(text)
    except (ValueError, InvalidOperation):
        raise Reject(column, "not an integer" if kind == "int" else "not a number") from None


def _csv_order(cells: list[str], header: list[str]) -> dict[str, Any]:
    """A CSV row in the JSON Lines shape; an empty cell, or a column left out, is null."""
    if len(cells) > len(header):
        raise Reject("row", "more cells than the header has columns")
    if len(cells) < len(header):
        raise Reject("row", "fewer cells than the header has columns")
    row = dict(zip(header, cells, strict=True))
    order: dict[str, Any] = {"schema_version": 1}
    for column, path, kind in CSV_FIELDS:
        text = row.get(column, "").strip()
        value = None if text == "" else _cell(text, kind, column)
        target: Any = order
        for step, following in zip(path, path[1:], strict=False):
            if isinstance(target, list):
                while len(target) <= int(step):
                    target.append({})
                target = target[int(step)]
            else:
                target = target.setdefault(str(step), [] if isinstance(following, int) else {})
        target[str(path[-1])] = value
    qualification = order["qualification"]
    if qualification["code"] is None and qualification["verified"] is None:
        order["qualification"] = None
    return order


def _header(path: Path, names: list[str]) -> tuple[list[str], list[str]]:
    """The header's names, and the columns it has that the monitor ignores."""
    header = [name.strip() for name in names]
    if not any(header):
        raise IngestError(f"{path.name}: the first line is not a header of column names")
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise IngestError(f"{path.name}: columns named twice in the header: {', '.join(twice)}")
    missing = [c for c in CSV_COLUMNS if c not in header and c not in OPTIONAL_COLUMNS]
    if missing:
        raise IngestError(
            f"{path.name}: the header lacks the columns {', '.join(missing)} (the expected "
            "columns are in docs/ingest.md; `riskmon ingest --sample FILE` writes an example)"
        )
    known = set(CSV_COLUMNS)
    return header, [name for name in header if name not in known]


def _csv_records(lines: _Lines, header: list[str]) -> Iterator[tuple[int, dict[str, Any] | Reject]]:
    reader = csv.reader(lines)
    while True:
        start = lines.number + 1
        lines.quotes = 0
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error:
            # Skip the rest of the record (to a line end with its quotes even), so that the
            # next record starts where it does: its line number stays right.
            try:
                while lines.quotes % 2:
                    next(lines)
            except StopIteration:
                pass
            yield start, Reject("row", "not valid CSV (broken quoting or a cell too long)")
            continue
        if not cells:  # a blank line
            continue
        try:
            yield start, _csv_order(cells, header)
        except Reject as exc:
            yield start, exc


def open_csv(path: Path, handle: IO[bytes], encoding: str) -> Source:
    lines = _Lines(path, handle, encoding)
    try:
        names = next(csv.reader(lines), None)
    except csv.Error:
        raise IngestError(f"{path.name}: the header line is not valid CSV") from None
    if names is None:
        raise IngestError(f"{path.name}: the file is empty")
    header, ignored = _header(path, names)
    return Source(_csv_records(lines, header), encoding, dict.fromkeys(ignored))


def _unknown_keys(record: dict[str, Any], found: dict[str, None]) -> None:
    """The names of the fields of `record` the converter does not read (for the summary)."""
    for key in record:
        if key not in JSONL_FIELDS[""]:
            found.setdefault(key)
    for part in ("consumer", "qualification", "payment", "delivery"):
        value = record.get(part)
        if isinstance(value, dict):
            for key in value:
                if key not in JSONL_FIELDS[part]:
                    found.setdefault(f"{part}.{key}")
    items = record.get("items")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict):
                for key in item:
                    if key not in JSONL_FIELDS["items"]:
                        found.setdefault(f"items.{key}")


def _jsonl_records(
    lines: _Lines, ignored: dict[str, None]
) -> Iterator[tuple[int, dict[str, Any] | Reject]]:
    for line in lines:
        n = lines.number
        if not line.strip():
            continue
        if len(line) > MAX_LINE_BYTES:
            yield n, Reject("line", f"longer than {MAX_LINE_BYTES} characters")
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield n, Reject("line", f"malformed JSON at column {exc.colno}")
            continue
        if not isinstance(value, dict):
            yield n, Reject("line", "not a JSON object")
            continue
        _unknown_keys(value, ignored)
        yield n, value


def open_jsonl(path: Path, handle: IO[bytes], encoding: str) -> Source:
    ignored: dict[str, None] = {}
    return Source(_jsonl_records(_Lines(path, handle, encoding), ignored), encoding, ignored)


__all__ = [
    "CSV_COLUMNS",
    "CSV_FIELDS",
    "MAX_LINE_BYTES",
    "OPTIONAL_COLUMNS",
    "IngestError",
    "Reject",
    "Source",
    "check_encoding",
    "detect_encoding",
    "open_csv",
    "open_jsonl",
]
