"""The intake's frames taken over by the decide stage in process: only those that carry on
from what it has applied, in the log's order; everything else is left for the agent to read."""

from __future__ import annotations

from streams.messages import Handed, follow_on


def frames(*at: tuple[int, int]) -> list[Handed]:
    return [Handed(partition, offset, b"frame %d" % offset) for partition, offset in at]


def offsets(found: list[Handed]) -> list[tuple[int, int]]:
    return [(f.partition, f.offset) for f in found]


def test_frames_right_after_the_applied_offset_are_taken_in_order() -> None:
    assert offsets(follow_on(frames((0, 5), (0, 6), (0, 7)), {0: 4})) == [(0, 5), (0, 6), (0, 7)]


def test_a_gap_leaves_that_frame_and_the_later_ones_to_the_reader() -> None:
    # offset 6 is a verdict or a tick, read and applied by the agent in its turn
    assert offsets(follow_on(frames((0, 5), (0, 7), (0, 8)), {0: 4})) == [(0, 5)]


def test_frames_already_applied_by_the_agent_are_not_decided_twice() -> None:
    assert offsets(follow_on(frames((0, 3), (0, 4), (0, 5)), {0: 4})) == [(0, 5)]


def test_frames_of_a_partition_held_elsewhere_or_not_taken_up_are_left_alone() -> None:
    assert follow_on(frames((0, 0), (1, 0)), {}) == []
    assert offsets(follow_on(frames((0, 0), (1, 0)), {1: -1})) == [(1, 0)]  # nothing applied yet


def test_a_handed_frame_reads_as_a_frame_of_orders_on_the_decide_topic() -> None:
    message = Handed(0, 9, b"x").message()
    assert (message.topic, message.kind, message.offset) == ("riskmon-decide", "orders", 9)
