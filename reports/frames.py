"""The store read into pandas: one frame per table, money as integer fen.

Totals are sums of integers (fen), never of floats: an amount is read as the `Decimal` the
database holds and turned into fen once, here; reports turn fen back into yuan text only when
they print.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import Engine, Select, Table, select

from reports.period import Period
from reports.tables import alert_orders, alerts, decisions, fund_ledger, sales_ledger

HUNDRED = Decimal(100)


def fen(amount: Decimal | None) -> int:
    """Yuan to integer fen, exactly (amounts are stored with two decimals).

    >>> fen(Decimal("1234.56")), fen(None)
    (123456, 0)
    """
    return 0 if amount is None else int(amount * HUNDRED)


def yuan(fen_amount: int) -> Decimal:
    """Integer fen back to yuan, two decimals.

    >>> yuan(123456), yuan(-5)
    (Decimal('1234.56'), Decimal('-0.05'))
    """
    return Decimal(int(fen_amount)).scaleb(-2)


def _read(engine: Engine, query: Select[Any], money: Sequence[str]) -> pd.DataFrame:
    with engine.connect() as connection:
        result = connection.execute(query)
        columns = list(result.keys())
        rows = result.all()
    frame = pd.DataFrame.from_records(rows, columns=columns)
    for name in money:
        frame[name] = pd.array([fen(v) for v in frame[name]], dtype="int64")
    return frame


def _within(table: Table, query: Select[Any], period: Period | None) -> Select[Any]:
    if period is None:
        return query
    return query.where(table.c.day >= period.start, table.c.day <= period.end)


def read_decisions(engine: Engine, period: Period | None = None) -> pd.DataFrame:
    query = _within(decisions, select(decisions).order_by(decisions.c.order_id), period)
    return _read(
        engine,
        query,
        ("order_amount", "paid_amount", "claimed_subsidy", "allowed_subsidy"),
    )


def read_sales(engine: Engine, period: Period | None = None) -> pd.DataFrame:
    s = sales_ledger.c
    query = select(sales_ledger, decisions.c.decision).join(
        decisions, decisions.c.order_id == s.order_id, isouter=True
    )
    query = _within(sales_ledger, query, period).order_by(s.sold_at, s.order_id, s.line_no)
    return _read(engine, query, ("unit_price", "amount"))


def read_fund(engine: Engine, until: date | None = None) -> pd.DataFrame:
    """Every fund-ledger entry up to `until` (running totals need what came before a period)."""
    f = fund_ledger.c
    query = select(fund_ledger).order_by(f.booked_at, f.order_id, f.kind, f.entry_id)
    if until is not None:
        query = query.where(f.day <= until)
    return _read(engine, query, ("amount",))


def read_alerts(engine: Engine, period: Period | None = None) -> pd.DataFrame:
    a = alerts.c
    query = _within(alerts, select(alerts).order_by(a.raised_at, a.alert_id), period)
    return _read(engine, query, ("subsidy_at_risk",))


def read_alert_orders(engine: Engine, alert_ids: Sequence[str]) -> pd.DataFrame:
    """(alert_id, order_id) of the given alerts, with each order's decision where known."""
    o = alert_orders.c
    query = (
        select(
            o.alert_id,
            o.order_id,
            decisions.c.decision,
            decisions.c.claimed_subsidy,
            decisions.c.allowed_subsidy,
        )
        .join(decisions, decisions.c.order_id == o.order_id, isouter=True)
        .order_by(o.alert_id, o.order_id)
    )
    frames = []
    ids = list(alert_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        frames.append(
            _read(
                engine, query.where(o.alert_id.in_(chunk)), ("claimed_subsidy", "allowed_subsidy")
            )
        )
    if not frames:
        return _read(
            engine, query.where(o.alert_id.in_([])), ("claimed_subsidy", "allowed_subsidy")
        )
    return pd.concat(frames, ignore_index=True)


def store_days(engine: Engine) -> Period | None:
    """The first and last day anything was booked (None: an empty store)."""
    from sqlalchemy import func

    with engine.connect() as connection:
        first, last = connection.execute(
            select(func.min(fund_ledger.c.day), func.max(fund_ledger.c.day))
        ).one()
        if first is None:
            first, last = connection.execute(
                select(func.min(decisions.c.day), func.max(decisions.c.day))
            ).one()
        if first is None:
            first, last = connection.execute(
                select(func.min(alerts.c.day), func.max(alerts.c.day))
            ).one()
    return None if first is None else Period(first, last)
