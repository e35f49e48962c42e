"""Watch tickets in event-time order across the `orders` partitions, up to a low watermark.

The behavioural detectors count events in event-time windows (three consumers at one address
within 72 hours...), as the replay sees them: in the order they happened. `orders` is
partitioned by consumer, so one partition may run ahead of another: by milliseconds when all
is well, by hours of event time when a worker dies and its partitions wait for a new holder
while the others race through a backlog. A window that has moved on past the late events then
never sees them together with the early ones, and an alert is lost.

So the decide stage holds each watch ticket until every active `orders` partition has reached
the ticket's event time (the low watermark), then releases the ready ones in the order they
arrived. A partition is active while it has had a record appended within `idle_after` seconds
of the newest record from any partition (append time, from the records: the same on a
redo, unlike the clock); a stage that has had no input for a while releases everything (a
runtime's timer: the tail of a stream must not wait for the next order forever).

With one `orders` partition the watermark is that partition's newest event time, every ticket
is ready when it arrives, and the order is the replay's.

The held tickets live in the decide stage's saved state (`watch_pending`, `partition_time`,
`watch_clock`), so a crash or a rebalance loses none and a redo releases them at the same
points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from detectors.watch import Watch
from streams.state import PartitionStore

IDLE_AFTER = 10.0  # seconds of append time without a record: a partition no longer holds back


@dataclass(frozen=True, slots=True)
class Ticket:
    number: int  # arrival order, over the stage's life
    watch: Watch


class WatchQueue:
    """The held tickets of one decide partition (pure: state through the partition's store)."""

    def __init__(
        self,
        store: PartitionStore,
        decode: Callable[[bytes], Any],
        idle_after: float = IDLE_AFTER,
    ) -> None:
        self.store = store
        self.decode = decode  # the raw event back to its model, for a ticket restored as JSON
        self.idle_after = idle_after
        self._events: dict[str, Any] = {}  # held ticket -> its event, while in this process

    def note(self, partition: int, event_time: float, appended: float) -> None:
        """A record of `orders` partition `partition` has been decided."""
        times = self.store.table("partition_time")
        key = str(partition)
        seen = times.get(key)
        if seen is None:
            times[key] = [event_time, appended]
        elif event_time > seen[0] or appended > seen[1]:
            times[key] = [max(seen[0], event_time), max(seen[1], appended)]

    def hold(self, watch: Watch) -> None:
        clock = self.store.table("watch_clock")
        number = clock.get("n", 0)
        clock["n"] = number + 1
        key = f"{number:012d}"
        event = watch.event
        self.store.table("watch_pending")[key] = {
            "ts": event.occurred_at.timestamp(),
            "raw": watch.raw.decode(),
            "order": watch.order,
            "released": watch.released,
        }
        self._events[key] = event

    def watermark(self) -> float:
        """The event time every active partition has reached."""
        times = self.store.table("partition_time")
        if not times:
            return float("-inf")
        newest = max(appended for _, appended in times.values())
        active = [ts for ts, appended in times.values() if appended >= newest - self.idle_after]
        return float(min(active))

    def ready(self, everything: bool = False) -> list[Ticket]:
        """The tickets the watermark has passed (or all of them), in arrival order, released."""
        pending = self.store.table("watch_pending")
        if not pending:
            return []
        low = float("inf") if everything else self.watermark()
        out: list[Ticket] = []
        for key in sorted(pending):
            item = pending[key]
            if item["ts"] > low:
                continue
            del pending[key]
            raw = item["raw"].encode()
            event = self._events.pop(key, None)
            if event is None:
                event = self.decode(raw)
            watch = Watch(event, item["order"], item["released"], raw)
            out.append(Ticket(int(key), watch))
        return out

    def __len__(self) -> int:
        return len(self.store.table("watch_pending"))
