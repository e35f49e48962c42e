"""`riskmon ingest`: a raw platform export in, contract `order_paid` events out, pseudonymised.

The export carries the ID number, phone, payment account and address in clear (`.csv`, one row
per order of one item, columns `CSV_COLUMNS`; or `.jsonl`, the contract's order event with
`consumer.id_number`, `consumer.phone`, `payment.account` and `delivery.address` in place of
the `*_hash` fields); docs/ingest.md has both, and `riskmon ingest --sample` writes an example.
Reading it (encoding, columns, line numbers) is `riskmon.ingest_read`.

Out go events built from the contract's fields only (an unknown field of the export may hold
anything, so it is dropped, and named in the summary), checked by `ORDER_ADAPTER`. The ID
number and the phone are checked for shape before they are pseudonymised (a ten-digit phone is
not a phone); every other text of the event is scanned for a raw ID or mobile number in any
disguise (`schemas.identifiers`) and refused if one is there. A row that cannot be converted
is counted and, if asked, described in a rejects file by line number and a reason that names
the field and the rule: never a value, since the value may be a raw identifier. A run that
converts nothing, or whose file is in no single known encoding or lacks columns, fails whole.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, TypeVar

import orjson
from pydantic import ValidationError

from riskmon.ingest_read import (
    CSV_COLUMNS,
    CSV_FIELDS,
    MAX_LINE_BYTES,
    OPTIONAL_COLUMNS,
    IngestError,
    Source,
    check_encoding,
    detect_encoding,
    open_csv,
    open_jsonl,
)
from riskmon.ingest_read import Reject as _Reject
from schemas.identifiers import is_mobile, raw_identifier_kind, redact_raw_identifiers
from schemas.money import FEN, money_text
from schemas.orders import ORDER_ADAPTER
from schemas.pseudonyms import PseudonymError, Pseudonymiser, id_facts, phone_digits
from schemas.times import WINDOW_KEY, TimeWindow, past_outer_limits, window_of

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
_COLUMN_OF = {".".join(map(str, path)): column for column, path, _ in CSV_FIELDS}
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
_HASHES = frozenset(("id_hash", "phone_hash", "account_hash", "address_hash"))
_NAMED_IN_MESSAGE = frozenset(("time_out_of_range", "control_character", "raw_identifier"))
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class IngestSummary:
    read: int
    written: int
    rejected: int
    encoding: str = "utf-8"
    ignored: tuple[str, ...] = ()  # columns (CSV) or fields (JSON Lines) the export had in vain
    reasons: dict[str, int] = field(default_factory=dict, compare=False)  # reason: rows


def _name(path: str, csv_names: bool) -> str:
    source = _SOURCE_OF.get(path)
    name = _COLUMN_OF.get(source or path, source or path) if csv_names else source or path
    return f"{name} ({path.rsplit('.', 1)[-1]})" if source and source != path else name


def _reason(exc: ValidationError, csv_names: bool, window: TimeWindow) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(p) for p in error["loc"]]
        if loc[:1] == ["order_paid"]:
            loc = loc[1:]
        message = error["msg"].removeprefix("Value error, ")
        if past_outer_limits(error):
            message = f"outside the accepted window of event times, {window.describe()}"
        if not loc and error["type"] in _NAMED_IN_MESSAGE:
            # the message's screening names the field at the head of its text
            field, _, message = message.partition(": ")
            loc = [field]
        where = _name(".".join(loc), csv_names) if loc else "order"
        parts.append(f"{where}: {message}")
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
    raw_phone = _identifier(consumer, "phone", "consumer.phone")
    if not is_mobile(phone_digits(raw_phone)):
        raise _Reject(
            "consumer.phone",
            "not a mainland mobile number (11 digits from 13 to 19, may follow +86)",
        )
    phone = _guarded(p.phone, raw_phone, "consumer.phone")
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
    """Where an event holds a raw ID or mobile number, in any disguise (pseudonyms aside)."""
    if isinstance(value, str) and raw_identifier_kind(value) is not None:
        yield path
    elif isinstance(value, dict):
        for key, inner in value.items():
            if key not in _HASHES:
                yield from _clear_identifiers(inner, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for n, inner in enumerate(value):
            yield from _clear_identifiers(inner, f"{path}.{n}")


def _source(src: Path, stack: ExitStack, encoding: str | None) -> Source:
    chosen = check_encoding(encoding) if encoding is not None else detect_encoding(src)
    handle = stack.enter_context(src.open("rb"))
    if src.suffix.lower() == ".csv":
        return open_csv(src, handle, chosen)
    return open_jsonl(src, handle, chosen)


def _convert(
    record: dict[str, Any] | _Reject,
    p: Pseudonymiser,
    csv_names: bool,
    context: dict[str, Any],
) -> bytes | str:
    """The event's JSON, or the reason it is rejected. Raw values stay in this frame."""
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
        ORDER_ADAPTER.validate_json(line, context=context)
    except _Reject as exc:
        return f"{_name(exc.field, csv_names)}: {exc.rule}"
    except ValidationError as exc:
        return _reason(exc, csv_names, window_of(context))
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
    src: Path,
    dst: Path,
    pseudonymiser: Pseudonymiser,
    *,
    rejects: Path | None = None,
    encoding: str | None = None,
    window: TimeWindow | None = None,
) -> IngestSummary:
    """Convert `src` (.csv or .jsonl) into contract events in `dst`, replaced atomically.

    Rejected rows go, as `{"line": n, "reason": ...}`, to `rejects` when it is given. The
    encoding is detected unless given; event times must lie in `window` (the contract's
    default when None). Raises `IngestError`, and leaves `dst` as it was, when the file cannot
    be read as a whole or when no row of it could be converted (the rejects are kept).
    """
    if src.suffix.lower() not in (".csv", ".jsonl"):
        raise IngestError(f"{src.name}: unknown format, expected a .csv or .jsonl file")
    csv_names = src.suffix.lower() == ".csv"
    context: dict[str, Any] = {} if window is None else {WINDOW_KEY: window}
    outputs: list[_AtomicFile] = []
    reasons: Counter[str] = Counter()
    read = written = 0
    try:
        with ExitStack() as stack:
            source = _source(src, stack, encoding)
            out = _AtomicFile(dst)
            outputs.append(out)
            bad = _AtomicFile(rejects) if rejects is not None else None
            if bad is not None:
                outputs.append(bad)
            for n, record in source.records:
                read += 1
                result = _convert(record, pseudonymiser, csv_names, context)
                if isinstance(result, bytes):
                    out.file.write(result + b"\n")
                    written += 1
                    continue
                reason = redact_raw_identifiers(result)[0]
                reasons[reason] += 1
                if bad is not None:
                    bad.file.write(orjson.dumps({"line": n, "reason": reason}) + b"\n")
        if written == 0:
            if bad is not None:
                bad.commit()
                outputs.remove(bad)
            raise IngestError(_nothing_converted(src, read, reasons))
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
    return IngestSummary(
        read=read,
        written=written,
        rejected=read - written,
        encoding=source.encoding,
        ignored=tuple(redact_raw_identifiers(name)[0] for name in source.ignored),
        reasons=dict(reasons.most_common()),
    )


def _nothing_converted(src: Path, read: int, reasons: Counter[str]) -> str:
    if read == 0:
        return f"{src.name}: no row to convert in it"
    common = "; ".join(f"{reason} ({n:,} rows)" for reason, n in reasons.most_common(3))
    return f"{src.name}: none of its {read:,} rows could be converted; most often: {common}"


__all__ = [
    "CSV_COLUMNS",
    "MAX_LINE_BYTES",
    "OPTIONAL_COLUMNS",
    "IngestError",
    "IngestSummary",
    "ingest",
]
