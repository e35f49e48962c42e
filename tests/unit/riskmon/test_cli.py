"""The command line: exit codes, files written, errors in words."""

from __future__ import annotations

import json
from pathlib import Path

from factories import CATALOG, jsonl, line, paid
from typer.testing import CliRunner

from riskmon.cli import app
from schemas.rules import DEFAULT_RULES_PATH
from streams.topics import TOPICS

runner = CliRunner()


def test_replay_exits_zero_with_bad_lines_and_prints_a_summary(tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    events.write_bytes(line(paid()) + b"\n{broken\n")
    catalog = tmp_path / "c.jsonl"
    catalog.write_bytes(jsonl(CATALOG))
    result = runner.invoke(
        app,
        [
            "replay",
            "--events",
            str(events),
            "--catalog",
            str(catalog),
            "--alerts-out",
            str(tmp_path / "a.jsonl"),
            "--decisions-out",
            str(tmp_path / "d.jsonl"),
            "--dead-letter-out",
            str(tmp_path / "x.jsonl"),
            "--summary-json",
            str(tmp_path / "s.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "orders decided" in result.output and "malformed_json" in result.output
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["orders"] == 1 and summary["dead_letters"] == 1
    assert len((tmp_path / "x.jsonl").read_bytes().splitlines()) == 1


def test_schema_export_writes_one_schema_per_topic(tmp_path: Path) -> None:
    result = runner.invoke(app, ["schema", "export", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = {p.stem for p in tmp_path.glob("*.json")}
    # contract v1.1: the controls topic, and the authorization API's request
    assert written == {t.name for t in TOPICS} | {"controls", "order-checkout"}
    controls = json.loads((tmp_path / "controls.json").read_text())
    assert set(controls["properties"]["kind"]["enum"]) >= {"merchant", "budget_line"}
    checkout = json.loads((tmp_path / "order-checkout.json").read_text())
    assert checkout["properties"]["event_type"]["const"] == "order_checkout"
    orders = json.loads((tmp_path / "orders.json").read_text())
    assert "order_paid" in json.dumps(orders)
    money = json.loads((tmp_path / "decisions.json").read_text())["properties"]["allowed_subsidy"]
    assert money["type"] == "number"


def test_rules_check_refuses_a_broken_file_with_its_line(tmp_path: Path) -> None:
    broken = tmp_path / "rules.toml"
    broken.write_text(DEFAULT_RULES_PATH.read_text().replace("rate = 0.10", "rate = 10", 1))
    result = runner.invoke(app, ["rules", "check", str(broken)])
    assert result.exit_code == 2
    assert f"{broken}:" in result.output and "rate" in result.output
    assert runner.invoke(app, ["rules", "check"]).exit_code == 0


def test_ingest_without_a_key_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("RISKMON_PSEUDONYM_KEY", raising=False)
    raw = tmp_path / "raw.csv"
    raw.write_text("event_id\n")
    result = runner.invoke(app, ["ingest", str(raw), "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2
    assert "RISKMON_PSEUDONYM_KEY" in result.output


def test_simulate_replay_evaluate_chain(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    made = runner.invoke(
        app,
        [
            "simulate",
            "--seed",
            "3",
            "--days",
            "1",
            "--events-per-day",
            "600",
            "--bad-lines",
            "2",
            "--out",
            str(out),
        ],
    )
    assert made.exit_code == 0, made.output
    assert {p.name for p in out.iterdir()} == {"catalog.jsonl", "events.jsonl", "truth.jsonl"}
    replayed = runner.invoke(
        app,
        [
            "replay",
            "--events",
            str(out / "events.jsonl"),
            "--catalog",
            str(out / "catalog.jsonl"),
            "--alerts-out",
            str(out / "a.jsonl"),
            "--decisions-out",
            str(out / "d.jsonl"),
            "--dead-letter-out",
            str(out / "x.jsonl"),
        ],
    )
    assert replayed.exit_code == 0, replayed.output
    scored = runner.invoke(
        app,
        [
            "evaluate",
            "--truth",
            str(out / "truth.jsonl"),
            "--alerts",
            str(out / "a.jsonl"),
            "--decisions",
            str(out / "d.jsonl"),
        ],
    )
    assert scored.exit_code == 0, scored.output
    assert "precision" in scored.output and "family" in scored.output


def test_backtest_runs_to_its_summary(tmp_path: Path) -> None:
    result = runner.invoke(app, ["backtest", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    for heading in ("1. simulate", "2. replay", "3. evaluate", "Alerts by risk", "Per pattern"):
        assert heading in result.output
