"""Replay throughput against validation alone, on the same simulated events, in one run.

    python benchmarks/replay.py [--events 200000] [--seed 11] [--repeat 3]

Prints: events/s of parsing and validating every line alone (the baseline), events/s of the
whole replay (validation, every detector, decisions, alerts and dead letters written), their
ratio, and the cost of each detector in microseconds per event.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would hide the
# `replay` package it measures.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from detectors.base import Detector  # noqa: E402
from detectors.pipeline import Pipeline  # noqa: E402
from replay import Replay  # noqa: E402
from riskmon import tuning  # noqa: E402
from schemas.decode import DecodeError, decode_catalog, decode_order  # noqa: E402
from schemas.rules import load_rules  # noqa: E402
from simulation.generator import generate  # noqa: E402

EVENTS_PER_DAY = 3400


def dataset(folder: Path, events: int, seed: int) -> Path:
    days = max(1, round(events / EVENTS_PER_DAY))
    if not (folder / "events.jsonl").exists():
        generate(seed, days, folder, events_per_day=round(events / days))
    return folder


def validate_only(folder: Path) -> tuple[int, float]:
    started = time.perf_counter()
    n = 0
    with (folder / "catalog.jsonl").open("rb") as handle:
        for raw in handle:
            decode_catalog(raw.rstrip(b"\n"))
    with (folder / "events.jsonl").open("rb") as handle:
        for raw in handle:
            try:
                decode_order(raw.rstrip(b"\n"))
            except DecodeError:
                pass
            n += 1
    return n, time.perf_counter() - started


def replay(folder: Path, out: Path) -> tuple[int, float]:
    engine = Replay(load_rules())
    started = time.perf_counter()
    stats = engine.run(
        folder / "events.jsonl",
        catalog=folder / "catalog.jsonl",
        alerts_out=out / "alerts.jsonl",
        decisions_out=out / "decisions.jsonl",
        dead_letter_out=out / "dead.jsonl",
    )
    return stats.events, time.perf_counter() - started


def detector_costs(folder: Path) -> tuple[dict[str, float], int]:
    """Seconds spent in each detector's hooks over a whole replay."""
    engine = Replay(load_rules())
    spent: dict[str, float] = defaultdict(float)

    def timed(name: str, hook: Callable[..., None]) -> Callable[..., None]:
        def run(*args: Any) -> None:
            t = time.perf_counter()
            hook(*args)
            spent[name] += time.perf_counter() - t

        return run

    versioned = engine.pipeline  # one version in force here: its base pipeline decides
    old = versioned.base
    for detector in old.detectors:
        name = type(detector).__name__
        for hook in ("on_paid", "on_decided", "on_later"):
            if getattr(type(detector), hook) is not getattr(Detector, hook):
                setattr(detector, hook, timed(name, getattr(detector, hook)))
    # the pipeline binds the hooks when it is built: build it again over the timed ones
    timed_pipeline = Pipeline(
        old.rules,
        engine.store,
        **{**versioned.options, "deciding": old.deciding, "watching": old.watching},
    )
    versioned.base = timed_pipeline
    versioned._pipelines[0] = timed_pipeline
    versioned._by_version[old.rules.version] = timed_pipeline
    stats = engine.run(folder / "events.jsonl", catalog=folder / "catalog.jsonl")
    return spent, stats.events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    parser.add_argument("--data", type=Path, help="reuse a simulated folder")
    args = parser.parse_args()
    tuning.for_throughput()  # as the riskmon command does
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.data or Path(tmp) / "data"
        folder.mkdir(parents=True, exist_ok=True)
        dataset(folder, args.events, args.seed)
        lines = sum(1 for _ in (folder / "events.jsonl").open("rb"))
        console.print(f"data: {lines:,} event lines in {folder}")
        base = min((validate_only(folder) for _ in range(args.repeat)), key=lambda r: r[1])
        full = min((replay(folder, Path(tmp)) for _ in range(args.repeat)), key=lambda r: r[1])
        spent, events = detector_costs(folder)
    table = Table(title=f"Replay against validation alone (best of {args.repeat})")
    table.add_column("stage")
    table.add_column("events", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("events/s", justify="right")
    table.add_column("µs/event", justify="right")
    for name, (n, seconds) in (("parse + validate only", base), ("replay (everything)", full)):
        table.add_row(
            name, f"{n:,}", f"{seconds:.2f}", f"{n / seconds:,.0f}", f"{seconds / n * 1e6:.1f}"
        )
    console.print(table)
    console.print(
        f"replay costs {full[1] / base[1]:.2f}x validation alone "
        f"({full[0] / full[1]:,.0f} vs {base[0] / base[1]:,.0f} events/s)"
    )
    costs = Table(title="Cost of each detector (instrumented run)")
    costs.add_column("detector")
    costs.add_column("µs/event", justify="right")
    costs.add_column("share of replay", justify="right")
    for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        costs.add_row(name, f"{seconds / events * 1e6:.2f}", f"{seconds / full[1]:.1%}")
    console.print(costs)


if __name__ == "__main__":
    main()
