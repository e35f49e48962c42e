"""The two ledgers the notice asks for, as tables: the sales ledger (销售台账, every item of
every order that claimed a subsidy) and the subsidy-fund ledger (补贴资金使用明细台账, every
grant, hold, rejection and claw-back, and every move of an order's money after its decision:
freeze, release, forfeit, with who and why, and running totals per programme and budget line)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine

from reports.document import Report, Section
from reports.frames import read_fund, read_sales
from reports.labels import Lang, Names, name
from reports.period import Period
from reports.rows import CLAWBACK, GRANT, HOLD, REJECT
from schemas.pseudonyms import mask_hash
from schemas.rules import ProgrammeRules

# Within one instant, money goes out before it comes back.
_KIND_ORDER = {GRANT: 0, HOLD: 1, REJECT: 2, CLAWBACK: 3}
# a freeze, release or forfeit moves an order's state, not the budget's spend (fund_states)
_SPEND_SIGN = {GRANT: 1, HOLD: 1, REJECT: 0, CLAWBACK: -1}


def _local_times(values: pd.Series, rules: ProgrammeRules) -> pd.Series:
    if values.empty:
        return values.astype(object)
    times = pd.to_datetime(values, utc=True).dt.tz_convert(rules.timezone)
    return times.dt.strftime("%Y-%m-%d %H:%M:%S")


def sales_section(engine: Engine, rules: ProgrammeRules, period: Period, lang: Lang) -> Section:
    sales = read_sales(engine, period)
    names = Names(rules, lang)
    frame = pd.DataFrame(
        {
            "time": _local_times(sales["sold_at"], rules),
            "order_id": sales["order_id"],
            "line_no": sales["line_no"],
            "programme": [names.programme(p) for p in sales["programme"]],
            "budget_line": [
                names.line(p, b)
                for p, b in zip(sales["programme"], sales["budget_line"], strict=True)
            ],
            "merchant_id": sales["merchant_id"],
            "consumer": [mask_hash(c) for c in sales["consumer"]],
            "sku": sales["sku"],
            "category": [name("category", str(c), lang) for c in sales["category"]],
            "energy_grade": ["" if pd.isna(g) else str(int(g)) for g in sales["energy_grade"]],
            "unit_price": sales["unit_price"],
            "quantity": sales["quantity"],
            "amount": sales["amount"],
            "decision": [
                "" if pd.isna(d) else name("decision", str(d), lang) for d in sales["decision"]
            ],
        }
    )
    kinds = {"unit_price": "money", "amount": "money", "quantity": "int", "line_no": "int"}
    return Section("sales_ledger", frame, kinds)  # type: ignore[arg-type]


def _text(value: object) -> str:
    return "" if value is None or value != value else str(value)  # None or NaN: nothing


def fund_with_totals(engine: Engine, period: Period) -> pd.DataFrame:
    """Fund-ledger entries of the period with the running totals, in fen, of their budget line
    and their programme, counted from the store's first entry."""
    fund = read_fund(engine, until=period.end)
    fund["rank"] = fund["kind"].map(_KIND_ORDER).fillna(9)
    fund = fund.sort_values(["booked_at", "rank", "order_id", "entry_id"], kind="stable")
    spend = fund["amount"] * fund["kind"].map(_SPEND_SIGN).fillna(0).astype("int64")
    fund["spend"] = spend.astype("int64")
    line_key = fund["programme"] + "/" + fund["budget_line"].fillna("")
    fund["line_total"] = fund.groupby(line_key)["spend"].cumsum().astype("int64")
    fund["programme_total"] = fund.groupby("programme")["spend"].cumsum().astype("int64")
    return fund[fund["day"] >= period.start].reset_index(drop=True)


def fund_section(engine: Engine, rules: ProgrammeRules, period: Period, lang: Lang) -> Section:
    fund = fund_with_totals(engine, period)
    names = Names(rules, lang)
    on_a_line = fund["budget_line"].notna()
    frame = pd.DataFrame(
        {
            "time": _local_times(fund["booked_at"], rules),
            "order_id": fund["order_id"],
            "programme": [names.programme(p) for p in fund["programme"]],
            "budget_line": [
                names.line(p, None if pd.isna(b) else b)
                for p, b in zip(fund["programme"], fund["budget_line"], strict=True)
            ],
            "kind": [name("kind", k, lang) for k in fund["kind"]],
            "amount": fund["amount"],
            # a rejection is on no line: its line total would say nothing
            "line_total": fund["line_total"].astype(object).where(on_a_line, None),
            "programme_total": fund["programme_total"],
            # who moved it and why (0005): the monitor's entries before it say nothing
            "by": [_text(v) for v in fund["actor"]],
            "why": [_text(v) for v in fund["reason"]],
        }
    )
    kinds = {"amount": "money", "line_total": "money", "programme_total": "money", "why": "long"}
    return Section("fund_ledger", frame, kinds)  # type: ignore[arg-type]


def build(engine: Engine, rules: ProgrammeRules, period: Period, lang: Lang) -> Report:
    report = Report("ledger", lang)
    report.sections.append(sales_section(engine, rules, period, lang))
    report.sections.append(fund_section(engine, rules, period, lang))
    return report
