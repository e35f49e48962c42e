"""The replay's summary, as a risk analyst reads it at the end of a run."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table

from replay.engine import ReplayStats
from schemas.labels import RISKS
from schemas.money import money_text
from schemas.outputs import SEVERITIES


def summary_tables(stats: ReplayStats) -> Group:
    rate = stats.events / stats.seconds if stats.seconds else 0.0
    overview = Table(title="Replay", show_header=False, title_justify="left")
    overview.add_column("what")
    overview.add_column("count", justify="right")
    overview.add_row("events", f"{stats.events:,}")
    for kind, n in sorted(stats.by_type.items()):
        overview.add_row(f"  {kind}", f"{n:,}")
    overview.add_row("orders decided", f"{stats.orders:,}")
    for kind in ("approve", "review", "reject"):
        overview.add_row(f"  {kind}", f"{stats.decisions.get(kind, 0):,}")
    overview.add_row("duplicate events ignored", f"{stats.duplicates:,}")
    overview.add_row("later events held for their payment", f"{stats.pending:,}")
    overview.add_row("unknown fields tolerated", f"{stats.extra_fields:,}")
    overview.add_row("catalog entries", f"{stats.catalog_entries:,}")
    overview.add_row("dead letters", f"{sum(stats.dead_letters.values()):,}")
    for reason, n in sorted(stats.dead_letters.items()):
        overview.add_row(f"  {reason}", f"{n:,}")
    overview.add_row("seconds", f"{stats.seconds:.2f}  ({rate:,.0f} events/s)")

    money = Table(title="Subsidy (yuan)", title_justify="left")
    money.add_column("approved", justify="right")
    money.add_column("held for review", justify="right")
    money.add_column("rejected", justify="right")
    money.add_column("clawed back", justify="right")
    money.add_row(
        *(money_text(v) for v in (stats.approved, stats.held, stats.rejected, stats.clawed_back))
    )

    alerts = Table(title="Alerts by risk and severity", title_justify="left")
    alerts.add_column("risk")
    for severity in SEVERITIES:
        alerts.add_column(severity, justify="right")
    alerts.add_column("total", justify="right")
    for risk in RISKS:
        row = [stats.alerts.get((risk, s), 0) for s in SEVERITIES]
        alerts.add_row(risk, *(f"{n:,}" for n in row), f"{sum(row):,}")

    detectors = Table(title="Alerts by detector", title_justify="left")
    detectors.add_column("detector")
    detectors.add_column("alerts", justify="right")
    for name, n in stats.detectors.most_common():
        detectors.add_row(name, f"{n:,}")
    if not stats.learning:
        return Group(overview, money, alerts, detectors)
    return Group(overview, money, alerts, detectors, learning_table(stats.learning))


def learning_table(figures: dict[str, float]) -> Table:
    """The learning stage's progressive validation and counts (`Learner.quality`)."""
    table = Table(title="Online learning (progressive validation)", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in figures.items():
        ratio = any(word in name for word in ("auc", "precision", "recall", "threshold"))
        if value != value:  # NaN: not enough verdicts of both kinds yet
            shown = "-"
        else:
            shown = f"{value:.3f}" if ratio else f"{value:,.0f}"
        table.add_row(name.replace("_", " "), shown)
    return table
