"""The `orders` contract: what it accepts, and a clear refusal, naming the field, of the rest."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import orjson
import pytest
from factories import later, line, paid
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.decode import DecodeError, decode_order
from schemas.orders import OrderPaid, OrderRefunded, extra_fields

BASE = paid()


def mutate(path: str, value: Any) -> bytes:
    event = orjson.loads(line(BASE))
    *outer, last = path.split(".")
    target = event
    for key in outer:
        target = target[int(key)] if key.isdigit() else target[key]
    if value is DELETE:
        del target[last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return json.dumps(event).encode()  # stdlib: big integers are valid JSON too


DELETE = object()


def test_valid_order_paid_decodes_with_exact_money() -> None:
    event = decode_order(line(BASE))
    assert isinstance(event, OrderPaid)
    assert event.subsidy_amount == Decimal("500.00")
    assert event.payment.paid_amount == Decimal("4499.00")
    assert event.occurred_at.utcoffset() is not None


def test_later_events_need_only_their_keys() -> None:
    refund = decode_order(line(later(BASE, "order_refunded", at=1, refund="12.34")))
    assert isinstance(refund, OrderRefunded) and refund.refund_amount == Decimal("12.34")


@pytest.mark.parametrize(
    ("path", "value", "reason", "field"),
    [
        ("consumer.id_hash", DELETE, "invalid", "consumer.id_hash"),
        ("items.0.quantity", "1", "invalid", "items.0.quantity"),
        ("items.0.quantity", 100, "invalid", "items.0.quantity"),
        ("items.0.unit_price", 0, "invalid", "items.0.unit_price"),
        ("subsidy_amount", 500.001, "invalid", "subsidy_amount"),
        ("subsidy_amount", "500.00", "invalid", "subsidy_amount"),
        ("subsidy_amount", True, "invalid", "subsidy_amount"),
        ("subsidy_amount", -1, "invalid", "subsidy_amount"),
        ("occurred_at", "2026-07-03T10:15:30", "invalid", "occurred_at"),
        ("occurred_at", "yesterday", "invalid", "occurred_at"),
        ("order_amount", 5000.0, "invalid", "order_amount"),
        ("schema_version", 2, "unsupported_schema_version", "schema_version"),
        ("event_type", "order_shipped", "unknown_event_type", "event_type"),
        ("event_type", DELETE, "unknown_event_type", "event_type"),
        ("payment.method", "cash", "invalid", "payment.method"),
        ("delivery.region", "44031", "invalid", "delivery.region"),
        ("consumer.phone_hash", "13800138000", "invalid", "consumer.phone_hash"),
        ("items", [], "invalid", "items"),
    ],
)
def test_bad_fields_are_refused_naming_the_field(
    path: str, value: Any, reason: str, field: str
) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_order(mutate(path, value))
    assert caught.value.reason == reason
    assert field in caught.value.message


def test_the_message_never_echoes_the_value() -> None:
    secret = "13800138000"
    with pytest.raises(DecodeError) as caught:
        decode_order(mutate("consumer.phone_hash", secret))
    assert secret not in caught.value.message


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "malformed_json"),
        (b"{", "malformed_json"),
        (b"[1, 2]", "invalid"),
        (b"null", "invalid"),
        (b'{"a": "\xff"}', "malformed_json"),
        (b"[" * 50_000, "malformed_json"),
        (b" " * (1 << 20) + b"{}", "too_large"),
    ],
)
def test_hostile_bytes_are_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_order(raw)
    assert caught.value.reason == reason


def test_ten_megabytes_is_refused_before_parsing() -> None:
    raw = b'{"pad": "' + b"x" * (10 << 20) + b'"}'
    with pytest.raises(DecodeError) as caught:
        decode_order(raw)
    assert caught.value.reason == "too_large"


def test_unknown_fields_are_tolerated_and_counted() -> None:
    event = copy.deepcopy(orjson.loads(line(BASE)))
    event["channel"] = "app"
    event["consumer"]["vip"] = True
    event["items"][0]["colour"] = "red"
    assert extra_fields(decode_order(orjson.dumps(event))) == 3


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "event_id",
    "event_type",
    "occurred_at",
    "order_id",
    "programme",
    "schema_version",
    "consumer.id_hash",
    "consumer.birth_year",
    "consumer.account_created_at",
    "payment.paid_amount",
    "payment",
    "delivery",
    "items",
    "items.0",
    "items.0.unit_price",
    "items.0.energy_grade",
    "order_amount",
    "subsidy_amount",
    "qualification",
    "warehouse_id",
    "ip",
]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(FIELDS), value=json_values)
def test_any_value_in_any_field_decodes_or_is_refused_cleanly(field: str, value: Any) -> None:
    raw = mutate(field, value)
    try:
        decode_order(raw)
    except DecodeError as exc:
        assert exc.reason in {
            "invalid",
            "unsupported_schema_version",
            "unknown_event_type",
            "time_out_of_range",
            "control_character",
            "raw_identifier",
        }
        assert exc.message


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_are_refused_cleanly(raw: bytes) -> None:
    try:
        decode_order(raw)
    except DecodeError as exc:
        assert exc.reason
