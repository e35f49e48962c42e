"""Every detector's evidence reads as a sentence with its figures, in both languages: the
alerts of a simulated fortnight (every named and unnamed pattern, replayed with the learning
stage), and for what the simulator never raises, alerts from small events made for it."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from detectors.examples import cancel, order, phone_entry, refund
from detectors.learning import Learner, LearningConfig
from detectors.learning.drift import Drift
from detectors.pipeline import Outcome, Pipeline
from detectors.store import MemoryStore
from replay import Replay
from replay.learning import LearningRun
from reports.evidence import RENDERERS, evidence_sentence, raw_evidence
from reports.vocabulary import LANGS, known
from schemas.outputs import Origin, dumps
from schemas.rules import ProgrammeRules, load_rules
from simulation.generator import generate

APPROVED = Outcome(
    "processed", decision={}, kind="approve", claim=Decimal(450), allowed=Decimal(450)
)

ROOT = Path(__file__).resolve().parents[3]
CODE = re.compile(r"\b[a-z]+_[a-z_]+\b")  # a snake_case key or code left in the sentence


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("evidence-sim")
    out = tmp_path_factory.mktemp("evidence-out")
    generate(21, 12, folder, events_per_day=1800, unnamed=True, labels=True)
    rules = load_rules()
    run = LearningRun(
        Learner(rules, LearningConfig(anomaly_quantile=0.98, edge_quantile=0.99)),
        folder / "labels.jsonl",
    )
    Replay(rules, learning=run).run(
        folder / "events.jsonl",
        catalog=folder / "catalog.jsonl",
        alerts_out=out / "alerts.jsonl",
        decisions_out=out / "decisions.jsonl",
    )
    return [orjson.loads(line) for line in (out / "alerts.jsonl").read_bytes().splitlines()]


def _feed(rules: ProgrammeRules, *events: Any) -> list[dict[str, Any]]:
    pipeline = Pipeline(rules, MemoryStore())
    pipeline.on_catalog(phone_entry())
    alerts = []
    for event in events:
        outcome = pipeline.on_order(event, event.model_dump_json().encode(), Origin("orders"))
        alerts.extend(orjson.loads(dumps(a.record())) for a in outcome.alerts)
    return alerts


def _made(tmp_path: Path) -> list[dict[str, Any]]:
    """Alerts of the patterns the simulated fortnight does not raise, from events made for
    them: a budget of 600 yuan (thresholds crossed, then exhausted), a qualification code
    passed on after a cancellation, a refund above the payment, and a merchant's drift as the
    learning stage words it."""
    text = (ROOT / "riskmon" / "rules" / "programme-2026.toml").read_text(encoding="utf-8")
    marker = '[programmes.featured_goods.budget_lines.digital]\ntitle = "数码"\nbudget = 10000000'
    assert marker in text
    tight = tmp_path / "tight.toml"
    tight.write_text(text.replace(marker, marker.replace("10000000", "600")), encoding="utf-8")
    rules = load_rules(tight)
    paid = order("alice", number=1)
    carol = order("carol", number=3, code="Q-S", hours=3)
    alerts = _feed(rules, order("erin", number=5), order("frank", number=6, hours=1))
    alerts += _feed(
        load_rules(),
        paid,
        refund(paid, 6000.0, hours=30),
        carol,
        cancel(carol, hours=4),
        order("dave", number=4, hours=5, code="Q-S"),
    )
    learner = Learner(load_rules(), LearningConfig())
    drift = Drift("M0001", "refund_rate", 0.02, 0.4, 0.03, (paid.order_id,), False)
    alerts.append(orjson.loads(dumps(learner._drift_alert(paid, drift).record())))
    ring = learner._ring_alert(paid, ((paid.order_id, 0),), 6, 5)
    alerts.append(orjson.loads(dumps(ring.record())))
    for k in range(100):  # the calibration's ordinary traffic, before a young account's hour
        learner.on_paid(order(f"p{k}", number=100 + k, hours=-5 + 0.01 * k), APPROVED)
    young = "2026-07-05T20:00:00+08:00"
    for k, category in enumerate(("mobile_phone", "television", "refrigerator")):
        fresh = order("gina", number=10 + k, hours=0.2 * k, category=category, created=young)
        for alert in learner.on_paid(fresh, APPROVED):
            alerts.append(orjson.loads(dumps(alert.record())))
    return alerts


def _check(alert: dict[str, Any]) -> None:
    for lang in LANGS:
        text = evidence_sentence(alert, lang)
        assert text != raw_evidence(alert["evidence"]), (alert["detector"], lang)
        assert not CODE.search(text.replace("SKU-", "")), (alert["detector"], lang, text)
        assert "{" not in text and "None" not in text, (alert["detector"], lang, text)
        if lang == "zh":
            assert re.search(r"[\u4e00-\u9fff]", text), text
        else:
            assert not re.search(r"[\u4e00-\u9fff]", text), text


def test_every_detector_has_a_renderer() -> None:
    learning = {"anomaly", "classifier", "edge_burst", "merchant_drift", "long_ring", "young_burst"}
    families = {"compliance", "identity_rings", "budget", "qualification", "device_codes"}
    alerting = known("detector") - families - {"controls"}
    assert alerting == set(RENDERERS), alerting ^ set(RENDERERS)
    assert learning <= set(RENDERERS)


def test_simulated_alerts_read_as_sentences(simulated: list[dict[str, Any]]) -> None:
    seen: dict[str, dict[str, Any]] = {}
    for alert in simulated:
        seen.setdefault(alert["detector"], alert)
        _check(alert)
    # the simulation raises every pattern but the four `_made` makes
    made = {
        "budget_exhausted",
        "budget_threshold",
        "merchant_drift",
        "long_ring",
        "young_burst",
        "qualification_shared",
    }
    assert set(RENDERERS) - made <= set(seen), sorted(set(RENDERERS) - made - set(seen))


def test_made_alerts_read_as_sentences(tmp_path: Path) -> None:
    made = _made(tmp_path)
    assert {a["detector"] for a in made} >= {
        "budget_threshold",
        "budget_exhausted",
        "qualification_shared",
        "refund_arbitrage",
        "merchant_drift",
        "long_ring",
        "young_burst",
    }
    for alert in made:
        _check(alert)


def test_the_figures_are_in_the_sentence() -> None:
    alert = {
        "detector": "device_ring",
        "entity": {"type": "device", "key": "dv-1"},
        "evidence": {
            "distinct_consumers": 6,
            "window_hours": 72,
            "category": "mobile_phone",
            "min_identities": 5,
        },
    }
    assert evidence_sentence(alert, "zh") == "同一设备 72 小时内关联 6 个身份购买手机,阈值 5"
    refunded = {
        "detector": "refund_arbitrage",
        "entity": {"type": "merchant", "key": "M1"},
        "evidence": '{"paid_amount": "4249.15", "refunded_total": "5000", "excess": "750.85"}',
    }
    assert evidence_sentence(refunded, "en") == (
        "refunded ¥5,000.00 against ¥4,249.15 paid: ¥750.85 too much"
    )


def test_an_unknown_detector_keeps_its_figures() -> None:
    alert = {"detector": "new_one", "evidence": {"widgets": 3}}
    assert evidence_sentence(alert, "zh") == "widgets=3"


def test_an_anomaly_sentence_gives_the_score_itself_not_the_alerts_scale() -> None:
    alert = {
        "detector": "anomaly",
        "entity": {"type": "consumer", "key": "c1"},
        "score": 1.0,  # the alert's score, capped at 1
        "evidence": {
            "score": 8.4321,
            "threshold": 6.6078,
            "drivers": [{"feature": "consumer_2h", "value": 4.727, "typical": 1.017}],
        },
    }
    text = evidence_sentence(alert, "en")
    assert text.startswith("anomaly score 8.43, above the 6.61 threshold"), text
    assert "1.00" not in text
