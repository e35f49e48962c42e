"""Reconciling a platform's subsidy bill (立减账单核对) with the rules and the ledger.

A bill is a CSV with a header and one row per claimed order: `order_id` and `claimed_subsidy`
(or `订单号` and `申报补贴金额`), in yuan with at most two decimals. Each row is compared with
the order's decision (what the rules allowed) and with the fund ledger (what is left of it after
claw-backs):

- `unknown_order`: the store has no decision for it; the whole claim is the difference;
- `duplicate_claim`: the order was claimed on an earlier row already; the whole claim again;
- `refunded_but_claimed`: the order was cancelled or refunded (a claw-back is booked) and the
  claim exceeds what is left; the excess;
- `over_claimed`: the claim exceeds what the rules allowed; the excess;
- `under_claimed`: the claim is below what the ledger holds (the platform asks less: no money
  at risk, shown so that the totals add up).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select

from reports.document import Report, Section
from reports.frames import fen
from reports.labels import Lang, name
from reports.rows import CLAWBACK
from reports.tables import decisions, fund_ledger

KINDS = (
    "over_claimed",
    "unknown_order",
    "refunded_but_claimed",
    "duplicate_claim",
    "under_claimed",
)
_ORDER_COLUMNS = ("order_id", "订单号")
_AMOUNT_COLUMNS = ("claimed_subsidy", "申报补贴金额", "补贴金额")
_LOOKUP_CHUNK = 500


class BillError(ValueError):
    """A bill that cannot be read; the message names the file, the line and the field."""


@dataclass(frozen=True, slots=True)
class BillRow:
    line: int  # in the file, the header being line 1
    order_id: str
    claimed: Decimal


def read_bill(path: Path) -> list[BillRow]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise BillError(f"{path}: not UTF-8 text") from None
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    order_col = next((c for c in _ORDER_COLUMNS if c in header), None)
    amount_col = next((c for c in _AMOUNT_COLUMNS if c in header), None)
    if order_col is None or amount_col is None:
        raise BillError(
            f"{path}: the header needs order_id and claimed_subsidy (or 订单号 and 申报补贴金额)"
        )
    rows = []
    for number, record in enumerate(reader, start=2):
        order_id = (record.get(order_col) or "").strip()
        raw = (record.get(amount_col) or "").strip().replace(",", "")
        if not order_id and not raw:
            continue
        if not order_id:
            raise BillError(f"{path}:{number}: {order_col} is empty")
        try:
            claimed = Decimal(raw)
        except InvalidOperation:
            raise BillError(f"{path}:{number}: {amount_col} is not a number of yuan") from None
        if not claimed.is_finite() or claimed < 0 or claimed.as_tuple().exponent < -2:  # type: ignore[operator]
            raise BillError(
                f"{path}:{number}: {amount_col} must be yuan, at least 0, two decimals at most"
            )
        rows.append(BillRow(number, order_id, claimed))
    return rows


@dataclass
class Reconciliation:
    rows: int = 0
    billed: int = 0  # fen, the whole bill
    allowed: int = 0  # fen, what the rules allowed the billed orders (each once)
    ledger_net: int = 0  # fen, what the ledger holds for them after claw-backs
    differences: list[dict[str, object]] = field(default_factory=list)

    def total(self, kind: str) -> int:
        return sum(int(d["difference"]) for d in self.differences if d["kind"] == kind)  # type: ignore[call-overload]

    def count(self, kind: str) -> int:
        return sum(1 for d in self.differences if d["kind"] == kind)

    @property
    def payable(self) -> int:
        """The bill less every excess found (under-claims are not topped up)."""
        excess = sum(
            int(d["difference"])  # type: ignore[call-overload]
            for d in self.differences
            if d["kind"] != "under_claimed"
        )
        return self.billed - excess


def _lookup(engine: Engine, order_ids: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Allowed subsidy and claw-backs (fen) of each known order."""
    allowed: dict[str, int] = {}
    clawed: dict[str, int] = defaultdict(int)
    d, f = decisions.c, fund_ledger.c
    with engine.connect() as connection:
        for start in range(0, len(order_ids), _LOOKUP_CHUNK):
            chunk = order_ids[start : start + _LOOKUP_CHUNK]
            for order_id, amount in connection.execute(
                select(d.order_id, d.allowed_subsidy).where(d.order_id.in_(chunk))
            ):
                allowed[order_id] = fen(amount)
            # summed here, in fen: SQLite would sum the amounts as floats
            for order_id, amount in connection.execute(
                select(f.order_id, f.amount).where(f.order_id.in_(chunk), f.kind == CLAWBACK)
            ):
                clawed[order_id] += fen(amount)
    return allowed, clawed


def reconcile(engine: Engine, bill: list[BillRow]) -> Reconciliation:
    order_ids = sorted({row.order_id for row in bill})
    allowed, clawed = _lookup(engine, order_ids)
    result = Reconciliation(rows=len(bill))
    seen: set[str] = set()
    for row in bill:
        billed = fen(row.claimed)
        result.billed += billed
        order_id = row.order_id
        entry: dict[str, object] = {
            "bill_line": row.line,
            "order_id": order_id,
            "claimed_in_bill": billed,
            "allowed": allowed.get(order_id),
            "clawed_back": clawed.get(order_id, 0) if order_id in allowed else None,
            "ledger_net": None,
        }
        if order_id not in allowed:
            result.differences.append({**entry, "kind": "unknown_order", "difference": billed})
            continue
        net = allowed[order_id] - clawed.get(order_id, 0)
        entry["ledger_net"] = net
        if order_id in seen:
            result.differences.append({**entry, "kind": "duplicate_claim", "difference": billed})
            continue
        seen.add(order_id)
        result.allowed += allowed[order_id]
        result.ledger_net += net
        if clawed.get(order_id, 0) > 0 and billed > net:
            kind, difference = "refunded_but_claimed", billed - net
        elif billed > allowed[order_id]:
            kind, difference = "over_claimed", billed - allowed[order_id]
        elif billed < net:
            kind, difference = "under_claimed", billed - net
        else:
            continue
        result.differences.append({**entry, "kind": kind, "difference": difference})
    return result


def report(result: Reconciliation, lang: Lang, bill: Path) -> Report:
    out = Report("reconciliation", lang)
    summary = [
        {
            "kind": name("difference", kind, lang),
            "count": result.count(kind),
            "difference": result.total(kind),
        }
        for kind in KINDS
    ]
    out.sections.append(
        Section(
            "summary",
            pd.DataFrame(summary, columns=["kind", "count", "difference"]),
            {"count": "int", "difference": "money"},
        )
    )
    columns = [
        "bill_line",
        "order_id",
        "kind",
        "claimed_in_bill",
        "allowed",
        "clawed_back",
        "ledger_net",
        "difference",
    ]
    rows = [{**d, "kind": name("difference", str(d["kind"]), lang)} for d in result.differences]
    money = ("claimed_in_bill", "allowed", "clawed_back", "ledger_net", "difference")
    out.sections.append(
        Section(
            "differences",
            pd.DataFrame(rows, columns=columns),
            {"bill_line": "int"} | {c: "money" for c in money},  # type: ignore[arg-type]
            empty=(
                f"账单 {result.rows:,} 行与规则核定及台账一致:无差异。"
                if lang == "zh"
                else f"The bill's {result.rows:,} rows agree with the rules and the ledger: "
                "no difference."
            ),
        )
    )
    return out
