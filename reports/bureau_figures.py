"""Performance figures for the bureau (绩效): per programme, category and day, what the subsidy
bought and what the monitor kept from going astray.

- `orders`: orders that claimed a subsidy with a line of the category (the sales ledger);
- `sales`: what those lines sold, of orders granted a subsidy (allowed above 0): sales driven;
- `granted`, `held`, `refused`, `clawed_back`: the fund ledger's grants, holds, rejections and
  claw-backs; `net` = granted + held − clawed back (the progress report's spend);
- `leverage`: sales per yuan of net subsidy;
- `consumers`: distinct consumers of the subsidised lines; `new_consumers`: those whose first
  subsidised order in the programme (in the whole store) is that day;
- `recovered`: claw-backs of orders named by an alert an analyst confirmed (fraud prevented,
  with `held` and `refused`).

The fund ledger books an order's money per budget line, not per category; where a budget line
of an order holds lines of several categories (a mixed basket), its entry is split over them in
proportion to their amounts, to the fen (largest remainder), so every figure adds up to the
ledger exactly. A rejection is on no line: it is split over all the order's lines.

Everything is read through `reports.frames` and money is integer fen, as in every report.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from reports.bureau_words import word
from reports.cofunding import MONEY as CO_MONEY
from reports.cofunding import Shares, split_frame
from reports.document import Section
from reports.frames import read_decisions, read_fund, read_sales
from reports.labels import Lang, Names
from reports.period import Period
from reports.rows import CLAWBACK, GRANT, HOLD, REJECT
from reports.tables import alert_orders, alert_status
from schemas.rules import ProgrammeRules

UNKNOWN = "—"  # a fund entry of an order with no sales line (nothing to attribute it to)
# The fund ledger's kinds, as the figures name them: the one place that follows the ledger.
KIND_COLUMN = {GRANT: "granted", HOLD: "held", REJECT: "refused", CLAWBACK: "clawed_back"}
MONEY = ("sales", "granted", "held", "refused", "clawed_back", "net", "recovered")
COUNTS = ("orders", "consumers", "new_consumers")
COLUMNS = ("programme", "category", "day", *COUNTS[:1], *MONEY, *COUNTS[1:])

Key = tuple[str, str, date]  # programme, category, day


def split(amount: int, weights: list[int]) -> list[int]:
    """`amount` fen over `weights`, in proportion, to the fen, adding up exactly.

    >>> split(100, [1, 1, 1]), split(5, [0, 0]), split(-7, [2, 1])
    ([34, 33, 33], [3, 2], [-5, -2])
    """
    if not weights:
        return []
    sign = -1 if amount < 0 else 1
    amount = abs(amount)
    total = sum(weights)
    if total <= 0:
        weights, total = [1] * len(weights), len(weights)
    shares = [amount * w // total for w in weights]
    left = amount - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for i in order[:left]:
        shares[i] += 1
    return [sign * s for s in shares]


def confirmed_orders(engine: Engine) -> set[str]:
    """Orders named by an alert that an analyst confirmed as fraud."""
    with engine.connect() as connection:
        return set(
            connection.execute(
                select(alert_orders.c.order_id)
                .join(alert_status, alert_status.c.alert_id == alert_orders.c.alert_id)
                .where(alert_status.c.status == "confirmed")
            ).scalars()
        )


def figures(engine: Engine, period: Period) -> pd.DataFrame:
    """One row per programme, category and day of `period` with anything in it."""
    sales = read_sales(engine, Period(date.min, period.end))
    decided = read_decisions(engine, Period(date.min, period.end))
    fund = read_fund(engine, until=period.end)
    fund = fund[fund["day"] >= period.start]
    confirmed = confirmed_orders(engine)
    allowed = dict(zip(decided["order_id"], decided["allowed_subsidy"], strict=True))

    rows: dict[Key, dict[str, Any]] = defaultdict(_empty)
    # lines of each order: (budget line, category, amount in fen)
    lines: dict[str, list[tuple[str | None, str, int]]] = defaultdict(list)
    first_seen: dict[tuple[str, str], date] = {}
    for line in sales.itertuples(index=False):
        budget_line = None if pd.isna(line.budget_line) else str(line.budget_line)
        lines[line.order_id].append((budget_line, line.category, int(line.amount)))
        subsidised = allowed.get(line.order_id, 0) > 0
        if subsidised:
            person = (line.programme, line.consumer)
            if person not in first_seen or line.day < first_seen[person]:
                first_seen[person] = line.day
        if line.day < period.start:
            continue
        row = rows[(line.programme, line.category, line.day)]
        row["_orders"].add(line.order_id)
        if subsidised:
            row["sales"] += int(line.amount)
            row["_consumers"].add(line.consumer)

    for entry in fund.itertuples(index=False):
        column = KIND_COLUMN.get(str(entry.kind))
        if column is None:
            continue
        for category, share in _attribute(lines.get(entry.order_id, []), entry, int(entry.amount)):
            row = rows[(entry.programme, category, entry.day)]
            row[column] += share
            if column == "clawed_back" and entry.order_id in confirmed:
                row["recovered"] += share

    out = []
    for (programme, category, day), row in rows.items():
        consumers = row.pop("_consumers")
        orders = row.pop("_orders")
        row["orders"] = len(orders)
        row["consumers"] = len(consumers)
        row["new_consumers"] = sum(1 for c in consumers if first_seen.get((programme, c)) == day)
        row["net"] = row["granted"] + row["held"] - row["clawed_back"]
        out.append({"programme": programme, "category": category, "day": day, **row})
    frame = pd.DataFrame(out, columns=list(COLUMNS))
    for column in (*MONEY, *COUNTS):
        frame[column] = frame[column].astype("int64")
    return frame.sort_values(["programme", "day", "category"], ignore_index=True)


def _empty() -> dict[str, Any]:
    return {"_orders": set(), "_consumers": set(), **dict.fromkeys(MONEY, 0)}


def _attribute(
    lines: list[tuple[str | None, str, int]], entry: Any, amount: int
) -> Iterable[tuple[str, int]]:
    """An entry's fen over the categories of its order's lines on its budget line."""
    budget_line = None if pd.isna(entry.budget_line) else str(entry.budget_line)
    chosen = [x for x in lines if budget_line is not None and x[0] == budget_line] or lines
    if not chosen:
        return [(UNKNOWN, amount)]
    by_category: dict[str, int] = defaultdict(int)
    for _, category, fen in chosen:
        by_category[category] += fen
    names = sorted(by_category)
    return zip(names, split(amount, [by_category[n] for n in names]), strict=True)


def leverage(sales: int, net: int) -> float | None:
    """Sales per yuan of net subsidy (None: no subsidy spent).

    >>> leverage(1_000_00, 150_00), leverage(5, 0)
    (6.666666666666667, None)
    """
    return sales / net if net > 0 else None


def cofunding_section(
    engine: Engine, rules: ProgrammeRules, period: Period, lang: Lang, shares: Shares
) -> Section | None:
    """The co-funded programmes' public and platform money, apart (issue 19 item 5): per day
    of the period and a total per source (`reports.cofunding`: split per fund-ledger entry, to
    the fen); None when no programme is co-funded."""
    if not shares:
        return None
    split = split_frame(engine, period, shares)
    names = Names(rules, lang)
    rows = []
    for programme, group in split.groupby("programme", sort=True):
        for source, part in group.groupby("source", sort=False):
            for entry in part.itertuples(index=False):
                rows.append(
                    (programme, str(entry.day), source, *(getattr(entry, m) for m in CO_MONEY))
                )
        for source in ("public", "platform"):
            part = group[group["source"] == source]
            rows.append(
                (programme, word("total", lang), source, *(int(part[m].sum()) for m in CO_MONEY))
            )
    columns = ["programme", "day", "source", *CO_MONEY]
    frame = pd.DataFrame(rows, columns=columns)
    frame["programme"] = [names.programme(str(p)) for p in frame["programme"]]
    frame["source"] = [word(f"co_{s}", lang) for s in frame["source"]]
    headings = {c: word(f"co_{c}", lang) for c in columns}
    frame = frame.rename(columns=headings)
    kinds = {headings[m]: "money" for m in CO_MONEY}
    shares_text = ", ".join(f"{names.programme(p)} {shares[p]}" for p in sorted(shares))
    note = word("cofunding_note", lang).format(shares=shares_text)
    return Section(word("cofunding", lang), frame, kinds, note)  # type: ignore[arg-type]
