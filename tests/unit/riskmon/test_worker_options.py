"""`riskmon worker`: the options left out keep `StreamConfig`'s defaults, given ones win."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

import streams.runner
from riskmon.cli import app
from streams.config import StreamConfig

runner = CliRunner()


def started_with(monkeypatch: pytest.MonkeyPatch, *options: str) -> StreamConfig:
    seen: list[StreamConfig] = []

    def run_worker(config: StreamConfig, *args: Any, **kwargs: Any) -> None:
        seen.append(config)

    monkeypatch.setattr(streams.runner, "run_worker", run_worker)
    monkeypatch.setenv("RISKMON_GC_FULL_EVERY_S", "0")  # no GC tuning of the test process
    result = runner.invoke(app, ["worker", "--kafka", "127.0.0.1:9", *options])
    assert result.exit_code == 0, result.output
    return seen[0]


def test_a_worker_without_options_runs_with_the_stream_configs_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = started_with(monkeypatch)
    defaults = StreamConfig(broker="127.0.0.1:9")
    assert (config.watch_partitions, config.batch, config.checkpoint_every) == (
        defaults.watch_partitions,
        defaults.batch,
        defaults.checkpoint_every,
    )
    assert (config.watch_partitions, config.batch, config.checkpoint_every) == (8, 1000, 50_000)


def test_the_options_given_replace_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    config = started_with(
        monkeypatch, "--watch-partitions", "3", "--batch", "20", "--checkpoint-every", "700"
    )
    assert (config.watch_partitions, config.batch, config.checkpoint_every) == (3, 20, 700)
