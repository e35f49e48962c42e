"""A report never says nothing silently: every empty table gets a sentence saying that the
period had nothing and why (the period lies before, after or between the days the store holds),
and the facts say which days the store holds and how a default period was chosen.

>>> from datetime import date
>>> held = Span(Period(date(2026, 7, 1), date(2026, 7, 18)), date(2026, 7, 17))
>>> why_empty("incident_list", Period(date(2026, 7, 18), date(2026, 7, 18)), held, "zh")
'本期(2026年7月18日)无风险事件:存储中最后一条预警在 2026年7月17日。'
>>> why_empty("sales_ledger", Period(date(2026, 8, 1), date(2026, 8, 1)), held, "en")
'Nothing in this period (1 August 2026): no sales; the last day booked is 18 July 2026.'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine, func, select

from reports.document import Report
from reports.formats import day_text
from reports.frames import store_days
from reports.period import Period
from reports.tables import alerts
from reports.vocabulary import Lang

# what a table lists, to say that the period had none of it
_WHAT: dict[str, tuple[str, str]] = {
    "by_pattern": ("风险事件", "alerts"),
    "incident_list": ("风险事件", "alerts"),
    "decisions_summary": ("订单审核结果", "order decisions"),
    "daily_spend": ("资金记账", "fund entries"),
    "sales_ledger": ("销售记录", "sales"),
    "fund_ledger": ("补贴资金记账", "fund entries"),
    "differences": ("差异", "differences"),
    "progress": ("资金使用记录", "fund use"),
}
_ALERT_TABLES = frozenset({"by_pattern", "incident_list"})


@dataclass(frozen=True, slots=True)
class Span:
    """The days the store holds (None: nothing yet), and the last day with an alert."""

    days: Period | None
    last_alert: date | None


def store_span(engine: Engine) -> Span:
    with engine.connect() as connection:
        last_alert = connection.execute(select(func.max(alerts.c.day))).scalar()
    return Span(store_days(engine), last_alert)


def period_text(period: Period, lang: Lang) -> str:
    if period.start == period.end:
        return day_text(period.start, lang)
    joiner = "至" if lang == "zh" else " to "
    return f"{day_text(period.start, lang)}{joiner}{day_text(period.end, lang)}"


def held_text(span: Span, lang: Lang) -> str:
    """The days the store holds, as a fact."""
    if span.days is None:
        return "存储中尚无任何记录" if lang == "zh" else "the store holds nothing yet"
    return period_text(span.days, lang)


def _because(key: str, period: Period, span: Span, lang: Lang) -> str:
    zh = lang == "zh"
    days = span.days
    if days is None:
        return "存储中尚无任何记录" if zh else "the store holds nothing yet"
    if key in _ALERT_TABLES:
        if span.last_alert is None:
            return "存储中尚无任何预警" if zh else "the store holds no alert at all"
        last = day_text(span.last_alert, lang)
        return f"存储中最后一条预警在 {last}" if zh else f"the last alert is of {last}"
    if period.end < days.start:
        first = day_text(days.start, lang)
        return f"早于首个记账日 {first}" if zh else f"the first day booked is {first}"
    if period.start > days.end:
        last = day_text(days.end, lang)
        return f"最后记账日为 {last}" if zh else f"the last day booked is {last}"
    held = period_text(days, lang)
    return f"存储中的记录为 {held}" if zh else f"the store holds {held}"


def why_empty(key: str, period: Period, span: Span, lang: Lang) -> str:
    """The sentence an empty table shows: the period had nothing, and why."""
    what_zh, what_en = _WHAT.get(key, ("记录", "records"))
    when = period_text(period, lang)
    because = _because(key, period, span, lang)
    if lang == "zh":
        return f"本期({when})无{what_zh}:{because}。"
    return f"Nothing in this period ({when}): no {what_en}; {because}."


def explain(report: Report, period: Period, span: Span) -> None:
    """Give every empty table of `report` its sentence (a builder's own is kept)."""
    for section in report.sections:
        if section.frame.empty and not section.empty:
            section.empty = why_empty(section.key, period, span, report.lang)


def nothing_booked(period: Period, span: Span, lang: Lang) -> str | None:
    """A sentence for the facts when the store holds nothing for any day of the period."""
    days = span.days
    if days is not None and period.start <= days.end and period.end >= days.start:
        return None
    return why_empty("fund_ledger", period, span, lang)
