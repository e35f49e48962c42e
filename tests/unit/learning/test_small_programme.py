"""A programme of a few hundred orders a day, the size of the data sets riskmon is judged on:
the learning detectors' thresholds settle within days there, not after 10,000 orders (more than
that programme's month, when only the classifier ever spoke), and what they then raise stands.
"""

from __future__ import annotations

import pytest

from detectors.learning import Learner, LearningConfig
from replay import Replay
from replay.learning import LearningRun
from schemas.rules import load_rules
from simulation.evaluate import Evaluation, evaluate
from simulation.generator import generate


@pytest.fixture(scope="module")
def small_month(tmp_path_factory: pytest.TempPathFactory) -> Evaluation:
    folder = tmp_path_factory.mktemp("small")
    # seed 11: its slow rings come in the first half of the month
    generate(11, 30, folder, events_per_day=420, unnamed=True, labels=True)
    rules = load_rules()
    run = LearningRun(Learner(rules, LearningConfig()), folder / "labels.jsonl")
    Replay(rules, learning=run).run(
        folder / "events.jsonl",
        catalog=folder / "catalog.jsonl",
        alerts_out=folder / "alerts.jsonl",
        decisions_out=folder / "decisions.jsonl",
    )
    return evaluate(folder / "truth.jsonl", folder / "alerts.jsonl", folder / "decisions.jsonl")


def test_slow_rings_are_found_in_a_small_programme(small_month: Evaluation) -> None:
    # 6,462 paid orders: before, the ring's threshold waited for 10,000 and found none
    drip = small_month.by_pattern["slow_drip_ring"]
    assert drip.recall >= 0.9, drip
    assert small_month.by_detector["long_ring"].precision >= 0.95


def test_a_merchant_that_turns_in_its_first_week_is_found(small_month: Evaluation) -> None:
    # before it had 60 fates of its own: no past to depart from, its peers' rate the evidence
    drift = small_month.by_pattern["merchant_drift"]
    assert drift.recall >= 0.6, drift
    assert small_month.by_detector["merchant_drift"].precision >= 0.95


def test_what_the_models_raise_there_stands_on_its_own(small_month: Evaluation) -> None:
    for detector in ("long_ring", "edge_burst", "classifier"):
        score = small_month.by_detector.get(detector)
        assert score is not None and score.precision >= 0.9, (detector, score)
    rules, *_, combined = small_month.ladder.values()  # the rules alone, then every model
    assert combined.recall > rules.recall and combined.precision >= 0.97


def test_a_threshold_reads_its_quantile_once_one_score_lies_beyond_it() -> None:
    learner = Learner(load_rules(), LearningConfig(warmup_orders=100))
    assert learner.thresholds["long_ring"].warmup == 100  # q 0.99: 1/(1-q), not 10/(1-q)
    assert learner.thresholds["edge_burst"].warmup == 1000  # q 0.999
