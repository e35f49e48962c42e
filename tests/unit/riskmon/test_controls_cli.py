"""`riskmon controls add|lift|list|send`: each record as a worker decodes it, recorded in the
store's outbox with its audit row as cli:<user>, and handed to the producer keyed `kind:key`;
a broker that cannot be reached leaves it waiting, never lost. (A fake producer here; the real
broker: tests/integration/test_controls_live.py.)"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from disguises import make_id
from sqlalchemy import Engine, select
from typer.testing import CliRunner

import riskmon.controls_cli as controls_cli
from console.merchant_controls import ControlSender, enqueue
from reports.bureau_tables import controls_out
from reports.db import open_engine
from reports.tables import audit
from riskmon.cli import app
from schemas.decode import decode_control

# a resident ID number with a valid checksum, built at test time: no fixture holds one
RAW_ID = make_id(random.Random(5), ending_in_x=True)

runner = CliRunner()
PSEUDONYM = "a" * 64


@dataclass
class Sent:
    value: bytes
    key: bytes

    def get(self, timeout: float) -> None:
        return None


@dataclass
class FakeProducer:
    """Takes what a KafkaProducer would, keeps it; `down` refuses like a broker out of reach."""

    sent: list[tuple[str, Sent]] = field(default_factory=list)
    down: bool = False

    def send(self, topic: str, value: bytes, key: bytes) -> Sent:
        if self.down:
            raise ConnectionError("no broker")
        record = Sent(value, key)
        self.sent.append((topic, record))
        return record

    def flush(self, timeout: float) -> None:
        return None

    def close(self, timeout: float) -> None:
        return None


@pytest.fixture
def producer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeProducer:
    monkeypatch.setenv("RISKMON_DATABASE_URL", f"sqlite:///{tmp_path}/riskmon.db")
    fake = FakeProducer()

    def make_sender(engine: Engine, bootstrap: str) -> ControlSender:
        return ControlSender(engine, bootstrap, producer=fake)

    monkeypatch.setattr(controls_cli, "make_sender", make_sender)
    return fake


@pytest.fixture
def store(tmp_path: Path, producer: FakeProducer) -> Iterator[Engine]:
    engine = open_engine(f"sqlite:///{tmp_path}/riskmon.db")
    yield engine
    engine.dispose()


def _add(*args: str, user: str = "ops-1") -> Any:
    return runner.invoke(app, ["controls", "add", *args, "--user", user, "--kafka", "fake:9092"])


def test_add_records_audits_and_publishes_a_valid_record(
    producer: FakeProducer, store: Engine
) -> None:
    added = _add(
        "merchant", "M0003", "block", "--reason", "fake orders, incident 17", "--expires", "7d"
    )
    assert added.exit_code == 0, added.output
    ((topic, sent),) = producer.sent
    assert topic == "controls" and sent.key == b"merchant:M0003"
    control = decode_control(sent.value)
    assert (control.kind, control.key, control.action) == ("merchant", "M0003", "block")
    assert control.author == "cli:ops-1" and control.reason == "fake orders, incident 17"
    assert control.control_id.startswith("c-2") and control.control_id.endswith("-0001")
    assert control.expires_at is not None
    assert (control.expires_at - control.effective_from).days == 7
    assert control.control_id in added.output
    with store.connect() as connection:
        row = connection.execute(select(controls_out)).one()
        trail = connection.execute(select(audit).where(audit.c.action == "control")).one()
    assert row.status == "sent" and orjson.loads(row.payload)["control_id"] == control.control_id
    assert trail.actor == "cli:ops-1" and trail.target == control.control_id
    assert orjson.loads(trail.detail)["reason"] == "fake orders, incident 17"


def test_a_reason_is_required_and_a_bad_record_is_refused_before_anything_is_kept(
    producer: FakeProducer, store: Engine
) -> None:
    assert _add("merchant", "M0003", "block").exit_code == 2  # --reason missing
    refused = [
        _add("merchant", "M0003", "block", "--reason", "  "),
        _add("consumer", RAW_ID, "block", "--reason", "raw ID"),
        _add("merchant", "M0003", "pause", "--reason", "pause is for programmes"),
        _add("programme", "featured_goods", "block", "--reason", "x"),
        _add("merchant", "M0003", "frobnicate", "--reason", "x"),
        _add("merchant", "M0003", "block", "--reason", "x", "--effective", "2026-08-01T00:00"),
    ]
    for answer in refused:
        assert answer.exit_code == 2, answer.output
        assert RAW_ID not in answer.output
    assert producer.sent == []
    with store.connect() as connection:
        assert connection.execute(select(controls_out)).all() == []


def test_lift_ends_the_control_in_force_and_list_shows_the_states(
    producer: FakeProducer, store: Engine
) -> None:
    assert _add("address", PSEUDONYM, "allow", "--reason", "pickup station").exit_code == 0
    assert _add("programme", "featured_goods", "pause", "--reason", "budget spent").exit_code == 0
    first = decode_control(producer.sent[0][1].value).control_id
    lifted = runner.invoke(
        app,
        ["controls", "lift", first, "--reason", "station closed", "--user", "ops-2"],
        env={"RISKMON_KAFKA": "fake:9092"},
    )
    assert lifted.exit_code == 0, lifted.output
    lift = decode_control(producer.sent[-1][1].value)
    assert (lift.kind, lift.key, lift.action) == ("address", PSEUDONYM, "lift")
    assert lift.author == "cli:ops-2"
    assert producer.sent[-1][1].key == f"address:{PSEUDONYM}".encode()
    again = runner.invoke(
        app, ["controls", "lift", first, "--reason", "twice", "--kafka", "fake:9092"]
    )
    assert again.exit_code == 2 and "lifted" in again.output
    unknown = runner.invoke(
        app, ["controls", "lift", "c-1-0001", "--reason", "x", "--kafka", "fake:9092"]
    )
    assert unknown.exit_code == 2 and "no control" in unknown.output

    shown = runner.invoke(app, ["controls", "list"], env={"COLUMNS": "250"})
    assert shown.exit_code == 0, shown.output
    assert "管控措施 (1)" in shown.output and "暂停发放" in shown.output
    assert "生效中" in shown.output and first not in shown.output  # lifted: only with --all
    everything = runner.invoke(
        app, ["controls", "list", "--all", "--lang", "en"], env={"COLUMNS": "250"}
    )
    assert everything.exit_code == 0, everything.output
    assert first in everything.output and "lifted" in everything.output
    assert "lift record" in everything.output and "effective from" in everything.output


def test_a_block_of_the_merchant_register_is_lifted_there_not_here(
    producer: FakeProducer, store: Engine
) -> None:
    assert _add("sku", "SKU-1", "hold", "--reason", "x").exit_code == 0  # the store, migrated
    with store.begin() as connection:
        control_id = enqueue(
            connection, "M7", "block", "suspended", "sup-1", datetime.now(UTC), UTC
        )
    answer = runner.invoke(
        app, ["controls", "lift", control_id, "--reason", "x", "--kafka", "fake:9092"]
    )
    assert answer.exit_code == 2 and "merchant register" in answer.output


def test_a_broker_out_of_reach_leaves_the_control_waiting_and_send_delivers_it(
    producer: FakeProducer, store: Engine
) -> None:
    producer.down = True
    added = _add("sku", "SKU-1", "hold", "--reason", "price error on the platform")
    assert added.exit_code == 1 and "controls send" in added.output
    listed = runner.invoke(app, ["controls", "list", "--lang", "en"], env={"COLUMNS": "250"})
    assert "active*" in listed.output and "waiting" in listed.output
    producer.down = False
    sent = runner.invoke(app, ["controls", "send", "--kafka", "fake:9092"])
    assert sent.exit_code == 0 and "sent 1" in sent.output
    assert decode_control(producer.sent[0][1].value).key == "SKU-1"
    with store.connect() as connection:
        assert connection.execute(select(controls_out.c.status)).scalar_one() == "sent"


def test_out_writes_a_record_for_replay_and_keeps_nothing(
    producer: FakeProducer, tmp_path: Path
) -> None:
    out = tmp_path / "controls.jsonl"
    for key in ("M1", "M2"):
        answer = runner.invoke(
            app,
            [
                "controls",
                "add",
                "merchant",
                key,
                "block",
                "--reason",
                "what if",
                "--effective",
                "2026-07-10T09:12:00+08:00",
                "--out",
                str(out),
            ],
        )
        assert answer.exit_code == 0, answer.output
    records = [decode_control(line) for line in out.read_bytes().splitlines()]
    assert [r.key for r in records] == ["M1", "M2"]
    assert records[0].effective_from == datetime.fromisoformat("2026-07-10T09:12:00+08:00")
    assert producer.sent == []
    assert not (tmp_path / "riskmon.db").exists()


def test_without_a_broker_nothing_is_recorded(
    producer: FakeProducer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RISKMON_KAFKA", raising=False)
    answer = runner.invoke(app, ["controls", "add", "merchant", "M0003", "block", "--reason", "x"])
    assert answer.exit_code == 2 and "no broker" in answer.output
    assert not (tmp_path / "riskmon.db").exists()
