"""The daily fund-use progress report (资金使用进度): spend by programme and budget line, burn
rate, projected exhaustion, charts.

Spend is what the fund ledger books: grants and holds, less claw-backs (the budget detector's
own arithmetic, so the report and the `budget_threshold` alerts agree to the fen). Rejections
are shown beside it: they never left the budget.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy import Engine

from reports.charts import chart_lang, cumulative_share, daily_bars
from reports.document import Chart, Report, Section
from reports.frames import read_decisions, read_fund
from reports.labels import TOTAL, Lang, Names, label
from reports.period import Period
from reports.rows import CLAWBACK, GRANT, HOLD, REJECT
from schemas.rules import ProgrammeRules

BURN_DAYS = 7
CHART_DAYS = 31


def _local_day(at: datetime, rules: ProgrammeRules) -> date:
    return at.astimezone(rules.timezone).date()


def _signed(fund: pd.DataFrame) -> pd.Series:
    """Each entry's effect on the spend, in fen: grants and holds spend, claw-backs give back."""
    sign = fund["kind"].map({GRANT: 1, HOLD: 1, CLAWBACK: -1, REJECT: 0}).fillna(0)
    return (fund["amount"] * sign.astype("int64")).astype("int64")


def build(engine: Engine, rules: ProgrammeRules, period: Period, lang: Lang) -> Report:
    fund = read_fund(engine, until=period.end)
    fund["spend"] = _signed(fund)
    names = Names(rules, lang)
    report = Report("daily", lang)
    report.sections.append(_progress(fund, rules, period, names))
    report.sections.append(_daily(fund, engine, rules, period, names))
    report.sections.append(_decisions(engine, period, names))
    report.charts.extend(_charts(fund, rules, period, lang))
    return report


def _sum(frame: pd.DataFrame, mask: pd.Series, column: str) -> int:
    return int(frame.loc[mask, column].sum())


def _progress(fund: pd.DataFrame, rules: ProgrammeRules, period: Period, names: Names) -> Section:
    in_period = fund["day"] >= period.start
    window_start = period.end - timedelta(days=BURN_DAYS - 1)
    rows = []
    for pname, programme in rules.programmes.items():
        of_programme = fund["programme"] == pname
        first_day = _local_day(programme.start, rules)
        last_day = _local_day(programme.end, rules)
        lines: list[tuple[str, int]] = [
            (lname, int(line.budget * 100)) for lname, line in programme.budget_lines.items()
        ]
        lines.append((TOTAL, int(programme.budget * 100)))
        for lname, budget in lines:
            mask = of_programme if lname == TOTAL else of_programme & (fund["budget_line"] == lname)
            used = _sum(fund, mask, "spend")
            start = max(window_start, first_day)
            days = max((period.end - start).days + 1, 1)
            burn = _sum(fund, mask & (fund["day"] >= start), "spend") / days
            remaining = budget - used
            rows.append(
                {
                    "programme": names.programme(pname),
                    "budget_line": names.line(pname, lname),
                    "budget": budget,
                    "granted": _sum(fund, mask & in_period & (fund["kind"] == GRANT), "amount"),
                    "held": _sum(fund, mask & in_period & (fund["kind"] == HOLD), "amount"),
                    "clawed_back": _sum(
                        fund, mask & in_period & (fund["kind"] == CLAWBACK), "amount"
                    ),
                    "rejected": _sum(fund, mask & in_period & (fund["kind"] == REJECT), "amount"),
                    "net_in_period": _sum(fund, mask & in_period, "spend"),
                    "used": used,
                    "used_share": used / budget if budget else 0.0,
                    "remaining": remaining,
                    "burn_rate": round(burn),
                    "exhaustion": exhaustion(period.end, remaining, burn, last_day, names.lang),
                    "programme_end": str(last_day),
                }
            )
    money = ("budget", "granted", "held", "clawed_back", "rejected", "net_in_period", "used")
    kinds = {k: "money" for k in (*money, "remaining", "burn_rate")}
    kinds["used_share"] = "share"
    note = (
        "使用 = 发放 + 冻结待审 − 退回;拒付未动用预算,单列。近7日日均按自然日计;预计用尽日期"
        "按近7日日均推算,晚于项目结束日期的显示为“项目期内不会用尽”。"
        if names.lang == "zh"
        else "Used = granted + held − clawed back; rejections never left the budget and are "
        "shown apart. The burn rate averages the last 7 calendar days; the projected "
        "exhaustion follows it, and a day past the programme's end reads \"not exhausted "
        'within the programme".'
    )
    return Section("progress", pd.DataFrame(rows), kinds, note)  # type: ignore[arg-type]


def exhaustion(end: date, remaining: int, burn: float, last_day: date, lang: Lang) -> str:
    """When the budget runs out at the last 7 days' pace; a day past the programme's end is no
    forecast (the programme stops first), so it is said in words.

    >>> from datetime import date
    >>> exhaustion(date(2026, 7, 18), 100_000, 2_000.0, date(2026, 12, 31), "zh")
    '2026-09-06'
    >>> exhaustion(date(2026, 7, 18), 100_000, 1.0, date(2026, 12, 31), "zh")
    '项目期内不会用尽'
    >>> exhaustion(date(2026, 7, 18), 100_000, 0.0, date(2026, 12, 31), "en")
    'no spend in the last 7 days: not exhausted at this pace'
    """
    zh = lang == "zh"
    if remaining <= 0:
        return "已用尽" if zh else "exhausted"
    if burn <= 0:
        return (
            "近7日无净使用,按此进度不会用尽"
            if zh
            else "no spend in the last 7 days: not exhausted at this pace"
        )
    days = math.ceil(remaining / burn)
    if days > (last_day - end).days:
        return "项目期内不会用尽" if zh else "not exhausted within the programme"
    return str(end + timedelta(days=days))


def _daily(
    fund: pd.DataFrame, engine: Engine, rules: ProgrammeRules, period: Period, names: Names
) -> Section:
    decided = read_decisions(engine, period)
    orders = decided.groupby(["programme", "day"]).size().to_dict()
    by_kind = fund.groupby(["programme", "day", "kind"])["amount"].sum().to_dict()
    net = fund.groupby(["programme", "day"])["spend"].sum().to_dict()
    rows = []
    for pname in rules.programmes:
        # what the programme had spent by the end of the day before the period
        used = sum(v for (p, d), v in net.items() if p == pname and d < period.start)
        for day in period.dates():
            key = (pname, day)
            used += net.get(key, 0)
            rows.append(
                {
                    "day": str(day),
                    "programme": names.programme(pname),
                    "orders": int(orders.get(key, 0)),
                    "granted": int(by_kind.get((*key, GRANT), 0)),
                    "held": int(by_kind.get((*key, HOLD), 0)),
                    "clawed_back": int(by_kind.get((*key, CLAWBACK), 0)),
                    "rejected": int(by_kind.get((*key, REJECT), 0)),
                    "net_in_period": int(net.get(key, 0)),
                    "used": int(used),
                }
            )
    kinds = {
        k: "money" for k in ("granted", "held", "clawed_back", "rejected", "net_in_period", "used")
    }
    kinds["orders"] = "int"
    return Section("daily_spend", pd.DataFrame(rows), kinds)  # type: ignore[arg-type]


def _decisions(engine: Engine, period: Period, names: Names) -> Section:
    decided = read_decisions(engine, period)
    rows = []
    for pname, group in decided.groupby("programme", sort=True):
        counts = group["decision"].value_counts()
        rows.append(
            {
                "programme": names.programme(str(pname)),
                "orders": len(group),
                "approve_n": int(counts.get("approve", 0)),
                "review_n": int(counts.get("review", 0)),
                "reject_n": int(counts.get("reject", 0)),
                "claimed": int(group["claimed_subsidy"].sum()),
                "allowed": int(group["allowed_subsidy"].sum()),
            }
        )
    columns = ["programme", "orders", "approve_n", "review_n", "reject_n", "claimed", "allowed"]
    kinds = {c: "int" for c in columns[1:5]} | {"claimed": "money", "allowed": "money"}
    return Section("decisions_summary", pd.DataFrame(rows, columns=columns), kinds)  # type: ignore[arg-type]


def _charts(fund: pd.DataFrame, rules: ProgrammeRules, period: Period, lang: Lang) -> list[Chart]:
    drawn = chart_lang(lang)
    names = Names(rules, drawn)
    first = fund["day"].min() if len(fund) else period.start
    start = min(period.start, max(first, period.end - timedelta(days=CHART_DAYS - 1)))
    days = Period(start, period.end).dates()
    shares: dict[str, list[float]] = {}
    bars: dict[str, list[float]] = {}
    for pname, programme in rules.programmes.items():
        of_programme = fund["programme"] == pname
        daily = fund[of_programme].groupby("day")["spend"].sum()
        bars[names.programme(pname)] = [int(daily.get(d, 0)) / 100 for d in days]
        for lname, line in programme.budget_lines.items():
            spend = fund[of_programme & (fund["budget_line"] == lname)].groupby("day")["spend"]
            running = spend.sum().cumsum()
            budget = int(line.budget * 100)
            values = []
            for d in days:
                upto = running[running.index <= d]
                values.append((int(upto.iloc[-1]) if len(upto) else 0) / budget)
            key = f"{names.programme(pname)} / {names.line(pname, lname)}"
            shares[key] = values
    return [
        Chart(
            "chart_cumulative",
            cumulative_share(days, shares, label("chart_cumulative", drawn), drawn),
        ),
        Chart("chart_daily", daily_bars(days, bars, label("chart_daily", drawn), drawn)),
    ]
