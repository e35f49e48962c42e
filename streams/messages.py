"""The messages the stages read, in a form of their own: no Faust, no Kafka client.

A runtime turns what its consumer hands over (a Faust event, a record of the in-process tests)
into `Message`s; the stages read only these.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from schemas.outputs import Origin
from streams.frames import FrameError

DECIDE_TOPIC = "riskmon-decide"
WATCH_TOPIC = "riskmon-watch"

# What a `riskmon-decide` message holds, from its `kind` header: a frame of orders from the
# intake, a verdict from the labels stage, or the decide stage's own note that its input is idle.
Kind = Literal["orders", "label", "tick", "control", "rules", "checkout"]
KINDS: tuple[Kind, ...] = ("orders", "label", "tick", "control", "rules", "checkout")
ORDERS_HEADERS = [("kind", b"orders")]


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    value: bytes
    kind: str = "orders"
    timestamp: float = 0.0  # append time, seconds (0: not known)
    key: bytes | None = None

    @property
    def origin(self) -> Origin:
        return Origin(self.topic, self.partition, self.offset)


def kind_of(headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None) -> str:
    """The `kind` header's value (a message without one is a frame of orders).

    >>> kind_of([("kind", b"tick")]), kind_of(None)
    ('tick', 'orders')
    """
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    for name, value in pairs:
        if name == "kind":
            return bytes(value).decode("ascii", "replace")
    return "orders"


def headers_of(kind: str) -> list[tuple[str, bytes]]:
    return [("kind", kind.encode("ascii"))]


@dataclass(frozen=True, slots=True)
class Handed:
    """An intake frame as delivered to `riskmon-decide`: the message the decide stage will
    read there, taken over in process (see `follow_on`)."""

    partition: int
    offset: int
    value: bytes
    kind: str = "orders"  # or "checkout": an authorization the API has just appended
    timestamp: float = 0.0  # when it was appended (0: not known)

    def message(self) -> Message:
        return Message(
            DECIDE_TOPIC, self.partition, self.offset, self.value, self.kind, self.timestamp
        )


def follow_on(frames: Iterable[Handed], applied: Mapping[int, int]) -> list[Handed]:
    """The frames that carry on from `applied` (the last offset applied, per partition held):
    each right after the one before it in its partition. The rest are left to be read.

    >>> f = lambda partition, offset: Handed(partition, offset, b"")
    >>> [x.offset for x in follow_on([f(0, 5), f(0, 6), f(0, 8), f(1, 3)], {0: 4})]
    [5, 6]
    """
    out: list[Handed] = []
    last = dict(applied)
    for frame in frames:
        if last.get(frame.partition, -2) + 1 == frame.offset:
            out.append(frame)
            last[frame.partition] = frame.offset
    return out


def positions(pos: Any) -> dict[int, tuple[int, int | None]]:
    """An intake frame's positions ({partition: [last offset read, high watermark]}), checked.

    >>> positions({"3": [9, 10], "5": [0, None]})
    {3: (9, 10), 5: (0, None)}
    """
    try:
        out = {}
        for part, (offset, end) in pos.items():
            if not isinstance(offset, int) or not isinstance(end, int | None):
                raise TypeError(part)
            out[int(part)] = (offset, end)
    except (AttributeError, TypeError, ValueError) as exc:
        raise FrameError(f"positions are not {{partition: [offset, end]}}: {exc!r}") from exc
    return out


def watch_partition(kind: str, key: str, partitions: int) -> int:
    """The watch partition that holds an entity's state: stable across processes.

    >>> watch_partition("device", "dv-1", 8) == watch_partition("device", "dv-1", 8)
    True
    """
    return zlib.crc32(f"{kind}|{key}".encode()) % partitions


def event_id_of(raw: bytes) -> str:
    """An event's id from bytes that may not decode (a waiting caller's key), or ""."""
    try:
        found = orjson.loads(raw).get("event_id")
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    return found if isinstance(found, str) else ""


def tick_after(raw: bytes) -> int:
    """The offset an idle tick names (`{"after": N}`); a FrameError if it names none.

    >>> tick_after(b'{"after": 41}')
    41
    """
    try:
        after = orjson.loads(raw)["after"]
        if not isinstance(after, int):
            raise TypeError(after)
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise FrameError(f"a tick names no offset: {exc!r}") from None
    return int(after)
