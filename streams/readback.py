"""The decide partition's read-back, paused while all it brings is what the stage has applied.

The worker holding the decide partition decides the checkouts it appends (and its intake's
frames) in process, as soon as they are on the broker (`DecideRunner.handed`); its agent still
reads them back, only to drop them. Each append is new data on the partition and tansu answers
a fetch at once when there is some, so the consumer fetched, parsed and streamed through Faust
in a loop, a round every request or two: at 500 authorizations/s a good share of the worker's
CPU, and of the broker's.

So when a batch the agent reads holds nothing the stage has not applied (an echo), the
partition's fetches are paused in the Kafka client for `every` seconds; then it is read again,
from the last record the stage has applied (the records before it, applied and saved, are
skipped: Faust counts them as a gap, acknowledged; the last one is read, so the group's
committed offset keeps up), and paused again if that too was an echo. Nothing the stage has
not applied is skipped, and what the agent reads that is not applied yet keeps the fetches
going. Two things read it at once instead of waiting:

- a frame handed over behind a gap (a record the stage must read first: another worker's
  frame, a side input's forward, an idle tick) resumes the fetches (`behind`), so a checkout
  never waits out the pause;
- a rebalance gives the client fresh partition states, not paused.

What the pause delays is only what nobody hands over and nothing waits behind: a record
appended by another process while this worker appends nothing after it (a control, a verdict
of the labels stage), read up to `every` seconds later. The consumer's committed offset for the
partition follows the reads, so it lags by as much (a restart reads that again and skips it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import TopicPartition

from streams.messages import DECIDE_TOPIC

log = logging.getLogger("riskmon.streams")


class ReadBack:
    """Pauses and resumes one partition's fetches in Faust's consumer thread.

    `consumer()` is Faust's consumer, asked for when needed (its `_thread` holds the aiokafka
    consumer and the loop it runs in); one without them makes this do nothing.
    `paused` is read and written by both threads: a bool, the GIL makes each step atomic, and
    a stale view costs at most a resume that was not needed or a pause a round late.
    """

    def __init__(
        self,
        consumer: Callable[[], Any],
        every: float,
        applied: Callable[[], int | None] = lambda: None,
        partition: int = 0,
    ) -> None:
        self.consumer = consumer
        self.every = every
        # the last offset the stage has applied in the partition (None: not taken up), read
        # in the consumer's thread: records up to it need not be fetched
        self.applied = applied
        self.skipped = 0  # records not fetched
        self.tp = TopicPartition(DECIDE_TOPIC, partition)
        self.paused = False
        self.pauses = 0  # how many times (for tests and the log)

    def read(self, fresh: bool) -> None:
        """After a batch the agent read: `fresh` if it held anything the stage had not applied
        (or a partition not taken up yet)."""
        if fresh or self.paused or self.every <= 0:
            return
        self.paused = True  # before the thread may say it could not
        if self._in_thread(self._pause):
            self.pauses += 1
        else:
            self.paused = False

    def behind(self) -> None:
        """A frame handed over waits behind a gap: the gap must be read, now."""
        if self.paused:
            self.paused = False
            self._in_thread(self._resume)

    def _in_thread(self, call: Any) -> bool:
        thread = getattr(self.consumer(), "_thread", None)
        loop = getattr(thread, "thread_loop", None)
        kafka = getattr(thread, "_consumer", None)
        if loop is None or kafka is None or loop.is_closed():
            return False
        loop.call_soon_threadsafe(call, kafka)
        return True

    # -- in the consumer's thread ---------------------------------------------------------------

    def _pause(self, kafka: Any) -> None:
        try:
            kafka.pause(self.tp)
        except Exception:  # not assigned any more (a rebalance): nothing to pause
            log.debug("the decide partition's fetches not paused", exc_info=True)
            self.paused = False
            return
        asyncio.get_running_loop().call_later(self.every, self._resume, kafka)

    def _resume(self, kafka: Any) -> None:
        self.paused = False
        try:
            self._skip(kafka)
            kafka.resume(self.tp)
        except Exception:  # not assigned any more: its next assignment starts unpaused
            log.debug("the decide partition's fetches not resumed", exc_info=True)

    def _skip(self, kafka: Any) -> None:
        """The fetch position moved on to the last record applied, if it is behind it."""
        applied = self.applied()
        if applied is None or applied < 0:
            return
        assignment = kafka._subscription.subscription.assignment
        state = assignment.state_value(self.tp) if assignment is not None else None
        if state is None or not state.has_valid_position or state.position >= applied:
            return
        self.skipped += applied - state.position
        kafka.seek(self.tp, applied)
