"""Orders decoded once per worker: the same model for the same bytes, errors never kept."""

from __future__ import annotations

import pytest
from factories import line, paid

from schemas.decode import DecodeError, decode_order
from streams.decoding import RecentOrders


def raw_order(n: int) -> bytes:
    return line(paid(order_id=f"PS{n:08d}")).rstrip(b"\n")


def test_the_same_bytes_give_the_same_model_as_decode_order() -> None:
    recent = RecentOrders()
    raw = raw_order(1)
    first = recent.decode(raw, 1 << 20)
    assert first == decode_order(raw)
    assert recent.decode(bytes(raw), 1 << 20) is first  # equal bytes, another object


def test_the_oldest_goes_first_beyond_the_size() -> None:
    recent = RecentOrders(size=2)
    raws = [raw_order(n) for n in range(3)]
    models = [recent.decode(raw, 1 << 20) for raw in raws]
    assert len(recent) == 2
    assert recent.decode(raws[2], 1 << 20) is models[2]
    assert recent.decode(raws[0], 1 << 20) is not models[0]  # decoded again


def test_a_kept_order_is_still_refused_above_a_smaller_limit() -> None:
    recent = RecentOrders()
    raw = raw_order(1)
    recent.decode(raw, 1 << 20)
    with pytest.raises(DecodeError) as caught:
        recent.decode(raw, 10)
    assert caught.value.reason == "too_large"


def test_an_error_is_raised_each_time_and_not_kept() -> None:
    recent = RecentOrders()
    for _ in range(2):
        with pytest.raises(DecodeError):
            recent.decode(b"{not json", 1 << 20)
    assert len(recent) == 0
