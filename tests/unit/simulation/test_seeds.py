"""`riskmon evaluate --seeds`: several simulations scored, with the spread (simulation/seeds.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from replay import Replay
from schemas.rules import load_rules
from simulation.seeds import format_seeds, parse_seeds, run_seeds

RULES = load_rules()


def _replay(folder: Path) -> None:
    Replay(RULES).run(
        folder / "events.jsonl",
        catalog=folder / "catalog.jsonl",
        alerts_out=folder / "alerts.jsonl",
        decisions_out=folder / "decisions.jsonl",
    )


def test_seeds_parse() -> None:
    assert parse_seeds("3,1..2,3") == [3, 1, 2]
    with pytest.raises(ValueError):
        parse_seeds("5..1")
    with pytest.raises(ValueError):
        parse_seeds(" , ")


def test_two_seeds_every_look_alike_left_alone(tmp_path: Path) -> None:
    report = run_seeds([3, 4], 3, tmp_path, _replay, events_per_day=1500)
    assert sorted(report.runs) == [3, 4]
    flagged = report.false_positives()
    honest = report.honest()
    for cohort in ("at_limits", "family", "office", "pickup_station", "repeat_local", "newcomers"):
        assert honest[cohort] > 0, cohort
        assert flagged[cohort] == 0, cohort
    for seed in (3, 4):
        overall = report.overall(seed)
        assert overall.precision >= 0.97 and overall.recall >= 0.97, seed
    console = Console(record=True, width=120)
    console.print(format_seeds(report))
    text = console.export_text()
    assert "account_farm" in text and "mean" in text and "at_limits" in text


def test_the_judged_regime_over_seeds_from_the_command_line(tmp_path: Path) -> None:
    """`--learning`: the fraud no rule names and verdicts on a random share, replayed with the
    models; the unnamed patterns' recall per seed and the models' ROC AUC come out."""
    from typer.testing import CliRunner

    from riskmon.cli import app

    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--seeds",
            "5,6",
            "--days",
            "3",
            "--events-per-day",
            "1100",
            "--learning",
            "--label-sample",
            "0.3",
            "--out",
            str(tmp_path),
        ],
        terminal_width=160,
    )
    assert result.exit_code == 0, result.output
    assert "unnamed found" in result.output and "odd_hour_burst" in result.output
    for seed in (5, 6):
        folder = tmp_path / f"seed-{seed}"
        assert (folder / "labels.jsonl").stat().st_size > 0
        assert (folder / "scores.jsonl").stat().st_size > 0  # the models ran
    refused = CliRunner().invoke(
        app, ["evaluate", "--seeds", "5", "--label-sample", "0.3", "--out", str(tmp_path)]
    )
    assert refused.exit_code == 2 and "--learning" in refused.output


def test_unnamed_counts_only_the_patterns_no_rule_names(tmp_path: Path) -> None:
    report = run_seeds([3], 2, tmp_path, _replay, events_per_day=1100)
    assert report.unnamed(3) == (0, 0)  # simulated without them
