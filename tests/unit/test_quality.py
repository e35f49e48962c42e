"""The acceptance figures of the core, at a size the suite can afford: a simulated week with every
pattern, replayed through every detector and scored against its ground truth.

The same command at 30 days (about 107,000 events) is in the README with its figures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from replay import Replay
from schemas.rules import load_rules
from simulation.evaluate import Evaluation, evaluate
from simulation.generator import generate


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Evaluation, Path]:
    out = tmp_path_factory.mktemp("week")
    generate(21, 7, out, events_per_day=3000, bad_lines=7)
    engine = Replay(load_rules())
    stats = engine.run(
        out / "events.jsonl",
        catalog=out / "catalog.jsonl",
        alerts_out=out / "alerts.jsonl",
        decisions_out=out / "decisions.jsonl",
        dead_letter_out=out / "dead.jsonl",
    )
    assert stats.events > 18_000
    assert sum(stats.dead_letters.values()) == 7  # the planted malformed lines, nothing else
    return evaluate(out / "truth.jsonl", out / "alerts.jsonl", out / "decisions.jsonl"), out


def test_compliance_is_exact(scored: tuple[Evaluation, Path]) -> None:
    compliance = scored[0].by_risk["compliance"]
    assert compliance.actual > 0
    assert compliance.recall == 1.0 and compliance.precision == 1.0


def test_every_other_risk_is_found(scored: tuple[Evaluation, Path]) -> None:
    ev = scored[0]
    for risk in ("hoarding", "arbitrage", "fraud"):
        assert ev.by_risk[risk].actual > 0, risk
        assert ev.by_risk[risk].recall >= 0.9, risk
    assert ev.overall.precision >= 0.95
    for pattern, score in ev.by_pattern.items():
        assert score.recall >= 0.9, pattern


def test_no_honest_look_alike_is_flagged(scored: tuple[Evaluation, Path]) -> None:
    ev = scored[0]
    for cohort in ("family", "office", "pickup_station", "repeat_local", "rebuy_after_cancel"):
        assert ev.honest_by_cohort[cohort] > 0, cohort
        assert ev.false_positives.get(cohort, 0) == 0, cohort


def test_honest_orders_are_allowed_their_subsidy_to_the_fen(
    scored: tuple[Evaluation, Path],
) -> None:
    ev = scored[0]
    assert ev.subsidy_mismatches == []
    assert ev.undecided == []


def test_no_raw_identifier_in_any_output(scored: tuple[Evaluation, Path]) -> None:
    from schemas.pseudonyms import looks_like_raw_identifier

    out = scored[1]
    for name in ("alerts.jsonl", "decisions.jsonl", "dead.jsonl"):
        assert not looks_like_raw_identifier((out / name).read_text(encoding="utf-8")), name


def test_every_test_file_has_a_name_of_its_own() -> None:
    """pytest imports test files by their base name (rootdir-based `prepend` mode): two files
    of one name in two folders stop the collection of both."""
    from collections import Counter

    names = Counter(p.name for p in Path(__file__).parents[1].rglob("test_*.py"))
    assert [name for name, n in names.items() if n > 1] == []
