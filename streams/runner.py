"""Running a worker in the foreground until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import faust

from replay.observers import Observer
from schemas.rules import ProgrammeRules
from streams.app import StreamConfig, Worker


def run_worker(
    config: StreamConfig,
    rules: ProgrammeRules,
    observers: Sequence[Observer] = (),
    loglevel: str = "warning",
) -> None:
    """Start the stages and block; Faust handles the signals and leaves the group cleanly."""
    worker = Worker(config, rules, observers)
    logging.getLogger("faust").setLevel(loglevel.upper())
    faust.Worker(worker.app, loglevel=loglevel, quiet=True).execute_from_commandline()
