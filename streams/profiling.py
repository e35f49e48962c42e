"""cProfile of a worker between two signals, for benchmarks (`benchmarks/authorize.py
--profile`). With `RISKMON_PROFILE_TO=PATH` in its environment, a worker starts profiling its
event loop's thread on SIGRTMIN+1 and writes the statistics to PATH on SIGRTMIN+2 (pstats
format: `python -m pstats PATH`; mode's worker has SIGUSR1 and SIGUSR2 already). cProfile
(timed by the thread's CPU clock) about triples the CPU of what it measures, and sees neither
other threads nor the broker: read its shares, not its times."""

from __future__ import annotations

import cProfile
import os
import signal
import time
from typing import Any

ENV = "RISKMON_PROFILE_TO"


def install() -> None:
    """The two handlers, when the environment asks for them (else nothing)."""
    path = os.environ.get(ENV)
    if not path:
        return
    # the thread's CPU, not the wall clock: on a shared machine a function's wall time holds
    # the moments the process waited for a core (a socket's send above all)
    profiler = cProfile.Profile(time.thread_time)

    def start(signum: int, frame: Any) -> None:
        profiler.enable()

    def stop(signum: int, frame: Any) -> None:
        profiler.disable()
        profiler.dump_stats(path)

    signal.signal(signal.SIGRTMIN + 1, start)
    signal.signal(signal.SIGRTMIN + 2, stop)
