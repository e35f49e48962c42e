"""The commit protocol under a crash at each of its steps, in process (docs/durability.md).

Each test runs a simulated day through the stages on an in-memory log, crashes the worker at
one point of the protocol, starts a new one from what the log holds (changelogs, committed
offsets), and checks that the outputs, read as a consumer that drops repeated ids reads them,
are those of a run that never failed. The SIGKILL test on the real broker
(tests/integration/test_streaming.py) stays the end-to-end proof; these take seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from inprocess import Log, Worker, feed, outputs

from detectors.learning import LearningConfig
from detectors.products import product
from schemas.decode import decode_catalog
from schemas.rules import load_rules
from simulation.generator import generate
from streams import commit
from streams.clients import message_key
from streams.decide import DecideStage

RULES = load_rules()


class Crash(Exception):
    """The process dies here."""


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[bytes], dict[str, Any]]:
    folder = tmp_path_factory.mktemp("day")
    generate(3, 1, folder, events_per_day=800, bad_lines=2)
    lines = [line for line in (folder / "events.jsonl").read_bytes().splitlines() if line]
    catalog = {}
    for raw in (folder / "catalog.jsonl").read_bytes().splitlines():
        entry = decode_catalog(raw)
        catalog[entry.sku] = product(entry)
    return lines, catalog


def start(day: tuple[list[bytes], dict[str, Any]], **kwargs: Any) -> tuple[Log, Worker]:
    lines, catalog = day
    log = Log()
    feed(log, lines, lambda raw: message_key("orders", raw))
    return log, Worker(log, RULES, catalog=catalog, **kwargs)


def restart(log: Log, day: tuple[list[bytes], dict[str, Any]], **kwargs: Any) -> Worker:
    return Worker(log, RULES, catalog=day[1], **kwargs)


@pytest.fixture(scope="module")
def clean(day: tuple[list[bytes], dict[str, Any]]) -> dict[str, Any]:
    log, worker = start(day)
    asyncio.run(worker.run())
    found = outputs(log)
    assert len(found["decisions"]) > 300 and len(found["alerts"]) > 20  # a day with patterns
    return found


def crash_on(call: int, when: Callable[..., bool] = lambda *a: True) -> Callable[..., Any]:
    """A step that raises `Crash` on its `call`-th call where `when(args)` holds."""
    calls = 0

    def check(*args: Any) -> None:
        nonlocal calls
        if when(*args):
            calls += 1
            if calls == call:
                raise Crash

    return check


def decide_box(worker: Worker) -> Callable[..., bool]:
    return lambda box, *_: box is worker.boxes["decide"]


def crash(worker: Worker) -> None:
    with pytest.raises(Crash):
        asyncio.run(worker.run())


@pytest.fixture
def patch(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[[str, Callable[..., Any], str], None]]:
    """`patch(step, check, where)`: run `check(*args)` before (or after) commit step `step`."""

    def install(step: str, check: Callable[..., Any], where: str = "before") -> None:
        original = getattr(commit, step)
        if asyncio.iscoroutinefunction(original):

            async def wrapped(*args: Any, **kwargs: Any) -> Any:
                if where == "before":
                    check(*args)
                result = await original(*args, **kwargs)
                if where == "after":
                    check(*args)
                return result

        else:

            def wrapped(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
                if where == "before":
                    check(*args)
                result = original(*args, **kwargs)
                if where == "after":
                    check(*args)
                return result

        monkeypatch.setattr(commit, step, wrapped)

    yield install
    monkeypatch.undo()


def test_a_crash_before_a_batchs_outputs_are_delivered_loses_nothing(
    day: Any, clean: dict[str, Any], patch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    log, worker = start(day)
    patch("deliver", crash_on(3, decide_box(worker)))
    crash(worker)
    monkeypatch.undo()
    asyncio.run(restart(log, day).run())
    assert outputs(log) == clean


def test_a_crash_after_the_outputs_and_before_the_marker_redoes_the_batch_once(
    day: Any, clean: dict[str, Any], patch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    log, worker = start(day)
    patch("mark", crash_on(2, lambda state, touched: state is worker.decide.state))
    crash(worker)
    before = len(log.values("decisions"))
    monkeypatch.undo()
    again = restart(log, day)
    asyncio.run(again.run())
    assert outputs(log) == clean
    # the batch's changes were rolled back, and it was decided again: repeats, same ids
    assert len(log.values("decisions")) > before
    assert any(rolled for *_, rolled in again.restores)


def test_a_crash_after_the_marker_and_before_the_acknowledgement_decides_nothing_twice(
    day: Any, clean: dict[str, Any], patch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    log, worker = start(day)
    patch("deliver_markers", crash_on(2, decide_box(worker)), "after")
    crash(worker)
    monkeypatch.undo()
    again = restart(log, day)
    asyncio.run(again.run())
    assert outputs(log) == clean
    # the saved batch is skipped when read again: no decision comes twice, nothing rolled back
    assert _repeats(log) == 0 and not any(rolled for *_, rolled in again.restores)


def test_a_crash_in_the_middle_of_a_tick_releases_the_same_tickets_once(
    day: Any, clean: dict[str, Any], patch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    log, worker = start(day)
    ticking = {"now": False}
    apply = DecideStage.apply

    def watching(self: DecideStage, messages: Any) -> Any:
        ticking["now"] = any(m.kind == "tick" for m in messages)
        return apply(self, messages)

    monkeypatch.setattr(DecideStage, "apply", watching)
    patch("mark", crash_on(1, lambda *_: ticking["now"]))
    crash(worker)
    assert ticking["now"], "the crash came in a tick's batch"
    monkeypatch.undo()
    asyncio.run(restart(log, day).run())
    assert outputs(log) == clean


def test_a_crash_in_the_middle_of_a_checkpoint_keeps_the_previous_one_whole(
    day: Any, clean: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    learning = LearningConfig(warmup_orders=50)
    log, worker = start(day, learning=learning, checkpoint_every=100)
    manifests = []
    write_manifest = commit.write_manifest

    def crash_second(table: Any, partition: int, manifest: Any) -> None:
        manifests.append(manifest)
        if len(manifests) == 2:
            raise Crash
        write_manifest(table, partition, manifest)

    monkeypatch.setattr(commit, "write_manifest", crash_second)
    crash(worker)
    monkeypatch.undo()
    again = restart(log, day, learning=learning, checkpoint_every=100)
    again.decide.take_up(0)
    first = orjson.loads(manifests[0][1])
    restored = again.decide.models[0]
    # the cut checkpoint's parts were written, its manifest not: the first one is restored
    assert restored.manifest is not None and restored.manifest.offset == first["offset"]
    assert restored.learnt == first["offset"]
    asyncio.run(again.run())
    # every order decided, once each read by id (the models change alerts, not decisions)
    assert outputs(log)["decisions"] == clean["decisions"]


def test_a_revocation_waits_for_the_batch_in_flight(
    day: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    log, worker = start(day, hand_over=False)

    async def scenario() -> None:
        await worker.take_in()  # the intake's frames are in the decide log
        gate = asyncio.Event()
        deliver = commit.deliver

        async def slow(box: Any, sink: Any = None) -> Any:
            if box is worker.boxes["decide"]:
                await gate.wait()
            return await deliver(box, sink)

        monkeypatch.setattr(commit, "deliver", slow)
        frames = log.unread("riskmon-decide", 0, 50)
        batch = asyncio.ensure_future(worker.decide_runner.read(frames))
        await asyncio.sleep(0)
        revoke = asyncio.ensure_future(worker.decide_runner.revoke({0}))
        await asyncio.sleep(0.01)
        assert not revoke.done()  # the teardown waits for the batch's marker
        gate.set()
        await asyncio.gather(batch, revoke)
        assert 0 not in worker.decide.state.stores

    asyncio.run(scenario())
    monkeypatch.undo()
    again = restart(log, day)
    store = again.decide.take_up(0)
    assert store.applied == log.end("riskmon-decide", 0) - 1  # the batch was saved whole
    assert not any(rolled for *_, rolled in again.restores)


def _repeats(log: Log) -> int:
    ids = [orjson.loads(raw)["order_id"] for raw in log.values("decisions")]
    return len(ids) - len(set(ids))


def test_a_watch_revocation_waits_for_the_batch_in_flight(
    day: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    log, worker = start(day)

    async def scenario() -> None:
        await worker.take_in()
        await worker.decide_runner.read(log.unread("riskmon-decide", 0, 100))
        await worker.idle()
        await worker.decide_runner.read(log.unread("riskmon-decide", 0, 100))
        gate = asyncio.Event()
        deliver = commit.deliver

        async def slow(box: Any, sink: Any = None) -> Any:
            if box is worker.boxes["watch"]:
                await gate.wait()
            return await deliver(box, sink)

        monkeypatch.setattr(commit, "deliver", slow)
        tickets = log.unread("riskmon-watch", 0, 100)
        assert tickets
        batch = asyncio.ensure_future(worker.watch_runner.batch(tickets))
        await asyncio.sleep(0)
        revoke = asyncio.ensure_future(worker.watch_runner.revoke({0}))
        await asyncio.sleep(0.01)
        assert not revoke.done()
        gate.set()
        await asyncio.gather(batch, revoke)
        assert 0 not in worker.watch.state.stores

    asyncio.run(scenario())
    monkeypatch.undo()
    again = restart(log, day)
    store, _ = again.watch.state.partition(0)
    assert store.applied == log.end("riskmon-watch", 0) - 1
