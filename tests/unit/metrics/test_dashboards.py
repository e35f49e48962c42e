"""Dashboards, alert rules and Alertmanager: every query names a metric the code exports."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry
from promql import (
    ALERT_RULES,
    DASHBOARDS,
    PROMETHEUS_SERIES,
    ROOT,
    dashboard_queries,
    metric_names,
    rule_expressions,
)

from reports.bureau_metrics import DeliveryMetrics
from schemas.rules import load_rules
from streams.metrics import Metrics

# the workers' metrics, and those of `riskmon bureau serve`
EXPORTED = Metrics().names() | DeliveryMetrics(CollectorRegistry()).names() | PROMETHEUS_SERIES
GRAFANA = ROOT / "dashboards" / "grafana"


def test_there_are_three_dashboards_and_rules() -> None:
    assert [p.stem for p in DASHBOARDS] == ["riskmon-budget", "riskmon-operations", "riskmon-risk"]
    assert ALERT_RULES


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_query_names_only_exported_metrics(path: Path) -> None:
    queries = list(dashboard_queries(path))
    assert queries
    for title, expr in queries:
        names = metric_names(expr)
        assert names, (title, expr)
        assert names <= EXPORTED, (title, sorted(names - EXPORTED))


def test_every_alert_rule_names_only_exported_metrics() -> None:
    for alert, expr in rule_expressions():
        names = metric_names(expr)
        assert names and names <= EXPORTED, (alert, sorted(names - EXPORTED))


def test_the_issue_names_are_all_on_a_dashboard() -> None:
    used = {
        n for path in DASHBOARDS for _, expr in dashboard_queries(path) for n in metric_names(expr)
    }
    for name in (
        "riskmon_events_total",
        "riskmon_dead_letters_total",
        "riskmon_decisions_total",
        "riskmon_alerts_total",
        "riskmon_subsidy_yuan_total",
        "riskmon_budget_used_ratio",
        "riskmon_processing_seconds_bucket",
        "riskmon_event_to_decision_seconds_bucket",
        "riskmon_consumer_lag",
    ):
        assert name in used, name


def test_the_models_quality_is_on_the_risk_dashboard_and_in_a_rule() -> None:
    (risk,) = [path for path in DASHBOARDS if path.stem == "riskmon-risk"]
    used = {n for _, expr in dashboard_queries(risk) for n in metric_names(expr)}
    for name in (
        "riskmon_model_auc",
        "riskmon_model_precision",
        "riskmon_model_recall",
        "riskmon_model_labels_total",
        "riskmon_model_pending_orders",
        "riskmon_anomaly_threshold",
        "riskmon_learning_alerts_total",
    ):
        assert name in used, name
    rules = {alert: metric_names(expr) for alert, expr in rule_expressions()}
    assert rules["RiskmonClassifierAUCLow"] == {"riskmon_model_auc", "riskmon_model_labels_total"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_panels_use_the_provisioned_datasource_and_do_not_overlap(path: Path) -> None:
    provisioned = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    uid = provisioned["datasources"][0]["uid"]
    board = json.loads(path.read_text(encoding="utf-8"))
    assert board["uid"] == path.stem
    taken: set[tuple[int, int]] = set()
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == uid
        assert all(t["datasource"]["uid"] == uid for t in panel["targets"])
        assert panel.get("description"), panel["title"]
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        cells = {(pos["x"] + i, pos["y"] + j) for i in range(pos["w"]) for j in range(pos["h"])}
        assert not cells & taken, panel["title"]
        taken |= cells


def test_budget_alerts_fire_at_the_programme_thresholds() -> None:
    thresholds = sorted(
        Decimal(expr.rsplit(">=", 1)[1].strip())
        for alert, expr in rule_expressions()
        if alert == "RiskmonBudgetUsed"
    )
    assert thresholds == list(load_rules().budget_alert_thresholds)


def test_alertmanager_sends_notify_alerts_to_the_bureau() -> None:
    config = yaml.safe_load((ROOT / "dashboards" / "alertmanager" / "alertmanager.yml").read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    routes = [config["route"], *config["route"].get("routes", [])]
    assert all(route["receiver"] in receivers for route in routes)
    bureau = [r for r in routes[1:] if 'action="notify"' in r.get("matchers", [])]
    assert [r["receiver"] for r in bureau] == ["bureau"]
    # the URL is a secret of the deployment, never a placeholder host in the file
    assert receivers["bureau"]["webhook_configs"][0]["url_file"].startswith("/run/secrets/")
    # every rule that tells the bureau carries the labels the bureau's route groups by
    rules = [
        rule
        for path in ALERT_RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]
    notify = [r for r in rules if r.get("labels", {}).get("action") == "notify"]
    assert {r["alert"] for r in notify} == {"RiskmonBudgetUsed"}
    grouped = set(bureau[0]["group_by"]) - {"alertname"}
    for rule in notify:
        by = re.search(r"\bby \(([^)]*)\)", rule["expr"])
        assert by and {label.strip() for label in by.group(1).split(",")} == grouped, rule
    for inhibit in config["inhibit_rules"]:
        assert set(inhibit["equal"]) <= set(bureau[0]["group_by"])
