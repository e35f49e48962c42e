"""Faust's Kafka transport with the consumer's fetch wait as a setting, and stream buffers
that a resumed flow does not empty.

Faust builds its worker consumer with `fetch_max_wait_ms=1500` written into the call, and the
broker may hold a fetch that long when a partition has nothing new. Each stage of a pipeline
waits on its own fetch, so at a low rate every hop could cost up to 1.5 s: too long for a
decision due within a quarter of a second. The wait is set on the aiokafka consumer before it
starts (it hands the value to its fetcher then).
"""

from __future__ import annotations

from typing import Any

import aiokafka
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.utils.queues import FlowControlEvent


def with_fetch_wait(app: Any, fetch_wait: float) -> None:
    """Give `app` a transport whose worker consumer waits at most `fetch_wait` s per fetch.

    Call it right after building the app, before any topic is declared (a topic builds the
    transport).
    """
    wait_ms = max(int(fetch_wait * 1000), 1)

    class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
        def _create_worker_consumer(
            self, transport: faust_aiokafka.Transport
        ) -> aiokafka.AIOKafkaConsumer:
            consumer = super()._create_worker_consumer(transport)
            consumer._fetch_max_wait_ms = wait_ms  # read by `start()`, not before
            return consumer

    class WaitingConsumer(faust_aiokafka.Consumer):
        def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    class Transport(faust_aiokafka.Transport):
        Consumer = WaitingConsumer

    app.transport = Transport(app.conf.broker_consumer, app)


class KeptBuffers(FlowControlEvent):
    """Flow control whose `resume()` leaves the streams' buffers as they are.

    Faust empties every stream buffer when it resumes the flow, and it resumes it at the end of
    a rebalance *after* seeking the partitions to their committed offsets, while the fetcher is
    already delivering them (faust/tables/recovery.py: `resume_partitions`, `perform_seek`,
    then `flow_control.resume()`). The messages delivered during the seek were dropped from the
    buffers, and the consumer's read offset had passed them, so it dropped them again when the
    seek brought them back: a worker that started on a backlog was never handed a few dozen
    orders until its next restart. A revocation still empties the buffers (Faust calls
    `clear()` then), and nothing enters them while the flow is suspended.
    """

    def resume(self) -> None:
        self._suspend.clear()
        self._resume.set()


def with_kept_buffers(app: Any) -> None:
    """Give `app` the flow control above; call it before any stream or topic is made."""
    app.flow_control = KeptBuffers(loop=app.loop)
