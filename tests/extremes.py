"""Orders the contract accepts at its edges (hypothesis strategies), for the property tests.

Dates at the ends of the accepted window and at every offset from -12:00 to +14:00, amounts up
to the money type's fourteen digits, quantities of 99, baskets of many lines, Unicode in every
free string, categories and programmes the rules do not know, and later events of all kinds.
Every example is checked by the contract itself: one it refuses is not an order (`valid`).
"""

from __future__ import annotations

import base64
import hashlib
import re
import string
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
from hypothesis import strategies as st

from schemas.decode import DecodeError, decode_order

CATEGORIES = ["mobile_phone", "tablet", "refrigerator", "local_specialty", "television", "畅销品"]
PROGRAMMES = ["featured_goods", "logistics_warehouse", "unknown_programme"]

# the window's own ends (schemas/times.py), a day inside, and the programme's season
EDGE_TIMES = st.sampled_from(
    [
        datetime(2000, 1, 1, tzinfo=UTC) + timedelta(days=1),
        datetime(2099, 12, 30, tzinfo=UTC),
        datetime(2026, 7, 1, tzinfo=UTC),
        datetime(2026, 12, 31, 15, 59, 59, tzinfo=UTC),
    ]
) | st.datetimes(
    min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30), timezones=st.just(UTC)
)
OFFSETS = st.integers(min_value=-12 * 4, max_value=14 * 4).map(
    lambda q: timezone(timedelta(minutes=15 * q))
)

# free text: letters of many scripts, no controls, no digit runs that could read as an ID or a
# phone (the contract refuses those on purpose: tests/disguises.py tests that side)
TEXT = st.text(
    alphabet=st.characters(
        categories=("Lu", "Ll", "Lo", "Lm", "Mn", "Sm", "So", "Pc", "Pd"),
        exclude_characters="\u061c\u200e\u200f",
    ),
    min_size=1,
    max_size=40,
)
IDENT = TEXT | st.text(alphabet=string.ascii_letters + string.digits[:4] + "-_.", min_size=1)
MONEY = st.decimals(
    min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2, allow_nan=False
)


def _hex(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def _time(at: datetime, offset: timezone) -> str:
    return at.astimezone(offset).isoformat()


@st.composite
def paid_orders(draw: st.DrawFn) -> dict[str, Any]:
    offset = draw(OFFSETS)
    at = draw(EDGE_TIMES)
    created = draw(st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30)))
    lines = draw(st.sampled_from([1, 2, 3, 40]) | st.integers(min_value=1, max_value=8))
    items = []
    for n in range(lines):
        quantity = draw(st.sampled_from([1, 2, 99]) | st.integers(1, 99))
        price = draw(MONEY)
        items.append(
            {
                "sku": draw(IDENT) + f"-{n}",
                "category": draw(st.sampled_from(CATEGORIES)),
                "quantity": quantity,
                "unit_price": price,
                "energy_grade": draw(st.none() | st.integers(1, 5)),
            }
        )
    amount = sum((i["unit_price"] * i["quantity"] for i in items), Decimal(0))
    person = draw(st.integers(0, 50))
    return {
        "schema_version": 1,
        "event_id": draw(IDENT),
        "event_type": "order_paid",
        "occurred_at": _time(at, offset),
        "order_id": draw(IDENT),
        "programme": draw(st.sampled_from(PROGRAMMES)),
        "merchant_id": draw(IDENT),
        "consumer": {
            "account_id": draw(IDENT),
            "id_hash": _hex(f"id{person}"),
            "id_region": draw(st.sampled_from(["440310", "110101", "000000"])),
            "birth_year": draw(st.integers(1900, 2100)),
            "id_checksum_ok": draw(st.booleans()),
            "phone_hash": _hex(f"ph{person}"),
            "real_name_verified": draw(st.booleans()),
            "account_created_at": _time(created.replace(tzinfo=UTC), offset),
        },
        "qualification": draw(
            st.none() | st.builds(lambda c, v: {"code": c, "verified": v}, IDENT, st.booleans())
        ),
        "device_id": draw(IDENT),
        "ip": draw(st.ip_addresses(v=4).map(str)),
        "payment": {
            "account_hash": _hex(f"pay{draw(st.integers(0, 50))}"),
            "method": draw(st.sampled_from(["wechat", "alipay", "unionpay", "card", "other"])),
            "paid_amount": draw(st.sampled_from([amount, Decimal(0)]) | MONEY),
        },
        "delivery": {
            "address_hash": _hex(f"addr{draw(st.integers(0, 50))}"),
            "region": draw(st.sampled_from(["440310", "440300"])),
            "pickup_point": draw(st.booleans()),
        },
        "warehouse_id": draw(st.none() | st.sampled_from(["PS-WH-01", "PS-WH-12", "WH-X"])),
        "items": items,
        "order_amount": amount,
        "subsidy_amount": draw(st.sampled_from([Decimal(0), Decimal("500.00")]) | MONEY),
        "refund_amount": None,
    }


@st.composite
def later_events(draw: st.DrawFn, order: dict[str, Any]) -> dict[str, Any]:
    kind = draw(st.sampled_from(["order_cancelled", "order_refunded", "order_delivered"]))
    at = datetime.fromisoformat(order["occurred_at"]) + timedelta(
        seconds=draw(st.integers(0, 86400 * 400))
    )
    event = {
        "schema_version": 1,
        "event_id": f"{order['event_id']}-{kind}",
        "event_type": kind,
        "occurred_at": at.isoformat() if at.year < 2100 else order["occurred_at"],
        "order_id": order["order_id"],
        "programme": order["programme"],
        "merchant_id": order["merchant_id"],
        "consumer": {"id_hash": order["consumer"]["id_hash"]},
        "refund_amount": None,
    }
    if kind == "order_refunded":
        event["refund_amount"] = draw(MONEY)
    return event


def encoded(event: dict[str, Any]) -> bytes:
    """The event as the wire has it: money a JSON number written to the fen, never a float."""
    marked = orjson.dumps(event, default=lambda d: f"{MARK}{d}{MARK}")
    return re.sub(rb'"' + MARK.encode() + rb"(-?[0-9.]+)" + MARK.encode() + rb'"', rb"\1", marked)


MARK = "\u2063decimal\u2063"  # a Decimal's number, to be unquoted


def valid(raw: bytes) -> bool:
    """Whether the contract accepts it (only then is it an example of an order)."""
    try:
        decode_order(raw)
    except DecodeError:
        return False
    return True


@st.composite
def streams_of_events(draw: st.DrawFn, size: int = 12, least: int = 1) -> list[bytes]:
    """Paid orders (`least` to `size` drawn) and some of their later events, each accepted by
    the contract."""
    out = []
    for _ in range(draw(st.integers(least, size))):
        order = draw(paid_orders())
        raw = encoded(order)
        if not valid(raw):
            continue
        out.append(raw)
        if draw(st.booleans()):
            later = encoded(draw(later_events(order)))
            if valid(later):
                out.append(later)
    return out


# a JSON string's text, escapes included
ORDER_ID = re.compile(rb'"order_id":("(?:[^"\\]|\\.)*")')


def paid_order_id(raw_base64: str) -> str | None:
    """The order a dead-lettered payment was for. A dead letter's raw bytes have a run of digits
    that reads as a phone or an ID number redacted (docs/contract.md), an eleven-digit amount
    included, so they may no longer be JSON: the field is then read from the text."""
    raw = base64.b64decode(raw_base64)
    if b'"order_paid"' not in raw:
        return None
    try:
        found = orjson.loads(raw)
    except orjson.JSONDecodeError:
        match = ORDER_ID.search(raw)
        return orjson.loads(match.group(1)) if match else None
    return found.get("order_id") if isinstance(found, dict) else None
