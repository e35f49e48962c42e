"""`riskmon retention apply`: what is past its retention period, anonymised or deleted.

Without `--apply` it only counts (a dry run, recorded in the audit trail as such); with it, it
changes the store in one transaction and records the run. The periods are the bureau
configuration's `[retention]` (docs/bureau.md says why the defaults are what they are).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from riskmon.bureau_cli import ConfigOption, bureau_config
from riskmon.store_cli import actor, open_store

console = Console()
retention_app = typer.Typer(no_args_is_help=True, help="Retention of personal data.")


@retention_app.command("apply")
def apply(
    config: ConfigOption = None,
    really: Annotated[
        bool, typer.Option("--apply", help="change the store (without it: a dry run)")
    ] = False,
) -> None:
    """Anonymise or delete what is past its retention period (a dry run unless --apply)."""
    from reports import retention
    from riskmon.bureau_cli import _rules

    periods = bureau_config(config).retention
    timezone = _rules().timezone
    now = datetime.now(UTC)
    who = actor()
    with open_store(write=True) as engine:
        if really:
            result = retention.apply(engine, periods, now, timezone, who)
        else:
            result = retention.plan(engine, periods, now, timezone)
            retention.record_dry_run(engine, result, who)
    table = Table(
        "kind", "past", "action", "rows", title="retention " + ("applied" if really else "dry run")
    )
    for step in result.steps:
        table.add_row(step.kind, f"before {step.before}", step.action, f"{step.rows:,}")
    console.print(table)
    if not really:
        console.print("nothing changed: run again with --apply to do it", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(retention_app, name="retention")
