"""Many records in one message between the stages: a JSON line of metadata, then the bodies.

Faust's cost is per message (an event object, an ack, offset bookkeeping): an order forwarded
alone to the decide stage, and then to about five watch partitions, spent more there than in
every detector together. A stage now sends what one batch of its input made for one partition
as one message. The bodies are raw bytes (an order as it came, which may hold newlines), so
the metadata gives each body's length rather than a separator.

```
[{"n": 312, ...meta}, {"n": 298, ...}] \\n <body 1><body 2>...
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from streams.state import dumps_state

# a frame stays under this (bodies and metadata), so it fits a broker's default 1 MB message
# limit; a single larger body goes alone
FRAME_BYTES = 512 * 1024


class FrameError(ValueError):
    """A frame that does not parse: named, not guessed at."""


class Framer:
    """Collects records and cuts them into frames of at most `limit` bytes."""

    __slots__ = ("bodies", "frames", "limit", "metas", "size")

    def __init__(self, limit: int = FRAME_BYTES) -> None:
        self.limit = limit
        self.frames: list[bytes] = []
        self.metas: list[dict[str, Any]] = []
        self.bodies: list[bytes] = []
        self.size = 0

    def add(self, meta: dict[str, Any], body: bytes) -> None:
        if self.bodies and self.size + len(body) > self.limit:
            self._cut()
        meta["n"] = len(body)
        self.metas.append(meta)
        self.bodies.append(body)
        self.size += len(body) + 64

    def take(self) -> list[bytes]:
        """The frames made so far, and a fresh start."""
        if self.bodies:
            self._cut()
        frames, self.frames = self.frames, []
        return frames

    def _cut(self) -> None:
        self.frames.append(dumps_state(self.metas) + b"\n" + b"".join(self.bodies))
        self.metas, self.bodies, self.size = [], [], 0


def frame(records: list[tuple[dict[str, Any], bytes]]) -> bytes:
    """One frame of `records` (meta, body), whatever its size.

    >>> list(unframe(frame([({"k": 1}, b"a\\nb"), ({"k": 2}, b"")])))
    [({'k': 1, 'n': 3}, b'a\\nb'), ({'k': 2, 'n': 0}, b'')]
    """
    framer = Framer(limit=1 << 62)
    for meta, body in records:
        framer.add(meta, body)
    return framer.take()[0]


def unframe(value: bytes) -> Iterator[tuple[dict[str, Any], bytes]]:
    """Each record of a frame: its metadata and its body."""
    head, sep, rest = value.partition(b"\n")
    if not sep:
        raise FrameError("no metadata line")
    try:
        metas = orjson.loads(head)
    except orjson.JSONDecodeError as exc:
        raise FrameError(f"metadata: {exc}") from exc
    if not isinstance(metas, list):
        raise FrameError("metadata is not a list")
    at = 0
    for meta in metas:
        n = meta.get("n") if isinstance(meta, dict) else None
        if not isinstance(n, int) or n < 0 or at + n > len(rest):
            raise FrameError("a body's length does not fit the frame")
        yield meta, rest[at : at + n]
        at += n
    if at != len(rest):
        raise FrameError(f"{len(rest) - at} bytes after the last body")
