"""The learning stage's cost: each component per event, and replay with and without it.

    python benchmarks/learning.py [--days 30] [--seed 7] [--repeat 3] [--data DIR]

On a simulated set with the unnamed patterns and analysts' labels (`riskmon simulate --unnamed
--labels`): events/s of the replay without learning and with it (labels merged in), best of
`--repeat` runs, interleaved so that a busy moment of the machine weighs on both alike, and
their ratio; then, from an instrumented run, the microseconds each learning component costs
per order it sees (per later event for the merchants' refund windows, per verdict for the
classifier's learning), the size of a checkpoint and the time to write and read it back.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would hide the
# packages it measures.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

import detectors.learning.learner as learner_module  # noqa: E402
from detectors.learning import Learner, LearningConfig  # noqa: E402
from replay import Replay  # noqa: E402
from replay.learning import LearningRun  # noqa: E402
from riskmon import tuning  # noqa: E402
from schemas.rules import load_rules  # noqa: E402
from simulation.generator import generate  # noqa: E402


def dataset(folder: Path, days: int, seed: int) -> Path:
    if not (folder / "events.jsonl").exists():
        generate(seed, days, folder, unnamed=True, labels=True)
    return folder


def replay(folder: Path, out: Path, learning: bool) -> tuple[int, float, float]:
    """(events, wall seconds, CPU seconds of this process)."""
    rules = load_rules()
    run = (
        LearningRun(Learner(rules, LearningConfig()), folder / "labels.jsonl") if learning else None
    )
    engine = Replay(rules, learning=run)
    started, cpu = time.perf_counter(), time.process_time()
    stats = engine.run(
        folder / "events.jsonl",
        catalog=folder / "catalog.jsonl",
        alerts_out=out / "alerts.jsonl",
        decisions_out=out / "decisions.jsonl",
    )
    return stats.events, time.perf_counter() - started, time.process_time() - cpu


def _timed(
    spent: dict[str, float], calls: dict[str, int], name: str, fn: Callable[..., Any]
) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - t
            calls[name] += 1

    return run


def component_costs(folder: Path) -> tuple[dict[str, float], dict[str, int], Learner, float]:
    """Seconds and calls of each component over a whole replay with learning."""
    rules = load_rules()
    learner = Learner(rules, LearningConfig())
    spent: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)

    def patch(owner: Any, attr: str, name: str) -> Callable[..., Any]:
        original = getattr(owner, attr)
        setattr(owner, attr, _timed(spent, calls, name, original))
        return original  # type: ignore[no-any-return]

    patch(learner.edges, "score", "edge bursts (MIDAS-R)")
    patch(learner.anomaly, "score", "anomaly (HST + threshold)")
    patch(learner.anomaly, "drivers", "anomaly explanations")
    patch(learner.verdicts, "probability", "classifier (score)")
    patch(learner.verdicts, "remember", "classifier (keep features)")
    patch(learner.verdicts, "learn", "classifier (learn a verdict)")
    patch(learner.merchants, "share", "merchant drift (subsidy share)")
    patch(learner.merchants, "fate", "merchant drift (refund rate)")
    patch(learner, "on_paid", "on_paid (all of it)")
    patch(learner, "on_later", "on_later (all of it)")
    original = patch(learner_module, "order_features", "features")
    try:
        run = LearningRun(learner, folder / "labels.jsonl")
        engine = Replay(rules, learning=run)
        started = time.perf_counter()
        engine.run(folder / "events.jsonl", catalog=folder / "catalog.jsonl")
        total = time.perf_counter() - started
    finally:
        setattr(learner_module, "order_features", original)  # noqa: B010
    return spent, calls, learner, total


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    parser.add_argument("--data", type=Path, help="reuse a simulated folder (with labels.jsonl)")
    args = parser.parse_args()
    tuning.for_throughput()  # as the riskmon command does
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.data or Path(tmp) / "data"
        folder.mkdir(parents=True, exist_ok=True)
        dataset(folder, args.days, args.seed)
        lines = sum(1 for _ in (folder / "events.jsonl").open("rb"))
        console.print(f"data: {lines:,} event lines in {folder}")
        runs: dict[bool, list[tuple[int, float, float]]] = {False: [], True: []}
        for _ in range(args.repeat):
            for learning in (False, True):
                runs[learning].append(replay(folder, Path(tmp), learning))
        best = {k: min(v, key=lambda r: r[2]) for k, v in runs.items()}
        spent, calls, learner, total = component_costs(folder)
        started = time.perf_counter()
        blob = learner.checkpoint()
        saving = time.perf_counter() - started
        started = time.perf_counter()
        Learner.restore(load_rules(), learner.config, blob)
        reading = time.perf_counter() - started

    # The machine is shared: wall time counts the other processes' turns too, CPU time only
    # this one's. Both are shown; the ratio is of CPU times.
    table = Table(title=f"Replay with and without learning (best of {args.repeat})")
    for col in ("", "events", "wall s", "events/s (wall)", "CPU s", "events/s (CPU)", "µs/event"):
        table.add_column(col, justify="right" if col else "left")
    for name, (n, wall, cpu) in (("without learning", best[False]), ("with learning", best[True])):
        table.add_row(
            name,
            f"{n:,}",
            f"{wall:.2f}",
            f"{n / wall:,.0f}",
            f"{cpu:.2f}",
            f"{n / cpu:,.0f}",
            f"{cpu / n * 1e6:.1f}",
        )
    console.print(table)
    n = best[True][0]
    console.print(
        f"learning costs {best[True][2] / best[False][2]:.2f}x the replay without it in CPU time "
        f"(+{(best[True][2] - best[False][2]) / n * 1e6:.1f} µs per event)"
    )
    costs = Table(title="Cost of each learning component (instrumented run)")
    for col in ("component", "calls", "µs/call", "µs/event (all events)"):
        costs.add_column(col, justify="left" if col == "component" else "right")
    for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        costs.add_row(
            name,
            f"{calls[name]:,}",
            f"{seconds / calls[name] * 1e6:.1f}",
            f"{seconds / n * 1e6:.2f}",
        )
    console.print(costs)
    quality = learner.quality()
    console.print(
        f"checkpoint: {len(blob) / 1e6:.2f} MB after {int(quality['orders_total']):,} orders, "
        f"written in {saving * 1e3:.0f} ms, read back in {reading * 1e3:.0f} ms "
        f"(instrumented run {total:.1f} s)"
    )


if __name__ == "__main__":
    main()
