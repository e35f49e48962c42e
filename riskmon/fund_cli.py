"""The fund ledger's commands: `claim` (the platform's claim to the bureau, 申报清单) and `holds
list|release` (held orders, and a supervisor's release of one, audited as `cli:<user>`).

The hold age and the co-funding shares come from the bureau configuration (`[fund]`,
RISKMON_BUREAU_CONFIG or --config; defaults 72 h and 0.8334 of logistics_warehouse).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from riskmon.bureau_cli import ConfigOption, bureau_config
from riskmon.store_cli import (
    FormatOption,
    LangOption,
    RulesOption,
    _fail,
    _format,
    _rules,
    _write,
    actor,
    open_store,
    parse_lang,
)

console = Console()
holds_app = typer.Typer(no_args_is_help=True, help="Held orders: list them, release one.")


def claim(
    start: Annotated[str, typer.Option("--from", help="first day, YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="last day, YYYY-MM-DD")],
    out: Annotated[Path, typer.Option("--out", help="file to write: .xlsx, .csv or .html")],
    fmt: FormatOption = None,
    lang: LangOption = "zh",
    rules: RulesOption = None,
    config: ConfigOption = None,
) -> None:
    """The platform's claim to the bureau (申报清单) for a period: what became claimable, net of
    claw-backs, deductions as negative lines; held and forfeited orders apart, not claimed."""
    from reports.claim import make_claim, report
    from reports.db import describe
    from reports.frames import yuan
    from reports.period import Period, PeriodError

    fmt_ = _format(fmt, out)
    lang_ = parse_lang(lang)
    programme_rules = _rules(rules)
    fund = bureau_config(config).fund
    try:
        period = Period.parse(None, start, end)
    except PeriodError as exc:
        raise _fail(str(exc)) from None
    assert period is not None
    with open_store(write=False) as engine:
        found = make_claim(engine, period, fund.cofunding)
        source = describe(engine.url)
    _write(report(found, programme_rules, lang_, source=source), fmt_, out)
    held = found.held
    if lang_ == "zh":
        console.print(
            f"{period}:申报 {len(found.lines):,} 行,净额 {yuan(found.total):,} 元"
            f"(向财政申报 {yuan(found.public):,} 元);冻结未申报 {len(held):,} 笔 "
            f"{yuan(sum(m.net for m in held)):,} 元;本期核减 {len(found.forfeited):,} 笔",
            highlight=False,
        )
    else:
        console.print(
            f"{period}: {len(found.lines):,} lines, net claim {yuan(found.total):,} yuan "
            f"({yuan(found.public):,} from the bureau); held, not claimed: {len(held):,} "
            f"orders, {yuan(sum(m.net for m in held)):,} yuan; forfeited in the period: "
            f"{len(found.forfeited):,}",
            highlight=False,
        )


@holds_app.command("list")
def holds_list(
    older_than: Annotated[
        float | None,
        typer.Option("--older-than", help="hours held at least (default: [fund] hold_hours)"),
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="as of this time, ISO 8601 (default: now)")
    ] = None,
    lang: LangOption = "zh",
    rules: RulesOption = None,
    config: ConfigOption = None,
) -> None:
    """Orders whose subsidy is held, the oldest first, held longer than the age."""
    from reports.frames import yuan
    from reports.holds import held_orders, holds_frame
    from reports.labels import label

    lang_ = parse_lang(lang)
    programme_rules = _rules(rules)
    hours = older_than if older_than is not None else bureau_config(config).fund.hold_hours
    try:
        now = datetime.fromisoformat(at) if at else datetime.now(UTC)
    except ValueError:
        raise _fail("--at must be an ISO 8601 time with its offset") from None
    if now.tzinfo is None:
        raise _fail("--at needs its offset (e.g. 2026-07-31T00:00:00+08:00)")
    with open_store(write=False) as engine:
        held = held_orders(engine, now, timedelta(hours=hours))
    frame = holds_frame(held, programme_rules, now, lang_)
    total = yuan(int(frame["subsidy"].sum()))
    title = (
        f"冻结超过 {hours:g} 小时的订单:{len(frame):,} 笔,{total:,} 元"
        if lang_ == "zh"
        else f"Orders held over {hours:g} h: {len(frame):,}, {total:,} yuan"
    )
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(label(str(column), lang_), overflow="fold")
    for row in frame.itertuples(index=False):
        cells = row._asdict()
        cells["subsidy"] = f"{yuan(int(cells['subsidy'])):,}"
        table.add_row(*(str(v) for v in cells.values()))
    console.print(table)


@holds_app.command("release")
def holds_release(
    order: Annotated[str, typer.Argument(help="the order whose held subsidy is released")],
    reason: Annotated[str, typer.Option("--reason", help="why (kept in the ledger and audit)")],
    rules: RulesOption = None,
) -> None:
    """A supervisor's release of a held order: its subsidy becomes claimable again; one
    fund-ledger entry per budget line and an audit row, as `cli:<user>`."""
    from console import audit
    from reports.fund_moves import FundError, release

    programme_rules = _rules(rules)
    who = actor()
    now = datetime.now(UTC)
    with open_store(write=True) as engine:
        try:
            with engine.begin() as connection:
                move = release(connection, order, who, reason, now, programme_rules.timezone)
                audit.record(
                    connection,
                    who,
                    "fund_release",
                    role="supervisor",
                    target=order,
                    detail={**move, "reason": reason.strip()},
                    at=now,
                )
        except FundError as exc:
            raise _fail(str(exc)) from None
    console.print(
        f"released {move['amount']} yuan of {order} (was {move['from']}), as {who}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add the fund ledger's commands to the `riskmon` command line."""
    app.command("claim")(claim)
    app.add_typer(holds_app, name="holds")
