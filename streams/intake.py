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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

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
    def __init__(self, recent: RecentOrders, observers: Observer, max_bytes: int) -> None:
        self.recent = recent
        self.observers = observers
        self.max_bytes = max_bytes
        self.seen: dict[int, int] = {}  # orders partition -> the last offset taken in
        self._framer = Framer()

    def apply(
        self, messages: Sequence[Message], highwater: Callable[[int], int | None]
    ) -> IntakeBatch:
        """`highwater(partition)`: the end of an `orders` partition as the consumer's last
        fetch saw it (right on tansu, unlike its ListOffsets)."""
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
                record = dead_letter_record(
                    reason=exc.reason, error=exc.message, raw=message.value, origin=message.origin
                )
                batch.records.append(("dead-letter", None, dumps(record), None, None))
                self.observers.on_dead_letter(record)
                continue
            self.observers.on_consumed("orders", order.event_type)
            # where it came from, for dead letters, and when it was appended, for the
            # append-to-decision delay
            framer.add(
                {"at": [message.partition, message.offset], "ts": message.timestamp}, message.value
            )
        framer.add({"pos": {str(p): [o, highwater(p)] for p, o in read.items()}}, b"")
        batch.frames = framer.take()
        for value in batch.frames:
            batch.records.append((DECIDE_TOPIC, None, value, None, ORDERS_HEADERS))
        return batch

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
