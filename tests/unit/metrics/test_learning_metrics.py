"""The online learner's quality as metrics: the series carry `Learner.quality()`'s figures, a
replay with learning reports them as it goes and at the end, and nothing there can raise."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from detectors.learning import DETECTORS, Learner, LearningConfig
from replay import Replay, ReplayStats
from replay.engine import EXPIRE_EVERY
from replay.learning import LearningRun
from replay.observers import NullObserver
from schemas.rules import load_rules
from simulation.evaluate import LEARNING as EVALUATED
from simulation.generator import generate
from streams.learning_metrics import FAMILIES, LEARNING_DETECTORS, SERIES
from streams.metrics import Metrics, MetricsObserver

RULES = load_rules()
LABEL_NAMES = {"model", "window", "state", "kind", "detector", "reason"}


class Spy(NullObserver):
    def __init__(self) -> None:
        self.reports: list[dict[str, float]] = []

    def on_learning_quality(self, figures: Mapping[str, float]) -> None:
        self.reports.append(dict(figures))


def sample(observer: MetricsObserver, figure: str) -> float | None:
    family, values = SERIES[figure]
    name = family + ("_total" if FAMILIES[family][0] == "counter" else "")
    labels = dict(zip(FAMILIES[family][2], values, strict=True))
    return observer.metrics.registry.get_sample_value(name, labels)


def same(a: float | None, b: float) -> bool:
    return a is not None and (a == b or (math.isnan(a) and math.isnan(b)))


@dataclass
class Learnt:
    learner: Learner
    observer: MetricsObserver
    spy: Spy
    stats: ReplayStats
    lines: int


@pytest.fixture(scope="module")
def learnt(tmp_path_factory: pytest.TempPathFactory) -> Learnt:
    """A simulated day of over 4,096 lines with analysts' verdicts, replayed with learning."""
    folder = tmp_path_factory.mktemp("learning-day")
    generate(7, 1, folder, events_per_day=4600, labels=True)
    # one day: lower quantiles, which settle on fewer honest scores, so that the models speak
    learner = Learner(
        RULES, LearningConfig(warmup_orders=400, anomaly_quantile=0.98, edge_quantile=0.99)
    )
    observer, spy = MetricsObserver(RULES), Spy()
    run = LearningRun(learner, folder / "labels.jsonl")
    events = folder / "events.jsonl"
    stats = Replay(RULES, observers=[observer, spy], learning=run).run(
        events, catalog=folder / "catalog.jsonl"
    )
    return Learnt(learner, observer, spy, stats, len(events.read_bytes().splitlines()))


def test_every_series_equals_the_learners_figure(learnt: Learnt) -> None:
    observer, stats = learnt.observer, learnt.stats
    figures = learnt.learner.quality()
    assert figures["classifier_labels"] > 100 and figures["orders_total"] > 2000
    assert 0.5 < figures["classifier_auc"] <= 1.0  # both kinds of verdict: a defined AUC
    for figure in SERIES:
        assert same(sample(observer, figure), figures[figure]), figure
        assert same(sample(observer, figure), stats.learning[figure]), figure
    text = observer.metrics.exposition().decode()
    auc = figures["classifier_auc_recent"]
    assert f'riskmon_model_auc{{model="classifier",window="recent"}} {auc!r}' in text
    # the learning alerts are in the alert counter too, with their detector
    raised = {d: 0.0 for d in DETECTORS}
    for family in observer.metrics.registry.collect():
        for s in family.samples:
            if s.name == "riskmon_alerts_total" and s.labels["detector"] in raised:
                raised[s.labels["detector"]] += s.value
    assert raised == {d: figures[f"{d}_alerts"] for d in DETECTORS}
    assert sum(raised.values()) > 0


def test_a_replay_reports_the_figures_as_it_goes_and_at_the_end(learnt: Learnt) -> None:
    reports = learnt.spy.reports
    assert len(reports) == 1 + learnt.lines // EXPIRE_EVERY >= 2
    assert 0 < reports[0]["orders_total"] < reports[-1]["orders_total"]
    assert reports[-1] == learnt.stats.learning


def test_a_replay_without_learning_reports_none(tmp_path: Path) -> None:
    generate(7, 1, tmp_path, events_per_day=4600)
    spy = Spy()
    Replay(RULES, observers=[spy]).run(tmp_path / "events.jsonl")
    assert spy.reports == []


def test_missing_or_odd_figures_never_raise_and_keep_the_last_value() -> None:
    observer = MetricsObserver(RULES)
    observer.set_learning_quality({"classifier_auc": 0.93, "anomaly_threshold": 4.5})
    observer.set_learning_quality({})
    observer.set_learning_quality({"classifier_auc": "high", "unknown_figure": 1.0})  # type: ignore[dict-item]
    observer.set_learning_quality({"anomaly_threshold": None})  # type: ignore[dict-item]
    observer.set_learning_quality(None)  # type: ignore[arg-type]
    observer.on_learning_quality({"classifier_auc_recent": float("nan")})
    assert sample(observer, "classifier_auc") == 0.93
    assert sample(observer, "anomaly_threshold") == 4.5
    assert math.isnan(sample(observer, "classifier_auc_recent") or 0.0)
    assert sample(observer, "classifier_recall") is None  # never given: no sample, no guess
    observer.set_learning_quality({"classifier_auc": 0.91})
    assert sample(observer, "classifier_auc") == 0.91


def test_the_series_cover_every_figure_of_a_learner() -> None:
    # a new figure in Learner.quality() must be given a series here (or a reason it has none)
    assert set(Learner(RULES).quality()) == set(SERIES)
    assert LEARNING_DETECTORS == DETECTORS
    assert EVALUATED == DETECTORS  # the evaluation's ladder adds each of them
    names = Metrics().names()
    for family, (kind, _, _) in FAMILIES.items():
        assert family + ("_total" if kind == "counter" else "") in names


def test_labels_are_fixed_names_never_ids(learnt: Learnt) -> None:
    series = [
        s
        for family in learnt.observer.metrics.registry.collect()
        if family.name in FAMILIES
        for s in family.samples
    ]
    assert len(series) == len(SERIES)
    for s in series:
        assert set(s.labels) <= LABEL_NAMES, s
        for text in s.labels.values():
            assert re.fullmatch(r"[a-z_]+", text), s
