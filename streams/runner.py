"""Running a worker in the foreground until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import faust

from detectors.learning import LearningConfig
from replay.observers import Observer
from schemas.rules import ProgrammeRules
from streams.api import Tokens
from streams.app import StoreSink, StreamConfig, Worker
from streams.metrics import MetricsObserver, MetricsServer

log = logging.getLogger("riskmon.streams")


def run_worker(
    config: StreamConfig,
    rules: ProgrammeRules,
    observers: Sequence[Observer] = (),
    loglevel: str = "warning",
    metrics_port: int = 0,
    store: StoreSink | None = None,
    learning: LearningConfig | None = None,
    tokens: Tokens | None = None,
) -> None:
    """Start the stages and block; Faust handles the signals and leaves the group cleanly.

    With a `metrics_port`, /metrics is served there (a port in use is logged, not fatal: a
    second worker on one machine still works, unobserved).
    """
    metrics = MetricsObserver(rules)
    server: MetricsServer | None = None
    if metrics_port:
        try:
            server = metrics.serve(metrics_port)
        except OSError as exc:
            log.warning("metrics not served on port %d: %s", metrics_port, exc)
    worker = Worker(
        config, rules, observers, metrics=metrics, store=store, learning=learning, tokens=tokens
    )
    logging.getLogger("faust").setLevel(loglevel.upper())
    try:
        runner = faust.Worker(worker.app, loglevel=loglevel, quiet=True)
        # Faust's terminal spinner sets the root logger to DEBUG, so every debug call of the
        # Kafka client built a log record: about a fifth of the worker's CPU (benchmarks/stream.py)
        runner.spinner = None
        runner.execute_from_commandline()
    finally:
        if server is not None:
            server.close()
