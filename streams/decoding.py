"""Orders decoded lately in this worker, by their bytes.

An order crosses three stages, and in one worker every stage decodes the same bytes again:
the intake to validate it, the decide stage to decide it, and each watch partition it is routed
to (about five of eight) to watch it. Decoding was the largest cost after the detectors; the
models are frozen, so the stages can share one.

A checkout likewise: the authorization API validates it, then the decide stage reads the same
bytes twice (whether it waits for the catalog, then its answer); pydantic's validation of the
three was a tenth of the worker's time at 500 authorizations/s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemas.decode import decode_checkout, decode_order


class RecentOrders:
    """`decode_order` with the last `size` successes remembered (first in, first out)."""

    __slots__ = ("_checkouts", "_items", "size")

    def __init__(self, size: int = 8192) -> None:
        self.size = size
        self._items: dict[bytes, Any] = {}
        # apart: the bytes of a checkout are no order (`decode` must go on refusing them)
        self._checkouts: dict[bytes, Any] = {}

    def decode(self, raw: bytes, max_bytes: int) -> Any:
        """The order `raw` holds; raises `DecodeError` as `decode_order` does (never cached).

        >>> import orjson
        >>> recent = RecentOrders(size=1)
        >>> raw = orjson.dumps({"schema_version": 1})
        >>> try:
        ...     recent.decode(raw, 1 << 20)
        ... except Exception as exc:
        ...     type(exc).__name__
        'DecodeError'
        """
        return self._remembered(self._items, decode_order, raw, max_bytes)

    def checkout(self, raw: bytes, max_bytes: int) -> Any:
        """`decode_checkout`, remembered as `decode` remembers orders.

        >>> import orjson
        >>> recent = RecentOrders(size=1)
        >>> try:
        ...     recent.checkout(orjson.dumps({"event_type": "order_checkout"}), 1 << 20)
        ... except Exception as exc:
        ...     type(exc).__name__
        'DecodeError'
        """
        return self._remembered(self._checkouts, decode_checkout, raw, max_bytes)

    def _remembered(
        self,
        items: dict[bytes, Any],
        decode: Callable[[bytes, int], Any],
        raw: bytes,
        max_bytes: int,
    ) -> Any:
        found = items.get(raw)
        if found is not None and len(raw) <= max_bytes:
            return found
        decoded = decode(raw, max_bytes)
        items[raw] = decoded
        if len(items) > self.size:
            del items[next(iter(items))]
        return decoded

    def __len__(self) -> int:
        return len(self._items)
