"""The metric names a PromQL expression reads, and the dashboards' and rules' expressions.

Not a PromQL parser: enough of one for the expressions riskmon ships (selectors, functions,
aggregations with by/without, binary operators with on/ignoring/group_*, offsets, numbers).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = sorted((ROOT / "dashboards" / "grafana" / "dashboards").glob("*.json"))
ALERT_RULES = sorted((ROOT / "dashboards" / "prometheus" / "rules").glob("*.yml"))
# series Prometheus makes itself, not an exporter
PROMETHEUS_SERIES = {"up"}
# Grafana's variables, as a query of the integration test spells them
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__range": "1h",
    "$burn_window": "1h",
    "$programme": ".*",
}

_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def metric_names(expr: str) -> set[str]:
    """
    >>> sorted(metric_names('sum by (le) (rate(a_bucket{x=~"$v"}[5m] offset 1h)) / b + 1e3'))
    ['a_bucket', 'b']
    >>> sorted(metric_names('max by (p) (x) - on(p) group_left(q) y{z="1"} > bool 0'))
    ['x', 'y']
    """
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = _LABEL_LISTS.sub("", text)
    names = set()
    for match in re.finditer(r"(?<![\w.$])[A-Za-z_:][A-Za-z0-9_:]*", text):
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function or an aggregation
        if match.group().lower() not in _KEYWORDS:
            names.add(match.group())
    return names


def dashboard_queries(path: Path) -> Iterator[tuple[str, str]]:
    """(panel title, expression) of every panel target, and of the templating queries."""
    board = json.loads(path.read_text(encoding="utf-8"))
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]
    for variable in board.get("templating", {}).get("list", []):
        if variable["type"] == "query":
            query = variable["query"]
            text = query["query"] if isinstance(query, dict) else query
            match = re.fullmatch(r"label_values\((.+),\s*\w+\)", text)
            assert match, text
            yield f"${variable['name']}", match.group(1)


def rule_expressions() -> Iterator[tuple[str, str]]:
    for path in ALERT_RULES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                yield rule.get("alert") or rule["record"], rule["expr"]


def with_variables(expr: str) -> str:
    for name, value in sorted(GRAFANA_VARIABLES.items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace(name, value)
    assert "$" not in expr, expr
    return expr
