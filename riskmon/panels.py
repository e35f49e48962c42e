"""`riskmon panels`: the budget and alert panels as one PNG, from live metrics.

It reads either a Prometheus server's HTTP API (every worker, summed) or one process's
/metrics endpoint (a worker, or `riskmon replay --metrics-port P --metrics-linger S`), so a
picture needs no Grafana. The panels are those of the budget and risk dashboards: budget used
per line against the 50/80/95/100 % thresholds, subsidy held and rejected per line, alerts by
risk and severity, and the detectors that raised the most.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Protocol

import typer

if TYPE_CHECKING:
    from matplotlib.axes import Axes

Key = tuple[str, ...]
THRESHOLDS = (0.5, 0.8, 0.95, 1.0)
RISKS = ("hoarding", "arbitrage", "fraud", "compliance", "budget")
SEVERITIES = ("low", "medium", "high", "critical")
SEVERITY_COLOURS = {"low": "#8ab6d6", "medium": "#f2c94c", "high": "#f2994a", "critical": "#d64545"}
RISK_COLOURS = {
    "hoarding": "#5b8def",
    "arbitrage": "#9b51e0",
    "fraud": "#d64545",
    "compliance": "#27ae60",
    "budget": "#828282",
}


class PanelsError(Exception):
    """The metrics could not be read (the message says where and why)."""


def _get(url: str, timeout: float) -> bytes:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise PanelsError(f"{url}: only http and https URLs are read")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (checked)
            body: bytes = response.read()
            return body
    except OSError as exc:
        raise PanelsError(f"{url}: {exc}") from None


class Source(Protocol):
    def grouped(self, metric: str, by: Key, agg: str = "sum") -> dict[Key, float]:
        """`agg by (by) (metric)`: one value per combination of the `by` labels."""


class MetricsEndpoint:
    """One process's /metrics, read once."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        from prometheus_client.parser import text_string_to_metric_families

        self.url = url
        text = _get(url, timeout).decode("utf-8")
        self._samples = [s for f in text_string_to_metric_families(text) for s in f.samples]

    def grouped(self, metric: str, by: Key, agg: str = "sum") -> dict[Key, float]:
        out: dict[Key, float] = {}
        for sample in self._samples:
            if sample.name == metric:
                key = tuple(sample.labels.get(label, "") for label in by)
                old = out.get(key)
                value = float(sample.value)
                if old is None:
                    out[key] = value
                else:
                    out[key] = old + value if agg == "sum" else max(old, value)
        return out


class PrometheusAPI:
    """A Prometheus server: instant queries over every instance it scrapes."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def query(self, expr: str) -> list[tuple[dict[str, str], float]]:
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        answer = json.loads(_get(url, self.timeout))
        if answer.get("status") != "success":
            raise PanelsError(f"{self.url}: {expr}: {answer.get('error', answer)}")
        return [(r["metric"], float(r["value"][1])) for r in answer["data"]["result"]]

    def grouped(self, metric: str, by: Key, agg: str = "sum") -> dict[Key, float]:
        rows = self.query(f"{agg} by ({', '.join(by)}) ({metric})")
        return {tuple(labels.get(label, "") for label in by): value for labels, value in rows}


@dataclass
class PanelData:
    ratio: dict[Key, float]  # (programme, line) -> budget used, fraction
    used: dict[Key, float]  # yuan
    budget: dict[Key, float]  # yuan
    subsidy: dict[Key, float]  # (programme, line, outcome) -> yuan
    alerts: dict[Key, float]  # (risk, severity, detector) -> count
    decisions: dict[Key, float]  # (decision,) -> count


def read(source: Source) -> PanelData:
    line = ("programme", "budget_line")
    return PanelData(
        ratio=source.grouped("riskmon_budget_used_ratio", line),
        used=source.grouped("riskmon_budget_used_yuan", line),
        budget=source.grouped("riskmon_budget_yuan", line, agg="max"),
        subsidy=source.grouped("riskmon_subsidy_yuan_total", (*line, "outcome")),
        alerts=source.grouped("riskmon_alerts_total", ("risk", "severity", "detector")),
        decisions=source.grouped("riskmon_decisions_total", ("decision",)),
    )


def yuan(amount: float) -> str:
    """
    >>> yuan(16_543_210), yuan(45_600), yuan(12.5)
    ('¥16.54M', '¥45.6k', '¥12')
    """
    if abs(amount) >= 1e6:
        return f"¥{amount / 1e6:.2f}M"
    if abs(amount) >= 1e3:
        return f"¥{amount / 1e3:.1f}k"
    return f"¥{amount:.0f}"


def render(data: PanelData, out: Path, source: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: a file, on a server or in CI
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(14, 9.5), dpi=110, layout="constrained")
    _budget(axes[0][0], data)
    _held_rejected(axes[0][1], data)
    _alerts_by_risk(axes[1][0], data)
    _top_detectors(axes[1][1], data)
    orders = sum(data.decisions.values())
    alerts = sum(data.alerts.values())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    fig.suptitle(
        f"riskmon: budget and alerts  ({orders:,.0f} orders decided, {alerts:,.0f} alerts)\n"
        f"{source}, {stamp}",
        fontsize=12,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def _line_label(key: Key) -> str:
    return f"{key[0]} / {key[1]}"


def _budget(ax: Axes, data: PanelData) -> None:
    keys = sorted(data.ratio, reverse=True)
    ratios = [data.ratio[k] for k in keys]
    bands = ["#27ae60", "#f2c94c", "#f2994a", "#d64545", "#8b0000"]
    colours = [bands[sum(r >= t for t in THRESHOLDS)] for r in ratios]
    ax.barh([_line_label(k) for k in keys], [r * 100 for r in ratios], color=colours)
    for i, key in enumerate(keys):
        used, budget = yuan(data.used.get(key, 0.0)), yuan(data.budget.get(key, 0.0))
        ax.text(
            min(ratios[i], 1.0) * 100 + 1.5,
            i,
            f"{ratios[i]:.1%}  {used} of {budget}",
            va="center",
            fontsize=9,
        )
    for t in THRESHOLDS:
        ax.axvline(t * 100, color="#555555", linestyle="--", linewidth=0.8)
    marks = ax.secondary_xaxis("top")
    marks.set_xticks([t * 100 for t in THRESHOLDS], [f"{t:.0%}" for t in THRESHOLDS])
    marks.tick_params(labelsize=7, labelrotation=90, colors="#555555")
    ax.set_xlim(0, 150)
    ax.set_xlabel("budget used, %")
    ax.set_title("Budget used per line (the bureau is told at 50, 80, 95, 100 %)")


def _held_rejected(ax: Axes, data: PanelData) -> None:
    from matplotlib.ticker import MaxNLocator

    lines = sorted({k[:2] for k in data.subsidy if k[1] != "none"}, reverse=True)
    height = 0.38
    for offset, outcome, colour in (
        (height / 2, "held", "#f2994a"),
        (-height / 2, "rejected", "#d64545"),
    ):
        values = [data.subsidy.get((*k, outcome), 0.0) for k in lines]
        bars = ax.barh(
            [i + offset for i in range(len(lines))], values, height, color=colour, label=outcome
        )
        ax.bar_label(bars, [yuan(v) for v in values], padding=3, fontsize=8)
    ax.set_yticks(range(len(lines)), [_line_label(k) for k in lines])
    ax.margins(x=0.25)
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.xaxis.set_major_formatter(lambda v, _: yuan(v))
    approved = sum(v for k, v in data.subsidy.items() if k[2] == "approved")
    ax.legend(loc="lower right", title=f"approved: {yuan(approved)}")
    ax.set_title("Subsidy held and rejected per line")


def _alerts_by_risk(ax: Axes, data: PanelData) -> None:
    totals: dict[tuple[str, str], float] = defaultdict(float)
    for (risk, severity, _), count in data.alerts.items():
        totals[(risk, severity)] += count
    risks = [r for r in RISKS if any(k[0] == r for k in totals)] or list(RISKS)
    bottom = [0.0] * len(risks)
    for severity in SEVERITIES:
        counts = [totals.get((r, severity), 0.0) for r in risks]
        ax.bar(risks, counts, bottom=bottom, color=SEVERITY_COLOURS[severity], label=severity)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    for i, value in enumerate(bottom):
        ax.text(i, value, f"{value:,.0f}", ha="center", va="bottom", fontsize=9)
    ax.set_ylabel("alerts")
    ax.set_ylim(0, max(max(bottom), 1.0) * 1.3)  # headroom for the legend above the bars
    ax.legend(loc="upper center", ncols=len(SEVERITIES), fontsize=8)
    ax.set_title("Alerts by risk and severity")


def _top_detectors(ax: Axes, data: PanelData, top: int = 12) -> None:
    from matplotlib.patches import Patch

    by_detector: dict[str, float] = defaultdict(float)
    risk_of: dict[str, str] = {}
    for (risk, _, detector), count in data.alerts.items():
        by_detector[detector] += count
        risk_of[detector] = risk
    ranked = sorted(by_detector.items(), key=lambda kv: (-kv[1], kv[0]))[:top][::-1]
    bars = ax.barh(
        [d for d, _ in ranked],
        [c for _, c in ranked],
        color=[RISK_COLOURS.get(risk_of[d], "#828282") for d, _ in ranked],
    )
    ax.bar_label(bars, [f"{c:,.0f}" for _, c in ranked], padding=3, fontsize=8)
    ax.margins(x=0.15)
    shown = [r for r in RISKS if r in {risk_of[d] for d, _ in ranked}]
    ax.legend(
        handles=[Patch(color=RISK_COLOURS[r], label=r) for r in shown],
        title="risk",
        loc="lower right",
    )
    ax.set_xlabel("alerts")
    ax.set_title(f"Top detectors (the {top} that raised the most alerts)")


def panels(
    out: Annotated[Path, typer.Option(help="PNG to write")] = Path("docs/panels.png"),
    prometheus: Annotated[
        str | None, typer.Option(help="Prometheus URL, e.g. http://localhost:9090")
    ] = None,
    metrics_url: Annotated[
        str | None, typer.Option(help="a /metrics endpoint, e.g. http://127.0.0.1:9108/metrics")
    ] = None,
) -> None:
    """Render the budget and alert panels to a PNG from live metrics (Prometheus or /metrics)."""
    if (prometheus is None) == (metrics_url is None):
        raise typer.BadParameter("give exactly one of --prometheus and --metrics-url")
    try:
        if prometheus is not None:
            source: Source = PrometheusAPI(prometheus)
            where = f"Prometheus {prometheus}"
        else:
            assert metrics_url is not None
            source = MetricsEndpoint(metrics_url)
            where = metrics_url
        data = read(source)
    except PanelsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if not data.ratio:
        typer.echo(f"error: {where} has no riskmon metrics (is a worker or a replay up?)", err=True)
        raise typer.Exit(1)
    render(data, out, where)
    typer.echo(f"wrote {out}")
