"""Replay throughput with and without the store, on the same simulated events, in one run.

    python benchmarks/store.py [--days 30] [--seed 7] [--repeat 3] [--postgres URL]

Prints events/s of the replay alone, with the SQLite store (a fresh file each time) and, given
`--postgres` (a database the script may fill and empty), with PostgreSQL; best of `--repeat`
runs, interleaved so that a busy moment of the machine weighs on every mode alike.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and would hide the `replay`
# package it measures.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402

from replay import Replay  # noqa: E402
from replay.observers import Observer  # noqa: E402
from reports import migrate  # noqa: E402
from reports.db import open_engine  # noqa: E402
from reports.observer import StoreObserver  # noqa: E402
from reports.tables import TABLES  # noqa: E402
from reports.writer import StoreWriter  # noqa: E402
from riskmon import tuning  # noqa: E402
from schemas.rules import load_rules  # noqa: E402
from simulation.generator import generate  # noqa: E402


def _empty(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(TABLES):
            connection.execute(text(f"DELETE FROM {table.name}"))  # noqa: S608


def run(folder: Path, observers: Callable[[], list[Observer]]) -> tuple[int, float]:
    engine = Replay(load_rules(), observers=observers())
    started = time.perf_counter()
    stats = engine.run(folder / "events.jsonl", catalog=folder / "catalog.jsonl")
    return stats.events, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", help="postgresql://... (emptied before each run)")
    args = parser.parse_args()
    tuning.for_throughput()
    rules = load_rules()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        generate(args.seed, args.days, folder)
        engines: dict[str, Engine] = {}
        modes: dict[str, Callable[[], list[Observer]]] = {"replay alone": list}
        counter = iter(range(1_000_000))

        def sqlite() -> list[Observer]:
            engine = engines["sqlite"] = open_engine(f"sqlite:///{folder}/store-{next(counter)}.db")
            migrate.upgrade(engine)
            return [StoreObserver(StoreWriter(engine), rules)]

        modes["replay + SQLite store"] = sqlite
        if args.postgres:
            postgres = engines["postgres"] = open_engine(args.postgres)
            migrate.upgrade(postgres)

            def to_postgres() -> list[Observer]:
                _empty(postgres)
                return [StoreObserver(StoreWriter(postgres), rules)]

            modes["replay + PostgreSQL store"] = to_postgres
        best: dict[str, float] = {}
        events = 0
        for _ in range(args.repeat):
            for name, observers in modes.items():
                events, seconds = run(folder, observers)
                best[name] = min(best.get(name, seconds), seconds)
                if "sqlite" in engines:
                    engines.pop("sqlite").dispose()
        for engine in engines.values():
            engine.dispose()
    base = events / best["replay alone"]
    table = Table(title=f"{events:,} events, {args.days} simulated days, best of {args.repeat}")
    for column in ("mode", "events/s", "µs/event", "cost vs replay alone"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for name, seconds in best.items():
        rate = events / seconds
        table.add_row(name, f"{rate:,.0f}", f"{1e6 / rate:.1f}", f"{base / rate:.2f}x")
    Console().print(table)


if __name__ == "__main__":
    main()
