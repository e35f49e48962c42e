"""Decided events in event-time order: what the watching detectors and the models are fed.

The behavioural detectors count events in event-time windows, and the online models learn in
sequence (ticks, decays, windows), so both must see the decided events in one order that does
not depend on how the `orders` partitions were interleaved on the way: the replay's order and
every worker's, however many partitions and workers, a backlog or a steady stream.

That order is by *partition time*, then event id. An event's partition time is the newest
event time of its `orders` partition once it has been read: its own time, unless an earlier
record of the partition was newer (an event out of order in its partition then takes that
partition's time). Each partition's times therefore never go back, whatever the interleaving,
and a runtime holds each decided event until every partition has come strictly past its time
(the watermark: the slowest partition's time), then releases the ready ones in that order.
Strictly: an event at the watermark's own instant may still have a sibling with a smaller id to
come. The replay computes the same partitions as Kafka's default partitioner (murmur2 of the
`consumer.id_hash` key) and so gives the workers' order.

An event whose time is before one already released (a partition that started late, or that a
worker stopped waiting for: streams/ordering.py) is released at once and counted as late; it
is never dropped.

>>> from detectors.examples import order
>>> from detectors.watch import Watch
>>> buffer = EventTimeBuffer(partitions=2)
>>> def read(name, partition, hour):
...     event = order(name)
...     event = event.model_copy(update={"occurred_at": event.occurred_at.replace(hour=hour)})
...     at = buffer.note(partition, event.occurred_at.timestamp())
...     buffer.hold(Watch(event), at)
>>> for name, partition, hour in (("b", 0, 2), ("a", 1, 1), ("c", 0, 3), ("d", 1, 4)):
...     read(name, partition, hour)
>>> [w.event.consumer.account_id for _, w in buffer.ready()]  # partition 0 is at 3h
['A-a', 'A-b']
>>> read("e", 1, 2)  # out of order in partition 1: it takes the partition's time, 4h
>>> [(w.event.consumer.account_id, w.event.occurred_at.hour) for _, w in buffer.drain()]
[('A-c', 3), ('A-d', 4), ('A-e', 2)]
"""

from __future__ import annotations

import heapq

from detectors.watch import Watch

Released = list[tuple[float, Watch]]  # (partition time, event), in release order


class EventTimeBuffer:
    """Held events in memory (the replay's; a worker keeps its own in saved state)."""

    def __init__(self, partitions: int = 1) -> None:
        self.partitions = partitions  # until each has been read, none of them is ready
        self._heap: list[tuple[float, str, int, Watch]] = []
        self._arrivals = 0
        self.times: dict[int, float] = {}  # orders partition -> its partition time
        self._low: float | None = None  # the slowest partition's time, until one moves
        self.released = float("-inf")  # the newest partition time released so far
        self.late = 0

    def note(self, partition: int, ts: float) -> float:
        """An event of `partition` at `ts` was read (decided, waiting for its payment, or a
        repeat); the partition's time now, which is the event's partition time."""
        now = self.times.get(partition)
        if now is None or ts > now:
            self.times[partition] = ts
            if now is None or now == self._low:  # a new partition, or the slowest one moved
                self._low = None
            now = ts
        return now

    def hold(self, watch: Watch, at: float) -> None:
        """A decided event, at its partition time `at`."""
        heapq.heappush(self._heap, (at, watch.event.event_id, self._arrivals, watch))
        self._arrivals += 1

    def watermark(self) -> float:
        low = self._low
        if low is None:
            if len(self.times) < self.partitions:
                return float("-inf")
            low = self._low = min(self.times.values())
        return low

    def ready(self) -> Released:
        """The held events strictly before the watermark, in order."""
        low = self.watermark()
        heap = self._heap
        out = []
        while heap and heap[0][0] < low:
            out.append(heapq.heappop(heap))
        return self._released(out)

    def drain(self) -> Released:
        """Everything held, in order (the end of a file)."""
        heap, self._heap = self._heap, []
        return self._released(sorted(heap, key=lambda item: item[:3]))

    def _released(self, items: list[tuple[float, str, int, Watch]]) -> Released:
        for at, *_ in items:
            if at < self.released:
                self.late += 1
            else:
                self.released = at
        return [(item[0], item[3]) for item in items]

    def __len__(self) -> int:
        return len(self._heap)
