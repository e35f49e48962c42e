"""Stores for the reports' tests: fresh SQLite files, and one filled by a simulated replay."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from detectors.store import MemoryStore
from replay import Replay, ReplayStats
from reports import migrate
from reports.db import open_engine
from reports.observer import StoreObserver
from reports.writer import StoreWriter
from schemas.rules import ProgrammeRules, load_rules
from simulation.generator import generate


@pytest.fixture(scope="session")
def rules() -> ProgrammeRules:
    return load_rules()


@pytest.fixture
def new_store(tmp_path: Path) -> Iterator[Callable[[], Engine]]:
    """A factory of fresh, migrated SQLite stores, each disposed of at the end."""
    engines: list[Engine] = []

    def make() -> Engine:
        engine = open_engine(f"sqlite:///{tmp_path}/store-{len(engines)}.db")
        engines.append(engine)
        migrate.upgrade(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


@dataclass
class Filled:
    """A simulated set replayed into a store, with what the replay itself counted."""

    engine: Engine
    stats: ReplayStats
    state: MemoryStore  # the detectors' state after the replay (the budget's own spend)
    folder: Path


def replay_into(
    engine: Engine, folder: Path, rules: ProgrammeRules
) -> tuple[ReplayStats, MemoryStore]:
    state = MemoryStore()
    observer = StoreObserver(StoreWriter(engine), rules, batch_rows=700)  # several batches
    run = Replay(rules, state, observers=[observer])
    stats = run.run(folder / "events.jsonl", catalog=folder / "catalog.jsonl")
    return stats, state


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two simulated days: every risk pattern, cancellations, refunds, mixed baskets."""
    folder = tmp_path_factory.mktemp("simulated")
    generate(11, 2, folder, events_per_day=2500, bad_lines=3)
    return folder


@pytest.fixture(scope="session")
def filled(
    simulated: Path, rules: ProgrammeRules, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Filled]:
    folder = tmp_path_factory.mktemp("filled")
    engine = open_engine(f"sqlite:///{folder}/store.db")
    migrate.upgrade(engine)
    stats, state = replay_into(engine, simulated, rules)
    yield Filled(engine, stats, state, simulated)
    engine.dispose()
