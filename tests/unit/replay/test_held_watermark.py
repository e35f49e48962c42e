"""The held events' watermark, kept between events, is the slowest partition's time."""

from __future__ import annotations

import random

from detectors.sequence import EventTimeBuffer


def test_the_kept_watermark_is_the_minimum_of_the_partitions_times() -> None:
    rng = random.Random(11)
    for partitions in (1, 2, 5, 12):
        buffer = EventTimeBuffer(partitions)
        for _ in range(3000):
            # times mostly rise, sometimes repeat or go back (a partition's time never does)
            buffer.note(rng.randrange(partitions), float(rng.randrange(0, 400)))
            expected = (
                min(buffer.times.values()) if len(buffer.times) == partitions else float("-inf")
            )
            assert buffer.watermark() == expected
