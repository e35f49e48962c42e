"""The worker's garbage-collection passes: young ones every tick, a full one every N ticks."""

from __future__ import annotations

import asyncio
import gc

import pytest

from riskmon import tuning
from streams.collector import Collector


def test_a_full_pass_every_n_ticks_and_young_ones_between(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    passes: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda generation=2: passes.append(generation) or 0)
    ticking = Collector(full_every=3)
    for _ in range(7):
        asyncio.run(ticking.tick())
    assert passes == [0, 0, 2, 0, 0, 2, 0]


def test_the_worker_commands_tuning_turns_the_automatic_passes_off() -> None:
    assert gc.isenabled()
    try:
        tuning.for_latency()
        assert not gc.isenabled()
    finally:
        gc.enable()
