"""The shared vocabulary names every detector, reason, risk, action and entity the code emits,
in both languages: read off the detectors' source, so a new code without words fails here."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from reports.vocabulary import FAMILIES, LANGS, known, pair, reason, word
from schemas.controls import CONTROL_ACTIONS, CONTROL_KINDS

ROOT = Path(__file__).resolve().parents[3]
DETECTORS = sorted((ROOT / "detectors").rglob("*.py"))
CODE = re.compile(r"^[a-z][a-z_]*$")
ALERT_CALLS = {"alert", "_alert", "_track", "Alert", "_threshold_alert"}


def _strings(node: ast.AST) -> set[str]:
    return {
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and CODE.match(n.value)
    }


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _target_name(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return getattr(node, "id", "")


def emitted() -> tuple[set[str], set[str]]:
    """(the codes an alert call is given: detector, risk, severity, action, entity kind;
    the reason codes appended to a decision's problems or reasons)."""
    alert_codes: set[str] = set()
    reasons: set[str] = set()
    for path in DETECTORS:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for stmt in node.body:  # a detector family's `name` and `risk`
                    if isinstance(stmt, ast.Assign) and _target_name(stmt.targets[0]) in (
                        "name",
                        "risk",
                    ):
                        alert_codes |= _strings(stmt.value)
            elif isinstance(node, ast.Call) and _call_name(node) in ALERT_CALLS:
                args = [*node.args, *(k.value for k in node.keywords if k.arg != "evidence")]
                for arg in args:
                    if isinstance(arg, ast.Constant):
                        alert_codes |= _strings(arg)
            elif isinstance(node, ast.Call) and _call_name(node) in ("append", "extend"):
                owner = node.func.value if isinstance(node.func, ast.Attribute) else None
                if owner is not None and _target_name(owner) in ("problems", "reasons"):
                    reasons |= _strings(node)
            elif isinstance(node, ast.Assign) and _target_name(node.targets[0]) in (
                "problems",
                "DETECTORS",
            ):
                found = _strings(node.value)
                (reasons if _target_name(node.targets[0]) == "problems" else alert_codes).update(
                    found
                )
            elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple):
                names = [_target_name(t) for t in node.targets[0].elts]
                if "detector" in names and isinstance(node.value, ast.Tuple):
                    alert_codes |= _strings(node.value)
            elif isinstance(node, ast.Return) and node.value is not None:
                value = node.value
                if (
                    isinstance(value, ast.Tuple)
                    and value.elts
                    and isinstance(value.elts[0], ast.List)
                ):
                    reasons |= _strings(value.elts[0])  # product_problems' early answer
    return alert_codes, reasons


def entity_kinds() -> set[str]:
    """The kinds of entity an alert or a detector's state is about: each detector family's
    `entities`, the first element of an `(kind, key)` pair in an alert call, `ROUTES`."""
    kinds: set[str] = set()
    for path in DETECTORS:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and _target_name(node.targets[0]) in (
                "entities",
                "ROUTES",
            ):
                kinds |= _strings(node.value)
            elif isinstance(node, ast.Call) and _call_name(node) in ALERT_CALLS:
                for arg in node.args:
                    if isinstance(arg, ast.Tuple) and len(arg.elts) == 2:
                        first = arg.elts[0]
                        if isinstance(first, ast.Constant) and isinstance(first.value, str):
                            kinds.add(first.value)
    return kinds


def test_every_entity_kind_has_words() -> None:
    kinds = entity_kinds()
    assert {"consumer", "qualification", "merchant", "ip_prefix"} <= kinds  # the scan works
    assert sorted(kinds - known("entity")) == []


def test_the_scan_finds_what_it_must() -> None:
    alert_codes, reasons = emitted()
    # a scan that found nothing would pass every test below
    assert {"device_ring", "pickup_pipeline", "consumer_eligibility", "anomaly"} <= alert_codes
    assert {"sku_not_registered", "under_age", "checkout_differs", "budget_line_paused"} <= reasons


def test_every_alert_code_has_words() -> None:
    alert_codes, _ = emitted()
    families = ("detector", "risk", "severity", "action", "entity")
    missing = sorted(c for c in alert_codes if not any(pair(f"{f}:{c}") for f in families))
    assert missing == []


def test_every_reason_has_words() -> None:
    _, reasons = emitted()
    missing = sorted(r for r in reasons if pair(f"reason:{r}") is None)
    assert missing == []
    assert reason("control:C-20261205-1", "zh") == "管控指令 C-20261205-1"
    assert reason("control:C-1", "en") == "control C-1"
    assert reason("device_ring", "zh") == word("detector:device_ring", "zh")  # an alert's name


def test_controls_and_categories_have_words() -> None:
    assert set(CONTROL_ACTIONS) <= known("action")
    assert set(CONTROL_KINDS) <= known("entity")
    for path in (ROOT / "riskmon" / "rules").glob("*.toml"):
        rules = tomllib.loads(path.read_text(encoding="utf-8"))
        assert set(rules["categories"]) <= known("category"), path.name
        assert set(rules["programmes"]) <= known("programme"), path.name
        for programme in rules["programmes"].values():
            assert set(programme["budget_lines"]) <= known("line"), path.name


@pytest.mark.parametrize("family", FAMILIES)
def test_both_languages_and_distinct(family: str) -> None:
    for value in known(family):
        zh, en = (word(f"{family}:{value}", lang) for lang in LANGS)
        assert re.search(r"[\u4e00-\u9fff]", zh), (family, value, zh)  # Chinese in zh
        assert not re.search(r"[\u4e00-\u9fff]", en), (family, value, en)
        assert "_" not in en, (family, value, en)  # a word, never the code
    if family in ("detector", "risk", "severity", "status", "decision"):
        # two codes of one family never read alike (an analyst could not tell them apart)
        zh_words = [word(f"{family}:{v}", "zh") for v in known(family)]
        assert len(zh_words) == len(set(zh_words)), family


def test_unknown_keys_stay_visible() -> None:
    assert word("detector:brand_new", "zh") == "brand_new"
    assert word("nofamily", "en") == "nofamily"
