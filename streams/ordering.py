"""Watch tickets in event-time order across the `orders` partitions, up to a low watermark.

The behavioural detectors count events in event-time windows (three consumers at one address
within 72 hours...), as the replay sees them: in the order they happened. `orders` is
partitioned by consumer, so one partition may run ahead of another: by milliseconds when all
is well, by hours of event time when a worker dies and its partitions wait for a new holder
while the others race through a backlog. A window that has moved on past the late events then
never sees them together with the early ones, and an alert is lost.

So the decide stage holds each watch ticket until every `orders` partition that holds back has
come past the ticket's event time (the low watermark), then releases the ready ones in event-
time order (event time, then event id: detectors/sequence.py, the replay's order too), to the
watch stage and to the online models. A partition holds back while it is "behind": the highest
offset any reader has reported read from it is short of the highest end any reader's fetch saw
(each intake batch reports both; maxima, so a late report from a worker that lost the partition
since changes nothing), and while it has had a record appended within `idle_after` seconds of
the newest record from any partition (append time, from the records: the same on a redo, unlike
the clock). A partition behind holds back however old its last record: its reader died with
orders unread, and they come when a new reader takes it, some seconds later. When the stage has
had no input for a while (a runtime's timer), only the partitions behind still hold back: the
tail of a stream goes out without waiting for the next order.

With one `orders` partition the watermark is that partition's newest event time, and a ticket
is ready once a later event has come.

A partition whose reader died having read all it had fetched is not "behind" by the reports of
its readers, and orders appended to it after that are known to nobody but the broker. So every
worker has the ends of all `orders` partitions listed every 0.2 s (streams/app.py) and its
intake reports them with the time of the listing: a partition whose listed end is past what
was read is behind, a partition is quiet only up to the time of the last listing, and past a
quiet partition only the tickets of records appended before that listing go.

The held tickets live in the decide stage's saved state (`watch_pending`, `partition_time`,
`partition_read`, `watch_clock`), so a crash or a rebalance loses none and a redo releases
them at the same points.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from detectors.watch import Decided, Watch
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
    at: float  # its partition time (detectors/sequence.py)


def _decided(raw: Any) -> Decided | None:
    if raw is None:
        return None
    kind, claim, allowed, reasons = raw
    return Decided(kind, Decimal(claim), Decimal(allowed), tuple(reasons))


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
        # the held tickets by event time and id (built from the store on first use): a release
        # takes the ready ones off the top, instead of sorting everything held at every frame
        self._by_time: list[tuple[float, str, str]] | None = None
        self.late = 0  # tickets released after a later one had gone (counted, never dropped)

    def note(self, partition: int, event_time: float, appended: float) -> float:
        """A record of `orders` partition `partition` has been decided; the partition's time
        now, which is the record's partition time (detectors/sequence.py)."""
        _keep_highest(self.store, "partition_time", partition, event_time, appended)
        return float(_every(self.store, "partition_time")[str(partition)][0])

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

    def hold(self, watch: Watch, at: float, appended: float | None = None) -> None:
        """A decided event, at its partition time `at` (as `note` gave it), from a record
        appended at `appended` (None: not from `orders`)."""
        clock = self.store.table("watch_clock")
        number = clock.get("n", 0)
        clock["n"] = number + 1
        key = f"{number:012d}"
        event = watch.event
        ts, event_id = at, event.event_id
        self.store.table("watch_pending")[key] = {
            "ts": ts,
            "id": event_id,
            "raw": watch.raw.decode(),
            "order": watch.order,
            "released": watch.released,
            "decided": None if watch.decided is None else list(watch.decided),
            "watched": watch.watched,
            "allowed": [list(pair) for pair in watch.allowed],
            "rules": watch.rules,
            "ap": appended,
        }
        self._events[key] = event
        if self._by_time is not None:
            heapq.heappush(self._by_time, (ts, event_id, key))

    def watermark(self, idle: bool = False) -> float:
        """The time every partition that holds back has come to (`idle`: with no input for a
        while, only the partitions behind hold back)."""
        return self._watermark(idle)[0]

    def _watermark(self, idle: bool) -> tuple[float, float | None]:
        """The watermark, and, when a quiet partition was left out of it, the append time up
        to which that partition is known to have been quiet (None: none was left out).

        Until every `orders` partition has been heard of (`expect`), nothing is ready: one
        not read yet may hold the earliest orders. A partition behind that has had nothing
        decided yet holds everything back.
        """
        times = _every(self.store, "partition_time")
        behind = self.behind()
        if any(key not in times for key in behind):
            return float("-inf"), None
        if not idle:
            expected = self.store.table("watch_clock").get("of", 0)
            heard = set(times) | set(_every(self.store, "partition_read"))
            if len(heard) < expected:
                return float("-inf"), None
        if not times:
            return (float("inf") if idle else float("-inf")), None
        if idle:  # the tail: only the partitions behind hold back
            return float(min((times[key][0] for key in behind), default=float("inf"))), None
        # a partition is quiet once nothing was appended to it for `idle_after` up to a time
        # when every record appended is known of: the newest decided, or the last listing of
        # the ends if that is older (records appended since are known to nobody yet)
        newest = max(appended for _, appended in times.values())
        known = min(newest, self.store.table("watch_clock").get("listed", newest))
        holding = [
            ts
            for key, (ts, appended) in times.items()
            if key in behind or appended >= known - self.idle_after
        ]
        quiet = len(holding) < len(times)
        return float(min(holding, default=float("inf"))), known if quiet else None

    def forget(self) -> None:
        """The saved state was restored under it: rebuild what is cached from the tables."""
        self._events = {}
        self._by_time = None

    def stood(self, positions: dict[int, tuple[int, int | None]], of: Any, listed: Any) -> None:
        """An intake's report: its `positions`, how many partitions `orders` has (`of`) and
        when it had their ends listed (`listed`); what is not a number is left out."""
        for partition, (read, end) in positions.items():
            self.position(partition, read, end)
        if isinstance(of, int):
            self.expect(of)
        if isinstance(listed, float):
            self.listed(listed)

    def listed(self, at: float) -> None:
        """Every `orders` partition's end was listed at `at` (a reader's clock, in append
        time's terms): a record appended before then is known of, read or behind."""
        clock = self.store.table("watch_clock")
        if at > clock.get("listed", float("-inf")):
            clock["listed"] = at

    def expect(self, partitions: int) -> None:
        """`orders` has this many partitions (the most any reader has reported)."""
        clock = self.store.table("watch_clock")
        if partitions > clock.get("of", 0):
            clock["of"] = partitions

    def ready(self, idle: bool = False) -> list[Ticket]:
        """The tickets strictly before the watermark, released in event-time order (with
        `idle` and nothing behind, every ticket held)."""
        pending = self.store.table("watch_pending")
        if not pending:
            return []
        low, known = self._watermark(idle)
        by_time = self._by_time
        if by_time is None:
            by_time = [(item["ts"], item["id"], key) for key, item in pending.items()]
            heapq.heapify(by_time)
            self._by_time = by_time
        out: list[Ticket] = []
        clock = self.store.table("watch_clock")
        released = clock.get("released", float("-inf"))
        while by_time and by_time[0][0] < low:
            ts, _, key = by_time[0]
            appended = pending[key].get("ap")
            if known is not None and appended is not None and appended > known:
                # a quiet partition may have had records appended since it was last known
                # quiet, and this one came after: it waits for the next listing of the ends
                break
            heapq.heappop(by_time)
            item = pending.pop(key)
            raw = item["raw"].encode()
            event = self._events.pop(key, None)
            if event is None:
                event = self.decode(raw)
            decided = _decided(item["decided"])
            watched = item.get("watched", True)
            allowed = tuple((kind, key) for kind, key in item.get("allowed", ()))
            watch = Watch(event, item["order"], item["released"], raw, decided, watched, allowed)
            watch.rules = item.get("rules")
            out.append(Ticket(int(key), watch, ts))
            if ts < released:
                self.late += 1
            else:
                released = ts
        if out:
            clock["released"] = released
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
