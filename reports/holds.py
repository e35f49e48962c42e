"""Held orders and how long they have been held: for `riskmon holds list`, the console's holds
page and the daily report's section of holds past their age (default 72 h, `[fund] hold_hours`
in the bureau configuration).

A hold's age is counted from when the order's money was held (the review decision, or the alert
that froze it) to a moment: now for the command and the console, the end of the report's last
day for the daily report, so a day's report reads the same whenever it is made.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pandas as pd
from sqlalchemy import Engine, select

from reports.document import Section
from reports.fund_moves import aged, fund_entries
from reports.fund_states import OrderMoney, money_by_order
from reports.labels import Lang, Names
from reports.period import Period
from reports.rows import FREEZE, HOLD
from reports.tables import fund_ledger
from schemas.rules import ProgrammeRules


def held_orders(
    engine: Engine, now: datetime, older_than: timedelta = timedelta(0)
) -> list[OrderMoney]:
    """Orders held at `now` for longer than `older_than`, the oldest first: only the orders
    ever held (a review's hold, a freeze) are read, whole, as of `now`."""
    f = fund_ledger.c
    with engine.connect() as connection:
        ever = connection.execute(
            select(f.order_id).where(f.kind.in_((HOLD, FREEZE)), f.booked_at <= now).distinct()
        ).scalars()
        entries = [e for e in fund_entries(connection, ever) if e.booked_at <= now]
    return aged(money_by_order(entries).values(), now, older_than)


def end_of(period: Period, rules: ProgrammeRules) -> datetime:
    """The first instant after the period's last day, in the programme's time zone."""
    return datetime.combine(period.end + timedelta(days=1), time(0), tzinfo=rules.timezone)


def holds_frame(
    held: list[OrderMoney], rules: ProgrammeRules, now: datetime, lang: Lang
) -> pd.DataFrame:
    names = Names(rules, lang)
    rows = [
        {
            "order_id": m.order_id,
            "programme": names.programme(m.programme),
            "subsidy": m.net,
            "since": m.since.astimezone(rules.timezone).strftime("%Y-%m-%d %H:%M:%S")
            if m.since
            else "",
            "hours_held": int((now - m.since).total_seconds() // 3600) if m.since else 0,
            "by": m.by or "riskmon",
            "why": m.why or "",
        }
        for m in held
    ]
    columns = ["order_id", "programme", "subsidy", "since", "hours_held", "by", "why"]
    return pd.DataFrame(rows, columns=columns)


KINDS = {"subsidy": "money", "hours_held": "int", "why": "long"}


def holds_section(
    engine: Engine, rules: ProgrammeRules, period: Period, lang: Lang, older_than: timedelta
) -> Section:
    """The daily report's holds older than `older_than` at the end of the period."""
    now = end_of(period, rules)
    frame = holds_frame(held_orders(engine, now, older_than), rules, now, lang)
    hours = f"{older_than.total_seconds() / 3600:g}"
    note = (
        f"期末冻结超过 {hours} 小时、尚未处理的订单:{len(frame):,} 笔。"
        if lang == "zh"
        else f"Orders held for more than {hours} hours at the end of the period: {len(frame):,}."
    )
    return Section("holds_aged", frame, KINDS, note)  # type: ignore[arg-type]


__all__ = ["KINDS", "end_of", "held_orders", "holds_frame", "holds_section"]
