"""Raw bytes to a validated message, or an error that names the field and never the value.

Bad input is data, not an exception to crash on: every failure carries a short `reason` code
(for the dead-letter record and the metric label) and a message naming the field, the kind of
value found and the rule it broke. Values are never echoed: a malformed message may carry a
raw identifier in clear.

Reasons: `too_large`, `malformed_json`, `unsupported_schema_version`, `unknown_event_type`,
`invalid` (a field breaks its rule), and, for what `schemas.screening` and `schemas.times` and
this module refuse: `time_out_of_range` (an event time outside the window), `control_character`,
`raw_identifier` and `duplicate_key` (a key given twice in one object: JSON parsers disagree
on which one wins, so neither does).

Each decode function takes the window of accepted event times (`schemas.times`; the default
when None), and passes it to the screening in the validation context.
Keys given twice: the screening counts the keys the message was made of, which is compared with
the raw bytes (two byte scans); a message where they differ is read again,
object by object (ASCII JSON without an escape: a tokenizing regular expression; any other:
the standard library's parser, which sees every pair).
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from schemas.catalog import CATALOG_ADAPTER, CatalogEntry
from schemas.controls import CONTROL_ADAPTER, Control
from schemas.identifiers import raw_identifier_kind
from schemas.labels import LABEL_ADAPTER, Label
from schemas.orders import (
    CHECKOUT_ADAPTER,
    ORDER_ADAPTER,
    OrderCancelled,
    OrderCheckout,
    OrderDelivered,
    OrderPaid,
    OrderRefunded,
)
from schemas.publications import PUBLICATION_ADAPTER, RulesPublication
from schemas.screening import KEYS, UNKNOWN
from schemas.times import DEFAULT_WINDOW, WINDOW_KEY, TimeWindow, past_outer_limits

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


_OWN_REASONS = frozenset(("time_out_of_range", "control_character", "raw_identifier"))
_SPACED_KEY = re.compile(rb'"[ \t\r\n]+:')
_TOKEN = re.compile(rb'"([^"]*)"[ \t\r\n]*(:)|"[^"]*"|([{}])')


class DecodeError(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), type(value).__name__)


def _describe(exc: ValidationError, tags: frozenset[str], window: TimeWindow) -> DecodeError:
    errors = exc.errors(include_url=False)
    types = {e["type"] for e in errors}
    if "json_invalid" in types or "json_type" in types:
        first = next(e for e in errors if e["type"] in ("json_invalid", "json_type"))
        return DecodeError("malformed_json", f"not a JSON object: {first['msg']}")
    parts = []
    reason = "invalid"
    window_text = window.describe()
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
        elif past_outer_limits(error):
            if reason == "invalid":
                reason = "time_out_of_range"
            parts.append(f"{where}: outside the accepted window of event times, {window_text}")
        elif error["type"] in _OWN_REASONS:
            if reason == "invalid":
                reason = error["type"]
            parts.append(f"{where}: {message}" if loc else message)
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


class _DuplicateKey(ValueError):
    pass


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen.add(key)
    return dict(pairs)


def _refuse_duplicate_keys(raw: bytes, keys: Any) -> None:
    # Every key is followed by `":` unless a blank comes before its colon, and a text holds
    # `":` only escaped (`\\":`), which only adds to the count: an equal count and no key
    # followed by a blank mean no key is given twice (two scans of the bytes). A message
    # without any blank, the common case, is read for blanks by memchr, one byte value at a
    # time, rather than by the pattern, which starts again at every quote (`find`, not `in`:
    # `bytes in bytes` first tries its operand as an integer, raising and clearing a
    # TypeError each time).
    find = raw.find
    if keys == raw.count(b'":') and (
        (find(b" ") < 0 and find(b"\n") < 0 and find(b"\t") < 0 and find(b"\r") < 0)
        or _SPACED_KEY.search(raw) is None
    ):
        return
    if raw.isascii() and b"\\" not in raw:
        # No escape: every string is `"..."` as it reads, and a key is one followed by a colon.
        objects: list[set[bytes]] = []
        for key, colon, brace in _TOKEN.findall(raw):
            if brace == b"{":
                objects.append(set())
            elif brace == b"}":
                objects.pop()
            elif colon:
                if key in objects[-1]:
                    raise _duplicate(key.decode("ascii"))
                objects[-1].add(key)
        return
    try:
        json.loads(raw, object_pairs_hook=_unique)
    except _DuplicateKey as exc:
        raise _duplicate(str(exc.args[0])) from None
    except (ValueError, RecursionError) as exc:
        raise DecodeError("malformed_json", f"not a JSON object: {type(exc).__name__}") from None


def _duplicate(key: str) -> DecodeError:
    named = (
        f" ({key!r})"
        if len(key) <= 64 and key.isprintable() and raw_identifier_kind(key) is None
        else ""
    )
    return DecodeError(
        "duplicate_key", f"a key is given twice in one object{named}: the message is ambiguous"
    )


def _decode(
    adapter: TypeAdapter[T],
    raw: bytes,
    max_bytes: int,
    tags: frozenset[str],
    window: TimeWindow | None,
    context: dict[str, Any] | None = None,
) -> T:
    """`context`: the validation context to use (and read after: the screening's counts)."""
    if len(raw) > max_bytes:
        raise DecodeError(
            "too_large", f"message of {len(raw)} bytes exceeds the limit of {max_bytes} bytes"
        )
    if context is None:
        context = {}
    context[WINDOW_KEY] = window or DEFAULT_WINDOW
    try:
        value = adapter.validate_json(raw, context=context)
    except ValidationError as exc:
        raise _describe(exc, tags, window or DEFAULT_WINDOW) from None
    except (RecursionError, UnicodeDecodeError) as exc:  # hostile nesting or bytes
        raise DecodeError("malformed_json", f"not a JSON object: {type(exc).__name__}") from None
    _refuse_duplicate_keys(bytes(raw), context.get(KEYS))
    return value


_ORDER_TAGS = frozenset(("order_paid", "order_cancelled", "order_refunded", "order_delivered"))

OrderEventType = OrderPaid | OrderCancelled | OrderRefunded | OrderDelivered


def decode_order(
    raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES, window: TimeWindow | None = None
) -> OrderEventType:
    """An event of topic `orders` (`order_checkout` is not one: see `decode_checkout`)."""
    return _decode(ORDER_ADAPTER, raw, max_bytes, _ORDER_TAGS, window)


def decode_order_counted(
    raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES, window: TimeWindow | None = None
) -> tuple[OrderEventType, int]:
    """`decode_order`, and how many unknown fields the event carried, its parts' included (as
    `schemas.orders.extra_fields` counts them), counted by the screening's walk over it."""
    context: dict[str, Any] = {}
    event = _decode(ORDER_ADAPTER, raw, max_bytes, _ORDER_TAGS, window, context)
    return event, context[UNKNOWN]


def decode_checkout(
    raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES, window: TimeWindow | None = None
) -> OrderCheckout:
    """An `order_checkout` (contract v1.1): the authorization API's request."""
    return _decode(CHECKOUT_ADAPTER, raw, max_bytes, frozenset(), window)


def decode_catalog(
    raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES, window: TimeWindow | None = None
) -> CatalogEntry:
    return _decode(CATALOG_ADAPTER, raw, max_bytes, frozenset(), window)


def decode_label(
    raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES, window: TimeWindow | None = None
) -> Label:
    return _decode(LABEL_ADAPTER, raw, max_bytes, frozenset(), window)


def decode_control(
    raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES, window: TimeWindow | None = None
) -> Control:
    """A record of topic `controls` (contract v1.1)."""
    return _decode(CONTROL_ADAPTER, raw, max_bytes, frozenset(), window)


def decode_publication(
    raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES, window: TimeWindow | None = None
) -> RulesPublication:
    """A rules version as published on `rules` (schemas/publications.py)."""
    return _decode(PUBLICATION_ADAPTER, raw, max_bytes, frozenset(), window)
