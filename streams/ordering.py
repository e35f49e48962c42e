"""Watch tickets in event-time order across the `orders` partitions, up to a low watermark.

The behavioural detectors count events in event-time windows (three consumers at one address
within 72 hours...), as the replay sees them: in the order they happened. `orders` is
partitioned by consumer, so one partition may run ahead of another: by milliseconds when all
is well, by hours of event time when a worker dies and its partitions wait for a new holder
while the others race through a backlog. A window that has moved on past the late events then
never sees them together with the early ones, and an alert is lost.

So the decide stage holds each watch ticket until every `orders` partition that holds back has
reached the ticket's event time (the low watermark), then releases the ready ones in the order
they arrived. A partition holds back while it is "behind": the highest offset any reader has
reported read from it is short of the highest end any reader's fetch saw (each intake batch
reports both; maxima, so a late report from a worker that lost the partition since changes
nothing), and while it has
had a record appended within `idle_after` seconds of the newest record from any partition
(append time, from the records: the same on a redo, unlike the clock). A partition behind holds
back however old its last record: its reader died with orders unread, and they come when a new
reader takes it, some seconds later. When the stage has had no input for a while (a runtime's
timer), only the partitions behind still hold back: the tail of a stream goes out without
waiting for the next order.

With one `orders` partition the watermark is that partition's newest event time, every ticket
is ready when it arrives, and the order is the replay's.

The held tickets live in the decide stage's saved state (`watch_pending`, `partition_time`,
`partition_read`, `watch_clock`), so a crash or a rebalance loses none and a redo releases
them at the same points.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from detectors.watch import Watch
from streams.state import PartitionStore

# seconds of append time without a record after which a partition no longer holds back: longer
# than a dead worker's partitions take to reach a new reader (a session timeout of 10 s, then a
# rebalance: 17 s on tansu), as a reader that died having read all it held is not "behind" and
# its partitions' records appended since are known to nobody until then
IDLE_AFTER = 30.0
ALL = "all"  # the key of the tables of every orders partition


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
        # the held tickets by event time (built from the store on first use): a release takes
        # the ready ones off the top, instead of sorting everything held at every frame
        self._by_time: list[tuple[float, str]] | None = None

    def note(self, partition: int, event_time: float, appended: float) -> None:
        """A record of `orders` partition `partition` has been decided."""
        _keep_highest(self.store, "partition_time", partition, event_time, appended)

    def position(self, partition: int, read: int, end: int | None) -> None:
        """Where a reader of `orders` partition `partition` stood after a batch: the last
        offset it had read, and the partition's end as its fetch saw it (None: not known).

        The highest of each over every report is kept, so a report that comes late (from a
        worker that has lost the partition since) cannot make a partition that a new reader
        has read to its end look unfinished again, nor the reverse.
        """
        _keep_highest(self.store, "partition_read", partition, read, -1 if end is None else end)

    def behind(self) -> set[str]:
        """The partitions whose readers had not read everything they had been seen to hold."""
        positions = _every(self.store, "partition_read")
        return {key for key, (read, end) in positions.items() if end > read + 1}

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
        if self._by_time is not None:
            heapq.heappush(self._by_time, (event.occurred_at.timestamp(), key))

    def watermark(self, idle: bool = False) -> float:
        """The event time every partition that holds back has reached (`idle`: with no input
        for a while, only the partitions behind hold back)."""
        times = _every(self.store, "partition_time")
        behind = self.behind()
        if not times:
            return float("inf") if idle else float("-inf")
        newest = max(appended for _, appended in times.values())
        holding = [
            ts
            for key, (ts, appended) in times.items()
            if key in behind or (not idle and appended >= newest - self.idle_after)
        ]
        return float(min(holding, default=float("inf")))

    def ready(self, idle: bool = False) -> list[Ticket]:
        """The tickets the watermark has passed, in arrival order, released."""
        pending = self.store.table("watch_pending")
        if not pending:
            return []
        low = self.watermark(idle)
        by_time = self._by_time
        if by_time is None:
            by_time = self._by_time = [(item["ts"], key) for key, item in pending.items()]
            heapq.heapify(by_time)
        keys: list[str] = []
        while by_time and by_time[0][0] <= low:
            keys.append(heapq.heappop(by_time)[1])
        out: list[Ticket] = []
        for key in sorted(keys):  # numbered in arrival order
            item = pending.pop(key)
            raw = item["raw"].encode()
            event = self._events.pop(key, None)
            if event is None:
                event = self.decode(raw)
            watch = Watch(event, item["order"], item["released"], raw)
            out.append(Ticket(int(key), watch))
        return out

    def __len__(self) -> int:
        return len(self.store.table("watch_pending"))


def _every(store: PartitionStore, name: str) -> dict[str, Any]:
    """A table's one entry for every `orders` partition: {partition: [...]}.

    One entry, not one per partition: a decide batch hears of most partitions, and each
    entry changed is a changelog record, with its before-image, at every batch.
    """
    found = store.table(name).get(ALL)
    return {} if found is None else cast(dict[str, Any], found)


def _keep_highest(store: PartitionStore, name: str, partition: int, a: float, b: float) -> None:
    """Raise `partition`'s pair in table `name`'s one entry to at least (a, b), each on its own.

    The entry is changed in place and set again only when it changed: that marks it for the
    batch's save (its before-image comes from what was saved, not from this object).
    """
    table = store.table(name)
    every = table.get(ALL)
    if every is None:
        every = {}
    key = str(partition)
    seen = every.get(key)
    if seen is None:
        every[key] = [a, b]
    elif a > seen[0] or b > seen[1]:
        every[key] = [max(seen[0], a), max(seen[1], b)]
    else:
        return
    table[ALL] = every
