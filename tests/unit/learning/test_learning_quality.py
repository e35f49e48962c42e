"""The issue's acceptance figures at a size the suite can afford: 18 simulated days (about
65,000 events, 2,200 verdicts) with fraud no rule names. The month's figures are in the README.
"""

from __future__ import annotations

import orjson
from simulated import Learnt

from simulation.evaluate import LEARNING
from simulation.unnamed import UNNAMED


def test_the_rules_alone_miss_every_unnamed_pattern(learnt: Learnt) -> None:
    truth = [orjson.loads(r) for r in (learnt.folder / "truth.jsonl").read_bytes().splitlines()]
    unnamed = {t["order_id"] for t in truth if t["pattern"] in UNNAMED}
    assert {t["pattern"] for t in truth} >= set(UNNAMED)
    by_rules = set()
    for raw in (learnt.out / "alerts.jsonl").read_bytes().splitlines():
        alert = orjson.loads(raw)
        if alert["detector"] not in LEARNING and alert["risk"] != "budget":
            by_rules.update(alert["order_ids"])
    for raw in (learnt.out / "decisions.jsonl").read_bytes().splitlines():
        decision = orjson.loads(raw)
        if decision["decision"] != "approve":
            by_rules.add(decision["order_id"])
    assert not by_rules & unnamed
    assert learnt.evaluation.ladder["rules alone"].precision == 1.0


def test_learning_alerts_do_not_cost_the_rules_precision(learnt: Learnt) -> None:
    """With calibrated thresholds (no quota to fill) the models add what they are sure of."""
    ladder = learnt.evaluation.ladder
    rules, combined = ladder["rules alone"], ladder["+ merchant_drift"]
    assert combined.f1 >= rules.f1 and combined.recall > rules.recall
    assert learnt.evaluation.by_detector["edge_burst"].precision >= 0.9
    # 25 % above the honest 99.9 % quantile, the anomaly score raises nothing in these 18 days
    # (on the month, 15 to 48 alerts a seed, 0.98 to 1.00 right: docs/learning.md); what it
    # raises must stand
    anomaly = learnt.evaluation.by_detector.get("anomaly")
    assert anomaly is None or anomaly.precision >= 0.9, anomaly


def test_learning_keeps_the_combined_precision_at_094(learnt: Learnt) -> None:
    combined = learnt.evaluation.ladder["+ merchant_drift"]
    assert combined.precision >= 0.94, combined


def test_combined_f1_beats_the_rules_alone(learnt: Learnt) -> None:
    ladder = learnt.evaluation.ladder
    rules, combined = ladder["rules alone"], ladder["+ merchant_drift"]
    assert combined.f1 >= rules.f1 + 0.03, (rules.f1, combined.f1)
    assert combined.precision >= 0.9


def test_anomaly_auc_on_the_order_level_unnamed_patterns(learnt: Learnt) -> None:
    auc = learnt.evaluation.auc["anomaly"]
    assert auc["order-level unnamed"] >= 0.85, auc
    for pattern in ("anomaly_basket", "odd_hour_burst", "slow_drip_ring"):
        assert auc[pattern] >= 0.8, (pattern, auc)


def test_classifier_progressive_auc_after_2000_labels(learnt: Learnt) -> None:
    figures = learnt.learner.quality()
    assert figures["classifier_labels"] >= 2000
    assert figures["classifier_auc_at_2000"] >= 0.9, figures
    assert learnt.stats.learning["classifier_auc"] >= 0.9


# Seed 21 draws a milder drift (6 days, 11-22 orders a day, 77 % refunded): found once the
# alert names the merchant's undelivered refunds of the last week, not its latest releases.
def test_merchant_drift_is_found_by_its_detector(learnt: Learnt) -> None:
    drift = learnt.evaluation.by_detector["merchant_drift"]
    assert drift.precision >= 0.9, drift
    assert learnt.evaluation.by_pattern["merchant_drift"].recall >= 0.5
