"""The checkout authorization API, served by every worker: `POST /api/v1/authorize`.

The platform asks before payment whether an `order_checkout` gets the 立减, and how much
(contract v1.1). The answer comes from the decide stage's one sequence and its state, never a
copy: the worker holding the decide partition appends the checkout to `riskmon-decide`, has the
stage apply it (in process when it follows on from what is applied: no fetch round), and
answers once the reservation is saved (docs/checkout.md). A worker that does not hold the
partition forwards the request to the one that does (the group's assignment names its URL).

Within the deadline (default 200 ms) or `503` with a reason, so the platform can sell without
the discount rather than hang. `riskmon_authorizations_total{outcome}` counts every answer.
A bearer token made by `riskmon token add` is required (checked in the store; one accepted is
taken for `RISKMON_API_TOKEN_TTL_MS` without asking again, so a revoked token stops within
that time at the latest).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any

import orjson
from aiohttp import ClientSession, ClientTimeout, web

from schemas.decode import DecodeError, decode_checkout

log = logging.getLogger("riskmon.api")
PATH = "/api/v1/authorize"
FORWARDED = "X-Riskmon-Forwarded"  # a request forwarded once is never forwarded again
KNOWN_TOKENS = 4096  # tokens accepted and remembered for their time to live, at most

Tokens = Callable[[str], Awaitable[str | None]]  # a bearer token -> its user, or None
Owner = Callable[[], str | None]  # the URL of the worker holding the decide partition (None: us)


class CoalescedTokens:
    """Token checks in the store, one query at a time for every request waiting.

    Each request still gets the store's word from a query begun after it asked, so a token
    revoked is refused from the next request on; but the requests that arrive while a query is
    under way share the next one, rather than each taking a thread and a query (at 500
    authorizations/s those were a seventh of the worker's time, and queued behind each other).
    `lookup` answers for several tokens at once, in a thread: token -> its user, or None.

    With `ttl` > 0 a token the store accepted is taken for `ttl` seconds from the moment its
    query began, without asking again (no thread, no query: at 500 authorizations/s the checks
    and their thread hops were a tenth of the worker's CPU). A revocation is then refused from
    `ttl` seconds after it was committed at the latest, never later; a token refused is asked
    again every time (a new token works at once). `ttl` 0: every request waits for a query
    begun after it asked, as above.
    """

    def __init__(
        self,
        lookup: Callable[[list[str]], dict[str, str | None]],
        executor: Executor | None = None,
        ttl: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lookup = lookup
        self.executor = executor  # None: the loop's default executor
        self.ttl = ttl
        self.clock = clock
        self._asked: dict[str, list[asyncio.Future[str | None]]] = {}
        self._querying = False
        self._known: dict[str, tuple[str, float]] = {}  # token -> its user, until when (clock)

    async def __call__(self, token: str) -> str | None:
        known = self._known.get(token)
        if known is not None:
            if self.clock() < known[1]:
                return known[0]
            del self._known[token]
        waiting: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._asked.setdefault(token, []).append(waiting)
        if not self._querying:
            self._querying = True
            asyncio.ensure_future(self._query())
        return await waiting

    async def _query(self) -> None:
        try:
            while self._asked:
                asked, self._asked = self._asked, {}
                began = self.clock()  # what the query says holds from here, not from its end
                try:
                    loop = asyncio.get_running_loop()
                    found = await loop.run_in_executor(self.executor, self.lookup, list(asked))
                except Exception as exc:  # each request waiting fails as it would alone
                    for waiting in (w for ws in asked.values() for w in ws):
                        if not waiting.done():
                            waiting.set_exception(exc)
                    continue
                if self.ttl > 0:
                    self._remember(found, began + self.ttl)
                for token, waitings in asked.items():
                    for waiting in waitings:
                        if not waiting.done():
                            waiting.set_result(found.get(token))
        finally:
            self._querying = False

    def _remember(self, found: dict[str, str | None], until: float) -> None:
        if len(self._known) >= KNOWN_TOKENS:  # the expired ones out; all, if that is not enough
            now = self.clock()
            self._known = {t: k for t, k in self._known.items() if k[1] > now}
            if len(self._known) >= KNOWN_TOKENS:
                self._known.clear()
        for token, user in found.items():
            if user is not None:
                self._known[token] = (user, until)


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps(body),
        content_type="application/json",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


class AuthorizeAPI:
    def __init__(
        self,
        authorize: Callable[[bytes, str], Awaitable[dict[str, Any] | None]],
        owner: Owner,
        tokens: Tokens,
        *,
        deadline: float = 0.2,
        max_bytes: int = 1 << 20,
        metrics: Any = None,
        ready: Callable[[], bool] = lambda: True,
        decode: Callable[[bytes, int], Any] | None = None,
    ) -> None:
        self.ready = ready
        # the worker's remembers what it decoded, so its decide stage decodes each one once
        self.decode = decode or decode_checkout
        self.authorize = authorize  # (raw, event id) -> the answer, on the holding worker
        self.owner = owner
        self.tokens = tokens
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.metrics = metrics
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None

    def application(self) -> web.Application:
        app = web.Application(client_max_size=self.max_bytes)
        app.router.add_post(PATH, self.handle)
        app.router.add_get("/api/v1/health", self.health)
        return app

    async def start(self, host: str, port: int) -> None:
        self._runner = web.AppRunner(self.application(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        log.warning("checkout authorization API on http://%s:%d%s", host, port, PATH)

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def health(self, request: web.Request) -> web.Response:
        """Whether this worker holds the decide partition, and whether its stage has taken it
        up (its state restored): only then is the first checkout answered without a wait."""
        holds = self.owner() is None
        return _json(200, {"status": "ok", "holds_decide": holds, "ready": holds and self.ready()})

    async def handle(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        outcome, response = await self._handle(request, started)
        if self.metrics is not None:
            self.metrics.count_authorization(outcome, time.monotonic() - started)
        return response

    async def _handle(self, request: web.Request, started: float) -> tuple[str, web.Response]:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token or await self.tokens(token.strip()) is None:
            return "unauthorized", _json(
                401, {"error": "unauthorized", "detail": "Authorization: Bearer <API token>"}
            )
        raw = await request.read()
        try:
            checkout = self.decode(raw, self.max_bytes)
        except DecodeError as exc:  # the field and the rule, never the value
            return "invalid", _json(422, {"error": exc.reason, "detail": exc.message})
        owner = self.owner()
        left = self.deadline - (time.monotonic() - started)
        if owner is not None:
            if request.headers.get(FORWARDED):  # the holder moved while it was on its way
                return "unavailable", _json(
                    503, {"error": "unavailable", "detail": "the decide partition is moving"}
                )
            return await self._forward(owner, request, raw, left)
        try:
            # a timeout on this task, not `wait_for`'s task of its own for every request
            async with asyncio.timeout(left):
                answer = await self.authorize(raw, checkout.event_id)
        except TimeoutError:
            return "deadline", _json(
                503,
                {
                    "error": "deadline",
                    "detail": f"no answer within {self.deadline * 1000:.0f} ms: sell without "
                    "the discount, or ask again with the same event_id",
                },
            )
        if answer is None:
            return "failed", _json(
                503, {"error": "processing_error", "detail": "the checkout could not be decided"}
            )
        return "answered", _json(200, answer)

    async def _forward(
        self, owner: str, request: web.Request, raw: bytes, left: float
    ) -> tuple[str, web.Response]:
        """To the worker holding the decide partition, within what is left of the deadline."""
        if left <= 0:
            return "deadline", _json(503, {"error": "deadline", "detail": "no time left"})
        if self._client is None:
            self._client = ClientSession()
        headers = {
            "Authorization": request.headers.get("Authorization", ""),
            "Content-Type": "application/json",
            FORWARDED: "1",
        }
        try:
            async with self._client.post(
                owner.rstrip("/") + PATH,
                data=raw,
                headers=headers,
                timeout=ClientTimeout(total=left),
            ) as answer:
                body = await answer.read()
                status = answer.status
        except (TimeoutError, OSError) as exc:
            return "deadline", _json(
                503,
                {"error": "unavailable", "detail": f"the deciding worker: {type(exc).__name__}"},
            )
        return "forwarded", web.Response(
            status=status,
            body=body,
            content_type="application/json",
            headers={"Cache-Control": "no-store"},
        )
