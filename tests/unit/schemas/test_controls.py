"""Contract v1.1: the `controls` topic and the `order_checkout` request, good and bad input."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from factories import h, paid
from inputs import checkout, control

from schemas.controls import ACTIONS_BY_KIND, CONTROL_ACTIONS, CONTROL_KINDS, Control
from schemas.decode import DecodeError, decode_checkout, decode_control, decode_order
from schemas.export import topic_schemas
from schemas.orders import OrderCheckout, OrderPaid
from schemas.outputs import dumps

KEYS = {
    "consumer": h("id:p1"),
    "device": "dv-51c2e0",
    "payment": h("pay:p1"),
    "address": h("addr:p1"),
    "phone": h("phone:p1"),
    "merchant": "M0003",
    "sku": "SKU-PH-0007",
    "qualification_code": "GDQ-2026-00981234",
    "programme": "featured_goods",
    "budget_line": "digital",
}


def refused(record: dict[str, Any]) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode_control(dumps(record))
    return info.value


def test_the_example_of_the_contract_decodes() -> None:
    decoded = decode_control(dumps(control()))
    assert isinstance(decoded, Control)
    assert (decoded.kind, decoded.key, decoded.action) == ("merchant", "M0003", "block")
    assert decoded.topic_key == "merchant:M0003"
    assert decoded.expires_at is None


@pytest.mark.parametrize("kind", CONTROL_KINDS)
def test_every_kind_takes_its_actions_and_only_those(kind: str) -> None:
    for action in CONTROL_ACTIONS:
        record = control(kind=kind, key=KEYS[kind], action=action)
        if action in ACTIONS_BY_KIND[kind]:
            assert decode_control(dumps(record)).action == action
        else:
            error = refused(record)
            assert error.reason == "invalid"
            assert error.message.startswith(f"action: {action} does not apply to a {kind}")


def test_pause_is_for_programmes_and_budget_lines_and_allow_never_is() -> None:
    assert ACTIONS_BY_KIND["programme"] == ACTIONS_BY_KIND["budget_line"] == {"pause", "lift"}
    assert {"block", "hold", "allow", "lift"} == ACTIONS_BY_KIND["merchant"]


@pytest.mark.parametrize("kind", ["consumer", "payment", "address", "phone"])
def test_the_key_of_a_person_is_a_pseudonym(kind: str) -> None:
    error = refused(control(kind=kind, key="A889901"))
    assert (
        error.message == f"key: a {kind} control's key is a pseudonym (64 lowercase hex characters)"
    )


def test_an_expiry_comes_after_the_start() -> None:
    error = refused(control(expires_at="2026-07-10T09:12:00+08:00"))
    assert error.message == "expires_at: must be after effective_from"
    later = control(expires_at="2026-07-11T09:12:00+08:00")
    assert decode_control(dumps(later)).expires_at is not None
    # a control may reach back: it applies to what is decided once it is read
    back = control(effective_from="2026-07-09T00:00:00+08:00")
    assert decode_control(dumps(back)).effective_from.day == 9


@pytest.mark.parametrize(
    ("change", "reason", "field"),
    [
        ({"kind": "warehouse"}, "invalid", "kind"),
        ({"action": "freeze"}, "invalid", "action"),
        ({"reason": ""}, "invalid", "reason"),
        ({"reason": "x" * 1001}, "invalid", "reason"),
        ({"author": ""}, "invalid", "author"),
        ({"control_id": None}, "invalid", "control_id"),
        ({"issued_at": "2026-07-10T09:12:00"}, "invalid", "issued_at"),  # no offset
        ({"effective_from": "1999-07-10T09:12:00+08:00"}, "time_out_of_range", "effective_from"),
        ({"schema_version": 2}, "unsupported_schema_version", "schema_version"),
    ],
)
def test_bad_records_are_dead_letters_naming_the_field(
    change: dict[str, Any], reason: str, field: str
) -> None:
    error = refused(control(**change))
    assert error.reason == reason
    assert field in error.message


def test_a_missing_field_is_named() -> None:
    record = control()
    del record["reason"]
    assert refused(record).message == "reason: required field missing"


def test_malformed_and_oversized_records() -> None:
    with pytest.raises(DecodeError) as info:
        decode_control(b"{not json")
    assert info.value.reason == "malformed_json"
    with pytest.raises(DecodeError) as info:
        decode_control(dumps(control()), max_bytes=100)
    assert info.value.reason == "too_large"


def test_a_checkout_has_the_fields_of_a_paid_order() -> None:
    decoded = decode_checkout(dumps(checkout()))
    assert isinstance(decoded, OrderCheckout) and not isinstance(decoded, OrderPaid)
    assert set(OrderCheckout.model_fields) == set(OrderPaid.model_fields)
    assert decoded.payment.paid_amount == decoded.order_amount - decoded.subsidy_amount


def test_a_checkout_is_checked_like_a_paid_order() -> None:
    with pytest.raises(DecodeError, match="order_amount .* does not equal"):
        decode_checkout(dumps(checkout(order_amount=Decimal("1.00"))))
    with pytest.raises(DecodeError, match="required field missing"):
        decode_checkout(dumps({k: v for k, v in checkout().items() if k != "consumer"}))


def test_orders_and_checkouts_do_not_mix() -> None:
    with pytest.raises(DecodeError) as info:
        decode_order(dumps(checkout()))
    assert info.value.reason == "unknown_event_type"
    with pytest.raises(DecodeError) as info:
        decode_checkout(dumps(paid()))
    assert info.value.reason == "invalid" and "event_type" in info.value.message


def test_both_are_in_the_exported_contract() -> None:
    schemas = topic_schemas()
    assert "v1.1" in schemas["controls"]["$comment"]
    assert schemas["controls"]["required"] == [
        "schema_version", "control_id", "kind", "key", "action", "reason", "author",
        "issued_at", "effective_from", "expires_at",
    ]  # fmt: skip
    assert "authorization API" in schemas["order-checkout"]["$comment"]
