"""Reconciling a platform's subsidy bill (立减账单核对) with the rules and the ledger.

A bill is a CSV with a header and one row per claimed order: `order_id` and `claimed_subsidy`
(or `订单号` and `申报补贴金额`), in yuan with at most two decimals. Each row is compared with
the order's decision (what the rules allowed) and with the fund ledger's state of its money
(`reports.fund_states`: what is left after claw-backs, and whether it is claimable), and gets
one status and what of it is payable:

- `unknown_order`: the store has no decision for it; nothing payable;
- `duplicate_claim`: the order was claimed on an earlier row already; nothing payable;
- `held`: its money is held (a review, a hold or block alert, a control); nothing payable
  until a dismissal or a supervisor releases it;
- `forfeited`: an analyst confirmed an alert naming it; never payable;
- `refunded_but_claimed`: the order was cancelled or refunded (a claw-back is booked) and the
  claim exceeds what is left; what is left is payable;
- `over_claimed`: the claim exceeds what the rules allowed; what they allowed is payable;
- `under_claimed`: the claim is below what the ledger holds; the claim is payable (never
  topped up);
- `payable`: the claim is what the ledger holds; all of it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select

from reports.document import Report, Section
from reports.frames import fen
from reports.fund_moves import order_money
from reports.fund_states import CLAIMABLE, FORFEITED, HELD, OrderMoney
from reports.labels import Lang, name
from reports.tables import decisions

KINDS = (
    "held",
    "forfeited",
    "over_claimed",
    "unknown_order",
    "refunded_but_claimed",
    "duplicate_claim",
    "under_claimed",
)
STATUSES = ("payable", *KINDS)
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
    claimable: int = 0  # fen, of that, what is claimable (neither held nor forfeited)
    lines: list[dict[str, object]] = field(default_factory=list)  # one per bill row
    differences: list[dict[str, object]] = field(default_factory=list)  # those not payable

    def total(self, kind: str) -> int:
        return sum(int(d["difference"]) for d in self.differences if d["kind"] == kind)  # type: ignore[call-overload]

    def count(self, kind: str) -> int:
        return sum(1 for line in self.lines if line["status"] == kind)

    def billed_of(self, kind: str) -> int:
        return sum(int(x["claimed_in_bill"]) for x in self.lines if x["status"] == kind)  # type: ignore[call-overload]

    def payable_of(self, kind: str) -> int:
        return sum(int(x["payable"]) for x in self.lines if x["status"] == kind)  # type: ignore[call-overload]

    @property
    def payable(self) -> int:
        """What of the bill is payable: each row's payable part (under-claims not topped up)."""
        return sum(int(line["payable"]) for line in self.lines)  # type: ignore[call-overload]


def _allowed(engine: Engine, order_ids: list[str]) -> dict[str, int]:
    """Allowed subsidy (fen) of each known order."""
    allowed: dict[str, int] = {}
    d = decisions.c
    with engine.connect() as connection:
        for start in range(0, len(order_ids), _LOOKUP_CHUNK):
            chunk = order_ids[start : start + _LOOKUP_CHUNK]
            for order_id, amount in connection.execute(
                select(d.order_id, d.allowed_subsidy).where(d.order_id.in_(chunk))
            ):
                allowed[order_id] = fen(amount)
    return allowed


def _status(billed: int, allowed: int, money: OrderMoney | None) -> tuple[str, int]:
    """A first claim of a known order: its status and what of it is payable (fen)."""
    state = money.state if money is not None else None
    net = money.net if money is not None else 0
    clawed = money is not None and net < allowed and state is not None
    if state == HELD:
        return "held", 0
    if state == FORFEITED:
        return "forfeited", 0
    left = net if state in CLAIMABLE else 0
    if clawed and billed > left:
        return "refunded_but_claimed", left
    if billed > allowed or billed > left:
        return "over_claimed", left
    if billed < left:
        return "under_claimed", billed
    return "payable", billed


def reconcile(engine: Engine, bill: list[BillRow]) -> Reconciliation:
    order_ids = sorted({row.order_id for row in bill})
    allowed = _allowed(engine, order_ids)
    with engine.connect() as connection:
        money = order_money(connection, [o for o in order_ids if o in allowed])
    result = Reconciliation(rows=len(bill))
    seen: set[str] = set()
    for row in bill:
        billed = fen(row.claimed)
        result.billed += billed
        order_id = row.order_id
        found = money.get(order_id)
        known = order_id in allowed
        net = (found.net if found is not None else 0) if known else None
        entry: dict[str, object] = {
            "bill_line": row.line,
            "order_id": order_id,
            "claimed_in_bill": billed,
            "allowed": allowed.get(order_id),
            "clawed_back": (allowed[order_id] - net) if known and net is not None else None,
            "ledger_net": net,
            "state": (found.state or "") if found is not None else "",
        }
        if not known:
            status, payable = "unknown_order", 0
        elif order_id in seen:
            status, payable = "duplicate_claim", 0
        else:
            seen.add(order_id)
            result.allowed += allowed[order_id]
            result.ledger_net += net or 0
            result.claimable += found.claimable if found is not None else 0
            status, payable = _status(billed, allowed[order_id], found)
        line = {**entry, "status": status, "payable": payable}
        result.lines.append(line)
        if status == "payable":
            continue
        difference = billed - payable
        if status == "under_claimed":
            difference = billed - (net or 0)
        result.differences.append({**entry, "kind": status, "difference": difference})
    return result


def report(result: Reconciliation, lang: Lang, bill: Path) -> Report:
    """The bill's rows (the first table: the CSV `--out`), the summary, the differences."""
    out = Report("reconciliation", lang)
    lines = pd.DataFrame(
        [
            {
                "bill_line": x["bill_line"],
                "bill_order_id": x["order_id"],
                "claimed_subsidy": x["claimed_in_bill"],
                "status": str(x["status"])
                if lang == "en"
                else name("status", str(x["status"]), lang),
                "payable": x["payable"],
                "allowed": x["allowed"],
                "ledger_net": x["ledger_net"],
                "ledger_state": name("state", str(x["state"]), lang) if x["state"] else "",
            }
            for x in result.lines
        ],
        columns=[
            "bill_line",
            "bill_order_id",
            "claimed_subsidy",
            "status",
            "payable",
            "allowed",
            "ledger_net",
            "ledger_state",
        ],
    )
    out.sections.append(
        Section(
            "bill_lines",
            lines,
            {"bill_line": "int"}
            | {c: "money" for c in ("claimed_subsidy", "payable", "allowed", "ledger_net")},  # type: ignore[arg-type]
        )
    )
    summary = [
        {
            "kind": name("status", kind, lang),
            "count": result.count(kind),
            "claimed_in_bill": result.billed_of(kind),
            "payable": result.payable_of(kind),
        }
        for kind in STATUSES
    ]
    out.sections.append(
        Section(
            "summary",
            pd.DataFrame(summary, columns=["kind", "count", "claimed_in_bill", "payable"]),
            {"count": "int", "claimed_in_bill": "money", "payable": "money"},
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
    rows = [{**d, "kind": name("status", str(d["kind"]), lang)} for d in result.differences]
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


def _status_cell(code: str, lang: Lang) -> str:
    """A bill line's status: in Chinese its words, in English the code a machine reads."""
    return code if lang == "en" else name("status", code, lang)
