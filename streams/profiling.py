"""cProfile of a worker between two signals, for benchmarks (`benchmarks/authorize.py
--profile`). With `RISKMON_PROFILE_TO=PATH` in its environment, a worker starts profiling its
event loop's thread on SIGRTMIN+1 and writes the statistics to PATH on SIGRTMIN+2 (pstats
format: `python -m pstats PATH`; mode's worker has SIGUSR1 and SIGUSR2 already). cProfile
about doubles the CPU of what it measures, and sees neither threads nor the broker: read its
shares, not its times."""

from __future__ import annotations

import cProfile
import os
import signal
from typing import Any

ENV = "RISKMON_PROFILE_TO"


def install() -> None:
    """The two handlers, when the environment asks for them (else nothing)."""
    path = os.environ.get(ENV)
    if not path:
        return
    profiler = cProfile.Profile()

    def start(signum: int, frame: Any) -> None:
        profiler.enable()

    def stop(signum: int, frame: Any) -> None:
        profiler.disable()
        profiler.dump_stats(path)

    signal.signal(signal.SIGRTMIN + 1, start)
    signal.signal(signal.SIGRTMIN + 2, stop)
