"""Each stage run batch by batch under the commit protocol: async, but no Faust.

The Faust agents (streams/app.py) and the in-process tests (tests/unit/streams/inprocess.py)
drive the same runners: a runner takes the messages of one batch, has its stage apply them,
and delivers and saves the result by the steps of streams/commit.py (docs/durability.md).

The decide stage has five entry points that touch its state: a batch read by its agent, the
frames the intake hands over, the idle timer's ticks, a revocation and the shutdown. They take
turns under one lock, so a batch is saved whole before another starts or its partition leaves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from schemas.rules import ProgrammeRules
from streams import commit
from streams.catalog import CatalogReader
from streams.commit import StoreSink
from streams.decide import DecideStage
from streams.intake import Intake
from streams.messages import DECIDE_TOPIC, Handed, Message, follow_on
from streams.models import PartitionModels
from streams.outbox import Outbox, TableBacking
from streams.state import PartitionStore
from streams.watch import WatchStage

log = logging.getLogger("riskmon.streams")
EARLY_KEPT = 10_000  # handed frames kept behind a gap at most (the agent reads them anyway)


class IntakeRunner:
    def __init__(self, stage: Intake, box: Outbox, handed: asyncio.Queue[list[Handed]]) -> None:
        self.stage = stage
        self.box = box
        self.handed = handed

    async def batch(
        self,
        messages: Sequence[Message],
        highwater: Callable[[int], int | None],
        assigned: Iterable[int] = (),
        partitions: int | None = None,
        listed: Mapping[int, int] | None = None,
        listed_at: float | None = None,
    ) -> None:
        batch = self.stage.apply(messages, highwater, assigned, partitions, listed, listed_at)
        self.box.extend(batch.records)
        sent = await commit.deliver(self.box)  # before the batch is acknowledged
        written = [meta for meta in sent if meta.topic == DECIDE_TOPIC]
        pairs = zip(written, batch.frames, strict=True)
        self.handed.put_nowait([Handed(m.partition, m.offset, v) for m, v in pairs])


class WatchRunner:
    def __init__(self, stage: WatchStage, box: Outbox, sink: StoreSink | None) -> None:
        self.stage = stage
        self.box = box
        self.sink = sink
        self.lock = asyncio.Lock()  # a batch, or a revocation's teardown

    async def batch(self, messages: Sequence[Message]) -> None:
        async with self.lock:
            batch = self.stage.apply(messages)
            self.box.extend(batch.records)
            await commit.commit(self.box, self.stage.state, batch.touched, self.sink)

    async def revoke(self, partitions: set[int]) -> None:
        """As for the decide stage: a batch in flight is saved before the state leaves."""
        async with self.lock:
            self.stage.revoke(partitions)


class DecideRunner:
    def __init__(
        self,
        stage: DecideStage,
        box: Outbox,
        ticks: Outbox,
        models_table: TableBacking,
        sink: StoreSink | None = None,
        metrics: Any = None,
        release_idle: float = 15.0,
        monotonic: Callable[[], float] = time.monotonic,
        catalog: CatalogReader | None = None,
        catalog_margin: float = 0.02,
        catalog_timeout: float = 60.0,
        handing: asyncio.Queue[list[Handed]] | None = None,
        readback: Any = None,
    ) -> None:
        self.stage = stage
        self.box = box
        self.ticks = ticks  # the idle timer's own outbox: it must not wait for a batch's
        self.models_table = models_table
        self.sink = sink
        self.metrics = metrics
        self.release_idle = release_idle
        self.monotonic = monotonic
        # the worker's catalog reader: a frame with orders it counts against waits until it is
        # current as of the frame's arrival, plus a margin for two workers' clocks
        self.catalog = catalog
        self.catalog_margin = catalog_margin
        self.catalog_timeout = catalog_timeout
        # the frames the intake and the API have delivered, taken together by one task
        # (`streams.app.Worker._take_handed`): checkouts asked at once are decided in one
        # batch, one commit, not one after the other
        self.handing = handing
        # the agent's fetches of the partition, paused while they bring only what was handed
        # over (streams/readback.py `ReadBack`: `read(fresh)`, `behind()`); None: never paused
        self.readback = readback
        self.lock = asyncio.Lock()  # a batch, a tick's sending, or a revocation's teardown
        self._early: list[Handed] = []  # handed frames behind a gap, for the next hand-over
        # callers waiting for a checkout's answer, by its event id (streams/api.py)
        self._expected: dict[str, list[asyncio.Future[dict[str, Any] | None]]] = {}
        self.last_input = monotonic()  # when the stage last had input other than ticks

    async def read(self, messages: Sequence[Message]) -> None:
        """A batch its agent read from `riskmon-decide`.

        Most of what the agent reads the stage has decided already, handed over in process
        (the API's checkouts, the intake's frames): those are dropped here, before the lock and
        the commit of an empty batch (a tenth of the worker's time at 500 authorizations/s).
        The stage would skip them too; what it has applied only grows, and a partition it has
        not taken up (restored) yet keeps all its messages."""
        if any(message.kind != "tick" for message in messages):
            self.last_input = self.monotonic()
        stores = self.stage.state.stores
        messages = [
            m
            for m in messages
            if m.partition not in stores or m.offset > stores[m.partition].applied
        ]
        if self.readback is not None:
            # checkouts are the API's, appended here: read before their hand-over, they are
            # decided now all the same, and nobody waits behind them for a read
            self.readback.read(any(m.kind != "checkout" for m in messages))
        if not messages:
            return
        async with self.lock:
            await self._batch(messages, "read")

    async def handed(self, frames: list[Handed]) -> None:
        """Frames the intake has just delivered: those that follow on from what is applied
        are decided now, as they will be read; the agent skips them when it reads them."""
        async with self.lock:
            # delivered by several producers (the intake's, the API's) and reported as each
            # delivery came back: in the log's order again before choosing what follows on;
            # one behind a gap (a delivery not reported yet) waits for the next hand-over
            applied = self.stage.applied()
            frames = sorted(
                {(f.partition, f.offset): f for f in (*self._early, *frames)}.values(),
                key=lambda f: (f.partition, f.offset),
            )
            ready = follow_on(frames, applied)
            taken = {(f.partition, f.offset) for f in ready}
            self._early = [
                f
                for f in frames
                if (f.partition, f.offset) not in taken and f.offset > applied.get(f.partition, -1)
            ][-EARLY_KEPT:]
            if self._early and self.readback is not None:
                self.readback.behind()  # what they wait for is read, not handed over
            if ready:
                self.last_input = self.monotonic()
                await self._batch([frame.message() for frame in ready], "handed")

    async def idle(self) -> None:
        """The timer: with no input for `release_idle` seconds, a tick to each partition that
        holds watch tickets (`DecideStage.idle_ticks`). A tick counts only if nothing came
        between the offset it names and its own, so it never releases early."""
        if self.monotonic() - self.last_input < self.release_idle or self.lock.locked():
            return
        self.ticks.extend(self.stage.idle_ticks())
        await commit.deliver(self.ticks)

    async def revoke(self, partitions: set[int]) -> None:
        """Another worker takes these: a batch in flight is saved first (it would otherwise
        land its changes and marker after the next holder had restored without them), and the
        models are checkpointed, so the next holder starts from what they learnt."""
        async with self.lock:
            self._early = [f for f in self._early if f.partition not in partitions]
            for partition in sorted(partitions):
                found = self.stage.models.get(partition)
                if found is not None:
                    await self.checkpoint(partition, found)
            self.stage.revoke(partitions)

    async def shutdown(self) -> None:
        async with self.lock:
            for partition, found in list(self.stage.models.items()):
                await self.checkpoint(partition, found)

    async def _batch(self, messages: Sequence[Message], path: str) -> None:
        stage = self.stage
        if self.catalog is not None:
            await self._catalog_current(stage.catalog_wait(messages, self.catalog_margin))
        batch = stage.apply(messages)
        self.box.extend(batch.records)
        await commit.commit(self.box, stage.state, batch.touched, self.sink)
        # answered only now: the reservation is saved before anyone is told of it
        for event_id, answer in batch.answers.items():
            for waiting in self._expected.pop(event_id, ()):
                if not waiting.done():
                    waiting.set_result(answer)
        metrics = self.metrics
        if metrics is not None and batch.frames:
            metrics.count_decide_frames(path, batch.frames)
        for partition, (store, _) in batch.touched.items():
            if metrics is not None:
                for (name, line), used in budget_used(stage.rules, store).items():
                    metrics.set_budget_used(name, line, used)
            due = stage.checkpoint_due(partition)
            if due is not None:
                await self.checkpoint(partition, due)

    async def authorize(
        self, raw: bytes, event_id: str, append: Callable[[bytes], Awaitable[Any]]
    ) -> dict[str, Any] | None:
        """A checkout appended to the decide log (`append`: delivered, its metadata back) and
        its answer once the stage has applied and saved it; decided in process when it follows
        on from what is applied, else when the agent reads it. None: it was dead-lettered."""
        waiting: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self._expected.setdefault(event_id, []).append(waiting)
        try:
            # shielded: a caller past its deadline stops waiting, but a checkout on its way to
            # the log is still handed over once there. Left out, it was a gap that held every
            # later checkout back until the agent read it (a fetch round each), more answers
            # missed their deadline, more gaps: at 500/s nearly every answer was a 503.
            await asyncio.shield(self._appending(append, raw))
            return await waiting
        finally:
            left = [f for f in self._expected.get(event_id, ()) if f is not waiting]
            if left:
                self._expected[event_id] = left
            else:
                self._expected.pop(event_id, None)

    def _appending(
        self, append: Callable[[bytes], Awaitable[Any]], raw: bytes
    ) -> asyncio.Future[None]:
        task = asyncio.ensure_future(self._append(append, raw))
        # a failed append whose caller has stopped waiting is logged, not left unretrieved
        task.add_done_callback(_seen)
        return task

    async def _append(self, append: Callable[[bytes], Awaitable[Any]], raw: bytes) -> None:
        asked = time.time()
        meta = await append(raw)
        frame = Handed(meta.partition, meta.offset, raw, "checkout", asked)
        if self.handing is not None:
            self.handing.put_nowait([frame])
        else:
            await self.handed([frame])

    async def _catalog_current(self, since: float | None) -> None:
        if since is None or self.catalog is None:
            return
        started = time.monotonic()
        if not await self.catalog.current_since(since, self.catalog_timeout):
            log.warning(
                "the catalog was not read up to date within %.0f s: orders decided on the "
                "catalog as read (%d records)",
                self.catalog_timeout,
                self.catalog.records,
            )
        if self.metrics is not None:
            self.metrics.observe_catalog_wait(time.monotonic() - started)

    async def checkpoint(self, partition: int, found: PartitionModels) -> None:
        """Only models that learnt exactly what the saved state holds: models ahead of it
        would, after a crash, learn again the orders the restarted stage decides again."""
        store = self.stage.state.stores.get(partition)
        if store is None or found.learnt != store.applied:
            return
        started = time.perf_counter()
        size = await commit.checkpoint(self.box, self.models_table, partition, found)
        log.info(
            "checkpointed the models of decide partition %d at offset %d: %d bytes, %.0f ms",
            partition,
            found.learnt,
            size,
            (time.perf_counter() - started) * 1000,
        )


def _seen(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("a checkout's append failed after its caller left", exc_info=task.exception())


def budget_used(rules: ProgrammeRules, store: PartitionStore) -> dict[tuple[str, str], Decimal]:
    """The budget lines' spend as the decide partition's state has it (the authority)."""
    budget = store.table("budget")
    out = {}
    for name, programme in rules.programmes.items():
        for line in programme.budget_lines:
            found = budget.get(f"{name}/{line}")
            if found is not None:
                out[(name, line)] = Decimal(found["used"])
    return out
