"""Python's garbage collector on the worker's timer instead of its own schedule.

A worker holds a large, growing heap of long-lived objects: its detectors' state, the online
models, the orders it remembers. Python's collector starts a pass over an older generation
whenever enough objects have survived the younger passes, and a pass walks every object of
the generations it collects. At 1,000 orders/s that stopped the worker for 0.3 to 0.7 s every
20 to 30 s (a full pass), and 0.1 to 0.26 s every 10 s (the middle generation): some 1 to 2 %
of the orders waited that long, as many as a p99 of the decision delay allows
(`benchmarks/stream.py`). Almost none of it is garbage: the state is dicts and lists without
reference cycles, freed by reference counting when it goes.

So the worker command turns the automatic passes off (`riskmon.tuning.for_latency`, with the
process's other tuning) and the worker runs them itself: the young generation every `TICK`
seconds (what survived since the last pass), the whole heap every `full_every` seconds (10
minutes by default: one pause of a fraction of a second, about 0.1 % of the time). Garbage in
reference cycles that outlived a young pass waits for the full one.

A young pass walks what survived since the last one, so passes five times as often cost the
same in all and each pauses a fifth as long: at 500 checkout authorizations/s on a busy machine
a pass every second held the worker 11 ms at the median and 120 ms at p90, a pause every answer
then in flight waited out. A worker serving the checkout API passes every 0.05 s (`API_TICK`):
p99 36.0-38.9 ms against 35.2-61.0 with a pass every 0.2 s at 500/s (`benchmarks/authorize.py`,
four runs each, alternating; the same CPU per answer). A worker without it passes every 0.2 s
(`TICK`): the orders of a batch live about as long as 0.05 s, and passes that often walk them
before they go. At 1,000 events/s (`benchmarks/stream.py`), the worker's CPU per event 485-560
µs every 0.05 s (five runs) against 466-498 every 0.2 s (three), the decision delay's p99 the
same within the runs' spread (145-205 against 142-166 ms).
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger("riskmon.streams")
TICK = 0.2  # seconds between young passes
API_TICK = 0.05  # ... in a worker serving the checkout API


class Collector:
    """The passes, one `tick()` every `TICK` seconds; a full one every `full_every` ticks."""

    def __init__(self, full_every: float) -> None:
        self.full_every = max(int(full_every), 1)  # in ticks
        self.ticks = 0

    async def tick(self) -> None:
        self.ticks += 1
        full = self.ticks % self.full_every == 0
        started = time.perf_counter()
        found = gc.collect(2 if full else 0)
        if full:
            log.info(
                "full garbage collection: %d objects freed in %.0f ms",
                found,
                (time.perf_counter() - started) * 1000,
            )
