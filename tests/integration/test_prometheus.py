"""A real Prometheus scrapes `riskmon replay --metrics-port`: PromQL gives the replay's counts
and, the replay learning from a day's verdicts (`--labels`), the learner's quality figures.

The replay runs as a subprocess with `--metrics-linger` so its endpoint outlives the run; the
Prometheus server (Debian's, `make system`) scrapes it every second and evaluates the shipped
alert rules. Both run on loopback with ports the kernel picks, and are always stopped.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from promql import ALERT_RULES, DASHBOARDS, dashboard_queries, with_variables
from typer.testing import CliRunner

from riskmon.cli import app
from schemas.rules import DEFAULT_RULES_PATH
from simulation.generator import generate

pytestmark = pytest.mark.integration
DEADLINE = 30.0


def wait_for(
    what: str, check: Callable[[], Any], deadline: float = DEADLINE, *, fail: bool = True
) -> Any:
    """Poll `check` until it returns something true; after `deadline` s fail naming `what`
    (or, with `fail=False`, return the last answer for the caller's own assertion)."""
    end = time.monotonic() + deadline
    last: Any = None
    while time.monotonic() < end:
        try:
            last = check()
        except OSError as exc:  # not listening yet
            last = exc
        if last:
            return last
        time.sleep(0.2)
    if not fail:
        return last
    pytest.fail(f"{what}: not within {deadline:g} s (last: {last!r})")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass
class Replayed:
    summary: dict[str, Any]
    metrics: str  # host:port of its /metrics
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replayed]:
    folder = tmp_path_factory.mktemp("replay")
    generate(7, 1, folder, bad_lines=5, labels=True)  # the verdicts: the learning stage runs
    # a small digital budget, so the day passes its 50 % threshold and an alert rule fires
    rules = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    assert rules.count("budget = 10000000") == 1
    (folder / "rules.toml").write_text(rules.replace("budget = 10000000", "budget = 200000"))
    summary = folder / "summary.json"
    err = folder / "stderr.txt"
    with err.open("wb") as stderr, (folder / "stdout.txt").open("wb") as stdout:
        process = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "riskmon.cli",
                "replay",
                "--events",
                str(folder / "events.jsonl"),
                "--catalog",
                str(folder / "catalog.jsonl"),
                "--rules",
                str(folder / "rules.toml"),
                "--labels",
                str(folder / "labels.jsonl"),
                "--summary-json",
                str(summary),
                "--metrics-port",
                "0",
                "--metrics-linger",
                "120",
            ],
            stdout=stdout,
            stderr=stderr,
        )
    try:
        address = wait_for(
            "the replay's metrics address",
            lambda: re.search(r"metrics http://([\d.]+:\d+)/metrics", err.read_text()),
        )
        wait_for("the replay's summary", lambda: process.poll() is None and summary.exists())
        yield Replayed(json.loads(summary.read_text()), address.group(1), process)
    finally:
        stop(process)
    assert process.returncode == 0, err.read_text()  # SIGTERM ends the linger, not the command


@pytest.fixture(scope="module")
def prometheus(replayed: Replayed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: `make system` installs Debian's")
    folder = tmp_path_factory.mktemp("prometheus")
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in ALERT_RULES],
        "scrape_configs": [
            {"job_name": "riskmon", "static_configs": [{"targets": [replayed.metrics]}]}
        ],
    }
    (folder / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
    log = folder / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603
            [
                binary,
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'data'}",
                "--web.listen-address=127.0.0.1:0",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        found = wait_for(
            "Prometheus listening",
            lambda: (
                process.poll() is None
                and re.search(r'msg="Listening on" address=([\d.]+:\d+)', log.read_text())
            ),
        )
        url = f"http://{found.group(1)}"
        wait_for("Prometheus ready", lambda: _get(f"{url}/-/ready").startswith(b"Prometheus"))
        yield url
    finally:
        stop(process)


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
        body: bytes = response.read()
        return body


def query(url: str, expr: str) -> list[dict[str, Any]]:
    answer = json.loads(_get(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"))
    assert answer["status"] == "success", (expr, answer)
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def by(url: str, expr: str, label: str) -> dict[str, float]:
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in query(url, expr)}


def test_promql_gives_the_replays_own_counts(replayed: Replayed, prometheus: str) -> None:
    summary = replayed.summary
    expected = {
        "events": float(summary["events"]),
        "dead letters": float(summary["dead_letters"]),
        "alerts": float(summary["alerts"]),
        "decisions": {k: float(v) for k, v in summary["decisions"].items()},
        "subsidy": {
            "approved": float(summary["approved_yuan"]),
            "held": float(summary["held_yuan"]),
            "rejected": float(summary["rejected_yuan"]),
        },
    }
    assert summary["dead_letters"] > 0 and summary["alerts"] > 0  # counts worth comparing

    def observed() -> dict[str, Any]:
        s = prometheus
        return {
            "events": by(
                s, 'sum(riskmon_events_total{topic="orders",event_type!="invalid"})', ""
            ).get("", 0.0),
            "dead letters": by(s, "sum(riskmon_dead_letters_total)", "").get("", 0.0),
            "alerts": by(s, "sum(riskmon_alerts_total)", "").get("", 0.0),
            "decisions": {
                k: v
                for k, v in by(s, "sum by (decision) (riskmon_decisions_total)", "decision").items()
                if v
            },
            "subsidy": {
                k: round(v, 2)
                for k, v in by(
                    s, "sum by (outcome) (riskmon_subsidy_yuan_total)", "outcome"
                ).items()
            },
        }

    # Prometheus applies new scrape targets in 5 s steps: the first samples take that long
    last = wait_for("PromQL to agree", lambda: observed() == expected or None, fail=False)
    if last is not True:
        assert observed() == expected
    assert by(prometheus, 'up{job="riskmon"}', "job") == {"riskmon": 1.0}


def test_the_shipped_budget_rule_fires_on_the_replays_metrics(prometheus: str) -> None:
    firing = wait_for(
        "RiskmonBudgetUsed firing",
        lambda: query(prometheus, 'ALERTS{alertname="RiskmonBudgetUsed",alertstate="firing"}'),
    )
    fired = {(a["metric"]["budget_line"], a["metric"]["threshold"]) for a in firing}
    assert fired == {("digital", "50")}
    ratio = by(prometheus, "sum by (budget_line) (riskmon_budget_used_ratio)", "budget_line")
    assert 0.5 <= ratio["digital"] < 0.8
    assert ratio["appliances"] < 0.5


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_dashboard_query_runs(path: Path, prometheus: str, replayed: Replayed) -> None:
    wait_for("a first scrape", lambda: query(prometheus, "riskmon_budget_used_ratio"))
    # rate() and increase() need two samples in their window
    wait_for("a second scrape", lambda: query(prometheus, "count_over_time(up[1m]) >= 2"))
    empty = []
    for title, expr in dashboard_queries(path):
        if not query(prometheus, with_variables(expr)):
            empty.append(title)
    # a replay has no lag, delay or processing histogram (worker measurements); the rest of
    # the budget dashboard reads what the replay reports
    if path.stem == "riskmon-budget":
        assert {"Budget used per line", "Spend against budget"}.isdisjoint(empty), empty
    if path.stem == "riskmon-risk":
        # the replay learns from a day's verdicts: every model panel has figures
        models = {
            title
            for title, expr in dashboard_queries(path)
            if re.search(r"riskmon_(model|anomaly|learning)_", expr)
        }
        assert len(models) == 9 and models.isdisjoint(empty), (sorted(models), empty)


def test_promql_gives_the_learners_quality(replayed: Replayed, prometheus: str) -> None:
    figures = replayed.summary["learning"]
    assert figures["classifier_labels"] > 100  # a day's verdicts: an AUC worth comparing
    expected = {
        ("riskmon_model_auc", "all"): figures["classifier_auc"],
        ("riskmon_model_auc", "recent"): figures["classifier_auc_recent"],
        ("riskmon_model_precision", ""): figures["classifier_precision"],
        ("riskmon_model_recall", ""): figures["classifier_recall"],
        ("riskmon_model_labels_total", "learnt"): figures["classifier_labels"],
        ("riskmon_model_labels_total", "unmatched"): figures["labels_unmatched"],
        ("riskmon_model_pending_orders", ""): figures["labels_pending_orders"],
        ("riskmon_anomaly_threshold", ""): figures["anomaly_threshold"],
        ("riskmon_learning_events_total", "order"): figures["orders_total"],
        ("riskmon_learning_alerts_total", "edge_burst"): figures["edge_burst_alerts"],
    }

    def observed() -> dict[tuple[str, str], float]:
        seen = {}
        for name in {name for name, _ in expected}:
            for r in query(prometheus, name):
                labels = r["metric"]
                key = labels.get("window") or labels.get("state") or labels.get("kind", "")
                seen[(name, labels.get("detector", key))] = float(r["value"][1])
        return {k: v for k, v in seen.items() if k in expected}

    def same(a: dict[tuple[str, str], float]) -> bool:
        return a.keys() == expected.keys() and all(
            a[k] == pytest.approx(v, nan_ok=True) for k, v in expected.items()
        )

    last = wait_for("the learner's figures in PromQL", lambda: same(observed()), fail=False)
    if last is not True:
        assert observed() == expected
    assert not query(prometheus, 'ALERTS{alertname="RiskmonClassifierAUCLow"}')


def test_panels_render_from_prometheus(prometheus: str, tmp_path: Path) -> None:
    out = tmp_path / "panels.png"
    result = CliRunner().invoke(app, ["panels", "--prometheus", prometheus, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 20_000
