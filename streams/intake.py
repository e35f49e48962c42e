"""The intake stage: each `orders` message checked against the contract, pure.

Parsing and validation are the costly, embarrassingly parallel part, so they scale with the
`orders` partitions. What fails goes to `dead-letter` with its topic, partition, offset, reason
and raw bytes; what passes goes on to the decide stage unchanged, with its origin and append
time, in frames (streams/frames.py). Each batch's frame ends with where the batch left each of
its partitions' readers (last offset read, the partition's end as the fetch saw it), which the
decide stage's watch-ticket order needs (streams/ordering.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from replay.observers import Observer
from schemas.decode import DecodeError
from schemas.outputs import dead_letter_record, dumps
from streams.decoding import RecentOrders
from streams.frames import Framer
from streams.messages import DECIDE_TOPIC, ORDERS_HEADERS, Message
from streams.outbox import Outgoing

log = logging.getLogger("riskmon.streams")


@dataclass
class IntakeBatch:
    records: list[Outgoing] = field(default_factory=list)  # dead letters, then the frames
    frames: list[bytes] = field(default_factory=list)


class Intake:
    def __init__(
        self,
        recent: RecentOrders,
        observers: Observer,
        max_bytes: int,
        clock: Callable[[], float] = time.time,
        metrics: Any = None,
        future_tolerance: float = 86400.0,
    ) -> None:
        self.future_tolerance = future_tolerance  # seconds; 0: no check
        self.clock = clock
        self.metrics = metrics
        self.recent = recent
        self.observers = observers
        self.max_bytes = max_bytes
        self.seen: dict[int, int] = {}  # orders partition -> the last offset taken in
        self._framer = Framer()

    def apply(
        self,
        messages: Sequence[Message],
        highwater: Callable[[int], int | None],
        assigned: Iterable[int] = (),
        partitions: int | None = None,
        listed: Mapping[int, int] | None = None,
        listed_at: float | None = None,
    ) -> IntakeBatch:
        """`highwater(partition)`: the end of an `orders` partition as the consumer's last
        fetch saw it (right on tansu, unlike its ListOffsets); `assigned`: the `orders`
        partitions this worker reads; `partitions`: how many `orders` has; `listed`: every
        partition's end as the broker listed it at `listed_at`, read here or not (tansu's
        ListOffsets may answer short of a last batch, never past it). The frame reports where
        every assigned partition stands, read in this batch or not, and the listed end of those
        this worker does not read, so the decide stage knows of a partition that holds orders
        not read yet, also when its reader died having read all it had fetched and orders came
        after (streams/ordering.py)."""
        batch = IntakeBatch()
        framer = self._framer
        read: dict[int, int] = {}  # orders partition -> its last offset in this batch
        for message in messages:
            read[message.partition] = message.offset
            self._check_gap(message)
            try:
                order = self.recent.decode(message.value, self.max_bytes)
            except DecodeError as exc:
                self.observers.on_consumed("orders", "invalid")
                self._dead(batch, exc.reason, exc.message, message)
                continue
            except Exception as exc:  # no message stops the stage: said, with the type only
                log.error("intake: %s on %s", type(exc).__name__, message.origin, exc_info=exc)
                self.observers.on_consumed("orders", "invalid")
                self._dead(batch, "processing_error", f"{type(exc).__name__} in intake", message)
                if self.metrics is not None:
                    self.metrics.count_processing_error("intake")
                continue
            self.observers.on_consumed("orders", order.event_type)
            ahead = order.occurred_at.timestamp() - message.timestamp
            if message.timestamp and self.future_tolerance and ahead > self.future_tolerance:
                # an event cannot be appended before it happened: a clock gone wrong upstream,
                # whose one record would otherwise hold its partition's time far ahead
                hours = ahead / 3600
                error = f"occurred_at is {hours:,.1f} h after the record was appended"
                self._dead(batch, "occurred_in_future", error, message)
                continue
            # where it came from, for dead letters, and when it was appended, for the
            # append-to-decision delay
            framer.add(
                {"at": [message.partition, message.offset], "ts": message.timestamp}, message.value
            )
        for partition in assigned:
            if partition not in read:
                read[partition] = self.seen.get(partition, -1)
        listed = listed or {}
        pos: dict[str, list[int | None]] = {}
        for partition, offset in read.items():
            fetched, known = highwater(partition), listed.get(partition)
            end = fetched if known is None or (fetched is not None and fetched > known) else known
            pos[str(partition)] = [offset, end]
        for partition, known in listed.items():
            if partition not in read:  # not read here: nothing known of how far it was read
                pos[str(partition)] = [-1, known]
        stood: dict[str, object] = {"pos": pos}
        if partitions:
            stood["of"] = partitions
        if listed_at is not None:
            stood["la"] = listed_at
        # when this batch was in hand: the decide stage may wait for the catalog as of then
        stood["rx"] = self.clock()
        framer.add(stood, b"")
        batch.frames = framer.take()
        for value in batch.frames:
            batch.records.append((DECIDE_TOPIC, None, value, None, ORDERS_HEADERS))
        return batch

    def _dead(self, batch: IntakeBatch, reason: str, error: str, message: Message) -> None:
        record = dead_letter_record(
            reason=reason, error=error, raw=message.value, origin=message.origin
        )
        batch.records.append(("dead-letter", None, dumps(record), None, None))
        self.observers.on_dead_letter(record)

    def forget(self, partitions: set[int]) -> None:
        """Revoked: read from their commits when they come back."""
        for partition in partitions:
            self.seen.pop(partition, None)

    def _check_gap(self, message: Message) -> None:
        last = self.seen.get(message.partition)
        if last is not None and message.offset > last + 1:
            # nothing here makes gaps (no transactions, no compaction of orders): the consumer
            # did not hand these over; they are read again after a restart
            log.warning(
                "orders partition %d: offsets %d to %d were not handed to this worker",
                message.partition,
                last + 1,
                message.offset - 1,
            )
        self.seen[message.partition] = message.offset
