"""A valid message of every input topic, and `put` to change one field of it.

Orders and catalog entries come from `factories`; the topics of contract v1.1 (`controls`,
`order_checkout`) and `labels` are here, as `events.md` shows them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from factories import catalog_entry, later, paid

from schemas.decode import (
    decode_catalog,
    decode_checkout,
    decode_control,
    decode_label,
    decode_order,
)


def label() -> dict[str, Any]:
    return {
        "schema_version": 1,
        "order_id": "PS20260703000123",
        "label": "fraud",
        "risk": "hoarding",
        "labelled_at": "2026-07-05T16:00:00+08:00",
        "analyst": "analyst-07",
    }


def control(**over: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "control_id": "c-20260710-0001",
        "kind": "merchant",
        "key": "M0003",
        "action": "block",
        "reason": "fake orders confirmed, incident 17",
        "author": "lead-01",
        "issued_at": "2026-07-10T09:12:00+08:00",
        "effective_from": "2026-07-10T09:12:00+08:00",
        "expires_at": None,
        **over,
    }


def checkout(person: str = "p-checkout", **over: Any) -> dict[str, Any]:
    return {**paid(person, **over), "event_type": "order_checkout"}


def refunded() -> dict[str, Any]:
    """An `order_refunded` carrying the optional fields of a later event too."""
    event = later(paid("p-refund"), "order_refunded", at=2.0, refund="100.00")
    event["consumer"]["account_id"] = "A-p-refund"
    return {**event, "device_id": "dv-p-refund", "ip": "10.0.0.9"}


def catalog() -> dict[str, Any]:
    return catalog_entry("SKU-PH-1", "mobile_phone", "4999.00")


def put(record: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """`record` with the field at the dotted `path` (list indexes as numbers) set to `value`."""
    target: Any = record
    steps = path.split(".")
    for step in steps[:-1]:
        target = target[int(step)] if isinstance(target, list) else target[step]
    if isinstance(target, list):
        target[int(steps[-1])] = value
    else:
        target[steps[-1]] = value
    return record


ORDER_TEXTS = (
    "event_id",
    "order_id",
    "programme",
    "merchant_id",
    "consumer.account_id",
    "qualification.code",
    "device_id",
    "ip",
    "warehouse_id",
    "items.0.sku",
    "items.0.category",
)
Topic = tuple[str, Callable[[], dict[str, Any]], Callable[[bytes], Any]]
TOPICS: list[Topic] = [
    ("order_paid", paid, decode_order),
    ("order_refunded", refunded, decode_order),
    ("order_checkout", checkout, decode_checkout),
    ("catalog", catalog, decode_catalog),
    ("labels", label, decode_label),
    ("controls", control, decode_control),
]
TEXTS: dict[str, tuple[str, ...]] = {
    "order_paid": ORDER_TEXTS,
    "order_refunded": (*ORDER_TEXTS[:5], "device_id", "ip"),
    "order_checkout": ORDER_TEXTS,
    "catalog": ("sku", "category", "brand", "model", "programmes.0", "merchant_id"),
    "labels": ("order_id", "analyst"),
    "controls": ("control_id", "key", "reason", "author"),
}
"""Every free-text field of each input message."""
TIMES: dict[str, tuple[str, ...]] = {
    "order_paid": ("occurred_at", "consumer.account_created_at"),
    "order_refunded": ("occurred_at",),
    "order_checkout": ("occurred_at", "consumer.account_created_at"),
    "catalog": ("registered_at", "withdrawn_at"),
    "labels": ("labelled_at",),
    "controls": ("issued_at", "effective_from", "expires_at"),
}
"""Every event time of each input message."""
