"""`riskmon evaluate`: alerts and decisions scored against a simulation's ground truth.

An order counts as flagged when an alert (other than a budget notification) names it or its
decision is not `approve`. Per risk R: recall is the share of R's orders flagged by anything;
precision is the share of the orders that R's alerts name which are truly bad (of any risk:
a farm's orders are also a merchant's fake orders, and either alert is right).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from rich.console import Group
from rich.table import Table

from detectors.learning import DETECTORS
from detectors.learning.quality import roc_auc
from schemas.money import to_fen
from simulation.unnamed import UNNAMED

RISKS = ("compliance", "hoarding", "arbitrage", "fraud")
# the learning stage's detectors, in the order the ladder adds them
LEARNING = DETECTORS
# the unnamed patterns a per-order score can see at payment time (a merchant's drift shows in
# its refunds, days later: the drift detector's job, not the anomaly score's)
ORDER_LEVEL = ("anomaly_basket", "odd_hour_burst", "slow_drip_ring")


@dataclass(frozen=True)
class Score:
    """Recall counts the truly bad orders found; precision, the flagged orders truly bad."""

    found: int  # bad orders flagged
    actual: int  # bad orders
    right: int  # flagged orders that are bad
    flagged: int  # flagged orders

    @property
    def precision(self) -> float:
        return self.right / self.flagged if self.flagged else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.actual if self.actual else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Evaluation:
    orders: int
    positives: int
    overall: Score
    by_risk: dict[str, Score]
    by_pattern: dict[str, Score]
    by_detector: dict[str, Score] = field(default_factory=dict)
    false_positives: Counter[str] = field(default_factory=Counter)
    honest_by_cohort: Counter[str] = field(default_factory=Counter)
    subsidy_mismatches: list[str] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)
    # overall score of the rules alone, then adding each learning detector in turn
    ladder: dict[str, Score] = field(default_factory=dict)
    # score kind -> patterns (or a group of them) -> ROC AUC against every honest order
    auc: dict[str, dict[str, float]] = field(default_factory=dict)


def _read(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def evaluate(
    truth_path: Path, alerts_path: Path, decisions_path: Path, scores_path: Path | None = None
) -> Evaluation:
    truth = {t["order_id"]: t for t in _read(truth_path)}
    alerts = [a for a in _read(alerts_path) if a["risk"] != "budget"]
    decisions = {d["order_id"]: d for d in _read(decisions_path)}
    named_by: dict[str, set[str]] = defaultdict(set)
    by_detector_named: dict[str, set[str]] = defaultdict(set)
    for alert in alerts:
        named_by[alert["risk"]].update(alert["order_ids"])
        by_detector_named[alert["detector"]].update(alert["order_ids"])
    flagged = set().union(*named_by.values()) if named_by else set()
    flagged |= {o for o, d in decisions.items() if d["decision"] != "approve"}
    flagged &= truth.keys()
    positive = {o for o, t in truth.items() if t["label"] == "fraud"}

    hits = len(flagged & positive)
    overall = Score(hits, len(positive), hits, len(flagged))
    by_risk = {}
    for risk in RISKS:
        actual = {o for o in positive if truth[o]["risk"] == risk}
        named = named_by.get(risk, set()) & truth.keys()
        by_risk[risk] = Score(len(actual & flagged), len(actual), len(named & positive), len(named))
    by_pattern = {}
    for pattern in sorted({truth[o]["pattern"] for o in positive}):
        actual = {o for o in positive if truth[o]["pattern"] == pattern}
        found = len(actual & flagged)
        by_pattern[pattern] = Score(found, len(actual), found, found)
    by_detector = {}
    for detector, named_orders in sorted(by_detector_named.items()):
        named = named_orders & truth.keys()
        right = len(named & positive)
        by_detector[detector] = Score(right, right, right, len(named))
    evaluation = Evaluation(len(truth), len(positive), overall, by_risk, by_pattern, by_detector)
    for order_id, t in truth.items():
        if t["label"] != "legit":
            continue
        evaluation.honest_by_cohort[t["cohort"]] += 1
        if order_id in flagged:
            evaluation.false_positives[t["cohort"]] += 1
        decision = decisions.get(order_id)
        if decision is None:
            evaluation.undecided.append(order_id)
            continue
        allowed = to_fen(Decimal(str(decision["allowed_subsidy"])))
        if allowed != to_fen(Decimal(str(t["expected_subsidy"]))):
            evaluation.subsidy_mismatches.append(order_id)
    evaluation.undecided.extend(o for o in positive if o not in decisions)
    evaluation.ladder = _ladder(truth, alerts, decisions, positive)
    if scores_path is not None:
        evaluation.auc = _aucs(truth, _read(scores_path))
    return evaluation


def _ladder(
    truth: dict[str, Any],
    alerts: list[dict[str, Any]],
    decisions: dict[str, Any],
    positive: set[str],
) -> dict[str, Score]:
    """The overall score of the rules alone, then with each learning detector added."""
    held = {o for o, d in decisions.items() if d["decision"] != "approve"}
    out = {}
    for n in range(len(LEARNING) + 1):
        allowed = set(LEARNING[:n])
        flagged = set(held)
        for alert in alerts:
            if alert["detector"] not in LEARNING or alert["detector"] in allowed:
                flagged.update(alert["order_ids"])
        flagged &= truth.keys()
        hits = len(flagged & positive)
        name = "rules alone" if n == 0 else "+ " + LEARNING[n - 1]
        out[name] = Score(hits, len(positive), hits, len(flagged))
    return out


def _aucs(truth: dict[str, Any], scores: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """ROC AUC of each score on each unnamed pattern (and on groups), honest orders as the
    negatives, over the orders scored after the detector's warm-up; patterns absent from the
    truth are left out."""
    present = {t["pattern"] for t in truth.values()} & set(UNNAMED)
    groups: dict[str, tuple[str, ...]] = {p: (p,) for p in UNNAMED if p in present}
    if len(present & set(ORDER_LEVEL)) > 1:
        groups["order-level unnamed"] = tuple(p for p in ORDER_LEVEL if p in present)
    if len(present) > 1:
        groups["all unnamed"] = tuple(p for p in UNNAMED if p in present)
    out: dict[str, dict[str, float]] = {}
    for kind in ("anomaly", "classifier", "edge"):
        out[kind] = {}
        for name, patterns in groups.items():
            labels, values = [], []
            for row in scores:
                t = truth.get(row["order_id"])
                if t is None or (t["label"] == "fraud" and t["pattern"] not in patterns):
                    continue
                if row[kind] is None:  # scored in the detector's warm-up: not a comparison
                    continue
                labels.append(t["label"] == "fraud")
                values.append(float(row[kind]))
            out[kind][name] = roc_auc(labels, values)
    return out


def format_evaluation(ev: Evaluation) -> Group:
    head = Table(title="Against the ground truth", title_justify="left")
    for col in ("", "precision", "recall", "F1", "orders"):
        head.add_column(col, justify="right" if col else "left")
    head.add_row("overall", *_fmt(ev.overall), f"{ev.positives:,} bad of {ev.orders:,}")
    for risk, score in ev.by_risk.items():
        head.add_row(risk, *_fmt(score), f"{score.actual:,}")
    patterns = Table(title="Per pattern (recall)", title_justify="left")
    patterns.add_column("pattern")
    patterns.add_column("flagged", justify="right")
    patterns.add_column("recall", justify="right")
    for name, score in ev.by_pattern.items():
        patterns.add_row(name, f"{score.found}/{score.actual}", f"{score.recall:.3f}")
    detectors = Table(
        title="Per detector (precision: orders named that are bad)", title_justify="left"
    )
    detectors.add_column("detector")
    detectors.add_column("bad / named", justify="right")
    detectors.add_column("precision", justify="right")
    for name, score in ev.by_detector.items():
        detectors.add_row(name, f"{score.right}/{score.flagged}", f"{score.precision:.3f}")
    honest = Table(title="Honest orders flagged, by cohort", title_justify="left")
    honest.add_column("cohort")
    honest.add_column("flagged", justify="right")
    for cohort, n in sorted(ev.honest_by_cohort.items()):
        honest.add_row(cohort, f"{ev.false_positives.get(cohort, 0)}/{n:,}")
    honest.add_row("allowed_subsidy wrong", f"{len(ev.subsidy_mismatches)}")
    honest.add_row("orders without a decision", f"{len(ev.undecided)}")
    parts: list[Table] = [head, patterns, detectors, honest]
    if any(d in ev.by_detector for d in LEARNING) or ev.auc:
        ladder = Table(title="Rules alone, then with each learning detector", title_justify="left")
        for col in ("", "precision", "recall", "F1", "flagged"):
            ladder.add_column(col, justify="right" if col else "left")
        for name, score in ev.ladder.items():
            ladder.add_row(name, *_fmt(score), f"{score.flagged:,}")
        parts.append(ladder)
    if ev.auc:
        aucs = Table(title="ROC AUC on the unnamed patterns (honest orders: the negatives)")
        aucs.title_justify = "left"
        aucs.add_column("patterns")
        kinds = list(ev.auc)
        for kind in kinds:
            aucs.add_column(kind, justify="right")
        for name in ev.auc[kinds[0]]:
            aucs.add_row(name, *(f"{ev.auc[kind][name]:.3f}" for kind in kinds))
        parts.append(aucs)
    return Group(*parts)


def _fmt(score: Score) -> tuple[str, str, str]:
    return f"{score.precision:.3f}", f"{score.recall:.3f}", f"{score.f1:.3f}"
