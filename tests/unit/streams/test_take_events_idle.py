"""The agents' batches (streams/faust_io.py `take_events`): Faust's, but asleep while there is
nothing, where Faust's woke every `within` seconds; a partial batch still waits `within` for
more, a full one goes at once."""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import faust

from streams.faust_io import take_events


def run_agent(within: float, test: Any) -> tuple[list[list[int]], list[float], int]:
    got: list[list[int]] = []
    at: list[float] = []
    waits: list[int] = []

    async def main() -> None:
        app = faust.App(
            f"t-take-{time.monotonic_ns()}",
            store="memory://",
            web_enabled=False,
            autodiscover=False,
            loop=asyncio.get_running_loop(),  # not a loop of its own, left open
        )
        channel = app.channel()

        @app.agent(channel)
        async def agent(stream: Any) -> None:
            original = stream.wait_for_stopped

            async def counted(*args: Any, **kwargs: Any) -> Any:
                waits.append(1)
                return await original(*args, **kwargs)

            stream.wait_for_stopped = counted
            async for events in take_events(stream, 3, within):
                got.append([event.value for event in events])
                at.append(time.monotonic())

        async with agent.test_context() as context:
            await test(context, waits)

    before = {id(found) for found in gc.get_objects() if isinstance(found, asyncio.BaseEventLoop)}
    asyncio.run(main())
    # Faust's services make event loops of their own and leave them open: those made here are
    # closed, not left to the collector (a ResourceWarning, an error in this suite)
    for found in gc.get_objects():
        if isinstance(found, asyncio.BaseEventLoop) and id(found) not in before:
            if not found.is_running() and not found.is_closed():
                found.close()
    return got, at, len(waits)


def test_an_idle_agent_sleeps_and_batches_are_as_faust_makes_them() -> None:
    async def test(context: Any, waits: list[int]) -> None:
        await asyncio.sleep(0.3)  # nothing: Faust's wait would have woken 30 times
        assert len(waits) <= 1
        for value in range(4):
            await context.put(value)
        await asyncio.sleep(0.15)

    got, _, waits = run_agent(0.01, test)
    assert got == [[0, 1, 2], [3]]  # a full batch at once, then the rest after `within`
    assert waits <= 6


def test_a_partial_batch_waits_within_for_more() -> None:
    sent: list[float] = []

    async def test(context: Any, waits: list[int]) -> None:
        await asyncio.sleep(0.05)
        sent.append(time.monotonic())
        await context.put(7)
        await asyncio.sleep(0.05)
        await context.put(8)  # within the first one's wait: the same batch
        await asyncio.sleep(0.4)

    got, at, _ = run_agent(0.2, test)
    assert got == [[7, 8]]
    assert 0.15 <= at[0] - sent[0] < 0.4
