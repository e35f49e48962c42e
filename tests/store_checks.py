"""Checks the store's tests run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, select

from detectors.store import MemoryStore
from replay import ReplayStats
from reports.frames import fen, read_fund, yuan
from reports.fund_states import FORFEITED, HELD, OrderMoney, entries_of, money_by_order
from reports.rows import CLAWBACK, GRANT, HOLD, REJECT
from reports.tables import decisions, fund_ledger


def ledger_sums(engine: Engine) -> dict[str, int]:
    """Fen per kind of fund-ledger entry, and the decisions' allowed and claimed subsidy."""
    sums: dict[str, int] = defaultdict(int)
    with engine.connect() as connection:
        for kind, amount in connection.execute(select(fund_ledger.c.kind, fund_ledger.c.amount)):
            sums[kind] += fen(amount)
        for allowed, claimed in connection.execute(
            select(decisions.c.allowed_subsidy, decisions.c.claimed_subsidy)
        ):
            sums["allowed"] += fen(allowed)
            sums["claimed"] += fen(claimed)
    return sums


def check_ledger_totals(engine: Engine, stats: ReplayStats, state: MemoryStore) -> None:
    """The fund ledger books exactly what the decisions allowed, less the claw-backs, to the
    fen, and each budget line's spend is the budget detector's own."""
    sums = ledger_sums(engine)
    assert sums[GRANT] + sums[HOLD] == sums["allowed"]
    assert yuan(sums["allowed"]) == stats.approved + stats.held
    assert yuan(sums[REJECT]) == stats.rejected
    assert sums["claimed"] - sums["allowed"] == sums[REJECT]
    assert yuan(sums[CLAWBACK]) == stats.clawed_back
    net = sums[GRANT] + sums[HOLD] - sums[CLAWBACK]
    assert net == sums["allowed"] - sums[CLAWBACK]
    per_line: dict[str, int] = defaultdict(int)
    with engine.connect() as connection:
        for programme, line, kind, amount in connection.execute(
            select(
                fund_ledger.c.programme,
                fund_ledger.c.budget_line,
                fund_ledger.c.kind,
                fund_ledger.c.amount,
            )
        ):
            sign = {GRANT: 1, HOLD: 1, CLAWBACK: -1}.get(kind, 0)
            per_line[f"{programme}/{line}"] += sign * fen(amount)
    budget = state.table("budget")
    lines = {key: fen(Decimal(v["used"])) for key, v in budget.items() if "/" in key}
    assert lines, "the replay spent nothing"
    for key, used in lines.items():
        assert per_line[key] == used, key
    assert sum(per_line.values()) == net


def billed_orders(engine: Engine) -> dict[str, Decimal]:
    """What is claimable of each order (allowed less claw-backs, neither held nor forfeited):
    an honest bill."""
    return {
        order_id: yuan(money.claimable)
        for order_id, money in money_states(engine).items()
        if money.claimable > 0
    }


def money_states(engine: Engine) -> dict[str, OrderMoney]:
    """Each order's money as the fund ledger's entries leave it (`reports.fund_states`)."""
    return money_by_order(entries_of(read_fund(engine)))


def clawed_orders(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(
            set(
                connection.scalars(
                    select(fund_ledger.c.order_id).where(fund_ledger.c.kind == CLAWBACK)
                )
            )
        )


def write_bill(path: Path, rows: list[tuple[str, Decimal]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["order_id", "claimed_subsidy"])
        out.writerows((order_id, str(amount)) for order_id, amount in rows)


def injected_bill(
    engine: Engine, path: Path, seed: int = 3
) -> tuple[dict[str, Decimal], dict[str, Decimal], dict[str, Decimal]]:
    """An honest bill with over-claims, unknown orders and refunded orders claimed whole, all
    injected; returns what was injected of each kind (order -> excess)."""
    rng = random.Random(seed)
    honest = billed_orders(engine)
    rows = list(honest.items())
    clawed = set(clawed_orders(engine))
    untouched = sorted(set(honest) - clawed)  # a claim above a refunded order's net is another kind
    over = {
        order_id: Decimal(rng.randint(1, 50_000)) / 100 for order_id in rng.sample(untouched, 7)
    }
    unknown = {f"PS-NOT-IN-STORE-{n}": Decimal("88.88") + n for n in range(3)}
    with engine.connect() as connection:
        allowed = {
            order_id: amount
            for order_id, amount in connection.execute(
                select(decisions.c.order_id, decisions.c.allowed_subsidy)
            )
        }
    refunded = {}
    states = money_states(engine)
    # a held or forfeited order is another kind, whatever its claim
    settled = sorted(o for o in clawed if states[o].state not in (HELD, FORFEITED))
    for order_id in settled[:4]:
        refunded[order_id] = allowed[order_id] - honest.get(order_id, Decimal("0.00"))
    bill = []
    for order_id, amount in rows:
        if order_id in refunded:
            continue
        bill.append((order_id, amount + over.get(order_id, Decimal(0))))
    for order_id in refunded:
        bill.append((order_id, allowed[order_id]))  # claimed as if never refunded
    bill += list(unknown.items())
    rng.shuffle(bill)
    write_bill(path, bill)
    return over, unknown, refunded
