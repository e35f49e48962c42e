"""Checkout authorizations through the decide stage: appended to its log, answered once saved,
the same answers and decisions as a replay of the same events (issue 17, item 4). In process;
the real broker and HTTP: tests/integration/test_checkout.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from factories import CATALOG, jsonl, line, paid
from inprocess import Log, Meta, Worker, outputs

from detectors.products import Catalog
from replay import Replay
from schemas.catalog import CATALOG_ADAPTER
from schemas.rules import load_rules
from streams.clients import message_key
from streams.messages import DECIDE_TOPIC, headers_of

RULES = load_rules()


def events() -> list[dict[str, Any]]:
    """Checkouts and their payments, one paid late, one cancelled, one never paid, a second
    checkout of one code, in event-time order."""
    out: list[dict[str, Any]] = []
    for n in range(12):
        order = paid(f"k{n}", at=n * 0.1)
        ask = {**order, "event_type": "order_checkout", "event_id": f"ck-{n}"}
        out.append(ask)
        if n % 4 == 1:  # cancelled before payment
            out.append({**order, "event_type": "order_cancelled", "event_id": f"cx-{n}"})
        elif n % 4 != 3:  # paid a minute later (n % 4 == 3: never paid, left to expire)
            out.append({**order, "occurred_at": paid("t", at=n * 0.1 + 0.02)["occurred_at"]})
    sharing = paid("thief", at=1.5, qualification={"code": "GDQ-k0", "verified": True})
    out.append({**sharing, "event_type": "order_checkout", "event_id": "ck-thief"})
    out.append(paid("late", at=3))  # moves event time on: the unpaid reservations expire
    return out


def replayed(tmp: Path, stream: list[dict[str, Any]]) -> dict[str, Any]:
    (tmp / "e.jsonl").write_bytes(jsonl(stream))
    (tmp / "c.jsonl").write_bytes(jsonl(CATALOG))
    Replay(RULES).run(
        tmp / "e.jsonl",
        catalog=tmp / "c.jsonl",
        decisions_out=tmp / "d.jsonl",
        authorizations_out=tmp / "a.jsonl",
    )
    return {
        "decisions": {
            d["order_id"]: d for d in map(orjson.loads, (tmp / "d.jsonl").read_bytes().splitlines())
        },
        "authorizations": [orjson.loads(x) for x in (tmp / "a.jsonl").read_bytes().splitlines()],
    }


def streamed(stream: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    log = Log()
    catalog = Catalog()
    for entry in CATALOG:
        catalog.add(CATALOG_ADAPTER.validate_json(line(entry)))
    worker = Worker(log, RULES, catalog=catalog)
    answers = []

    async def append(raw: bytes) -> Meta:
        offset = log.append(DECIDE_TOPIC, 0, None, raw, headers_of("checkout"))
        return Meta(DECIDE_TOPIC, 0, offset)

    async def run() -> None:
        for event in stream:
            raw = line(event)
            if event["event_type"] == "order_checkout":
                # decided in process when it follows on, else when the stage reads it
                asking = asyncio.ensure_future(
                    worker.decide_runner.authorize(raw, event["event_id"], append)
                )
                while not asking.done():
                    await asyncio.sleep(0)
                    await worker.step()
                answers.append(asking.result())
            else:
                log.produce("orders", message_key("orders", raw), raw, 8)
            while await worker.step():  # each decided before the next is asked
                pass
        await worker.run()

    asyncio.run(run())
    found = outputs(log)
    found["authorizations"] = [orjson.loads(x) for x in log.values("authorizations")]
    return found, answers


def test_the_stage_answers_checkouts_as_the_replay_does(tmp_path: Path) -> None:
    stream = events()
    replay = replayed(tmp_path, stream)
    live, answers = streamed(stream)
    assert [a["decision"] for a in answers] == [
        a["decision"] for a in replay["authorizations"] if a.get("status") == "authorized"
    ]
    assert answers[-1]["decision"] == "reject"  # another person's code, reserved already
    assert live["decisions"] == replay["decisions"]
    statuses = sorted(a["status"] for a in live["authorizations"])
    assert statuses == sorted(a["status"] for a in replay["authorizations"])
    assert {"authorized", "committed", "released", "expired"} <= set(statuses)


def test_a_checkout_whose_caller_gave_up_is_still_taken_over_so_the_next_is_not_held_back() -> None:
    """A caller past its deadline stops waiting while its checkout is on its way to the log:
    the checkout, once there, is still decided in process. Left behind, it was a gap that held
    every later checkout until the agent read it back."""
    log = Log()
    catalog = Catalog()
    for entry in CATALOG:
        catalog.add(CATALOG_ADAPTER.validate_json(line(entry)))
    worker = Worker(log, RULES, catalog=catalog)
    runner = worker.decide_runner

    def ask(person: str) -> tuple[bytes, str]:
        event = {**paid(person), "event_type": "order_checkout", "event_id": f"ck-{person}"}
        return line(event), event["event_id"]

    async def run() -> None:
        delivered = asyncio.Event()

        async def append(raw: bytes) -> Meta:
            offset = log.append(DECIDE_TOPIC, 0, None, raw, headers_of("checkout"))
            return Meta(DECIDE_TOPIC, 0, offset)

        async def slow(raw: bytes) -> Meta:
            offset = log.append(DECIDE_TOPIC, 0, None, raw, headers_of("checkout"))
            await delivered.wait()  # the broker's acknowledgement, late
            return Meta(DECIDE_TOPIC, 0, offset)

        first = asyncio.ensure_future(runner.authorize(*ask("first"), append))
        while not first.done():  # the partition taken up by the agent's read
            await asyncio.sleep(0)
            await worker.step()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(runner.authorize(*ask("late"), slow), 0.01)
        delivered.set()
        # no step: the agent reads nothing; the next checkout follows on in process
        answer = await asyncio.wait_for(runner.authorize(*ask("next"), append), 1.0)
        assert answer is not None and answer["decision"] == "approve"
        assert runner.stage.applied() == {0: 2}

    asyncio.run(run())
