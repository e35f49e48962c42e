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
    assert "已决订单" in result.output and "malformed_json" in result.output  # Chinese first
    assert "¥" in result.output  # money as ¥1,234.56
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["orders"] == 1 and summary["dead_letters"] == 1
    assert len((tmp_path / "x.jsonl").read_bytes().splitlines()) == 1


def test_schema_export_writes_one_schema_per_topic(tmp_path: Path) -> None:
    result = runner.invoke(app, ["schema", "export", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = {p.stem for p in tmp_path.glob("*.json")}
    # contract v1.1: the controls topic, and the authorization API's request
    assert written == {t.name for t in TOPICS} | {"order-checkout"}
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
    # wide enough for the whole path on one line (an xdist worker's tmp path is longer)
    result = runner.invoke(app, ["rules", "check", str(broken)], env={"COLUMNS": "250"})
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


def _replay(tmp_path: Path, events: Path, *extra: str) -> tuple[int, str]:
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
            *extra,
        ],
    )
    return result.exit_code, result.output


POISON = ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00")


def test_replay_of_poison_times_exits_zero_with_them_dead_lettered(tmp_path: Path) -> None:
    # Issue 18 item 1: these passed the contract and stopped the replay (exit 1, OverflowError).
    events = tmp_path / "e.jsonl"
    events.write_bytes(
        jsonl([paid("a"), paid("b", occurred_at=POISON[0]), paid("c", occurred_at=POISON[1])])
        + jsonl([paid("d", consumer__account_created_at=POISON[0]), paid("e", at=1.0)])
    )
    code, output = _replay(tmp_path, events)
    assert code == 0, output
    dead = [json.loads(x) for x in (tmp_path / "x.jsonl").read_bytes().splitlines()]
    assert [(d["line"], d["reason"]) for d in dead] == [(n, "time_out_of_range") for n in (2, 3, 4)]
    fields = [d["error"].split(":")[0] for d in dead]
    assert fields == ["occurred_at", "occurred_at", "consumer.account_created_at"]
    assert len((tmp_path / "d.jsonl").read_bytes().splitlines()) == 2


def test_replay_takes_the_window_from_the_settings(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    events = tmp_path / "e.jsonl"
    # The window bounds every time, an account's creation too: a sanity bound, not the period.
    events.write_bytes(jsonl([paid("a"), paid("b", occurred_at="2027-01-01T00:00:00+08:00")]))
    monkeypatch.setenv("RISKMON_EVENT_TIME_MIN", "2020-01-01T00:00:00+08:00")
    monkeypatch.setenv("RISKMON_EVENT_TIME_MAX", "2027-01-01T00:00:00+08:00")
    code, output = _replay(tmp_path, events)
    assert code == 0, output
    (dead,) = [json.loads(x) for x in (tmp_path / "x.jsonl").read_bytes().splitlines()]
    assert dead["line"] == 2 and dead["reason"] == "time_out_of_range"
    assert "2027-01-01T00:00:00+08:00 (excluded)" in dead["error"]


def test_a_window_that_leaves_the_programme_out_fails_the_rules(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RISKMON_EVENT_TIME_MAX", "2026-09-01T00:00:00+08:00")
    result = runner.invoke(app, ["rules", "check"])
    assert result.exit_code == 2
    said = " ".join(result.output.split())  # however the terminal wrapped it
    assert "programmes.featured_goods.end: outside the accepted window" in said


def test_replay_of_disguised_identifiers_leaves_none_in_any_output(tmp_path: Path) -> None:
    from disguises import disguises, leaked

    forms = disguises(seed=7)
    fields = ("device_id", "merchant_id", "consumer__account_id", "order_id", "ip")
    records = [paid(f"p{n}", **{fields[n % len(fields)]: f.text}) for n, f in enumerate(forms)]
    events = tmp_path / "e.jsonl"
    events.write_bytes(jsonl([paid("honest"), *records]))
    code, output = _replay(tmp_path, events)
    assert code == 0, output
    dead = (tmp_path / "x.jsonl").read_bytes().splitlines()
    assert len(dead) == len(forms)
    assert {json.loads(d)["reason"] for d in dead} <= {"raw_identifier", "control_character"}
    everything = output + "".join(
        (tmp_path / name).read_text(encoding="utf-8") for name in ("a.jsonl", "d.jsonl")
    )
    import base64

    for record in dead:
        got = json.loads(record)
        everything += got["error"] + base64.b64decode(got["raw_base64"]).decode(errors="replace")
    for form in forms:
        assert not leaked(everything, form.core), form.name


KEY_HEX = "5f0c9a3e71d24b8866a1f0e3c92d7b14c0ffee00d15ea5e5ba5eba11f00d1e55"


def test_ingest_writes_a_sample_and_converts_it_naming_encoding_and_ignored_columns(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RISKMON_PSEUDONYM_KEY", KEY_HEX)
    sample = tmp_path / "sample.csv"
    made = runner.invoke(app, ["ingest", "--sample", str(sample), "--encoding", "gbk"])
    assert made.exit_code == 0, made.output
    text = sample.read_bytes().decode("gbk")
    sample.write_bytes(
        text.replace("\r\n", ",x\r\n")
        .replace("refund_amount,x", "refund_amount,remark", 1)
        .encode("gbk")
    )
    result = runner.invoke(app, ["ingest", str(sample), "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 0, result.output
    assert "read 20 rows (gb18030), wrote 20 events, rejected 0" in result.output
    assert "ignored columns: remark" in result.output


def test_ingest_that_converts_nothing_exits_non_zero_in_one_message(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RISKMON_PSEUDONYM_KEY", KEY_HEX)
    sample = tmp_path / "sample.csv"
    runner.invoke(app, ["ingest", "--sample", str(sample)])
    header, *rows = sample.read_text(encoding="utf-8").splitlines()
    broken = tmp_path / "broken.csv"
    broken.write_text("\n".join([header, *(row.replace(",1,", ",one,") for row in rows)]))
    result = runner.invoke(app, ["ingest", str(broken), "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2
    assert "none of its 20 rows could be converted" in result.output
    assert not (tmp_path / "o.jsonl").exists()
    wrong = runner.invoke(
        app, ["ingest", str(sample), "--out", str(tmp_path / "o.jsonl"), "--encoding", "utf-16"]
    )
    assert wrong.exit_code == 2 and "encoding 'utf-16' is not read here" in wrong.output
    gbk = runner.invoke(
        app, ["ingest", str(sample), "--out", str(tmp_path / "o.jsonl"), "--encoding", "gbk"]
    )
    assert gbk.exit_code == 2 and "line 2 is not valid gbk text" in gbk.output  # it is UTF-8


def test_ingest_refuses_a_weak_key(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RISKMON_PSEUDONYM_KEY", "00" * 16)  # issue 18 item 9: accepted before
    raw = tmp_path / "raw.csv"
    raw.write_text("event_id\n")
    result = runner.invoke(app, ["ingest", str(raw), "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2 and "too weak" in result.output
