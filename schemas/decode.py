"""Raw bytes to a validated message, or an error that names the field and never the value.

Bad input is data, not an exception to crash on: every failure carries a short `reason` code
(for the dead-letter record and the metric label) and a message naming the field, the kind of
value found and the rule it broke. Values are never echoed: a malformed message may carry a
raw identifier in clear.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from schemas.catalog import CATALOG_ADAPTER, CatalogEntry
from schemas.labels import LABEL_ADAPTER, Label
from schemas.orders import ORDER_ADAPTER, OrderCancelled, OrderDelivered, OrderPaid, OrderRefunded
from schemas.publications import PUBLICATION_ADAPTER, RulesPublication

DEFAULT_MAX_BYTES = 1 << 20
"""An order is about 1 KB; a megabyte leaves room for a basket of 200 lines."""

T = TypeVar("T")

_KINDS = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
    list: "an array",
    dict: "an object",
}


class DecodeError(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), type(value).__name__)


def _describe(exc: ValidationError, tags: frozenset[str]) -> DecodeError:
    errors = exc.errors(include_url=False)
    types = {e["type"] for e in errors}
    if "json_invalid" in types or "json_type" in types:
        first = next(e for e in errors if e["type"] in ("json_invalid", "json_type"))
        return DecodeError("malformed_json", f"not a JSON object: {first['msg']}")
    parts = []
    reason = "invalid"
    for error in errors:
        loc = [str(p) for p in error["loc"]]
        if loc and loc[0] in tags:
            loc = loc[1:]  # the discriminated union's tag is not a field
        where = ".".join(loc) or "(message)"
        if where == "schema_version" and error["type"] == "literal_error" and reason == "invalid":
            reason = "unsupported_schema_version"
        message = error["msg"]
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            reason = "unknown_event_type"
            parts.append(f"event_type: {message}")
        elif error["type"] == "missing":
            parts.append(f"{where}: required field missing")
        elif error["type"] in ("value_error", "assertion_error"):
            message = message.removeprefix("Value error, ")
            parts.append(f"{where}: {message}" if loc else message)
        else:
            parts.append(f"{where}: {message} (got {_kind(error.get('input'))})")
    shown = "; ".join(parts[:6])
    if len(parts) > 6:
        shown += f"; and {len(parts) - 6} more"
    return DecodeError(reason, shown)


def _decode(adapter: TypeAdapter[T], raw: bytes, max_bytes: int, tags: frozenset[str]) -> T:
    if len(raw) > max_bytes:
        raise DecodeError(
            "too_large", f"message of {len(raw)} bytes exceeds the limit of {max_bytes} bytes"
        )
    try:
        return adapter.validate_json(raw)
    except ValidationError as exc:
        raise _describe(exc, tags) from None
    except (RecursionError, UnicodeDecodeError) as exc:  # hostile nesting or bytes
        raise DecodeError("malformed_json", f"not a JSON object: {type(exc).__name__}") from None


_ORDER_TAGS = frozenset(("order_paid", "order_cancelled", "order_refunded", "order_delivered"))

OrderEventType = OrderPaid | OrderCancelled | OrderRefunded | OrderDelivered


def decode_order(raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> OrderEventType:
    return _decode(ORDER_ADAPTER, raw, max_bytes, _ORDER_TAGS)


def decode_catalog(raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> CatalogEntry:
    return _decode(CATALOG_ADAPTER, raw, max_bytes, frozenset())


def decode_label(raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> Label:
    return _decode(LABEL_ADAPTER, raw, max_bytes, frozenset())


def decode_publication(raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> RulesPublication:
    """A rules version as published on `rules` (schemas/publications.py)."""
    return _decode(PUBLICATION_ADAPTER, raw, max_bytes, frozenset())
