"""No message stops a stage: one a stage fails on is dead-lettered, and the batch applied again.

A stage applies a batch in memory; an unexpected exception on one message (or one record of a
frame) would otherwise stop the worker, and again at every restart on the same message. The
stage instead rolls its partitions back to the state last saved, and applies the batch again
with that message dead-lettered as `processing_error` (the exception's type, never its data),
so what the failure had half done leaves no trace. The observers hear of a batch only once it
has gone through (docs/durability.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from replay.observers import Deferred, Observer

log = logging.getLogger("riskmon.streams")
T = TypeVar("T")
Where = tuple[int, int, int]  # partition, offset, record in the frame (-1: the message)


class Failed(Exception):
    """A message or a frame's record a stage failed on (the cause is chained)."""

    def __init__(self, where: Where, kind: str) -> None:
        super().__init__(where, kind)
        self.where = where
        self.kind = kind


def isolating(
    stage: str,
    attempt: Callable[[dict[Where, str]], T],
    roll_back: Callable[[], None],
    observers: Callable[[Observer | None], Observer],
    metrics: Any = None,
) -> T:
    """`attempt(failed)` until it goes through, each failure added to `failed` (what the next
    attempt dead-letters) after `roll_back()`; `observers(x)` swaps the stage's observers for
    `x` and returns the ones it had (None: put them back)."""
    failed: dict[Where, str] = {}
    target = observers(None)
    while True:
        deferred = Deferred(target)
        observers(deferred)
        try:
            result = attempt(failed)
        except Failed as exc:
            deferred.drop()
            roll_back()
            failed[exc.where] = exc.kind
            log.error(
                "%s partition %d offset %d: %s on %s; dead-lettered, batch applied again",
                stage,
                exc.where[0],
                exc.where[1],
                exc.kind,
                "the message" if exc.where[2] < 0 else f"record {exc.where[2]}",
                exc_info=exc.__cause__,
            )
            continue
        finally:
            observers(target)
        deferred.release()
        if metrics is not None:
            for _ in failed:
                metrics.count_processing_error(stage)
        return result
