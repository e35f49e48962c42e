"""The watch stage: the behavioural detectors, by entity, pure (no Faust, no asyncio).

Each `riskmon-watch` partition holds the state of the entities (consumer, address, device,
phone, payment account, IP prefix, merchant) that hash to it, and receives from the decide
stage one frame of watch tickets per batch: the decided events, each naming the entity kinds
whose state this partition holds. Tickets come in event-time order (streams/ordering.py) and
are numbered, so a partition skips what a restarted decide stage sends again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from detectors.alerts import Alert
from detectors.pipeline import watching_detectors
from detectors.watch import Watch, Watchers
from replay.observers import Observer
from schemas.outputs import dead_letter_record, dumps
from schemas.rules import ProgrammeRules
from streams.decoding import RecentOrders
from streams.frames import FrameError, unframe
from streams.messages import Message
from streams.outbox import Outgoing
from streams.state import DurableState, PartitionStore


@dataclass
class WatchBatch:
    records: list[Outgoing] = field(default_factory=list)
    touched: dict[int, tuple[PartitionStore, int]] = field(default_factory=dict)


class WatchStage:
    """The watching detectors over the `riskmon-watch` partitions this worker holds."""

    def __init__(
        self,
        rules: ProgrammeRules,
        state: DurableState,
        recent: RecentOrders,
        observers: Observer,
        max_bytes: int,
    ) -> None:
        self.rules = rules
        self.state = state
        self.recent = recent
        self.observers = observers
        self.max_bytes = max_bytes
        self.watchers: dict[int, Watchers] = {}
        self._out: list[Outgoing] = []

    def apply(self, messages: Sequence[Message]) -> WatchBatch:
        batch = WatchBatch(records=self._out)
        for message in messages:
            store, fresh = self.state.partition(message.partition)
            if fresh or message.partition not in self.watchers:
                self.watchers[message.partition] = Watchers(
                    self.rules, store, watching_detectors(self.rules)
                )
            if message.offset <= store.applied:
                continue
            self._frame(self.watchers[message.partition], store, message)
            batch.touched[message.partition] = (store, message.offset)
        self._out = []
        return batch

    def revoke(self, partitions: set[int]) -> None:
        for partition in partitions:
            self.watchers.pop(partition, None)
        self.state.revoke(partitions)

    def _frame(self, watchers: Watchers, store: PartitionStore, message: Message) -> None:
        try:
            tickets = list(unframe(message.value))
        except FrameError as exc:  # not from a decide stage: say so rather than lose it
            self._dead("malformed_frame", str(exc), message)
            return
        progress = store.table("watch_progress")
        for meta, body in tickets:
            seq = meta["seq"]
            if seq <= progress.get("seq", [-1, -1]):
                continue  # sent again by a decide stage that restarted: applied here already
            progress["seq"] = seq
            event = self.recent.decode(body, max(self.max_bytes, len(body)))
            watch = Watch(event, meta["order"], meta["released"])
            for alert in watchers.watch(watch, frozenset(meta["owned"])):
                self._alert(alert)

    def _alert(self, alert: Alert) -> None:
        self._out.append(("alerts", alert.entity_key.encode(), dumps(alert.record()), None, None))
        self.observers.on_alert(alert)

    def _dead(self, reason: str, error: str, message: Message) -> None:
        record: dict[str, Any] = dead_letter_record(
            reason=reason, error=error, raw=message.value, origin=message.origin
        )
        self._out.append(("dead-letter", None, dumps(record), None, None))
        self.observers.on_dead_letter(record)
