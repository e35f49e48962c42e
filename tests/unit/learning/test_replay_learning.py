"""The learning stage in replay and on the command line: verdicts arrive by event time, the
learner's alerts land in the alerts file, and simulate -> replay -> evaluate reports it all."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import orjson
from factories import CATALOG, jsonl, paid
from typer.testing import CliRunner

from detectors.learning import Learner, LearningConfig
from replay import Replay
from replay.learning import LearningRun, read_labels
from riskmon.cli import app
from schemas.labels import Label
from schemas.rules import load_rules
from simulation.generator import generate

RULES = load_rules()
runner = CliRunner()


def label(order_id: str, at: str, verdict: str = "fraud") -> dict[str, object]:
    return {
        "schema_version": 1,
        "order_id": order_id,
        "label": verdict,
        "labelled_at": at,
        "analyst": "analyst-01",
    }


def test_a_verdict_is_learnt_once_the_stream_passes_its_time(tmp_path: Path) -> None:
    orders = [paid(f"p{n}", at=float(n)) for n in range(4)]  # 10:00, 11:00, 12:00, 13:00
    events = tmp_path / "events.jsonl"
    events.write_bytes(jsonl(orders))
    labels = tmp_path / "labels.jsonl"
    labels.write_bytes(
        jsonl(
            [
                label(orders[0]["order_id"], "2026-07-06T12:30:00+08:00"),
                label(orders[1]["order_id"], "2026-07-06T10:30:00+08:00", "legit"),
                {"broken": True},
            ]
        )
    )
    learner = Learner(RULES, LearningConfig())
    seen: list[tuple[str, float]] = []
    run = LearningRun(learner, labels)
    original = learner.on_label

    def spy(verdict: Label) -> None:
        seen.append((verdict.order_id, run.watermark))
        original(verdict)

    learner.on_label = spy  # type: ignore[method-assign]
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_bytes(jsonl(CATALOG))
    stats = Replay(RULES, learning=run).run(events, catalog=catalog)
    hour = 3600.0
    t0 = datetime.fromisoformat(str(orders[0]["occurred_at"])).timestamp()
    # the 10:30 verdict waits for the 11:00 order, the 12:30 one for the 13:00 order
    assert seen == [(orders[1]["order_id"], t0 + hour), (orders[0]["order_id"], t0 + 3 * hour)]
    assert stats.learning["labels_read"] == 2 and stats.learning["labels_invalid"] == 1
    assert stats.learning["classifier_labels"] == 1  # order 0's, learnt at 13:00
    assert stats.learning["labels_unmatched"] == 1  # order 1's came before order 1 itself
    assert read_labels(labels)[0][0].order_id == orders[1]["order_id"]  # in labelled_at order


def test_simulate_replay_evaluate_with_learning_on_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    made = runner.invoke(
        app,
        ["simulate", "--seed", "4", "--days", "3", "--events-per-day", "1500"]
        + ["--unnamed", "--labels", "--out", str(out)],
    )
    assert made.exit_code == 0, made.output
    assert "analyst labels" in made.output and (out / "labels.jsonl").exists()
    replayed = runner.invoke(
        app,
        [
            "replay",
            "--events",
            str(out / "events.jsonl"),
            "--catalog",
            str(out / "catalog.jsonl"),
            "--labels",
            str(out / "labels.jsonl"),
            "--alerts-out",
            str(out / "a.jsonl"),
            "--decisions-out",
            str(out / "d.jsonl"),
            "--scores-out",
            str(out / "s.jsonl"),
            "--summary-json",
            str(out / "summary.json"),
            "--lang",
            "en",
        ],
    )
    assert replayed.exit_code == 0, replayed.output
    assert "Online learning" in replayed.output and "classifier labels" in replayed.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["learning"]["orders_total"] == summary["orders"]
    # every order scored by the models (three days raise no model alert of its own since bursts
    # must join identities: docs/learning.md)
    scores = [orjson.loads(r) for r in (out / "s.jsonl").read_bytes().splitlines()]
    assert len(scores) == summary["learning"]["orders_total"]
    assert any(r["edge"] > 0 for r in scores)
    scored = runner.invoke(
        app,
        ["evaluate", "--truth", str(out / "truth.jsonl"), "--alerts", str(out / "a.jsonl")]
        + ["--decisions", str(out / "d.jsonl"), "--scores", str(out / "s.jsonl")],
    )
    assert scored.exit_code == 0, scored.output
    assert "Rules alone, then with each learning detector" in scored.output
    assert "ROC AUC on the unnamed patterns" in scored.output


def test_learning_is_off_unless_asked_for(tmp_path: Path) -> None:
    generate(4, 1, tmp_path, events_per_day=400)
    base = ["replay", "--events", str(tmp_path / "events.jsonl")]
    base += ["--catalog", str(tmp_path / "catalog.jsonl")]
    off = runner.invoke(app, [*base, "--summary-json", str(tmp_path / "off.json")])
    assert off.exit_code == 0, off.output
    assert "learning" not in json.loads((tmp_path / "off.json").read_text())
    on = runner.invoke(app, [*base, "--learning", "--summary-json", str(tmp_path / "on.json")])
    assert on.exit_code == 0, on.output
    assert json.loads((tmp_path / "on.json").read_text())["learning"]["orders_total"] > 0
    refused = runner.invoke(app, [*base, "--scores-out", str(tmp_path / "s.jsonl")])
    assert refused.exit_code == 2


def test_labels_come_late_sampled_and_leave_the_events_unchanged(tmp_path: Path) -> None:
    # six days: 1 % of the ~400 verdicts wrong is a handful (three days' ~240 may hold none)
    generate(6, 6, tmp_path / "a", events_per_day=1500, unnamed=True)
    generate(6, 6, tmp_path / "b", events_per_day=1500, unnamed=True, labels=True)
    for name in ("events.jsonl", "truth.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    labels = [orjson.loads(r) for r in (tmp_path / "b" / "labels.jsonl").read_bytes().splitlines()]
    truth = {
        t["order_id"]: t
        for t in map(orjson.loads, (tmp_path / "b" / "truth.jsonl").read_bytes().splitlines())
    }
    assert [x["labelled_at"] for x in labels] == sorted(x["labelled_at"] for x in labels)
    fraud = sum(1 for t in truth.values() if t["label"] == "fraud")
    reviewed = sum(1 for x in labels if truth[x["order_id"]]["label"] == "fraud")
    assert 0.4 * fraud < reviewed < 0.8 * fraud  # most of what is flagged, not all
    wrong = sum(
        1 for x in labels if (x["label"] == "fraud") != (truth[x["order_id"]]["label"] == "fraud")
    )
    assert 0 < wrong < 0.03 * len(labels)  # analysts err, a little
