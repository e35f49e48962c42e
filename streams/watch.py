"""The watch stage: the behavioural detectors, by entity, pure (no Faust, no asyncio).

Each `riskmon-watch` partition holds the state of the entities (consumer, address, device,
phone, payment account, IP prefix, merchant) that hash to it, and receives from the decide
stage one frame of watch tickets per batch: the decided events, each naming the entity kinds
whose state this partition holds. Tickets come in event-time order (streams/ordering.py) and
are numbered, so a partition skips what a restarted decide stage sends again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from detectors.alerts import Alert
from detectors.pipeline import watching_detectors
from detectors.watch import Watch, Watchers
from replay.observers import Observer
from schemas.decode import decode_publication
from schemas.outputs import dead_letter_record, dumps
from schemas.rules import ProgrammeRules
from streams.decoding import RecentOrders
from streams.failures import Failed, isolating
from streams.frames import FrameError, unframe
from streams.messages import Message
from streams.outbox import Outgoing
from streams.state import DurableState, PartitionStore

log = logging.getLogger("riskmon.streams")


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
        metrics: Any = None,
    ) -> None:
        self.metrics = metrics
        self.rules = rules
        self.state = state
        self.recent = recent
        self.observers = observers
        self.max_bytes = max_bytes
        self.watchers: dict[int, dict[str, Watchers]] = {}  # partition -> version -> them
        self._out: list[Outgoing] = []

    def apply(self, messages: Sequence[Message]) -> WatchBatch:
        """A batch of watch frames; a ticket the detectors fail on is dead-lettered and the
        batch applied again without it (streams/failures.py)."""
        return isolating(
            "watch",
            lambda failed: self._attempt(messages, failed),
            lambda: self._roll_back(messages),
            self._swap_observers,
            self.metrics,
        )

    def _swap_observers(self, observers: Observer | None) -> Observer:
        had = self.observers
        if observers is not None:
            self.observers = observers
        return had

    def _roll_back(self, messages: Sequence[Message]) -> None:
        for partition in {message.partition for message in messages}:
            store = self.state.stores.get(partition)
            if store is not None:
                self.state.roll_back(store)
        self._out = []

    def _attempt(
        self, messages: Sequence[Message], failed: dict[tuple[int, int, int], str]
    ) -> WatchBatch:
        batch = WatchBatch(records=self._out)
        for message in messages:
            store, fresh = self.state.partition(message.partition)
            if fresh or message.partition not in self.watchers:
                self._take_up(message.partition, store)
            if message.offset <= store.applied:
                continue
            if message.kind == "rules":
                self._rules(message, store)
            else:
                self._frame(message.partition, store, message, failed)
            batch.touched[message.partition] = (store, message.offset)
        self._out = []
        return batch

    def revoke(self, partitions: set[int]) -> None:
        for partition in partitions:
            self.watchers.pop(partition, None)
        self.state.revoke(partitions)

    def _take_up(self, partition: int, store: PartitionStore) -> None:
        """The partition's watchers: the runtime's rules, and every version read before."""
        versions = {self.rules.version: Watchers(self.rules, store, watching_detectors(self.rules))}
        for raw in store.table("rules_versions").values():
            rules = decode_publication(raw.encode(), max(self.max_bytes, len(raw)))
            parsed = rules.programme_rules()
            versions[parsed.version] = Watchers(parsed, store, watching_detectors(parsed))
        self.watchers[partition] = versions

    def _rules(self, message: Message, store: PartitionStore) -> None:
        """A rules version the decide stage read, before any ticket decided under it."""
        raw = message.value
        published = decode_publication(raw, max(self.max_bytes, len(raw)))
        versions = self.watchers[message.partition]
        if published.version not in versions:
            rules = published.programme_rules()
            versions[rules.version] = Watchers(rules, store, watching_detectors(rules))
            store.table("rules_versions")[rules.version] = raw.decode()

    def _frame(
        self,
        partition: int,
        store: PartitionStore,
        message: Message,
        failed: dict[tuple[int, int, int], str],
    ) -> None:
        versions = self.watchers[partition]
        base = versions[self.rules.version]
        try:
            tickets = list(unframe(message.value))
        except FrameError as exc:  # not from a decide stage: say so rather than lose it
            self._dead("malformed_frame", str(exc), message.value, message)
            return
        progress = store.table("watch_progress")
        for i, (meta, body) in enumerate(tickets):
            where = (message.partition, message.offset, i)
            try:
                seq = meta["seq"]
                if seq <= progress.get("seq", [-1, -1]):
                    continue  # sent again by a decide stage that restarted: applied here already
                progress["seq"] = seq
                if where in failed:
                    self._dead(
                        "processing_error", f"{failed[where]} in the watch stage", body, message
                    )
                    continue
                event = self.recent.decode(body, max(self.max_bytes, len(body)))
                allowed = tuple((kind, key) for kind, key in meta.get("allowed", ()))
                watch = Watch(event, meta["order"], meta["released"], allowed=allowed)
                watchers = versions.get(meta.get("rules") or "", base)
                for alert in watchers.watch(watch, frozenset(meta["owned"])):
                    self._alert(alert)
            except Exception as exc:
                raise Failed(where, type(exc).__name__) from exc

    def _alert(self, alert: Alert) -> None:
        self._out.append(("alerts", alert.entity_key.encode(), dumps(alert.record()), None, None))
        self.observers.on_alert(alert)

    def _dead(self, reason: str, error: str, raw: bytes, message: Message) -> None:
        record: dict[str, Any] = dead_letter_record(
            reason=reason, error=error, raw=raw, origin=message.origin
        )
        self._out.append(("dead-letter", None, dumps(record), None, None))
        self.observers.on_dead_letter(record)
