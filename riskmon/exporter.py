"""`riskmon replay --metrics-port`: the replay's metrics on /metrics while it runs, and after.

A replay of a day takes a second or so, less than a scrape interval: `--metrics-linger` keeps
the endpoint up once the replay is done so Prometheus (or `riskmon panels`) can read the final
counts. SIGTERM or Ctrl-C ends the wait early, as a normal exit.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from replay.observers import Observer
    from schemas.rules import ProgrammeRules

# A replay is a tool run on a desk: its endpoint stays on this machine.
REPLAY_ADDR = "127.0.0.1"


@contextmanager
def replay_metrics(
    rules: ProgrammeRules, port: int | None, linger: float = 0.0
) -> Iterator[list[Observer]]:
    """The observers to give the replay (none without a port); serves them until the block
    ends and `linger` seconds more. The first line on stderr names the URL (port 0: any)."""
    if port is None:
        yield []
        return
    from streams.metrics import MetricsObserver

    observer = MetricsObserver(rules)
    server = observer.serve(port, REPLAY_ADDR)
    # scripts read the address here, so it goes out at once, whatever stderr's buffering
    print(f"metrics http://{REPLAY_ADDR}:{server.port}/metrics", file=sys.stderr, flush=True)
    try:
        yield [observer]
        wait(linger)
    finally:
        server.close()


def wait(seconds: float) -> None:
    """Sleep up to `seconds`; SIGTERM or SIGINT wakes it (then the command ends normally)."""
    if seconds <= 0:
        return
    done = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        done.wait(seconds)  # signal handlers can only be set from the main thread
        return
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    for signum in before:
        signal.signal(signum, lambda *_: done.set())
    try:
        done.wait(seconds)
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
