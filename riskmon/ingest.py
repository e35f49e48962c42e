"""`riskmon ingest`: a raw platform export in, contract `order_paid` events out, pseudonymised.

The export carries the ID number, phone, payment account and address in clear (`.csv`, one row
per order of one item, columns `CSV_COLUMNS`; or `.jsonl`, the contract's order event with
`consumer.id_number`, `consumer.phone`, `payment.account` and `delivery.address` in place of
the `*_hash` fields). Out go events built from the contract's fields only (an unknown field of
the export may hold anything, so it is dropped), checked by `ORDER_ADAPTER`. A row that cannot
be converted is counted and, if asked, described in a rejects file by line number and a reason
that names the field and the rule: never a value, since the value may be a raw identifier.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, TypeVar

import orjson
from pydantic import ValidationError

from schemas.money import FEN, money_text
from schemas.orders import ORDER_ADAPTER
from schemas.pseudonyms import (
    PseudonymError,
    Pseudonymiser,
    id_facts,
    looks_like_raw_identifier,
    redact_raw_identifiers,
)

MAX_LINE_BYTES = 1 << 20
_MONEY_LIMIT = Decimal(10) ** 12  # the twelve integer digits of schemas.money.MAX_DIGITS
_HEAD = (
    "schema_version",
    "event_id",
    "event_type",
    "occurred_at",
    "order_id",
    "programme",
    "merchant_id",
)
_MONEY_FIELDS = ("order_amount", "subsidy_amount", "refund_amount")

# (column, path in the JSON Lines shape, cell type): builds a CSV row's order and names a
# rejected field by the column the operator knows.
_CSV_FIELDS: tuple[tuple[str, tuple[str | int, ...], str], ...] = (
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
CSV_COLUMNS: tuple[str, ...] = tuple(column for column, _, _ in _CSV_FIELDS)
_COLUMN_OF = {".".join(map(str, path)): column for column, path, _ in _CSV_FIELDS}
# A contract field that comes from a raw one is reported under the raw one's name.
_SOURCE_OF = {
    "consumer.id_hash": "consumer.id_number",
    "consumer.id_region": "consumer.id_number",
    "consumer.birth_year": "consumer.id_number",
    "consumer.id_checksum_ok": "consumer.id_number",
    "consumer.phone_hash": "consumer.phone",
    "payment.account_hash": "payment.account",
    "delivery.address_hash": "delivery.address",
}
T = TypeVar("T")
_TRUE = frozenset(("true", "1", "yes", "y"))
_FALSE = frozenset(("false", "0", "no", "n"))


class IngestError(ValueError):
    """The export as a whole cannot be ingested (unknown format, unreadable, unwritable)."""


@dataclass(frozen=True, slots=True)
class IngestSummary:
    read: int
    written: int
    rejected: int


class _Reject(Exception):
    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


def _name(path: str, csv_names: bool) -> str:
    source = _SOURCE_OF.get(path)
    name = _COLUMN_OF.get(source or path, source or path) if csv_names else source or path
    return f"{name} ({path.rsplit('.', 1)[-1]})" if source and source != path else name


def _reason(exc: ValidationError, csv_names: bool) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = [str(p) for p in error["loc"]]
        if loc[:1] == ["order_paid"]:
            loc = loc[1:]
        where = _name(".".join(loc), csv_names) if loc else "order"
        parts.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def _money(value: Any, field: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        return value  # null where allowed, else the contract check names the wrong kind
    amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not amount.is_finite() or abs(amount) >= _MONEY_LIMIT:
        raise _Reject(field, "not an amount of yuan below 10^12")
    if amount != amount.quantize(FEN):
        # Rounding here would change what the platform paid: refuse instead.
        raise _Reject(field, "more than two decimal places")
    return orjson.Fragment(money_text(amount).encode())


def _object(parent: dict[str, Any], key: str, field: str, *, nullable: bool = False) -> Any:
    value = parent.get(key)
    if value is None and nullable:
        return None
    if not isinstance(value, dict):
        raise _Reject(field, "required object missing" if value is None else "not an object")
    return value


def _identifier(parent: dict[str, Any], key: str, field: str) -> str:
    value = parent.get(key)
    if value is None:
        raise _Reject(field, "required field missing")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Reject(field, "not a string")
    return str(value)


def _guarded(function: Callable[[str], T], value: str, field: str) -> T:
    try:
        return function(value)
    except PseudonymError as exc:
        raise _Reject(field, str(exc)) from None


def _pick(source: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: source[k] for k in keys if k in source}


def _event(raw: dict[str, Any], p: Pseudonymiser) -> dict[str, Any]:
    """The contract event of one raw order (JSON Lines shape), built from known fields only."""
    if raw.get("event_type") != "order_paid":
        raise _Reject("event_type", "only order_paid events can be ingested")
    consumer = _object(raw, "consumer", "consumer")
    payment = _object(raw, "payment", "payment")
    delivery = _object(raw, "delivery", "delivery")
    qualification = _object(raw, "qualification", "qualification", nullable=True)
    items = raw.get("items")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise _Reject("items", "not a list of objects")
    id_number = _identifier(consumer, "id_number", "consumer.id_number")
    facts = _guarded(id_facts, id_number, "consumer.id_number")
    phone = _guarded(p.phone, _identifier(consumer, "phone", "consumer.phone"), "consumer.phone")
    account = _identifier(payment, "account", "payment.account")
    address = delivery.get("address")
    if not isinstance(address, str):
        missing = address is None
        raise _Reject("delivery.address", "required field missing" if missing else "not a string")
    event = _pick(raw, _HEAD)
    event["consumer"] = {
        **_pick(consumer, ("account_id",)),
        "id_hash": _guarded(p.id_number, id_number, "consumer.id_number"),
        "id_region": facts.region,
        "birth_year": facts.birth_year,
        "id_checksum_ok": facts.checksum_ok,
        "phone_hash": phone,
        **_pick(consumer, ("real_name_verified", "account_created_at")),
    }
    if qualification is not None:
        qualification = _pick(qualification, ("code", "verified"))
    event["qualification"] = qualification
    event.update(_pick(raw, ("device_id", "ip")))
    account_hash = _guarded(p.payment_account, account, "payment.account")
    event["payment"] = {"account_hash": account_hash, **_pick(payment, ("method",))}
    if "paid_amount" in payment:
        event["payment"]["paid_amount"] = _money(payment["paid_amount"], "payment.paid_amount")
    address_hash = _guarded(p.address, address, "delivery.address")
    event["delivery"] = {
        "address_hash": address_hash,
        **_pick(delivery, ("region", "pickup_point")),
    }
    event.update(_pick(raw, ("warehouse_id",)))
    event["items"] = []
    for n, item in enumerate(items):
        out = _pick(item, ("sku", "category", "quantity", "unit_price", "energy_grade"))
        if "unit_price" in out:
            out["unit_price"] = _money(out["unit_price"], f"items.{n}.unit_price")
        event["items"].append(out)
    for key in _MONEY_FIELDS:
        if key in raw:
            event[key] = _money(raw[key], key)
    return event


def _clear_identifiers(value: Any, path: str = "") -> Iterator[str]:
    if isinstance(value, str) and looks_like_raw_identifier(value):
        yield path
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from _clear_identifiers(inner, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for n, inner in enumerate(value):
            yield from _clear_identifiers(inner, f"{path}.{n}")


def _cell(text: str, kind: str, column: str) -> Any:
    if kind == "text":
        return text
    if kind == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise _Reject(column, "not a boolean (true/false, 1/0, yes/no)")
    try:
        return int(text) if kind == "int" else Decimal(text)
    except (ValueError, InvalidOperation):
        raise _Reject(column, "not an integer" if kind == "int" else "not a number") from None


def _csv_order(row: dict[str | Any, Any], header: frozenset[str]) -> dict[str, Any]:
    """A CSV row in the JSON Lines shape; an empty cell is null."""
    if row.get(None):  # DictReader's key for cells past the header
        raise _Reject("row", "more cells than the header has columns")
    order: dict[str, Any] = {"schema_version": 1}
    for column, path, kind in _CSV_FIELDS:
        text = row.get(column)
        if text is None:
            rule = (
                "fewer cells than the header has columns"
                if column in header
                else "no such column in the header"
            )
            raise _Reject(column if column not in header else "row", rule)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # surrogateescape'd bytes that were not UTF-8
            raise _Reject(column, "not UTF-8 text") from None
        text = text.strip()
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


def _csv_records(stream: IO[str]) -> Iterator[tuple[int, dict[str, Any] | _Reject]]:
    reader = csv.DictReader(stream)
    header = frozenset(name.strip() for name in reader.fieldnames or ())
    reader.fieldnames = [name.strip() for name in reader.fieldnames or ()]
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield start, _Reject("row", "not valid CSV (broken quoting or a cell too long)")
            continue
        try:
            yield start, _csv_order(row, header)
        except _Reject as exc:
            yield start, exc


def _jsonl_records(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, Any] | _Reject]]:
    for n, line in enumerate(stream, 1):
        if not line.strip():
            continue
        if len(line) > MAX_LINE_BYTES:
            yield n, _Reject("line", f"longer than {MAX_LINE_BYTES} bytes")
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield n, _Reject("line", f"malformed JSON at column {exc.colno}")
            continue
        yield n, value if isinstance(value, dict) else _Reject("line", "not a JSON object")


def _converted(src: Path, p: Pseudonymiser) -> Iterator[tuple[int, bytes | str]]:
    """(line, event JSON) or (line, reason), in file order. Raw values stay in this frame."""
    suffix = src.suffix.lower()
    csv_names = suffix == ".csv"
    with ExitStack() as stack:
        if csv_names:
            # surrogateescape: a row that is not UTF-8 is rejected alone, not the whole file.
            text = open(src, encoding="utf-8-sig", errors="surrogateescape", newline="")
            records = _csv_records(stack.enter_context(text))
        else:
            records = _jsonl_records(stack.enter_context(open(src, "rb")))
        for n, record in records:
            yield n, _convert(record, p, csv_names)


def _convert(record: dict[str, Any] | _Reject, p: Pseudonymiser, csv_names: bool) -> bytes | str:
    if isinstance(record, _Reject):
        return str(record)
    try:
        event = _event(record, p)
        # A shifted column or a note typed into the wrong field: not pseudonymised, so not out.
        clear = next(_clear_identifiers(event), None)
        if clear is not None:
            raise _Reject(
                clear, "looks like an ID number or phone number, and is not pseudonymised"
            )
        line = orjson.dumps(event)
        ORDER_ADAPTER.validate_json(line)
    except _Reject as exc:
        return f"{_name(exc.field, csv_names)}: {exc.rule}"
    except ValidationError as exc:
        return _reason(exc, csv_names)
    except Exception as exc:  # its message could quote a raw value: never shown
        return f"cannot convert ({type(exc).__name__})"
    return line


class _AtomicFile:
    """A file that appears under its name, complete, only when `commit` is called."""

    def __init__(self, path: Path) -> None:
        self.path = path
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        self.tmp = Path(name)
        self.file: IO[bytes] = os.fdopen(fd, "wb")

    def commit(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        self.file.close()
        self.tmp.unlink(missing_ok=True)


def ingest(
    src: Path, dst: Path, pseudonymiser: Pseudonymiser, *, rejects: Path | None = None
) -> IngestSummary:
    """Convert `src` (.csv or .jsonl) into contract events in `dst`, replaced atomically.

    Rejected rows go, as `{"line": n, "reason": ...}`, to `rejects` when it is given.
    """
    if src.suffix.lower() not in (".csv", ".jsonl"):
        raise IngestError(f"{src.name}: unknown format, expected a .csv or .jsonl file")
    outputs: list[_AtomicFile] = []
    read = written = 0
    try:
        out = _AtomicFile(dst)
        outputs.append(out)
        bad = _AtomicFile(rejects) if rejects is not None else None
        if bad is not None:
            outputs.append(bad)
        for n, result in _converted(src, pseudonymiser):
            read += 1
            if isinstance(result, bytes):
                out.file.write(result + b"\n")
                written += 1
            elif bad is not None:
                reason = redact_raw_identifiers(result)[0]
                bad.file.write(orjson.dumps({"line": n, "reason": reason}) + b"\n")
        for output in outputs:
            output.commit()
    except OSError as exc:
        for output in outputs:
            output.discard()
        raise IngestError(
            f"cannot ingest {src.name}: {exc.strerror or type(exc).__name__}"
        ) from None
    except BaseException:
        for output in outputs:
            output.discard()
        raise
    return IngestSummary(read=read, written=written, rejected=read - written)


__all__ = ["CSV_COLUMNS", "MAX_LINE_BYTES", "IngestError", "IngestSummary", "ingest"]
