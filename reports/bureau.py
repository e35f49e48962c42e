"""The bureau's reports by name: which builder, which default period, and the facts on top."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import Engine

from reports import incidents, ledgers, progress
from reports.bureau_config import Fund
from reports.document import Report
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
    """The last day with anything booked (daily, incidents); the whole store (ledger)."""
    days = store_days(engine)
    if days is None:
        raise EmptyStoreError(
            "the store holds nothing yet: give --date or --from/--to, or fill it first "
            "(`riskmon replay --store ...`)"
        )
    return days if kind == "ledger" else Period(days.end, days.end)


def make(
    kind: Kind,
    engine: Engine,
    rules: ProgrammeRules,
    period: Period,
    lang: Lang,
    *,
    source: str,
    now: datetime | None = None,
    fund: Fund | None = None,
) -> Report:
    report = _BUILDERS[kind](engine, rules, period, lang)
    if kind == "daily":
        from reports.bureau_report import extend_daily

        # performance figures, complaints, co-funding, old holds
        extend_daily(report, engine, rules, period, fund)
    generated = (now or datetime.now(rules.timezone)).astimezone(rules.timezone)
    report.facts = [
        ("period", str(period)),
        ("generated_at", generated.strftime("%Y-%m-%d %H:%M:%S %z")),
        ("rules", f"{rules.version}: {rules.title}"),
        ("source", source),
    ]
    if kind != "daily":
        report.facts.append(("privacy", label("masking_note", lang)))
    return report
