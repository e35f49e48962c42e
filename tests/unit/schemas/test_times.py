"""The window of event times: every time the contract accepts is one the stages can handle.

Issue 18 item 1: an `order_paid` at `0001-01-01T00:00:00+14:00` or `9999-12-31T23:59:59-12:00`
passed the contract and then overflowed in the detectors (`astimezone`), stopping the worker
at every restart. Every event time of every input topic is now bounded; the rest is a dead
letter, `time_out_of_range`, naming the field.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from factories import Run, paid
from inputs import TIMES, TOPICS, put

from schemas.decode import DecodeError, decode_order
from schemas.outputs import dumps
from schemas.rules import RulesError, load_rules
from schemas.times import DEFAULT_WINDOW, TimeWindow, WindowError

POISON = ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00")
JUST_OUTSIDE = ("1999-12-31T23:59:59+00:00", "2000-01-01T07:59:59+08:00", "2100-01-01T00:00:00Z")
CASES = [(topic, make, decode, f) for topic, make, decode in TOPICS for f in TIMES[topic]]


@pytest.mark.parametrize(("topic", "make", "decode", "field"), CASES)
@pytest.mark.parametrize("value", POISON + JUST_OUTSIDE)
def test_a_time_outside_the_window_is_a_dead_letter_naming_the_field(
    topic: str,
    make: Callable[[], dict[str, Any]],
    decode: Callable[[bytes], Any],
    field: str,
    value: str,
) -> None:
    with pytest.raises(DecodeError) as info:
        decode(dumps(put(make(), field, value)))
    assert info.value.reason == "time_out_of_range"
    assert info.value.message.startswith(f"{field}: outside the accepted window")
    assert value not in info.value.message


@pytest.mark.parametrize("value", ["2000-01-01T00:00:00Z", "2000-01-01T08:00:00+08:00"])
def test_the_window_includes_its_start(value: str) -> None:
    assert decode_order(dumps(paid(consumer__account_created_at=value))).consumer


def test_the_poison_orders_never_reach_the_detectors() -> None:
    run = Run()
    for value in POISON:
        event = paid(occurred_at=value)
        with pytest.raises(DecodeError, match="occurred_at"):
            run.feed(event)
    run.feed(paid("after"))  # the pipeline goes on
    assert len(run.decisions) == 1


def test_an_edge_may_narrow_the_window() -> None:
    june = dumps(paid(occurred_at="2026-06-30T23:59:59+08:00"))
    assert decode_order(june).occurred_at.month == 6
    programme = TimeWindow(datetime(2026, 7, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    with pytest.raises(DecodeError) as info:
        decode_order(june, window=programme)
    assert info.value.reason == "time_out_of_range"
    assert "2026-07-01T00:00:00+00:00 (included)" in info.value.message


def test_a_window_is_aware_non_empty_and_within_the_outer_limits() -> None:
    start, end = DEFAULT_WINDOW.start, DEFAULT_WINDOW.end
    with pytest.raises(WindowError, match="time zone"):
        TimeWindow(datetime(2000, 1, 1), end)
    with pytest.raises(WindowError, match="start before it ends"):
        TimeWindow(end, start)
    with pytest.raises(WindowError, match="within 1900-01-01 and 2200-01-01"):
        TimeWindow(start, datetime(9999, 12, 31, tzinfo=timezone(timedelta(hours=-12))))
    assert datetime(2026, 7, 1, tzinfo=timezone(timedelta(hours=8))) in DEFAULT_WINDOW


def test_the_default_window_holds_the_programme_with_room_to_spare() -> None:
    rules = load_rules()
    for programme in rules.programmes.values():
        assert programme.start - DEFAULT_WINDOW.start > timedelta(days=365 * 20)
        assert DEFAULT_WINDOW.end - programme.end > timedelta(days=365 * 20)


def test_rules_whose_programme_is_outside_the_window_are_refused_naming_the_line() -> None:
    narrow = TimeWindow(datetime(2026, 8, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))
    with pytest.raises(RulesError) as info:
        load_rules(window=narrow)
    text = str(info.value)
    assert "programmes.featured_goods.start: outside the accepted window" in text
    assert "programme-2026.toml:25:" in text
