"""The online models' checkpoints in a Faust table: split in parts, whole or not at all.

A learner's checkpoint is a few megabytes, more than a Kafka message may be (1 MB by
default). It is written as numbered parts of at most `PART_BYTES`, then, once those are
delivered, a manifest naming their slot, how many there are, their digest and the decide
offset the models had learnt through. Checkpoints take turns between two slots, so one cut
short by a crash leaves the previous manifest and its parts whole. A restore reads the
manifest, joins its parts and checks their digest.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from detectors.learning import Learner, LearningConfig
from detectors.learning.codec import CheckpointError
from replay.learning import LearningRun
from schemas.orders import OrderPaid
from schemas.rules import ProgrammeRules
from streams.state import PartitionStore
from streams.verdicts import PendingVerdicts

log = logging.getLogger("riskmon.streams")

PART_BYTES = 512 * 1024
MANIFEST = "learner/manifest"


class CheckpointMissing(LookupError):
    """No whole checkpoint in the table: the models start afresh (the reason says why)."""


def split(blob: bytes, size: int = PART_BYTES) -> list[bytes]:
    """`blob` in parts of at most `size` bytes (one empty part for an empty blob).

    >>> [len(p) for p in split(b"x" * 5, 2)]
    [2, 2, 1]
    """
    return [blob[i : i + size] for i in range(0, len(blob), size)] or [b""]


def digest(blob: bytes) -> str:
    return hashlib.blake2b(blob, digest_size=16).hexdigest()


@dataclass(frozen=True)
class Manifest:
    slot: int  # 0 or 1: the next checkpoint writes the other
    parts: int
    size: int
    digest: str
    offset: int  # the decide offset whose batch the models had learnt through

    def dumps(self) -> bytes:
        return orjson.dumps(self.__dict__)

    @classmethod
    def loads(cls, raw: bytes) -> Manifest:
        data = orjson.loads(raw)
        return cls(
            int(data["slot"]),
            int(data["parts"]),
            int(data["size"]),
            str(data["digest"]),
            int(data["offset"]),
        )


def part_key(slot: int, index: int) -> str:
    return f"learner/{slot}/part/{index:04d}"


class Table(Protocol):
    def get(self, key: str) -> bytes | None: ...


def records(
    blob: bytes, offset: int, previous: Manifest | None
) -> tuple[list[tuple[str, bytes]], tuple[str, bytes]]:
    """The records of a checkpoint: its parts, to deliver first, and then its manifest.

    >>> parts, (key, _) = records(b"models", 41, None)
    >>> [k for k, _ in parts], key
    (['learner/0/part/0000'], 'learner/manifest')
    """
    slot = 0 if previous is None else 1 - previous.slot
    parts = split(blob)
    manifest = Manifest(slot, len(parts), len(blob), digest(blob), offset)
    keyed = [(part_key(slot, i), part) for i, part in enumerate(parts)]
    return keyed, (MANIFEST, manifest.dumps())


def manifest_of(table: Table) -> Manifest | None:
    raw = table.get(MANIFEST)
    return None if raw is None else Manifest.loads(raw)


def load(table: Table) -> tuple[bytes, Manifest]:
    """The last whole checkpoint in `table`: its bytes and its manifest."""
    raw = table.get(MANIFEST)
    if raw is None:
        raise CheckpointMissing("no checkpoint yet")
    try:
        manifest = Manifest.loads(raw)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointMissing(f"unreadable manifest: {exc}") from exc
    chunks: list[bytes] = []
    for index in range(manifest.parts):
        part = table.get(part_key(manifest.slot, index))
        if part is None:
            raise CheckpointMissing(f"part {index} of {manifest.parts} missing")
        chunks.append(part)
    blob = b"".join(chunks)
    if len(blob) != manifest.size or digest(blob) != manifest.digest:
        raise CheckpointMissing("parts do not match the manifest's digest")
    return blob, manifest


class PartitionModels:
    """The online models of one decide partition, and the decide offset they have learnt
    through. Restored from the last whole checkpoint in the stage's models table, written
    back by `checkpoint_records` (the commit protocol delivers the parts, then the manifest:
    docs/durability.md)."""

    def __init__(self, run: LearningRun, manifest: Manifest | None) -> None:
        self.run = run
        self.manifest = manifest  # of the last checkpoint written or read
        self.learnt = manifest.offset if manifest is not None else -1  # decide offset
        self.since_checkpoint = 0  # orders learnt since
        self.taught: dict[str, Any] = {}  # SKU -> the catalog product its reference came from

    @classmethod
    def restore(
        cls,
        table: Table,
        partition: int,
        rules: ProgrammeRules,
        config: LearningConfig,
    ) -> PartitionModels:
        view = Prefixed(table, f"{partition}|")
        try:
            blob, manifest = load(view)
            learner = Learner.restore(rules, config, blob)
        except CheckpointMissing as exc:
            if str(exc) != "no checkpoint yet":
                log.error("models of decide partition %d start afresh: %s", partition, exc)
            return cls(LearningRun(Learner(rules, config)), None)
        except CheckpointError as exc:
            log.error("models of decide partition %d start afresh: %s", partition, exc)
            return cls(LearningRun(Learner(rules, config)), None)
        log.warning(
            "restored the models of decide partition %d from their checkpoint at offset %d "
            "(%d orders learnt)",
            partition,
            manifest.offset,
            learner.counts["orders"],
        )
        return cls(LearningRun(learner), manifest)

    def teach_catalog(self, catalog: Mapping[str, Any], order: OrderPaid) -> None:
        """The reference prices of the order's products, from the catalog as it is."""
        for item in order.items:
            found = catalog.get(item.sku)
            if found is not None and self.taught.get(item.sku) is not found:
                self.taught[item.sku] = found
                self.run.catalog(found.entry)

    def checkpoint_records(
        self, partition: int
    ) -> tuple[list[tuple[str, bytes]], tuple[str, bytes]]:
        """The checkpoint's parts and its manifest, keyed for the stage's models table."""
        blob = self.run.learner.checkpoint()
        parts, manifest = records(blob, self.learnt, self.manifest)
        prefix = f"{partition}|"
        return [(prefix + k, v) for k, v in parts], (prefix + manifest[0], manifest[1])

    def checkpointed(self, manifest: bytes) -> None:
        self.manifest = Manifest.loads(manifest)
        self.since_checkpoint = 0


class Prefixed:
    """One partition's keys of a table, read without their prefix."""

    def __init__(self, table: Table, prefix: str) -> None:
        self.table = table
        self.prefix = prefix

    def get(self, key: str) -> bytes | None:
        return self.table.get(self.prefix + key)


class ModelsFeed:
    """The decide stage's online models: per partition, its models and its held verdicts, and
    the models' part of the current batch, applied once the deciding part has gone through
    (so a batch applied again after a failure feeds them once)."""

    def __init__(
        self,
        rules: ProgrammeRules,
        learning: LearningConfig | None,
        table: Table | None,
        max_bytes: int,
        catalog: Mapping[str, Any],
    ) -> None:
        self.rules = rules
        self.learning = learning
        self.table = table
        self.max_bytes = max_bytes
        self.catalog = catalog
        self.models: dict[int, PartitionModels] = {}
        self.verdicts: dict[int, PendingVerdicts] = {}
        # (partition, offset, a ticket | a verdict's bytes | None for an idle tick's flush)
        self._feed: list[tuple[int, int, Any]] = []

    def take_up(self, partition: int, store: PartitionStore) -> None:
        self.verdicts[partition] = PendingVerdicts(store, self.max_bytes)
        if self.learning is not None and self.table is not None:
            self.models[partition] = PartitionModels.restore(
                self.table, partition, self.rules, self.learning
            )

    def revoke(self, partition: int) -> PartitionModels | None:
        self.verdicts.pop(partition, None)
        return self.models.pop(partition, None)

    def forget(self, partition: int) -> None:
        """The partition's saved state was restored under it (a batch applied again)."""
        found = self.verdicts.get(partition)
        if found is not None:
            found.forget()
        self._feed = []

    def held(self, partition: int) -> int:
        """Verdicts waiting for the models' time (an idle tick flushes them)."""
        return len(self.verdicts[partition]) if partition in self.models else 0

    def ticket(self, partition: int, offset: int, ticket: Any) -> None:
        if partition in self.models:
            self._feed.append((partition, offset, ticket))

    def verdict(self, partition: int, offset: int, raw: bytes) -> None:
        found = self.models.get(partition)
        if found is not None:  # validated by the labels stage
            self._feed.append((partition, offset, raw))
            found.learnt = offset

    def idle(self, partition: int, offset: int) -> None:
        """The stream went quiet: the verdicts still ahead of the models' time, as a file's
        end gives them."""
        found = self.models.get(partition)
        if found is not None:
            self._feed.append((partition, offset, None))
            found.learnt = offset

    def learnt(self, partition: int, offset: int) -> None:
        found = self.models.get(partition)
        if found is not None:
            found.learnt = offset

    def apply(
        self, alert: Callable[[Any], None], failed: Callable[[str, bytes, int, int], None]
    ) -> None:
        """The batch's part for the models: released tickets in event-time order, verdicts and
        ticks as they came. A failure is the event's dead letter (`failed`) and the rest goes
        on: the models are saved by their checkpoints, not per batch, and a model is no ledger."""
        feed, self._feed = self._feed, []
        for partition, offset, item in feed:
            found = self.models.get(partition)
            if found is None:
                continue
            verdicts = self.verdicts[partition]
            try:
                if item is None:
                    for label in verdicts.flush():
                        found.run.verdict(label)
                elif isinstance(item, bytes):
                    verdicts.add(item, offset)
                else:
                    self._learn(found, verdicts, item, alert)
            except Exception as exc:
                log.error("the models failed: %s", type(exc).__name__, exc_info=exc)
                raw = item if isinstance(item, bytes) else b"" if item is None else item.watch.raw
                failed(type(exc).__name__, raw, partition, offset)

    def _learn(
        self,
        found: PartitionModels,
        verdicts: PendingVerdicts,
        ticket: Any,
        alert: Callable[[Any], None],
    ) -> None:
        """One decided event, in event-time order: first the verdicts due by its time."""
        for label in verdicts.due(ticket.at):
            found.run.verdict(label)
        event = ticket.watch.event
        if isinstance(event, OrderPaid):
            found.teach_catalog(self.catalog, event)
            found.since_checkpoint += 1
        for raised in found.run.learn(ticket.watch, ticket.at):
            alert(raised)

    def checkpoint_due(self, partition: int, every: int) -> PartitionModels | None:
        found = self.models.get(partition)
        return found if found is not None and found.since_checkpoint >= every else None
