"""The decide partition's read-back paused while it brings only what was handed over
(streams/readback.py), and the runner's two calls to it (streams/runners.py)."""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace
from typing import Any

from streams.messages import DECIDE_TOPIC, Handed, Message
from streams.readback import ReadBack
from streams.runners import DecideRunner


class PartitionState:
    def __init__(self, position: int) -> None:
        self.position = position
        self.has_valid_position = True


class FakeKafka:
    """aiokafka's consumer as the read-back uses it, recording the thread of each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []
        self.assigned = True
        self.state = PartitionState(position=3)
        assignment = SimpleNamespace(state_value=lambda tp: self.state)
        self._subscription = SimpleNamespace(subscription=SimpleNamespace(assignment=assignment))

    def seek(self, tp: Any, offset: int) -> None:
        self.calls.append(("seek", offset))  # type: ignore[arg-type]
        self.state.position = offset

    def pause(self, tp: Any) -> None:
        if not self.assigned:
            raise RuntimeError("not assigned")
        self.calls.append(("pause", threading.current_thread() is not threading.main_thread()))

    def resume(self, tp: Any) -> None:
        self.calls.append(("resume", threading.current_thread() is not threading.main_thread()))


class ConsumerThread:
    """Faust's consumer thread: an event loop of its own in another thread."""

    def __init__(self) -> None:
        self.thread_loop = asyncio.new_event_loop()
        self._consumer = FakeKafka()
        self._runner = threading.Thread(target=self.thread_loop.run_forever, daemon=True)
        self._runner.start()

    def settle(self) -> None:
        done = threading.Event()
        self.thread_loop.call_soon_threadsafe(done.set)
        assert done.wait(2)

    def stop(self) -> None:
        self.thread_loop.call_soon_threadsafe(self.thread_loop.stop)
        self._runner.join(2)
        self.thread_loop.close()


class Consumer:
    def __init__(self) -> None:
        self._thread = ConsumerThread()


def test_an_echo_pauses_the_fetches_in_the_consumers_thread_for_a_while() -> None:
    consumer = Consumer()
    kafka = consumer._thread._consumer
    readback = ReadBack(lambda: consumer, every=0.05)
    try:
        readback.read(fresh=True)  # something to decide: fetches go on
        consumer._thread.settle()
        assert kafka.calls == []
        readback.read(fresh=False)
        readback.read(fresh=False)  # paused already: once is enough
        consumer._thread.settle()
        assert kafka.calls == [("pause", True)]
        assert readback.paused and readback.pauses == 1
        deadline = time.monotonic() + 2
        while readback.paused and time.monotonic() < deadline:
            time.sleep(0.01)
        consumer._thread.settle()
        assert kafka.calls == [("pause", True), ("resume", True)]  # read again after `every`
        readback.read(fresh=False)  # an echo again: paused again
        consumer._thread.settle()
        assert kafka.calls[-1] == ("pause", True) and readback.pauses == 2
    finally:
        consumer._thread.stop()


def test_the_resumed_read_starts_at_the_last_record_applied() -> None:
    consumer = Consumer()
    kafka = consumer._thread._consumer
    applied: list[int | None] = [None]
    readback = ReadBack(lambda: consumer, every=60.0, applied=lambda: applied[0])
    try:
        for stage_applied, position in ((None, 3), (2, 3), (3, 3), (40, 40)):
            applied[0] = stage_applied
            readback.read(fresh=False)
            readback.behind()
            consumer._thread.settle()
            assert kafka.state.position == position
        # only a position behind what is applied moves, to the last record applied (read again,
        # so the group's offset keeps up); never past it
        assert [c for c in kafka.calls if c[0] == "seek"] == [("seek", 40)]
        assert readback.skipped == 37
    finally:
        consumer._thread.stop()


def test_a_frame_behind_a_gap_resumes_at_once() -> None:
    consumer = Consumer()
    kafka = consumer._thread._consumer
    readback = ReadBack(lambda: consumer, every=60.0)
    try:
        readback.behind()  # not paused: nothing to do
        readback.read(fresh=False)
        readback.behind()
        consumer._thread.settle()
        assert kafka.calls == [("pause", True), ("resume", True)]
        assert not readback.paused
    finally:
        consumer._thread.stop()


def test_a_partition_not_assigned_is_not_left_marked_paused() -> None:
    consumer = Consumer()
    consumer._thread._consumer.assigned = False
    readback = ReadBack(lambda: consumer, every=60.0)
    try:
        readback.read(fresh=False)
        consumer._thread.settle()
        assert not readback.paused  # the next echo tries again
    finally:
        consumer._thread.stop()


def test_without_a_consumer_thread_or_with_no_pause_nothing_happens() -> None:
    readback = ReadBack(lambda: object(), every=0.1)
    readback.read(fresh=False)
    assert not readback.paused
    consumer = Consumer()
    try:
        off = ReadBack(lambda: consumer, every=0.0)
        off.read(fresh=False)
        consumer._thread.settle()
        assert consumer._thread._consumer.calls == [] and not off.paused
    finally:
        consumer._thread.stop()


class Recorder:
    def __init__(self) -> None:
        self.calls: list[Any] = []

    def read(self, fresh: bool) -> None:
        self.calls.append(fresh)

    def behind(self) -> None:
        self.calls.append("behind")


class Reached(Exception):
    """The runner went on to decide the batch (not this test's business)."""


class Blocked:
    async def __aenter__(self) -> None:
        raise Reached

    async def __aexit__(self, *exc: object) -> None:
        return None


class Store:
    def __init__(self, applied: int) -> None:
        self.applied = applied


class Stage:
    """Only what `DecideRunner.read` and `handed` look at before a batch."""

    def __init__(self, applied: int) -> None:
        self.state = type("State", (), {"stores": {0: Store(applied)}})()
        self.applied_at = applied

    def applied(self) -> dict[int, int]:
        return {0: self.applied_at}


def test_the_runner_reports_echoes_and_frames_behind_a_gap() -> None:
    recorder = Recorder()
    runner = DecideRunner(Stage(applied=10), box=None, ticks=None, models_table=None)  # type: ignore[arg-type]
    runner.readback = recorder

    async def run() -> None:
        echo = [Message(DECIDE_TOPIC, 0, offset, b"{}", "checkout") for offset in (9, 10)]
        await runner.read(echo)  # all applied: dropped, an echo
        assert recorder.calls == [False]
        await runner.handed([Handed(0, 13, b"{}", "checkout")])  # 11 and 12 not handed over
        assert recorder.calls == [False, "behind"]
        recorder.calls.clear()
        runner.stage.state.stores = {1: Store(0)}  # nothing applied in 0: a tick read is fresh
        runner.lock = Blocked()
        for kind, fresh in (("tick", True), ("orders", True), ("checkout", False)):
            try:
                await runner.read([Message(DECIDE_TOPIC, 0, 11, b"{}", kind)])
            except Reached:
                pass
            assert recorder.calls[-1] is fresh

    asyncio.run(run())


def test_a_worker_with_the_api_pauses_its_read_back_and_one_without_does_not() -> None:
    from schemas.rules import load_rules
    from streams.app import Worker
    from streams.config import StreamConfig

    worker = Worker(StreamConfig(broker="127.0.0.1:9", api_port=6066), load_rules())
    readback = worker.decide_runner.readback
    assert isinstance(readback, ReadBack) and readback.every == 0.1
    assert readback.applied() is None  # the decide partition not taken up
    plain = Worker(StreamConfig(broker="127.0.0.1:9"), load_rules())
    assert plain.decide_runner.readback is None
