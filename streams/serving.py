"""The authorization API inside a worker: which worker decides (the group's assignment), how a
checkout reaches the decide log, and the warm-up that has the stage take its partition up
before the first checkout rather than while one waits for its answer (streams/api.py serves)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from faust.types import TP

from streams.api import AuthorizeAPI, Tokens
from streams.config import StreamConfig
from streams.messages import DECIDE_TOPIC, headers_of
from streams.outbox import Outbox

Authorize = Callable[..., Awaitable[dict[str, Any] | None]]


async def no_tokens(token: str) -> str | None:
    return None  # no store to check tokens in: every request is refused


class CheckoutService:
    """The API of one worker: it answers when it holds the decide partition, else forwards."""

    def __init__(
        self,
        app: Any,
        config: StreamConfig,
        box: Outbox,
        authorize: Authorize,
        ready: Callable[[], bool],
        tokens: Tokens | None,
        metrics: Any,
        decode: Callable[[bytes, int], Any] | None = None,
    ) -> None:
        self.app = app
        self.port = config.api_port
        self.box = box
        # whether this worker holds the decide partition, as of the last rebalance (None: ask
        # the consumer): the consumer's assignment is a new set of every partition each time
        # it is asked, a twentieth of the worker's time at 500 authorizations/s
        self._holds: bool | None = None
        self.api = AuthorizeAPI(
            lambda raw, event_id: authorize(raw, event_id, append=self.append),
            self.owner,
            tokens or no_tokens,
            deadline=config.api_deadline,
            max_bytes=config.max_bytes,
            metrics=metrics,
            ready=ready,
            decode=decode,
        )

    async def serve(self) -> None:
        await self.api.start("0.0.0.0", self.port)  # noqa: S104 - a service's port

    async def stop(self) -> None:
        await self.api.stop()

    async def append(self, raw: bytes) -> Any:
        """A checkout in the decide log (partition 0), delivered: its record's metadata."""
        producer = await self.box.producer()
        headers = headers_of("checkout")
        return await (await producer.send(DECIDE_TOPIC, raw, partition=0, headers=headers))

    async def warm_up(self) -> None:
        """A tick that releases nothing, so the stage restores its state now."""
        producer = await self.box.producer()
        tick = b'{"after": -2}'
        await (await producer.send(DECIDE_TOPIC, tick, partition=0, headers=headers_of("tick")))

    def moved(self) -> None:
        """A rebalance: the next request asks the consumer's assignment again."""
        self._holds = None

    def owner(self) -> str | None:
        """None if this worker holds the decide partition, else the URL of the one that does
        (from the group's assignment); an empty string while nobody is known to."""
        holds = self._holds
        if holds is None:
            holds = self._holds = TP(DECIDE_TOPIC, 0) in self.app.consumer.assignment()
        if holds:
            return None
        try:
            return str(self.app.router.key_store("decide-state", "0"))
        except Exception:  # a rebalance under way: nobody to ask yet
            return ""
