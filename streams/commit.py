"""The commit protocol: how a stage's batch becomes durable without transactions.

Each step of docs/durability.md is one function here, named as there; the runtime (streams/app.py)
and the in-process crash tests (tests/unit/streams/test_commit.py) call the same functions.

1. `apply`: the stage applies the batch in memory and puts its outputs in its outbox.
2. `write_changes`: each key the batch changed goes into the outbox as a changelog record,
   with its value before the batch and the batch's last offset.
3. `deliver`: outputs and changes are delivered together, every record checked; then the
   store's rows are written.
4. `mark`: a marker per partition touched, naming the batch's last offset.
5. `deliver_markers`: the markers are delivered (each starts a record batch of its own).
6. Acknowledgement: the runtime acknowledges the batch's input only when the stage asks for
   the next batch (`streams.app.batches`), so the consumer never commits past a step 5 not done.

A checkpoint of the online models is `checkpoint`: its parts (`write_parts`) delivered, then its
manifest (`write_manifest`) delivered.
"""

from __future__ import annotations

from typing import Any, Protocol

from streams.models import PartitionModels
from streams.outbox import Outbox, TableBacking
from streams.state import DurableState, PartitionStore

Touched = dict[int, tuple[PartitionStore, int]]


class StoreSink(Protocol):
    """The store (`reports.observer.StoreObserver`): rows built by the observer hooks, written
    by `aflush()` (idempotent by id) in a thread, so the event loop goes on meanwhile."""

    async def aflush(self) -> None: ...


def write_changes(state: DurableState, touched: Touched) -> None:
    """Step 2: the batch's changed keys, with their before-images, into the outbox."""
    for store, offset in touched.values():
        state.write_changes(store, offset)


async def deliver(box: Outbox, sink: StoreSink | None = None) -> list[Any]:
    """Step 3: everything in the outbox on the broker (raises if a record is not), then the
    store's rows. The records' metadata, in order."""
    sent = await box.delivered()
    if sink is not None:
        await sink.aflush()
    return sent


def mark(state: DurableState, touched: Touched) -> None:
    """Step 4: the markers, saying each partition's batch is saved whole."""
    for store, offset in touched.values():
        state.mark(store, offset)


async def deliver_markers(box: Outbox) -> None:
    """Step 5: the markers on the broker, before the batch is acknowledged."""
    await box.delivered()


async def commit(
    box: Outbox, state: DurableState, touched: Touched, sink: StoreSink | None = None
) -> list[Any]:
    """Steps 2 to 5 for a batch whose outputs (step 1) are in `box`; the outputs' metadata.

    Changes without their marker are rolled back by a restore, so they may go out with the
    outputs (one round trip to the broker less per batch); the marker, which says the outputs
    went, waits for both. Each marker goes out after its changes are delivered, so it starts a
    record batch of its own: that keeps restores whole on a broker that reports a partition's
    end as its last record batch's base offset + 1 (tansu does).
    """
    write_changes(state, touched)
    sent = await deliver(box, sink)
    if touched:
        mark(state, touched)
        await deliver_markers(box)
    return sent


async def checkpoint(
    box: Outbox, table: TableBacking, partition: int, models: PartitionModels
) -> int:
    """The models, as they are after the stage's last saved batch, made durable: the parts,
    delivered whole, then the manifest that names them. Bytes written."""
    parts, manifest = models.checkpoint_records(partition)
    write_parts(table, partition, parts)
    await deliver(box)
    write_manifest(table, partition, manifest)
    await deliver(box)
    models.checkpointed(manifest[1])
    return sum(len(value) for _, value in parts)


def write_parts(table: TableBacking, partition: int, parts: list[tuple[str, bytes]]) -> None:
    """A checkpoint's parts, in the slot the last manifest does not name."""
    for key, value in parts:
        table.put(partition, key, value)


def write_manifest(table: TableBacking, partition: int, manifest: tuple[str, bytes]) -> None:
    """The manifest naming the parts, once they are delivered whole."""
    table.put(partition, *manifest)
