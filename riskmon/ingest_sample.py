"""A synthetic raw export for `riskmon ingest --sample`: what the platform's file looks like.

Ingest needs ID numbers and phone numbers of the right shape, so a sample file would hold
real-looking raw identifiers in clear; the repository ships none (house rule). This writes one
when asked instead: made-up people (ID numbers with a computed GB 11643 check character, mobile
numbers, bank cards, Shenzhen addresses), orders that the 2026 rules subsidise, in the CSV
columns of docs/ingest.md or as JSON Lines, in the encoding asked for (GBK, as Chinese
spreadsheets save it, to try the detection). Deterministic for a seed.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from riskmon.ingest_read import CSV_COLUMNS, IngestError

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CST = timezone(timedelta(hours=8))
_REGIONS = ("440303", "440304", "440305", "440306", "440307", "440308", "440309", "440310")
_STREETS = ("坑梓街道", "坪山街道", "马峦街道", "碧岭街道", "石井街道", "龙田街道")
_ROADS = ("深汕路", "锦绣中路", "东纵路", "新和大道", "金牛西路", "宝山路")
_MOBILE_PREFIXES = ("135", "136", "138", "139", "150", "158", "177", "186", "188", "199")
# (sku, category, unit price, energy grade, programme)
_PRODUCTS = (
    ("SKU-PH-0007", "mobile_phone", Decimal("4999.00"), None, "featured_goods"),
    ("SKU-TB-0003", "tablet", Decimal("3299.00"), None, "featured_goods"),
    ("SKU-FR-0012", "refrigerator", Decimal("5699.00"), 1, "featured_goods"),
    ("SKU-LS-0101", "local_specialty", Decimal("168.00"), None, "featured_goods"),
    ("SKU-WH-2001", "microwave", Decimal("459.00"), None, "logistics_warehouse"),
)
_RATES = {"mobile_phone": ("0.15", 500), "tablet": ("0.15", 500), "refrigerator": ("0.20", 2000)}


def _check_char(first17: str) -> str:
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def _subsidy(category: str, price: Decimal, programme: str) -> Decimal:
    if programme == "logistics_warehouse":
        return min((price * Decimal("0.10")).quantize(Decimal("0.01")), Decimal(100))
    if category == "local_specialty":
        return min((price * Decimal("0.10")).quantize(Decimal("0.01")), Decimal(200))
    rate, cap = _RATES[category]
    return min((price * Decimal(rate)).quantize(Decimal("0.01")), Decimal(cap))


def sample_rows(rows: int, seed: int = 2026) -> list[dict[str, Any]]:
    """`rows` raw orders in the CSV columns, as text (a cell left empty is null)."""
    rng = random.Random(seed)  # noqa: S311 - made-up sample people, not a secret
    start = datetime(2026, 7, 1, 9, 0, tzinfo=_CST)
    out = []
    for n in range(1, rows + 1):
        born = datetime(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
        first17 = f"{rng.choice(_REGIONS)}{born:%Y%m%d}{rng.randrange(1000):03d}"
        sku, category, price, grade, programme = _PRODUCTS[n % len(_PRODUCTS)]
        subsidy = _subsidy(category, price, programme)
        at = start + timedelta(minutes=37 * n)
        warehouse = programme == "logistics_warehouse"
        out.append(
            {
                "event_id": f"ev-sample-{n:06d}",
                "event_type": "order_paid",
                "occurred_at": at.isoformat(),
                "order_id": f"PS{at:%Y%m%d}S{n:06d}",
                "programme": programme,
                "merchant_id": f"M{rng.randrange(1, 60):04d}",
                "account_id": f"U{rng.randrange(10**6):06d}",
                "id_number": first17 + _check_char(first17),
                "phone": f"{rng.choice(_MOBILE_PREFIXES)}{rng.randrange(10**8):08d}",
                "real_name_verified": "true",
                "account_created_at": (at - timedelta(days=rng.randrange(30, 2000))).isoformat(),
                "qualification_code": "" if warehouse else f"GDQ-2026-{rng.randrange(10**8):08d}",
                "qualification_verified": "" if warehouse else "true",
                "device_id": f"dv-{rng.randrange(16**6):06x}",
                "ip": f"113.{rng.randrange(64, 128)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                "payment_account": f"6222{rng.randrange(10**12):012d}",
                "payment_method": rng.choice(("wechat", "alipay", "unionpay")),
                "paid_amount": str(price - subsidy),
                "address": (
                    f"广东省深圳市坪山区{rng.choice(_STREETS)}{rng.choice(_ROADS)}"
                    f"{rng.randrange(1, 300)}号{rng.randrange(1, 30)}栋{rng.randrange(101, 2999)}"
                ),
                "delivery_region": "440310",
                "pickup_point": "false",
                "warehouse_id": f"PS-WH-{rng.randrange(1, 13):02d}" if warehouse else "",
                "sku": sku,
                "category": category,
                "quantity": "1",
                "unit_price": str(price),
                "energy_grade": "" if grade is None else str(grade),
                "order_amount": str(price),
                "subsidy_amount": str(subsidy),
                "refund_amount": "",
            }
        )
    return out


def _jsonl_record(row: dict[str, Any]) -> dict[str, Any]:
    def cell(name: str) -> Any:
        return row[name] or None

    def flag(name: str) -> bool | None:
        return None if not row[name] else row[name] == "true"

    def money(name: str) -> Any:
        return orjson.Fragment(row[name].encode()) if row[name] else None

    qualification = (
        {"code": row["qualification_code"], "verified": flag("qualification_verified")}
        if row["qualification_code"]
        else None
    )
    return {
        **{k: row[k] for k in ("event_id", "event_type", "occurred_at", "order_id")},
        "schema_version": 1,
        "programme": row["programme"],
        "merchant_id": row["merchant_id"],
        "consumer": {
            "account_id": row["account_id"],
            "id_number": row["id_number"],
            "phone": row["phone"],
            "real_name_verified": flag("real_name_verified"),
            "account_created_at": row["account_created_at"],
        },
        "qualification": qualification,
        "device_id": row["device_id"],
        "ip": row["ip"],
        "payment": {
            "account": row["payment_account"],
            "method": row["payment_method"],
            "paid_amount": money("paid_amount"),
        },
        "delivery": {
            "address": row["address"],
            "region": row["delivery_region"],
            "pickup_point": flag("pickup_point"),
        },
        "warehouse_id": cell("warehouse_id"),
        "items": [
            {
                "sku": row["sku"],
                "category": row["category"],
                "quantity": int(row["quantity"]),
                "unit_price": money("unit_price"),
                "energy_grade": int(row["energy_grade"]) if row["energy_grade"] else None,
            }
        ],
        "order_amount": money("order_amount"),
        "subsidy_amount": money("subsidy_amount"),
        "refund_amount": money("refund_amount"),
    }


def write_sample(out: Path, *, rows: int = 20, encoding: str = "utf-8", seed: int = 2026) -> int:
    """Write a synthetic export to `out` (.csv or .jsonl); returns how many rows."""
    records = sample_rows(rows, seed)
    suffix = out.suffix.lower()
    if suffix == ".csv":
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=list(CSV_COLUMNS), lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(records)
        text = buffer.getvalue()
    elif suffix == ".jsonl":
        text = "".join(orjson.dumps(_jsonl_record(r)).decode() + "\n" for r in records)
    else:
        raise IngestError(f"{out.name}: a sample is a .csv or a .jsonl file")
    try:
        data = text.encode(encoding)
    except LookupError:
        raise IngestError(f"unknown encoding {encoding!r} (try utf-8, gb18030 or gbk)") from None
    out.write_bytes(data)
    return len(records)


__all__ = ["sample_rows", "write_sample"]
