"""The simulated set the learning stage's quality tests share (see conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from detectors.learning import Learner, LearningConfig
from replay import Replay
from replay.engine import ReplayStats
from replay.learning import LearningRun
from schemas.rules import load_rules
from simulation.evaluate import Evaluation, evaluate
from simulation.generator import generate


@dataclass
class Learnt:
    folder: Path
    out: Path
    stats: ReplayStats
    learner: Learner
    evaluation: Evaluation


def simulate_and_learn(folder: Path, out: Path) -> Learnt:
    """18 days (seed 21) with the unnamed patterns and labels, replayed with learning."""
    generate(21, 18, folder, unnamed=True, labels=True)
    rules = load_rules()
    learner = Learner(rules, LearningConfig())
    run = LearningRun(learner, folder / "labels.jsonl", out / "scores.jsonl")
    stats = Replay(rules, learning=run).run(
        folder / "events.jsonl",
        catalog=folder / "catalog.jsonl",
        alerts_out=out / "alerts.jsonl",
        decisions_out=out / "decisions.jsonl",
    )
    evaluation = evaluate(
        folder / "truth.jsonl", out / "alerts.jsonl", out / "decisions.jsonl", out / "scores.jsonl"
    )
    return Learnt(folder, out, stats, learner, evaluation)
