"""The bureau's reports by name: which builder, which default period, and the facts on top."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import Engine

from reports import incidents, ledgers, progress
from reports.bureau_config import Fund
from reports.document import Report
from reports.emptiness import explain, held_text, nothing_booked, period_text, store_span
from reports.frames import store_days
from reports.labels import Lang, label
from reports.period import Period
from schemas.rules import ProgrammeRules

Kind = Literal["daily", "incidents", "ledger"]
KINDS: tuple[Kind, ...] = ("daily", "incidents", "ledger")
_BUILDERS = {"daily": progress.build, "incidents": incidents.build, "ledger": ledgers.build}


class EmptyStoreError(ValueError):
    """Nothing booked yet: there is no period to report on."""


def default_period(engine: Engine, kind: Kind) -> Period:
    """The last day with anything booked (daily), the last day with an alert (incidents: the
    last day booked may hold only late orders, and an empty report would say nothing), the
    whole store (ledger)."""
    days = store_days(engine)
    if days is None:
        raise EmptyStoreError(
            "the store holds nothing yet: give --date or --from/--to, or fill it first "
            "(`riskmon replay --store ...`)"
        )
    if kind == "ledger":
        return days
    if kind == "incidents":
        last_alert = store_span(engine).last_alert
        if last_alert is not None:
            return Period(last_alert, last_alert)
    return Period(days.end, days.end)


def _basis(kind: Kind, lang: Lang) -> str:
    """How a default period was chosen, said in the report."""
    zh = {
        "daily": "未指定日期:取存储中最后记账日",
        "incidents": "未指定日期:取存储中最后一条预警所在日",
        "ledger": "未指定日期:取存储中的全部记录",
    }
    en = {
        "daily": "no dates given: the last day booked in the store",
        "incidents": "no dates given: the day of the store's last alert",
        "ledger": "no dates given: everything the store holds",
    }
    return (zh if lang == "zh" else en)[kind]


def make(
    kind: Kind,
    engine: Engine,
    rules: ProgrammeRules,
    period: Period,
    lang: Lang,
    *,
    source: str,
    now: datetime | None = None,
    defaulted: bool = False,
    fund: Fund | None = None,
) -> Report:
    """The report of `kind` for `period`; `defaulted`: the period is `default_period`'s."""
    report = _BUILDERS[kind](engine, rules, period, lang)
    if kind == "daily":
        from reports.bureau_report import extend_daily

        # performance figures, complaints, co-funding, old holds
        extend_daily(report, engine, rules, period, fund)
    generated = (now or datetime.now(rules.timezone)).astimezone(rules.timezone)
    span = store_span(engine)
    explain(report, period, span)
    report.facts = [("period", period_text(period, lang))]
    if defaulted:
        report.facts.append(("period_basis", _basis(kind, lang)))
    report.facts.append(("store_held", held_text(span, lang)))
    empty = nothing_booked(period, span, lang)
    if empty is not None:
        report.facts.append(("nothing_booked", empty))
    report.facts += [
        ("generated_at", generated.strftime("%Y-%m-%d %H:%M:%S %z")),
        ("rules", f"{rules.version}: {rules.title}"),
        ("source", source),
    ]
    if kind != "daily":
        report.facts.append(("privacy", label("masking_note", lang)))
    return report
