"""How a worker runs: the broker, its partitions, its batching and its deadlines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.decode import DEFAULT_MAX_BYTES
from streams.ordering import IDLE_AFTER


@dataclass(frozen=True)
class StreamConfig:
    """How a worker runs: the broker, its partitions and its batching (settings, not code)."""

    broker: str  # host:port
    app_id: str = "riskmon"
    watch_partitions: int = 8
    batch: int = 1000  # messages taken at once from a topic
    within: float = 0.01  # seconds a partial batch waits
    # the same for the side inputs (catalog, labels, rules, controls): none of them is waited
    # for within milliseconds (Faust's batch wait woke its agent every `within` even with
    # nothing to read, four agents every 10 ms a fifth of an idle worker's CPU; the agents'
    # own wait, streams.faust_io.take_events, sleeps until the first event now)
    side_within: float = 0.2
    max_bytes: int = DEFAULT_MAX_BYTES
    expire_every: int = 4096  # decided events between checks of waiting later events
    # kafka-notes: Faust's defaults keep a joining worker ~30 s in "(Re-)joining group"
    rebalance_timeout: float = 5.0
    session_timeout: float = 10.0
    heartbeat: float = 1.0
    commit_interval: float = 1.0
    batch_bytes: int = 65536  # producer batches: see `Settings.kafka_batch_bytes`
    fetch_wait: float = 0.025  # seconds the broker may hold a fetch: see streams/transport.py
    # paid orders between checkpoints of the online models (a checkpoint of a few MB holds the
    # decide stage for a fraction of a second; a stop and a rebalance checkpoint anyway)
    checkpoint_every: int = 50_000
    # a stable name for this worker in the consumer group (static membership), or none
    instance_id: str | None = None
    # seconds without input after which the decide stage releases every held watch ticket
    release_idle: float = 15.0
    # a frame of orders the catalog as read counts against waits until the catalog is current
    # as of its arrival plus this margin (the clocks of two workers), or `catalog_timeout`
    catalog_margin: float = 0.02
    catalog_timeout: float = 60.0
    # an order whose occurred_at is this far after its record's append time is a dead letter
    # (`occurred_in_future`); 0: no check (a demo whose simulated time runs ahead of the clock)
    future_tolerance: float = 86400.0
    # seconds of append time without a record after which an orders partition no longer holds
    # the watch tickets back (streams/ordering.py)
    partition_idle: float = IDLE_AFTER
    # the checkout authorization API (streams/api.py): its port (0: none), the host the other
    # workers reach it at, the answer's deadline, and how long a reservation holds (event time)
    api_port: int = 0
    api_host: str = "127.0.0.1"
    api_deadline: float = 0.2
    checkout_hold: float = 1800.0
    # with the API: seconds the decide partition's fetches pause while all they bring is what
    # the stage applied in process (streams/readback.py); 0: never paused
    readback_pause: float = 0.1
    # seconds between the garbage collector's full passes, run by the worker's timer once the
    # command has taken them out of the collector's hands (riskmon.tuning.for_latency; 0: none)
    full_collection_every: float = 600.0
    extra: dict[str, Any] = field(default_factory=dict)  # more Faust settings
