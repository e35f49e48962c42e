"""What the bureau's side adds to the daily report: the performance figures (绩效) with their
chart, the complaints and enquiries handled, the co-funded programme's public and platform money
apart, and the holds past their age."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from sqlalchemy import Engine, select

from reports import vocabulary
from reports.bureau_config import Fund
from reports.bureau_figures import cofunding_section, figures, leverage
from reports.bureau_tables import complaints
from reports.bureau_words import word
from reports.charts import chart_lang, cjk_family
from reports.document import Chart, Report, Section
from reports.holds import holds_section
from reports.labels import Lang, Names
from reports.period import Period
from schemas.rules import ProgrammeRules

CHART_DAYS = 31
_MONEY = ("sales", "granted", "held", "refused", "clawed_back", "net", "recovered")


def extend_daily(
    report: Report,
    engine: Engine,
    rules: ProgrammeRules,
    period: Period,
    fund: Fund | None = None,
) -> None:
    lang = report.lang
    chart_start = min(period.start, period.end - timedelta(days=CHART_DAYS - 1))
    found = figures(engine, Period(chart_start, period.end))
    if len(found):  # the chart starts where the store does, if later
        chart_start = min(period.start, max(chart_start, found["day"].min()))
    in_period = found[found["day"] >= period.start]
    report.sections.append(performance_section(in_period, rules, lang))
    report.sections.append(complaints_section(engine, rules, period, lang))
    fund = fund or Fund()
    cofunding = cofunding_section(engine, rules, period, lang, fund.cofunding)
    if cofunding is not None:
        report.sections.append(cofunding)
    report.sections.append(holds_section(engine, rules, period, lang, fund.hold_age))
    report.charts.append(performance_chart(found, rules, Period(chart_start, period.end), lang))


def performance_section(found: pd.DataFrame, rules: ProgrammeRules, lang: Lang) -> Section:
    """Per programme and category over the period, with each programme's total."""
    names = Names(rules, lang)
    rows = []
    for programme, group in found.groupby("programme", sort=True):
        by_category = group.groupby("category", sort=True)
        parts = [(vocabulary.word(f"category:{c}", lang), g) for c, g in by_category]
        parts.append((word("total", lang), group))
        for category, part in parts:
            sums = {m: int(part[m].sum()) for m in _MONEY}
            consumers = int(part["consumers"].sum())
            rows.append(
                {
                    word("pf_programme", lang): names.programme(str(programme)),
                    word("pf_category", lang): category,
                    word("pf_orders", lang): int(part["orders"].sum()),
                    **{word(f"pf_{m}", lang): sums[m] for m in _MONEY if m != "recovered"},
                    word("pf_leverage", lang): _ratio(leverage(sums["sales"], sums["net"])),
                    word("pf_consumers", lang): consumers,
                    word("pf_new_share", lang): (
                        int(part["new_consumers"].sum()) / consumers if consumers else None
                    ),
                    word("pf_recovered", lang): sums["recovered"],
                }
            )
    columns = [
        word(f"pf_{c}", lang) for c in ("programme", "category", "orders", *_MONEY[:-1], "leverage")
    ] + [word(c, lang) for c in ("pf_consumers", "pf_new_share", "pf_recovered")]
    kinds = {word(f"pf_{m}", lang): "money" for m in _MONEY}
    kinds |= {word(f"pf_{c}", lang): "int" for c in ("orders", "consumers")}
    kinds[word("pf_new_share", lang)] = "share"
    frame = pd.DataFrame(rows, columns=columns)
    return Section(word("performance", lang), frame, kinds, word("performance_note", lang))  # type: ignore[arg-type]


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def complaints_section(
    engine: Engine, rules: ProgrammeRules, period: Period, lang: Lang
) -> Section:
    """Complaints and enquiries registered in the period: counts and times."""
    c = complaints.c
    tz = rules.timezone
    start = datetime.combine(period.start, datetime.min.time(), tz)
    end = datetime.combine(period.end + timedelta(days=1), datetime.min.time(), tz)
    with engine.connect() as connection:
        found = connection.execute(
            select(
                c.kind, c.category, c.created_at, c.answer_due_at, c.first_answer_at, c.closed_at
            ).where(c.created_at >= start, c.created_at < end)
        ).all()
    groups: dict[tuple[str, str], list[tuple[datetime, datetime, datetime | None, bool]]] = {}
    for kind, category, created, due, answered, closed in found:
        groups.setdefault((kind, category), []).append((created, due, answered, closed is not None))
    rows = []
    for (kind, category), items in sorted(groups.items()):
        answered = [(a - cr) for cr, _, a, _ in items if a is not None]
        rows.append(
            {
                word("cp_kind", lang): word(kind, lang),
                word("cp_category", lang): word(category, lang),
                word("cp_registered", lang): len(items),
                word("cp_answered", lang): len(answered),
                word("cp_on_time", lang): sum(
                    1 for _, d, a, _ in items if a is not None and a <= d
                ),
                # late: answered after the deadline, or unanswered at the period's end
                word("cp_overdue", lang): sum(
                    1
                    for _, d, a, _ in items
                    if (a is None and d < end) or (a is not None and a > d)
                ),
                word("cp_closed", lang): sum(1 for *_, shut in items if shut),
                word("cp_hours", lang): (
                    f"{sum(x.total_seconds() for x in answered) / 3600 / len(answered):.1f}"
                    if answered
                    else "—"
                ),
            }
        )
    columns = [
        word(k, lang)
        for k in (
            "cp_kind",
            "cp_category",
            "cp_registered",
            "cp_answered",
            "cp_on_time",
            "cp_overdue",
            "cp_closed",
            "cp_hours",
        )
    ]
    kinds = {
        word(k, lang): "int"
        for k in ("cp_registered", "cp_answered", "cp_on_time", "cp_overdue", "cp_closed")
    }
    return Section(
        word("complaints_section", lang),
        pd.DataFrame(rows, columns=columns),
        kinds,  # type: ignore[arg-type]
        word("complaints_note", lang),
    )


def performance_chart(
    found: pd.DataFrame, rules: ProgrammeRules, period: Period, lang: Lang
) -> Chart:
    """Stacked bars of sales driven per day and programme, leverage as a line beside them."""
    drawn = chart_lang(lang)
    names = Names(rules, drawn)
    days: list[date] = period.dates()
    family = cjk_family() if drawn == "zh" else None
    families = [family, "DejaVu Sans"] if family else ["DejaVu Sans"]
    out = io.BytesIO()
    x = np.array(days, dtype="datetime64[D]")
    with rc_context({"font.family": families, "axes.unicode_minus": False}):
        figure = Figure(figsize=(7.0, 3.8), dpi=110, layout="constrained")
        axes = figure.add_subplot()
        bottom = np.zeros(len(days))
        for programme in rules.programmes:
            of = found[found["programme"] == programme].groupby("day")["sales"].sum()
            values = np.array([int(of.get(d, 0)) / 100 for d in days])
            axes.bar(x, values, bottom=bottom, width=0.8, label=names.programme(programme))
            bottom += values
        daily = found.groupby("day")[["sales", "net"]].sum()
        ratio = [
            leverage(int(daily.loc[d, "sales"]), int(daily.loc[d, "net"]))
            if d in daily.index
            else None
            for d in days
        ]
        twin = axes.twinx()
        twin.plot(
            x,
            [np.nan if r is None else r for r in ratio],
            color="black",
            marker="o" if len(days) <= 31 else None,
            label=word("pf_leverage", drawn),
        )
        twin.set_ylabel(word("leverage_axis", drawn))
        twin.set_ylim(bottom=0)
        axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        axes.set_title(word("chart_performance", drawn))
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small", loc="upper left")
        twin.legend(fontsize="small", loc="upper right")
        figure.autofmt_xdate()
        figure.savefig(out, format="png", metadata={"Software": None})
    return Chart("chart_performance", out.getvalue())
