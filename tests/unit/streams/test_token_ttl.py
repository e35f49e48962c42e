"""A token the store accepted, taken for its time to live without another query
(streams/api.py `CoalescedTokens(ttl=...)`): a revocation is refused once the time to live of
the last query begun before it is over, never later; a refused token is asked every time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from console.auth import add_token, revoke_token
from reports import migrate
from reports.db import open_engine
from riskmon.cli import _tokens
from streams.api import KNOWN_TOKENS, CoalescedTokens


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_accepted_token_is_taken_for_its_ttl_then_asked_again() -> None:
    live: dict[str, str] = {"good": "platform"}
    queries: list[list[str]] = []
    clock = Clock()

    def lookup(asked: list[str]) -> dict[str, str | None]:
        queries.append(sorted(asked))
        return {token: live.get(token) for token in asked}

    async def run() -> None:
        check = CoalescedTokens(lookup, ttl=1.0, clock=clock)
        assert await check("good") == "platform"
        assert await check("bad") is None
        del live["good"]  # revoked: the store says so from now on
        clock.now += 0.999  # within the time to live of the query begun before
        assert await check("good") == "platform"
        assert await check("bad") is None  # a refusal is never remembered
        assert queries == [["good"], ["bad"], ["bad"]]
        clock.now += 0.001  # the time to live is over: asked again, and refused
        assert await check("good") is None
        assert await check("good") is None
        assert queries[-2:] == [["good"], ["good"]]

    asyncio.run(run())


def test_the_ttl_counts_from_when_the_query_began() -> None:
    clock = Clock()

    def slow(asked: list[str]) -> dict[str, str | None]:
        clock.now += 5.0  # a query that took 5 s: what it says held when it began
        return dict.fromkeys(asked, "platform")

    async def run() -> None:
        check = CoalescedTokens(slow, ttl=1.0, clock=clock)
        assert await check("good") == "platform"
        assert check._known["good"] == ("platform", 101.0)

    asyncio.run(run())


def test_no_ttl_asks_the_store_every_request() -> None:
    queries: list[list[str]] = []

    def lookup(asked: list[str]) -> dict[str, str | None]:
        queries.append(asked)
        return dict.fromkeys(asked, "platform")

    async def run() -> None:
        check = CoalescedTokens(lookup)
        for _ in range(3):
            assert await check("good") == "platform"

    asyncio.run(run())
    assert len(queries) == 3


def test_the_tokens_remembered_are_bounded() -> None:
    clock = Clock()

    def lookup(asked: list[str]) -> dict[str, str | None]:
        return dict.fromkeys(asked, "platform")

    async def run() -> None:
        check = CoalescedTokens(lookup, ttl=1.0, clock=clock)
        for i in range(KNOWN_TOKENS + 10):
            await check(f"t{i}")
            assert len(check._known) <= KNOWN_TOKENS

    asyncio.run(run())


def test_a_revocation_by_another_process_is_refused_once_the_ttl_is_over(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = open_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as connection:
        token = add_token(connection, "platform")
    tokens = _tokens(engine, ttl=0.2)

    async def run() -> None:
        assert await tokens(token) == "platform"
        writer = open_engine(url)
        with writer.begin() as connection:
            revoke_token(connection, token, datetime.now(UTC))
        writer.dispose()
        assert await tokens(token) == "platform"  # within the time to live
        await asyncio.sleep(0.25)
        assert await tokens(token) is None

    asyncio.run(run())
    tokens.executor.shutdown()
    engine.dispose()
