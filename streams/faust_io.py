"""Faust at the edges of the stages: the app's settings, its events as `Message`s, batches
acknowledged only once done, and the stop of the worker when an output is lost."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import faust
from faust.types import EventT

from streams.config import StreamConfig
from streams.messages import DECIDE_TOPIC, WATCH_TOPIC, Message, kind_of
from streams.outbox import MAX_REQUEST_BYTES
from streams.transport import with_fetch_wait, with_kept_buffers

log = logging.getLogger("riskmon.streams")
T = TypeVar("T")


def faust_app(config: StreamConfig) -> faust.App:
    app = faust.App(
        config.app_id,
        broker=f"kafka://{config.broker}",
        store="memory://",
        autodiscover=False,
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=config.watch_partitions,
        topic_replication_factor=1,
        broker_rebalance_timeout=config.rebalance_timeout,
        broker_session_timeout=config.session_timeout,
        broker_heartbeat_interval=config.heartbeat,
        broker_commit_interval=config.commit_interval,
        broker_max_poll_records=config.batch,
        stream_buffer_maxsize=4 * config.batch,
        consumer_max_fetch_size=32 << 20,  # a 10 MB message is read, then dead-lettered
        producer_max_request_size=MAX_REQUEST_BYTES,
        producer_linger=0.002,
        producer_max_batch_size=config.batch_bytes,
        consumer_auto_offset_reset="earliest",
        table_standby_replicas=0,
        consumer_group_instance_id=config.instance_id,
        # where the others reach this worker's authorization API (the group's assignment says)
        canonical_url=f"http://{config.api_host}:{config.api_port or 6066}",
        **config.extra,
    )
    with_fetch_wait(app, config.fetch_wait)
    with_kept_buffers(app)
    return app


def lags(consumer: Any) -> list[tuple[str, int, int]]:
    """Each input partition's lag: its end as the last fetch saw it, less the read offset."""
    out = []
    for tp in consumer.assignment():
        if tp.topic not in {"orders", DECIDE_TOPIC, WATCH_TOPIC, "catalog", "labels"}:
            continue
        read = consumer._read_offset.get(tp)  # faust has no public position
        end = consumer.highwater(tp)
        if end is None:  # not known yet (a rebalance is under way)
            continue
        out.append((tp.topic, tp.partition, max(end - (read + 1 if read is not None else 0), 0)))
    return out


def message_of(event: EventT[Any]) -> Message:
    message = event.message
    return Message(
        message.topic,
        message.partition,
        message.offset,
        message.value or b"",
        kind_of(message.headers),
        message.timestamp or 0.0,
        message.key,
    )


async def or_exit(delivery: Awaitable[T]) -> T:
    """A delivery, or the end of the process.

    Faust would commit offsets past what was lost, and restarting one agent leaves its
    unacknowledged events in the way of every later commit: the process stops instead, and
    the group gives its partitions, from their last commits, to others.
    """
    try:
        return await delivery
    except Exception:
        log.critical("a stage's output was not delivered: stopping the worker", exc_info=True)
        logging.shutdown()
        os._exit(70)  # EX_SOFTWARE


def fatal(
    stage: Callable[[Any], Awaitable[None]], name: str | None = None
) -> Callable[[Any], Awaitable[None]]:
    """A stage whose error stops the worker.

    Faust would restart the agent alone, and the batch it was on, never acknowledged, would
    hold back every later commit of its partitions; stopped, the worker's partitions go to the
    group from their last commits, and their work is done again.
    """

    label = name or stage.__name__

    async def run(stream: Any) -> None:
        try:
            await stage(stream)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.critical("stage %s failed: stopping the worker", label, exc_info=True)
            logging.shutdown()
            os._exit(70)  # EX_SOFTWARE

    run.__name__ = run.__qualname__ = label
    return run


async def batches(
    stream: Any, config: StreamConfig, within: float | None = None
) -> AsyncIterator[list[EventT[Any]]]:
    """The stream's events in batches (Faust's `take_events`), acknowledged only when done:
    step 6 of the commit protocol (docs/durability.md). A partial batch waits `within`
    seconds (`config.within` by default) for more.

    `take_events` acknowledges a batch in a `finally`: after the agent's body has finished
    with it, but also when the body never finished (a worker stopping in the middle of a
    delivery, an error). Faust would then commit offsets past messages whose outputs never went
    out. Here a batch's acknowledgements go only once the body has asked for the next batch;
    a batch cut short stays unacknowledged, and the next holder of the partition does it again.
    """
    done = True
    acknowledge = stream.ack

    async def ack(event: EventT[Any]) -> bool:
        if not done:
            return False
        result: bool = await acknowledge(event)
        return result

    stream.ack = ack  # take_events calls it as self.ack
    wait = config.within if within is None else within
    async for events in take_events(stream, config.batch, wait):
        done = False
        yield events
        done = True


def take_events(stream: Any, max_: int, within: float) -> AsyncIterator[list[EventT[Any]]]:
    """Faust's `Stream.take_events`, but asleep while there is nothing: a batch is up to
    `max_` events, the first waited for without a timeout, then `within` seconds for more.

    Faust's waits `within` in a loop whatever the buffer holds, and each wait is a round of
    mode's `wait_first` (futures, tasks): the intake, decide and watch agents woke 100 times a
    second each with nothing to do, a tenth of the worker's CPU at 150 authorizations/s (the
    CPU-timed profile). The rest is Faust's code as it is (faust/streams.py), the events
    acknowledged through `stream.ack` after the body has had them.
    """
    agen = _take_events(stream, max_, within)
    active = getattr(stream, "_active_agens", None)  # closed by Stream.on_stop if left over
    if active is not None:
        active.add(agen)
    return agen


async def _take_events(stream: Any, max_: int, within: float) -> AsyncIterator[list[EventT[Any]]]:
    buffer: list[Any] = []
    events: list[EventT[Any]] = []
    buffer_full = asyncio.Event()
    buffer_ready = asyncio.Event()  # the buffer holds something
    buffer_consumed = asyncio.Event()
    stream_enable_acks: bool = stream.enable_acks
    buffer_consuming: asyncio.Future[None] | None = None
    channel_it = stream.channel.__aiter__()

    async def add_to_buffer(value: Any) -> Any:
        nonlocal buffer_consuming
        try:
            if buffer_consuming is not None:  # the body has the batch: wait for it
                try:
                    await buffer_consuming
                finally:
                    buffer_consuming = None
            buffer.append(value)
            event = stream.current_event
            if event is None:
                raise RuntimeError("Take buffer found current_event is None")
            events.append(event)
            buffer_ready.set()
            if len(buffer) >= max_:
                buffer_full.set()
                buffer_consumed.clear()
                await stream.wait(buffer_consumed)  # never more than max_ at once
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("Error adding to take buffer: %r", exc)
            await stream.crash(exc)
        return value

    stream.enable_acks = False  # acknowledged here, once the body is done with them
    stream.add_processor(add_to_buffer)
    stream._enable_passive(channel_it)
    try:
        while not stream.should_stop:
            if not buffer:
                await stream.wait_for_stopped(buffer_ready)
            if not buffer_full.is_set():
                await stream.wait_for_stopped(buffer_full, timeout=within)
            if buffer:
                consuming = buffer_consuming = asyncio.get_running_loop().create_future()
                try:
                    yield list(events)
                finally:
                    buffer.clear()
                    for event in events:
                        await stream.ack(event)
                    events.clear()
                    if not consuming.done():  # the buffer may take events again
                        consuming.set_result(None)
                    buffer_full.clear()
                    buffer_ready.clear()
                    buffer_consumed.set()
    finally:
        stream.enable_acks = stream_enable_acks
        stream._processors.remove(add_to_buffer)
