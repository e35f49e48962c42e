"""The replay's summary, as a risk analyst reads it at the end of a run."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table

from replay.engine import ReplayStats
from reports.formats import money
from reports.vocabulary import Lang, word
from schemas.labels import RISKS
from schemas.outputs import SEVERITIES

# the summary's own words, Chinese first (the vocabulary names decisions, risks, detectors)
_WORDS: dict[str, tuple[str, str]] = {
    "replay": ("回放", "Replay"),
    "events": ("事件", "events"),
    "orders": ("已决订单", "orders decided"),
    "duplicates": ("重复事件(已忽略)", "duplicate events ignored"),
    "pending": ("等待支付事件的后续事件", "later events held for their payment"),
    "extra": ("容忍的未知字段", "unknown fields tolerated"),
    "catalog": ("商品目录条目", "catalog entries"),
    "dead": ("死信", "dead letters"),
    "seconds": ("耗时(秒)", "seconds"),
    "rate": ("事件/秒", "events/s"),
    "subsidy": ("补贴金额", "Subsidy"),
    "approved": ("通过", "approved"),
    "held": ("冻结待审", "held for review"),
    "rejected": ("拒绝", "rejected"),
    "clawed_back": ("退回", "clawed back"),
    "by_risk": ("按风险与严重程度的预警", "Alerts by risk and severity"),
    "risk": ("风险类别", "risk"),
    "total": ("合计", "total"),
    "by_detector": ("按模式的预警", "Alerts by detector"),
    "detector": ("模式", "detector"),
    "alerts": ("预警数", "alerts"),
    "learning": ("在线学习(渐进验证)", "Online learning (progressive validation)"),
    "figure": ("指标", "figure"),
    "value": ("数值", "value"),
}


def _w(key: str, lang: Lang) -> str:
    return _WORDS[key][0 if lang == "zh" else 1]


def summary_tables(stats: ReplayStats, lang: Lang = "zh") -> Group:
    """The run in tables, in `lang`: money as ¥1,234.56, names from the shared vocabulary."""
    rate = stats.events / stats.seconds if stats.seconds else 0.0
    overview = Table(title=_w("replay", lang), show_header=False, title_justify="left")
    overview.add_column("what")
    overview.add_column("count", justify="right")
    overview.add_row(_w("events", lang), f"{stats.events:,}")
    for kind, n in sorted(stats.by_type.items()):
        overview.add_row(f"  {word(f'event:{kind}', lang)}", f"{n:,}")
    overview.add_row(_w("orders", lang), f"{stats.orders:,}")
    for kind in ("approve", "review", "reject"):
        overview.add_row(f"  {word(f'decision:{kind}', lang)}", f"{stats.decisions.get(kind, 0):,}")
    overview.add_row(_w("duplicates", lang), f"{stats.duplicates:,}")
    overview.add_row(_w("pending", lang), f"{stats.pending:,}")
    overview.add_row(_w("extra", lang), f"{stats.extra_fields:,}")
    overview.add_row(_w("catalog", lang), f"{stats.catalog_entries:,}")
    overview.add_row(_w("dead", lang), f"{sum(stats.dead_letters.values()):,}")
    for reason, n in sorted(stats.dead_letters.items()):
        overview.add_row(f"  {reason}", f"{n:,}")
    overview.add_row(_w("seconds", lang), f"{stats.seconds:.2f}  ({rate:,.0f} {_w('rate', lang)})")

    money_table = Table(title=_w("subsidy", lang), title_justify="left")
    for key in ("approved", "held", "rejected", "clawed_back"):
        money_table.add_column(_w(key, lang), justify="right")
    money_table.add_row(
        *(money(v) for v in (stats.approved, stats.held, stats.rejected, stats.clawed_back))
    )

    alerts = Table(title=_w("by_risk", lang), title_justify="left")
    alerts.add_column(_w("risk", lang))
    for severity in SEVERITIES:
        alerts.add_column(word(f"severity:{severity}", lang), justify="right")
    alerts.add_column(_w("total", lang), justify="right")
    for risk in RISKS:
        row = [stats.alerts.get((risk, s), 0) for s in SEVERITIES]
        alerts.add_row(word(f"risk:{risk}", lang), *(f"{n:,}" for n in row), f"{sum(row):,}")

    detectors = Table(title=_w("by_detector", lang), title_justify="left")
    detectors.add_column(_w("detector", lang))
    detectors.add_column(_w("alerts", lang), justify="right")
    for name, n in stats.detectors.most_common():
        detectors.add_row(word(f"detector:{name}", lang), f"{n:,}")
    if not stats.learning:
        return Group(overview, money_table, alerts, detectors)
    return Group(overview, money_table, alerts, detectors, learning_table(stats.learning, lang))


def learning_table(figures: dict[str, float], lang: Lang = "zh") -> Table:
    """The learning stage's progressive validation and counts (`Learner.quality`)."""
    table = Table(title=_w("learning", lang), title_justify="left")
    table.add_column(_w("figure", lang))
    table.add_column(_w("value", lang), justify="right")
    for name, value in figures.items():
        ratio = any(part in name for part in ("auc", "precision", "recall", "threshold"))
        if value != value:  # NaN: not enough verdicts of both kinds yet
            shown = "-"
        else:
            shown = f"{value:.3f}" if ratio else f"{value:,.0f}"
        table.add_row(name.replace("_", " "), shown)
    return table
