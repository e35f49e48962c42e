"""The metrics observer: the replay's own counts, the budget detector's own spend, no ids."""

from __future__ import annotations

import re
import urllib.request
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from factories import CATALOG, PHONE, item, jsonl, later, line, paid
from hypothesis import given
from hypothesis import strategies as st

from detectors.pipeline import Outcome
from replay import Replay, ReplayStats
from schemas.decode import decode_order
from schemas.orders import OrderPaid
from schemas.rules import ProgrammeRules, load_rules
from simulation.generator import generate
from streams.metrics import Metrics, MetricsObserver, split

RULES = load_rules()
# label names a riskmon series may carry (python_info's are the platform collector's)
ALLOWED_LABELS = {
    "topic",
    "event_type",
    "reason",
    "decision",
    "risk",
    "severity",
    "detector",
    "programme",
    "budget_line",
    "outcome",
    "partition",
    "le",
    "implementation",
    "major",
    "minor",
    "patchlevel",
    "version",
}


def small_budgets(rules: ProgrammeRules, budgets: dict[str, str]) -> ProgrammeRules:
    """The rules with some budget lines shrunk, so a simulated day exhausts them."""
    programmes = {}
    for pname, programme in rules.programmes.items():
        lines = {
            name: line.model_copy(update={"budget": Decimal(budgets[name])})
            if name in budgets
            else line
            for name, line in programme.budget_lines.items()
        }
        update = {"budget_lines": lines}
        programmes[pname] = programme.model_copy(update=update)
        programmes[pname].__dict__.pop("budget", None)  # the cached total of the lines
    return rules.model_copy(update={"programmes": programmes})


def value(observer: MetricsObserver, name: str, **labels: str) -> float:
    return observer.metrics.registry.get_sample_value(name, labels) or 0.0


def total(observer: MetricsObserver, name: str, **match: str) -> float:
    return sum(
        s.value
        for family in observer.metrics.registry.collect()
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in match.items())
    )


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("day")
    generate(7, 1, out, bad_lines=5)
    return out


@pytest.fixture(scope="module")
def tight(day: Path) -> tuple[Replay, MetricsObserver, ReplayStats]:
    """A simulated day against budgets it exhausts: cuts, holds, claw-backs, thresholds."""
    rules = small_budgets(
        RULES,
        {
            "appliances": "300000",
            "digital": "90000",
            "local_specialty": "15000",
            "warehouse_orders": "12000",
        },
    )
    observer = MetricsObserver(rules)
    engine = Replay(rules, observers=[observer])
    stats = engine.run(day / "events.jsonl", catalog=day / "catalog.jsonl")
    return engine, observer, stats


def test_counts_agree_with_the_replay_summary(
    tight: tuple[Replay, MetricsObserver, ReplayStats],
) -> None:
    _, observer, stats = tight
    assert stats.clawed_back > 0 and stats.held > 0 and stats.rejected > 0  # all paths taken
    valid = total(observer, "riskmon_events_total", topic="orders") - value(
        observer, "riskmon_events_total", topic="orders", event_type="invalid"
    )
    assert valid == stats.events
    for kind, count in stats.decisions.items():
        assert value(observer, "riskmon_decisions_total", decision=kind) == count
    for reason, count in stats.dead_letters.items():
        assert value(observer, "riskmon_dead_letters_total", reason=reason) == count
    for (risk, severity), count in stats.alerts.items():
        assert total(observer, "riskmon_alerts_total", risk=risk, severity=severity) == count
    for detector, count in stats.detectors.items():
        assert total(observer, "riskmon_alerts_total", detector=detector) == count
    for outcome, amount in (
        ("approved", stats.approved),
        ("held", stats.held),
        ("rejected", stats.rejected),
    ):
        exact = observer.metrics.subsidy.totals()
        assert sum(v for k, v in exact.items() if k[2] == outcome) == amount, outcome
        got = total(observer, "riskmon_subsidy_yuan_total", outcome=outcome)
        assert got == pytest.approx(float(amount), abs=0.005), outcome
    returned = total(observer, "riskmon_subsidy_returned_yuan_total")
    assert returned == pytest.approx(float(stats.clawed_back), abs=0.05)


def test_budget_used_is_the_budget_detectors_own_figure(
    tight: tuple[Replay, MetricsObserver, ReplayStats],
) -> None:
    engine, observer, _ = tight
    state = engine.store.table("budget")
    used = observer.budget_used()
    assert used == {
        (p, line): Decimal(state[f"{p}/{line}"]["used"]) if f"{p}/{line}" in state else 0
        for (p, line) in used
    }
    ratio = value(
        observer, "riskmon_budget_used_ratio", programme="featured_goods", budget_line="digital"
    )
    assert ratio == pytest.approx(float(used[("featured_goods", "digital")] / 90000))
    assert ratio > 0.95  # the line ran out and cuts kept it at its budget, not beyond
    assert ratio <= 1.0


def test_no_label_names_an_order_consumer_or_merchant(
    tight: tuple[Replay, MetricsObserver, ReplayStats], day: Path
) -> None:
    _, observer, _ = tight
    ids: set[str] = set()
    for raw in (day / "events.jsonl").read_bytes().splitlines():
        try:
            event = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict):
            consumer = event.get("consumer") or {}
            ids |= {str(event.get(k)) for k in ("order_id", "merchant_id", "device_id", "ip")}
            ids |= {str(v) for v in consumer.values()} if isinstance(consumer, dict) else set()
    series = [s for f in observer.metrics.registry.collect() for s in f.samples]
    assert len(series) < 400
    for sample in series:
        assert set(sample.labels) <= ALLOWED_LABELS, sample
        for text in sample.labels.values():
            assert text not in ids, sample
            assert not re.fullmatch(r"[0-9a-f]{64}|PS\d+|M\d{4}", text), sample


def test_a_refused_claim_is_put_on_the_lines_of_its_items(tmp_path: Path) -> None:
    observer = MetricsObserver(RULES)
    # a grade-3 fridge earns nothing, the phone its 500: 100 of the 600 claimed is refused
    basket = [item("SKU-FR-3", "refrigerator", "3000.00", grade=3), item(*PHONE)]
    run(tmp_path, observer, paid("p1", items=basket, subsidy="600.00"))
    rejected = {
        line: value(
            observer,
            "riskmon_subsidy_yuan_total",
            programme="featured_goods",
            budget_line=line,
            outcome="rejected",
        )
        for line in ("appliances", "digital")
    }
    approved = value(
        observer,
        "riskmon_subsidy_yuan_total",
        programme="featured_goods",
        budget_line="digital",
        outcome="approved",
    ) + value(
        observer,
        "riskmon_subsidy_yuan_total",
        programme="featured_goods",
        budget_line="digital",
        outcome="held",
    )
    assert approved == 500.0  # the phone's rule amount
    assert sum(rejected.values()) == pytest.approx(100.0)
    assert rejected["appliances"] > 0 and rejected["digital"] > 0


def test_an_unknown_programme_is_other_not_a_new_label(tmp_path: Path) -> None:
    observer = MetricsObserver(RULES)
    run(tmp_path, observer, paid("p1", programme="made_up_" + "x" * 40))
    programmes = {
        s.labels["programme"]
        for f in observer.metrics.registry.collect()
        for s in f.samples
        if "programme" in s.labels
    }
    assert programmes == {"featured_goods", "logistics_warehouse", "other"}


def test_a_cancellation_gives_the_spend_back(tmp_path: Path) -> None:
    observer = MetricsObserver(RULES)
    order = paid("p1")
    run(tmp_path, observer, order, later(order, "order_cancelled", at=3))
    used = observer.budget_used()[("featured_goods", "digital")]
    assert used == 0
    assert value(
        observer,
        "riskmon_subsidy_returned_yuan_total",
        programme="featured_goods",
        budget_line="digital",
    ) == pytest.approx(500.0)


def test_a_clawback_for_an_order_decided_before_the_process_started() -> None:
    observer = MetricsObserver(RULES)
    observer.set_budget_used("logistics_warehouse", "warehouse_orders", Decimal("100.00"))
    observer.set_budget_used("featured_goods", "digital", Decimal("100.00"))

    for programme in ("logistics_warehouse", "featured_goods"):
        order = {**paid("p-" + programme), "programme": programme}
        event = decode_order(line(later(order, "order_cancelled", at=1)))
        assert not isinstance(event, OrderPaid)
        observer.on_later(event, Outcome("processed", clawback=Decimal("10.00")))
    used = observer.budget_used()
    # a one-line programme: its line is known; otherwise the ratio is left as it was
    assert used[("logistics_warehouse", "warehouse_orders")] == Decimal("90.00")
    assert used[("featured_goods", "digital")] == Decimal("100.00")
    assert value(
        observer,
        "riskmon_subsidy_returned_yuan_total",
        programme="featured_goods",
        budget_line="none",
    ) == pytest.approx(10.0)


def test_worker_measurements() -> None:
    observer = MetricsObserver(RULES)
    observer.count_decide_frames("handed", 3)
    observer.count_decide_frames("read", 1)
    observer.count_decide_frames("handed", 2)
    assert value(observer, "riskmon_decide_frames_total", path="handed") == 5
    assert value(observer, "riskmon_decide_frames_total", path="read") == 1
    observer.observe_processing(0.0003)
    observer.observe_delay(4.0)
    observer.set_lag("orders", 3, 120)
    observer.set_lag("orders", 3, 20)
    assert value(observer, "riskmon_processing_seconds_count") == 1
    assert value(observer, "riskmon_processing_seconds_bucket", le="0.0005") == 1
    assert value(observer, "riskmon_event_to_decision_seconds_bucket", le="2.5") == 0
    assert value(observer, "riskmon_event_to_decision_seconds_bucket", le="5.0") == 1
    assert value(observer, "riskmon_consumer_lag", topic="orders", partition="3") == 20


def test_labelled_children_are_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    observer = MetricsObserver(RULES)
    calls = []
    family = observer.metrics.events
    original = family.labels
    monkeypatch.setattr(family, "labels", lambda *v: calls.append(v) or original(*v))
    for _ in range(3):
        observer.on_consumed("orders", "order_paid")
    assert calls == [("orders", "order_paid")]
    assert value(observer, "riskmon_events_total", topic="orders", event_type="order_paid") == 3


def test_two_instances_do_not_clash_and_serve_their_own_metrics() -> None:
    one, two = MetricsObserver(RULES), MetricsObserver(RULES)
    one.on_consumed("orders", "order_paid")
    with one.serve(0, "127.0.0.1") as server:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as r:
            text = r.read().decode()
    assert 'riskmon_events_total{event_type="order_paid",topic="orders"} 1.0' in text
    assert "riskmon_budget_used_ratio" in text and "process_start_time_seconds" in text
    assert "_created" not in text
    assert value(two, "riskmon_events_total", topic="orders", event_type="order_paid") == 0


def test_the_required_names_are_exported() -> None:
    names = Metrics().names() | set(Metrics().registry._names_to_collectors)
    for name in (
        "riskmon_events_total",
        "riskmon_dead_letters_total",
        "riskmon_decisions_total",
        "riskmon_alerts_total",
        "riskmon_subsidy_yuan_total",
        "riskmon_budget_used_ratio",
        "riskmon_processing_seconds",
        "riskmon_event_to_decision_seconds",
        "riskmon_consumer_lag",
    ):
        assert name in names, name


@given(
    st.decimals(min_value=0, max_value=10**9, places=2),
    st.dictionaries(
        st.sampled_from("abcd"), st.decimals(min_value=0, max_value=10**6, places=2), min_size=1
    ),
)
def test_split_adds_up_to_the_fen(amount: Decimal, weights: dict[str, Decimal]) -> None:
    shares = split(amount, weights)
    assert sum(shares.values()) == amount
    assert set(shares) <= set(weights)


def run(folder: Path, observer: MetricsObserver, *events: dict[str, object]) -> ReplayStats:
    (folder / "events.jsonl").write_bytes(b"".join(line(e) + b"\n" for e in events))
    (folder / "catalog.jsonl").write_bytes(jsonl(CATALOG))
    engine = Replay(RULES, observers=[observer])
    return engine.run(folder / "events.jsonl", catalog=folder / "catalog.jsonl")
