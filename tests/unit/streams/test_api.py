"""The authorization API's own rules (streams/api.py): tokens, bad input, the deadline, and the
hop to the worker holding the decide partition. The real broker: tests/integration."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp.test_utils import TestClient, TestServer
from factories import line, paid

from streams.api import AuthorizeAPI, CoalescedTokens

TOKEN = "t0ken"


async def tokens(token: str) -> str | None:
    return "platform" if token == TOKEN else None


def checkout(person: str = "p") -> bytes:
    event = paid(person)
    return line({**event, "event_type": "order_checkout", "event_id": f"ck-{event['event_id']}"})


async def answer(raw: bytes, event_id: str) -> dict[str, Any]:
    return {"authorization_id": "a" * 32, "decision": "approve", "event_id": event_id}


def serve(api: AuthorizeAPI, test: Callable[[TestClient], Awaitable[None]]) -> None:
    async def run() -> None:
        async with TestClient(TestServer(api.application())) as client:
            await test(client)
        await api.stop()

    asyncio.run(run())


def post(client: TestClient, body: bytes, token: str | None = TOKEN) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/v1/authorize", data=body, headers=headers)


def test_a_request_without_a_valid_token_is_refused() -> None:
    api = AuthorizeAPI(answer, lambda: None, tokens)

    async def test(client: TestClient) -> None:
        for token in (None, "wrong"):
            response = await post(client, checkout(), token)
            assert response.status == 401

    serve(api, test)


def test_a_checkout_that_breaks_the_contract_gets_422_naming_the_field_not_the_value() -> None:
    api = AuthorizeAPI(answer, lambda: None, tokens)
    event = orjson.loads(checkout())
    event["order_amount"] = 1.0  # no longer the sum of its items

    async def test(client: TestClient) -> None:
        response = await post(client, orjson.dumps(event))
        assert response.status == 422
        body = await response.json()
        assert "order_amount" in body["detail"]

    serve(api, test)


def test_an_answer_past_the_deadline_is_a_503_saying_so() -> None:
    async def slow(raw: bytes, event_id: str) -> dict[str, Any]:
        await asyncio.sleep(1)
        return {}

    api = AuthorizeAPI(slow, lambda: None, tokens, deadline=0.05)

    async def test(client: TestClient) -> None:
        response = await post(client, checkout())
        assert response.status == 503
        assert (await response.json())["error"] == "deadline"

    serve(api, test)


def test_a_worker_not_holding_the_decide_partition_forwards_to_the_one_that_does() -> None:
    holder = AuthorizeAPI(answer, lambda: None, tokens)

    async def run() -> None:
        async with TestServer(holder.application()) as server:
            url = str(server.make_url(""))
            other = AuthorizeAPI(answer, lambda: url, tokens)
            async with TestClient(TestServer(other.application())) as client:
                response = await post(client, checkout("fw"))
                assert response.status == 200
                assert (await response.json())["decision"] == "approve"
                bounced = await client.post(
                    "/api/v1/authorize",
                    data=checkout("fw2"),
                    headers={"Authorization": f"Bearer {TOKEN}", "X-Riskmon-Forwarded": "1"},
                )
                assert bounced.status == 503  # never forwarded twice
            await other.stop()

    asyncio.run(run())


def test_token_checks_asked_during_a_query_share_the_next_one_begun_after_they_asked() -> None:
    live = {TOKEN: "platform"}
    queries: list[list[str]] = []
    answering = threading.Event()

    def lookup(asked: list[str]) -> dict[str, str | None]:
        found = {token: live.get(token) for token in asked}
        queries.append(sorted(asked))
        answering.wait(5)
        return found

    async def run() -> None:
        check = CoalescedTokens(lookup)
        first = asyncio.ensure_future(check(TOKEN))
        while not queries:
            await asyncio.sleep(0.001)
        del live[TOKEN]  # revoked while the first query is under way
        later = [asyncio.ensure_future(check(token)) for token in (TOKEN, TOKEN, "other")]
        await asyncio.sleep(0.01)
        answering.set()
        assert await first == "platform"  # its query began before the revocation
        assert await asyncio.gather(*later) == [None, None, None]
        assert queries == [[TOKEN], ["other", TOKEN]]

    asyncio.run(run())
