"""Frames between the stages: many records per message, cut under a size, parsed strictly."""

from __future__ import annotations

import pytest

from streams.frames import FrameError, Framer, frame, unframe
from streams.messages import positions as _positions


def test_records_come_back_in_order_with_their_metadata_and_newlines() -> None:
    records = [({"at": [3, i]}, b'{"a":\n%d}' % i) for i in range(50)]
    got = list(unframe(frame([(dict(m), b) for m, b in records])))
    assert [b for _, b in got] == [b for _, b in records]
    assert [m["at"] for m, _ in got] == [m["at"] for m, _ in records]


def test_a_framer_cuts_frames_under_its_limit_and_keeps_a_large_body_whole() -> None:
    framer = Framer(limit=1000)
    for i in range(30):
        framer.add({"i": i}, b"x" * 100)
    framer.add({"i": 30}, b"y" * 5000)  # larger than the limit: a frame of its own
    frames = framer.take()
    assert all(len(f) < 1200 for f in frames[:-1])
    assert [m["i"] for f in frames for m, _ in unframe(f)] == list(range(31))
    assert framer.take() == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"no newline", "no metadata line"),
        (b"{not json\nabc", "metadata"),
        (b'{"n": 1}\nabc', "not a list"),
        (b'[{"n": 5}]\nabc', "does not fit"),
        (b'[{"n": -1}]\nabc', "does not fit"),
        (b'["n"]\nabc', "does not fit"),
        (b'[{"n": 1}]\nabc', "2 bytes after the last body"),
    ],
)
def test_a_damaged_frame_is_named(value: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        list(unframe(value))


@pytest.mark.parametrize(
    "pos", [[1, 2], {"x": [1, 2]}, {"1": [1]}, {"1": ["1", 2]}, {"1": [1, "end"]}, {"1": 5}]
)
def test_positions_that_are_not_partition_offset_end_make_a_malformed_frame(pos: object) -> None:
    with pytest.raises(FrameError):
        _positions(pos)
