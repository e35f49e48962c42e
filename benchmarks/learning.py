"""The learning stage's cost: each component per event, and replay with and without it.

    python benchmarks/learning.py [--days 30] [--seed 7] [--repeat 3] [--data DIR]

On a simulated set with the unnamed patterns and analysts' labels (`riskmon simulate --unnamed
--labels`): events/s of the replay without learning, with it (labels merged in) in the same
process, and with it in a process of its own beside the decide half (replay/learning_process.py,
as `riskmon replay` runs it on two cores or more), best of `--repeat` runs, interleaved so that
a busy moment of the machine weighs on all alike, and their ratios (of CPU time in one process,
of wall time for the learning process, which uses a second core); then, from an instrumented
run, the microseconds each learning component costs per order it sees (per later event for the
merchants' refund windows, per verdict for the classifier's learning), the size of a checkpoint
and the time to write and read it back. With `--compare`, each anomaly detector alone on the
same order features: ROC AUC on the unnamed order-level patterns and cost per order.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would hide the
# packages it measures.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

import detectors.learning.learner as learner_module  # noqa: E402
from detectors.learning import Learner, LearningConfig  # noqa: E402
from detectors.learning.anomaly import AnomalyStage  # noqa: E402
from detectors.learning.features import SPANS  # noqa: E402
from detectors.learning.histograms import Histograms  # noqa: E402
from detectors.learning.models import HalfSpace, Loda  # noqa: E402
from detectors.learning.quality import roc_auc  # noqa: E402
from replay import Replay  # noqa: E402
from replay.learning import LearningRun  # noqa: E402
from riskmon import tuning  # noqa: E402
from schemas.rules import load_rules  # noqa: E402
from simulation.evaluate import ORDER_LEVEL  # noqa: E402
from simulation.generator import generate, read_jsonl  # noqa: E402


def dataset(folder: Path, days: int, seed: int) -> Path:
    if not (folder / "events.jsonl").exists():
        generate(seed, days, folder, unnamed=True, labels=True)
    return folder


MODES = {
    "without": "without learning",
    "with": "with learning",
    "apart": "with learning, in its own process",
}


def replay(folder: Path, out: Path, mode: str) -> tuple[int, float, float]:
    """(events, wall seconds, CPU seconds of this process and of the learning process)."""
    rules = load_rules()
    run = (
        LearningRun(Learner(rules, LearningConfig()), folder / "labels.jsonl")
        if mode != "without"
        else None
    )
    engine = Replay(rules, learning=run, learning_process=mode == "apart")
    started, cpu = time.perf_counter(), os.times()
    stats = engine.run(
        folder / "events.jsonl",
        catalog=folder / "catalog.jsonl",
        alerts_out=out / "alerts.jsonl",
        decisions_out=out / "decisions.jsonl",
    )
    wall, now = time.perf_counter() - started, os.times()
    used = sum(now[:4]) - sum(cpu[:4])  # user and system, this process's and its children's
    return stats.events, wall, used


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


MIDWAY: dict[str, float] = {}


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
    counted = learner.on_paid
    half = sum(1 for _ in (folder / "truth.jsonl").open("rb")) // 2

    def midway(event: Any, outcome: Any, **kw: Any) -> Any:
        out = counted(event, outcome, **kw)
        if learner.counts["orders"] == half:  # the state at its largest: verdicts pending
            started = time.perf_counter()
            blob = learner.checkpoint()
            written = time.perf_counter() - started
            started = time.perf_counter()
            Learner.restore(rules, learner.config, blob)
            MIDWAY.update(orders=half, size=len(blob), written=written)
            MIDWAY["read"] = time.perf_counter() - started
        return out

    setattr(learner, "on_paid", midway)  # noqa: B010
    try:
        run = LearningRun(learner, folder / "labels.jsonl")
        engine = Replay(rules, learning=run)
        started = time.perf_counter()
        engine.run(folder / "events.jsonl", catalog=folder / "catalog.jsonl")
        total = time.perf_counter() - started
    finally:
        setattr(learner_module, "order_features", original)  # noqa: B010
    return spent, calls, learner, total


def compare_detectors(folder: Path) -> list[tuple[str, float, float]]:
    """Each anomaly detector alone on the month's order features (as the learner computed
    them), scored before learnt, over the orders after the warm-up: (name, ROC AUC on the
    order-level unnamed patterns against honest orders, µs per order)."""
    rules = load_rules()
    learner = Learner(rules, LearningConfig())
    vectors: list[tuple[str, dict[str, float]]] = []
    score = learner.anomaly.score

    def keep(x: dict[str, float], limit: float) -> tuple[float, bool]:
        vectors.append(("", dict(x)))
        return score(x, limit)

    setattr(learner.anomaly, "score", keep)  # noqa: B010
    paid = learner.on_paid

    def named(event: Any, outcome: Any, **kw: Any) -> Any:
        before = len(vectors)
        out = paid(event, outcome, **kw)
        if len(vectors) > before:
            vectors[-1] = (event.order_id, vectors[-1][1])
        return out

    setattr(learner, "on_paid", named)  # noqa: B010
    Replay(rules, learning=LearningRun(learner)).run(
        folder / "events.jsonl", catalog=folder / "catalog.jsonl"
    )
    truth = {t["order_id"]: t for t in read_jsonl(folder / "truth.jsonl")}
    warmup = LearningConfig().warmup_orders
    trees = LearningConfig().hst_trees
    detectors: dict[str, Callable[[], Any]] = {
        "Half-Space Trees (river), 10 trees": lambda: HalfSpace(seed=7, n_trees=10),
        f"Half-Space Trees (river), {trees} trees": lambda: HalfSpace(seed=7, n_trees=trees),
        "per-feature histograms": lambda: Histograms(SPANS),
        f"both, standardised ({trees} trees: the stage)": lambda: AnomalyStage(
            SPANS, seed=7, warmup=10**9, n_trees=trees
        ),
        "LODA (river)": lambda: Loda(seed=7),
    }
    out = []
    for name, make in detectors.items():
        detector = make()
        labels, scores = [], []
        started = time.process_time()
        for n, (order_id, x) in enumerate(vectors):
            if isinstance(detector, AnomalyStage):
                value = detector.score(x, float("inf"))[0]
            else:
                value = detector.score(x)
                detector.learn(x)
            t = truth.get(order_id)
            if n < warmup or t is None:
                continue
            if t["label"] == "fraud" and t["pattern"] not in ORDER_LEVEL:
                continue
            labels.append(t["label"] == "fraud")
            scores.append(value)
        seconds = time.process_time() - started
        out.append((name, roc_auc(labels, scores), seconds / len(vectors) * 1e6))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    parser.add_argument("--data", type=Path, help="reuse a simulated folder (with labels.jsonl)")
    parser.add_argument(
        "--compare", action="store_true", help="also each anomaly detector alone (LODA: slow)"
    )
    args = parser.parse_args()
    tuning.for_throughput()  # as the riskmon command does
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.data or Path(tmp) / "data"
        folder.mkdir(parents=True, exist_ok=True)
        dataset(folder, args.days, args.seed)
        lines = sum(1 for _ in (folder / "events.jsonl").open("rb"))
        console.print(f"data: {lines:,} event lines in {folder}")
        runs: dict[str, list[tuple[int, float, float]]] = {mode: [] for mode in MODES}
        for _ in range(args.repeat):
            for mode in MODES:
                runs[mode].append(replay(folder, Path(tmp), mode))
        # one process: the least CPU time; the learning process: the least wall time
        best = {k: min(v, key=lambda r: r[1 if k == "apart" else 2]) for k, v in runs.items()}
        spent, calls, learner, total = component_costs(folder)
        started = time.perf_counter()
        blob = learner.checkpoint()
        saving = time.perf_counter() - started
        started = time.perf_counter()
        Learner.restore(load_rules(), learner.config, blob)
        reading = time.perf_counter() - started
        compared = compare_detectors(folder) if args.compare else []

    # The machine is shared: wall time counts the other processes' turns too, CPU time only
    # this one's (and its learning process's). Both are shown; the ratio of the replays in one
    # process is of CPU times, that of the learning process of wall times (it uses two cores).
    table = Table(title=f"Replay with and without learning (best of {args.repeat})")
    for col in ("", "events", "wall s", "events/s (wall)", "CPU s", "events/s (CPU)", "µs/event"):
        table.add_column(col, justify="right" if col else "left")
    for mode, name in MODES.items():
        n, wall, cpu = best[mode]
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
    n = best["with"][0]
    console.print(
        f"learning costs {best['with'][2] / best['without'][2]:.2f}x the replay without it in "
        f"CPU time (+{(best['with'][2] - best['without'][2]) / n * 1e6:.1f} µs per event)"
    )
    console.print(
        f"in its own process: {best['apart'][1] / best['without'][1]:.2f}x the replay without it "
        f"in wall time ({best['with'][1] / best['without'][1]:.2f}x in one process), "
        f"{best['apart'][2] / best['without'][2]:.2f}x its CPU time on two cores"
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
    if compared:
        table = Table(title="Anomaly detectors compared (order-level unnamed patterns)")
        for col in ("detector", "ROC AUC", "µs/order"):
            table.add_column(col, justify="left" if col == "detector" else "right")
        for name, auc, cost in compared:
            table.add_row(name, f"{auc:.3f}", f"{cost:.1f}")
        console.print(table)
    quality = learner.quality()
    if MIDWAY:
        console.print(
            f"checkpoint half-way ({int(MIDWAY['orders']):,} orders, ten days of orders waiting "
            f"for verdicts): {MIDWAY['size'] / 1e6:.2f} MB, written in "
            f"{MIDWAY['written'] * 1e3:.0f} ms, read back in {MIDWAY['read'] * 1e3:.0f} ms"
        )
    console.print(
        f"checkpoint at the end: {len(blob) / 1e6:.2f} MB after "
        f"{int(quality['orders_total']):,} orders, written in {saving * 1e3:.0f} ms, read back "
        f"in {reading * 1e3:.0f} ms (instrumented run {total:.1f} s)"
    )


if __name__ == "__main__":
    main()
