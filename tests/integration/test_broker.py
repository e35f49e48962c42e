"""The embedded broker and the file <-> topic commands, against a real tansu process."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from riskmon.cli import app
from simulation.generator import generate
from streams.broker import EmbeddedBroker
from streams.topics import TOPICS

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture(scope="module")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as running:
        yield running


def test_the_contract_topics_exist_with_their_partitions(broker: EmbeddedBroker) -> None:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        described = {t["name"]: len(t["partitions"]) for t in admin.describe_topics()}
    finally:
        admin.close()
    for spec in TOPICS:
        assert described[spec.name] == spec.partitions, spec.name


def test_produce_then_tail_gives_back_every_line_keyed(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    from kafka import KafkaConsumer

    generate(5, 1, tmp_path, events_per_day=400, bad_lines=2)
    events = tmp_path / "events.jsonl"
    sent = runner.invoke(
        app, ["produce", str(events), "--topic", "orders", "--kafka", broker.bootstrap]
    )
    assert sent.exit_code == 0, sent.output
    lines = [x for x in events.read_bytes().splitlines() if x.strip()]
    assert f"sent {len(lines):,} messages" in sent.output
    out = tmp_path / "tail.jsonl"
    tailed = runner.invoke(
        app,
        [
            "tail",
            "orders",
            "--from-beginning",
            "--until-idle",
            "6",  # generous: a slow first fetch must not end the tail early
            "--out",
            str(out),
            "--kafka",
            broker.bootstrap,
        ],
    )
    assert tailed.exit_code == 0, tailed.output
    assert sorted(out.read_bytes().splitlines()) == sorted(lines)

    consumer = KafkaConsumer(
        "orders",
        bootstrap_servers=broker.bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        consumer_timeout_ms=6000,
    )
    try:
        keyed = unkeyed = 0
        for message in consumer:
            try:
                expected = orjson.loads(message.value)["consumer"]["id_hash"].encode()
            except (orjson.JSONDecodeError, KeyError, TypeError):
                assert message.key is None  # a malformed line travels without a key
                unkeyed += 1
                continue
            assert message.key == expected
            keyed += 1
    finally:
        consumer.close()
    assert keyed == len(lines) - 2 and unkeyed == 2


def test_commands_without_a_broker_say_how_to_get_one(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("RISKMON_KAFKA", raising=False)
    result = runner.invoke(app, ["tail", "orders"])
    assert result.exit_code == 2 and "riskmon broker" in result.output


def test_broker_command_prints_its_address_and_stops_on_sigterm() -> None:
    from kafka.admin import KafkaAdminClient

    command = [sys.executable, "-m", "riskmon.cli", "broker"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline().strip()
            assert first.startswith("kafka 127.0.0.1:")
            admin = KafkaAdminClient(bootstrap_servers=first.split()[1])
            assert "orders" in admin.list_topics()
            admin.close()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0
        finally:
            if process.poll() is None:
                process.kill()
