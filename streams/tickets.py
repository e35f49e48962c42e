"""Watch tickets on their way to the watch stage: one frame per watch partition per batch.

A decided event is routed to the partition of each of its entities (a stable hash of kind and
key); a ticket per distinct partition names the entity kinds it owns there, and carries its
`seq` ([the decide offset it goes out at, its place in that release]), so a watch partition
skips what a restarted decide stage sends again (streams/watch.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from detectors.watch import Watch, Watchers
from schemas.rules import ProgrammeRules
from streams.frames import Framer
from streams.messages import WATCH_TOPIC, watch_partition
from streams.outbox import Outgoing
from streams.state import PartitionStore


class TicketFrames:
    def __init__(self, rules: ProgrammeRules, partitions: int) -> None:
        self.partitions = partitions
        self._router = Watchers(rules, PartitionStore(-1, {}), [])  # routes are pure
        self._frames: dict[int, Framer] = {}  # watch partition -> this batch's tickets

    def route(self, watch: Watch, seq: list[int]) -> None:
        """A ticket to each watch partition that holds one of the event's entities, in the
        frame that partition gets at the end of the batch."""
        owned: dict[int, list[str]] = {}
        for kind, key in self._router.routes(watch.event).items():
            owned.setdefault(watch_partition(kind, key, self.partitions), []).append(kind)
        for partition, kinds in sorted(owned.items()):
            framer = self._frames.get(partition)
            if framer is None:
                framer = self._frames[partition] = Framer()
            framer.add(watch_meta(watch, kinds, seq), watch.raw)

    def take(self) -> list[Outgoing]:
        """The batch's frames, a partition at a time; a fresh start."""
        out: list[Outgoing] = []
        for partition, framer in sorted(self._frames.items()):
            for value in framer.take():
                out.append((WATCH_TOPIC, None, value, partition, None))
        return out

    def clear(self) -> None:
        self._frames = {}


def watch_meta(watch: Watch, owned: Sequence[str], seq: list[int]) -> dict[str, Any]:
    """A watch ticket's metadata (its body is the event as it came).

    `seq` is [decide offset, ticket number]: the decide stage sends in that order, and sends
    again what follows its last saved batch after a crash, numbering the tickets as it did
    then; a watch partition skips what it has seen.
    """
    # the order's amounts go as strings, as in saved state (frames are written so): a JSON
    # number comes back a float, and Decimal(float) is not the amount
    meta: dict[str, Any] = {
        "owned": list(owned),
        "order": watch.order,
        "released": watch.released,
        "seq": seq,
    }
    if watch.allowed:
        meta["allowed"] = [list(pair) for pair in watch.allowed]
    if watch.rules:
        meta["rules"] = watch.rules
    return meta
