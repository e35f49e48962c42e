"""Factories for hand-made events: pseudonyms are hashes of labels, never raw identifiers."""

from __future__ import annotations

import copy
import hashlib
import itertools
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson

from schemas.outputs import dumps

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 7, 6, 10, 0, tzinfo=CST)  # a Monday inside the programme period
_ids = itertools.count(1)


def h(label: str) -> str:
    """A 64-hex pseudonym standing for whatever `label` names."""
    return hashlib.sha256(label.encode()).hexdigest()


def ts(offset_hours: float = 0.0) -> str:
    return (T0 + timedelta(hours=offset_hours)).isoformat()


def catalog_entry(
    sku: str,
    category: str,
    price: str,
    *,
    grade: int | None = None,
    programmes: tuple[str, ...] = ("featured_goods",),
    withdrawn_at: str | None = None,
    merchant: str = "M0001",
) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "sku": sku,
        "category": category,
        "brand": "Brand",
        "model": sku,
        "energy_grade": grade,
        "reference_price": Decimal(price),
        "programmes": list(programmes),
        "merchant_id": merchant,
        "registered_at": "2026-06-20T09:00:00+08:00",
        "withdrawn_at": withdrawn_at,
    }


CATALOG = [
    catalog_entry("SKU-PH-1", "mobile_phone", "4999.00"),
    catalog_entry("SKU-PH-2", "mobile_phone", "7999.00"),
    catalog_entry("SKU-TB-1", "tablet", "3000.00"),
    catalog_entry("SKU-FR-1", "refrigerator", "5000.00", grade=1),
    catalog_entry("SKU-FR-3", "refrigerator", "3000.00", grade=3),
    catalog_entry("SKU-AC-2", "air_conditioner", "4000.00", grade=2),
    catalog_entry("SKU-TV-1", "television", "20000.00", grade=1),
    catalog_entry("SKU-LS-1", "local_specialty", "300.00"),
    catalog_entry("SKU-OLD", "mobile_phone", "2999.00", withdrawn_at="2026-07-01T00:00:00+08:00"),
]


def item(
    sku: str, category: str, price: str, qty: int = 1, grade: int | None = None
) -> dict[str, Any]:
    return {
        "sku": sku,
        "category": category,
        "quantity": qty,
        "unit_price": Decimal(price),
        "energy_grade": grade,
    }


PHONE = ("SKU-PH-1", "mobile_phone", "4999.00")


def paid(
    person: str = "p1",
    *,
    at: float = 0.0,
    items: list[dict[str, Any]] | None = None,
    subsidy: str | None = None,
    programme: str = "featured_goods",
    **over: Any,
) -> dict[str, Any]:
    """An `order_paid` event of `person`; other fields default to their own, eligible values."""
    n = next(_ids)
    items = items if items is not None else [item(*PHONE)]
    amount = sum((i["unit_price"] * i["quantity"] for i in items), Decimal(0))
    claim = Decimal(subsidy) if subsidy is not None else Decimal("500.00")
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_id": f"e-{n}",
        "event_type": "order_paid",
        "occurred_at": ts(at),
        "order_id": f"O{n}",
        "programme": programme,
        "merchant_id": "M0001",
        "consumer": {
            "account_id": f"A-{person}",
            "id_hash": h(f"id:{person}"),
            "id_region": "440310",
            "birth_year": 1988,
            "id_checksum_ok": True,
            "phone_hash": h(f"phone:{person}"),
            "real_name_verified": True,
            "account_created_at": "2025-01-01T08:00:00+08:00",
        },
        "qualification": {"code": f"GDQ-{person}", "verified": True},
        "device_id": f"dv-{person}",
        "ip": f"10.{n % 250}.{n % 200}.{n % 100}",
        "payment": {
            "account_hash": h(f"pay:{person}"),
            "method": "wechat",
            "paid_amount": amount - claim,
        },
        "delivery": {
            "address_hash": h(f"addr:{person}"),
            "region": "440310",
            "pickup_point": False,
        },
        "warehouse_id": None,
        "items": items,
        "order_amount": amount,
        "subsidy_amount": claim,
        "refund_amount": None,
    }
    for key, value in over.items():
        if "__" in key:
            outer, inner = key.split("__", 1)
            event[outer] = {**event[outer], inner: value}
        else:
            event[key] = value
    return event


def later(
    order: dict[str, Any], kind: str, *, at: float, refund: str | None = None
) -> dict[str, Any]:
    n = next(_ids)
    event = {k: order[k] for k in ("schema_version", "order_id", "programme", "merchant_id")}
    event.update(
        event_id=f"e-{n}",
        event_type=kind,
        occurred_at=ts(at),
        consumer={"id_hash": order["consumer"]["id_hash"]},
    )
    if refund is not None:
        event["refund_amount"] = Decimal(refund)
    return event


def line(record: dict[str, Any]) -> bytes:
    return dumps(copy.deepcopy(record))


def jsonl(records: list[dict[str, Any]]) -> bytes:
    return b"".join(line(r) + b"\n" for r in records)


def loads(raw: bytes) -> Any:
    return orjson.loads(raw)


class Run:
    """Events through a fresh pipeline: decisions by order, alerts, dead letters."""

    def __init__(self, rules: Any = None, catalog: list[dict[str, Any]] | None = None) -> None:
        from detectors.pipeline import Pipeline
        from detectors.store import MemoryStore
        from schemas.decode import decode_catalog
        from schemas.rules import load_rules

        self.rules = rules or load_rules()
        self.store = MemoryStore()
        self.pipeline = Pipeline(self.rules, self.store)
        for entry in catalog if catalog is not None else CATALOG:
            self.pipeline.on_catalog(decode_catalog(line(entry)))
        self.decisions: dict[str, dict[str, Any]] = {}
        self.alerts: list[dict[str, Any]] = []
        self.dead: list[dict[str, Any]] = []

    def feed(self, *events: dict[str, Any]) -> Run:
        from schemas.decode import decode_order
        from schemas.outputs import Origin

        for event in events:
            raw = line(event)
            outcome = self.pipeline.on_order(decode_order(raw), raw, Origin("orders"))
            if outcome.decision is not None:
                self.decisions[event["order_id"]] = loads(dumps(outcome.decision))
            self.alerts.extend(loads(dumps(a.record())) for a in outcome.alerts)
            self.dead.extend(outcome.dead_letters)
        return self

    def decision(self, event: dict[str, Any]) -> tuple[str, Decimal]:
        d = self.decisions[event["order_id"]]
        return d["decision"], Decimal(str(d["allowed_subsidy"])).quantize(Decimal("0.01"))

    def detectors(self) -> set[str]:
        return {a["detector"] for a in self.alerts if a["risk"] != "budget"}

    def flagged(self) -> set[str]:
        named = {o for a in self.alerts if a["risk"] != "budget" for o in a["order_ids"]}
        return named | {o for o, d in self.decisions.items() if d["decision"] != "approve"}
