"""Small, valid events for the detectors' docstring examples (and anyone exploring them).

A documentation helper: no runtime imports it. `run` loads the shipped rules unless given some.

>>> from detectors.examples import order, run
>>> run(order("alice"))
[]
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from detectors.alerts import Alert
from detectors.pipeline import Pipeline
from detectors.store import MemoryStore
from schemas.catalog import CATALOG_ADAPTER, CatalogEntry
from schemas.orders import ORDER_ADAPTER, OrderCancelled, OrderPaid, OrderRefunded
from schemas.outputs import Origin
from schemas.rules import ProgrammeRules, load_rules

_START = datetime(2026, 7, 6, 10, 0, tzinfo=timezone(timedelta(hours=8)))
_PHONE = {
    "sku": "SKU-PH-1",
    "category": "mobile_phone",
    "quantity": 1,
    "unit_price": 4999.0,
    "energy_grade": None,
}


def _hash(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def order(
    person: str, *, hours: float = 0.0, number: int | None = None, **shared: Any
) -> OrderPaid:
    """A subsidised phone bought by `person` (everything of their own unless `shared` says:
    `device`, `address`, `phone`, `payment`, `code`, `merchant`, `created` (the account's
    creation, ISO time), `price`, `subsidy`, `ip`, `category`, `pickup`)."""
    n = number if number is not None else int(_hash(f"{person}/{hours}")[:7], 16)
    at = _START + timedelta(hours=hours)
    price = shared.get("price", 4999.0)
    raw = {
        "schema_version": 1,
        "event_id": f"e-{person}-{n}",
        "event_type": "order_paid",
        "occurred_at": at.isoformat(),
        "order_id": f"O-{person}-{n}",
        "programme": "featured_goods",
        "merchant_id": shared.get("merchant", "M0001"),
        "consumer": {
            "account_id": f"A-{person}",
            "id_hash": _hash(f"id:{person}"),
            "id_region": "440310",
            "birth_year": 1988,
            "id_checksum_ok": True,
            "phone_hash": _hash(shared.get("phone", f"phone:{person}")),
            "real_name_verified": True,
            "account_created_at": shared.get("created", "2025-01-01T08:00:00+08:00"),
        },
        "qualification": {"code": shared.get("code", f"Q-{person}-{n}"), "verified": True},
        "device_id": shared.get("device", f"dv-{person}"),
        "ip": shared.get("ip", "113.88.10.21"),
        "payment": {
            "account_hash": _hash(shared.get("payment", f"pay:{person}")),
            "method": "wechat",
            "paid_amount": 4499.0,
        },
        "delivery": {
            "address_hash": _hash(shared.get("address", f"addr:{person}")),
            "region": "440310",
            "pickup_point": shared.get("pickup", False),
        },
        "warehouse_id": None,
        "items": [
            {**_PHONE, "unit_price": price, "category": shared.get("category", "mobile_phone")}
        ],
        "order_amount": price,
        "subsidy_amount": shared.get("subsidy", 500.0),
        "refund_amount": None,
    }
    event = ORDER_ADAPTER.validate_json(orjson.dumps(raw))
    assert isinstance(event, OrderPaid)
    return event


def logistics(
    person: str, *, hours: float = 0.0, number: int = 0, amount: float = 105.0
) -> OrderPaid:
    """A logistics-warehouse order of `amount` yuan by `person`, claiming its 10 % (at most 100)."""
    at = _START + timedelta(hours=hours)
    raw = {
        "schema_version": 1,
        "event_id": f"e-{person}-{number}",
        "event_type": "order_paid",
        "occurred_at": at.isoformat(),
        "order_id": f"O-{person}-{number}",
        "programme": "logistics_warehouse",
        "merchant_id": "M0002",
        "consumer": {
            "account_id": f"A-{person}",
            "id_hash": _hash(f"id:{person}"),
            "id_region": "440310",
            "birth_year": 1988,
            "id_checksum_ok": True,
            "phone_hash": _hash(f"phone:{person}"),
            "real_name_verified": True,
            "account_created_at": "2025-01-01T08:00:00+08:00",
        },
        "qualification": None,
        "device_id": f"dv-{person}",
        "ip": "113.88.10.21",
        "payment": {
            "account_hash": _hash(f"pay:{person}"),
            "method": "wechat",
            "paid_amount": round(amount - min(round(amount * 0.1, 2), 100.0), 2),
        },
        "delivery": {
            "address_hash": _hash(f"addr:{person}"),
            "region": "440310",
            "pickup_point": False,
        },
        "warehouse_id": "PS-WH-01",
        "items": [
            {
                "sku": "WH-1",
                "category": "groceries",
                "quantity": 1,
                "unit_price": amount,
                "energy_grade": None,
            }
        ],
        "order_amount": amount,
        "subsidy_amount": min(round(amount * 0.1, 2), 100.0),
        "refund_amount": None,
    }
    event = ORDER_ADAPTER.validate_json(orjson.dumps(raw))
    assert isinstance(event, OrderPaid)
    return event


def cancel(paid: OrderPaid, *, hours: float) -> OrderCancelled:
    event = _later(paid, "order_cancelled", hours, None)
    assert isinstance(event, OrderCancelled)
    return event


def refund(paid: OrderPaid, amount: float, *, hours: float) -> OrderRefunded:
    event = _later(paid, "order_refunded", hours, amount)
    assert isinstance(event, OrderRefunded)
    return event


def _later(paid: OrderPaid, kind: str, hours: float, amount: float | None) -> Any:
    raw = {
        "schema_version": 1,
        "event_id": f"{paid.event_id}-{kind}-{hours}",
        "event_type": kind,
        "occurred_at": (_START + timedelta(hours=hours)).isoformat(),
        "order_id": paid.order_id,
        "programme": paid.programme,
        "merchant_id": paid.merchant_id,
        "consumer": {"id_hash": paid.consumer.id_hash},
        "refund_amount": amount,
    }
    return ORDER_ADAPTER.validate_json(orjson.dumps(raw))


def phone_entry() -> CatalogEntry:
    """The catalog's record of the phone `order` buys (SKU-PH-1, ¥4,999 reference)."""
    return CATALOG_ADAPTER.validate_json(
        orjson.dumps(
            {
                "schema_version": 1,
                "sku": "SKU-PH-1",
                "category": "mobile_phone",
                "brand": "B",
                "model": "M",
                "energy_grade": None,
                "reference_price": 4999.0,
                "programmes": ["featured_goods"],
                "merchant_id": "M0001",
                "registered_at": "2026-06-20T09:00:00+08:00",
                "withdrawn_at": None,
            }
        )
    )


def run(*events: Any, rules: ProgrammeRules | None = None) -> list[str]:
    """`detector: order ids` of every alert (budget notes aside) the events raise, in order."""
    pipeline = Pipeline(rules or load_rules(), MemoryStore())
    pipeline.on_catalog(phone_entry())
    alerts: list[Alert] = []
    for event in events:
        alerts.extend(pipeline.on_order(event, b"{}", Origin("orders")).alerts)
    return [f"{a.detector}: {' '.join(a.order_ids)}" for a in alerts if a.risk != "budget"]
