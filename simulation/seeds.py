"""`riskmon evaluate --seeds 1,2,3,4,5`: the quality of every detector over several simulations.

One seed's figures show that a rule is wired; their spread over seeds shows whether a threshold
was tuned to one of them. Each seed is simulated, replayed in-process and scored
(simulation/evaluate.py); the report gives, per detector and per pattern, the mean, the least
and the most, and the honest look-alike groups' false positives summed over the seeds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean

from rich.console import Group
from rich.table import Table

from simulation.evaluate import Evaluation, Score, evaluate
from simulation.generator import generate
from simulation.unnamed import UNNAMED


@dataclass
class SeedsReport:
    seeds: list[int]
    days: int
    runs: dict[int, Evaluation] = field(default_factory=dict)

    def overall(self, seed: int) -> Score:
        return self.runs[seed].overall

    def false_positives(self) -> Counter[str]:
        """Honest orders flagged per cohort, over every seed (look-alike groups and the rest)."""
        total: Counter[str] = Counter()
        for ev in self.runs.values():
            for cohort in ev.honest_by_cohort:
                total[cohort] += ev.false_positives.get(cohort, 0)
        return total

    def unnamed(self, seed: int) -> tuple[int, int]:
        """The fraud no rule names (the simulator's `--unnamed` patterns): (found, all)."""
        patterns = self.runs[seed].by_pattern
        found = [patterns[p] for p in UNNAMED if p in patterns]
        return sum(s.found for s in found), sum(s.actual for s in found)

    def honest(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for ev in self.runs.values():
            total.update(ev.honest_by_cohort)
        return total


def parse_seeds(text: str) -> list[int]:
    """Seeds as `1,2,3` or a range `1..5` (or both, comma separated).

    >>> parse_seeds("1..3,7")
    [1, 2, 3, 7]
    """
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if ".." in part:
            low, high = (int(x) for x in part.split("..", 1))
            if high < low:
                raise ValueError(f"empty range of seeds: {part}")
            seeds.extend(range(low, high + 1))
        else:
            seeds.append(int(part))
    if not seeds:
        raise ValueError("no seeds given")
    return list(dict.fromkeys(seeds))


def run_seeds(
    seeds: Iterable[int],
    days: int,
    workdir: Path,
    replay: Callable[[Path], None],
    *,
    rules_path: Path | None = None,
    progress: Callable[[int], None] | None = None,
    events_per_day: int = 3400,
    unnamed: bool = False,
    labels: bool = False,
    label_sample: float | None = None,
) -> SeedsReport:
    """Simulate, replay (`replay(folder)` writes alerts.jsonl and decisions.jsonl there, and
    scores.jsonl if it runs the models) and score each seed, in `workdir/seed-N`. `unnamed`,
    `labels` and `label_sample` are the simulator's (`riskmon simulate`): the fraud no rule
    names, and analysts' verdicts (labels.jsonl) for a replay with the models to learn from."""
    seeds = list(seeds)
    report = SeedsReport(seeds, days)
    for seed in seeds:
        if progress is not None:
            progress(seed)
        folder = workdir / f"seed-{seed}"
        (folder / "scores.jsonl").unlink(missing_ok=True)  # a run before this one's
        generate(
            seed,
            days,
            folder,
            rules_path=rules_path,
            events_per_day=events_per_day,
            unnamed=unnamed,
            labels=labels,
            label_sample=label_sample,
        )
        replay(folder)
        scores = folder / "scores.jsonl"
        report.runs[seed] = evaluate(
            folder / "truth.jsonl",
            folder / "alerts.jsonl",
            folder / "decisions.jsonl",
            scores if scores.exists() else None,
        )
    return report


def _spread(values: list[float]) -> tuple[str, str, str]:
    return f"{fmean(values):.3f}", f"{min(values):.3f}", f"{max(values):.3f}"


def format_seeds(report: SeedsReport) -> Group:
    runs = [report.runs[s] for s in report.seeds]
    per_seed = Table(title=f"Per seed ({report.days} days each)", title_justify="left")
    unnamed = any(report.unnamed(s)[1] for s in report.seeds)
    columns = ("seed", "precision", "recall", *(("unnamed found",) if unnamed else ()))
    for col in (*columns, "bad orders", "orders"):
        per_seed.add_column(col, justify="right")
    for seed in report.seeds:
        ev = report.runs[seed]
        found, actual = report.unnamed(seed)
        per_seed.add_row(
            str(seed),
            f"{ev.overall.precision:.3f}",
            f"{ev.overall.recall:.3f}",
            *((f"{found}/{actual} ({found / actual:.2f})" if actual else "-",) if unnamed else ()),
            f"{ev.positives:,}",
            f"{ev.orders:,}",
        )
    detectors = Table(
        title="Per detector: precision (orders named that are bad), mean / min / max",
        title_justify="left",
    )
    for col in ("detector", "mean", "min", "max", "named"):
        detectors.add_column(col, justify="left" if col == "detector" else "right")
    names = sorted({d for ev in runs for d in ev.by_detector})
    for name in names:
        scores = [ev.by_detector[name] for ev in runs if name in ev.by_detector]
        detectors.add_row(
            name,
            *_spread([s.precision for s in scores]),
            f"{sum(s.flagged for s in scores):,}",
        )
    patterns = Table(
        title="Per pattern: recall, mean / min / max (precision is per detector)",
        title_justify="left",
    )
    for col in ("pattern", "mean", "min", "max", "found"):
        patterns.add_column(col, justify="left" if col == "pattern" else "right")
    for name in sorted({p for ev in runs for p in ev.by_pattern}):
        scores = [ev.by_pattern[name] for ev in runs if name in ev.by_pattern]
        patterns.add_row(
            name,
            *_spread([s.recall for s in scores]),
            f"{sum(s.found for s in scores)}/{sum(s.actual for s in scores)}",
        )
    overall = Table(title="Overall, mean / min / max", title_justify="left")
    for col in ("", "mean", "min", "max"):
        overall.add_column(col, justify="left" if not col else "right")
    overall.add_row("precision", *_spread([ev.overall.precision for ev in runs]))
    overall.add_row("recall", *_spread([ev.overall.recall for ev in runs]))
    honest = Table(title="Honest orders flagged, by cohort, all seeds", title_justify="left")
    honest.add_column("cohort")
    honest.add_column("flagged", justify="right")
    flagged, counts = report.false_positives(), report.honest()
    for cohort in sorted(counts):
        honest.add_row(cohort, f"{flagged.get(cohort, 0)}/{counts[cohort]:,}")
    return Group(per_seed, overall, detectors, patterns, honest)
