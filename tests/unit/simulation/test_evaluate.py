"""The evaluator on hand-made files, where every figure is known."""

from __future__ import annotations

from pathlib import Path

from schemas.outputs import dumps
from simulation.evaluate import evaluate


def write(path: Path, rows: list[dict]) -> Path:
    path.write_bytes(b"".join(dumps(r) + b"\n" for r in rows))
    return path


def truth(
    order: str,
    risk: str | None,
    pattern: str = "none",
    cohort: str = "regular",
    expected: str = "10.00",
) -> dict:
    return {
        "order_id": order,
        "label": "fraud" if risk else "legit",
        "risk": risk,
        "pattern": pattern,
        "cohort": cohort if not risk else "fraud",
        "programme": "featured_goods",
        "expected_subsidy": float(expected),
    }


def decision(order: str, kind: str = "approve", allowed: float = 10.0) -> dict:
    return {"order_id": order, "decision": kind, "allowed_subsidy": allowed}


def alert(risk: str, orders: list[str]) -> dict:
    return {"risk": risk, "order_ids": orders, "detector": "x"}


def test_known_figures(tmp_path: Path) -> None:
    t = write(
        tmp_path / "t",
        [
            truth("a", "hoarding", "identity_ring_device"),
            truth("b", "hoarding", "identity_ring_device"),
            truth("c", "compliance", "wrong_subsidy", expected="5.00"),
            truth("d", None),
            truth("e", None, cohort="family"),
            truth("f", None),
        ],
    )
    a = write(tmp_path / "a", [alert("hoarding", ["a", "e"]), alert("budget", ["f"])])
    d = write(
        tmp_path / "d",
        [
            decision("a"),
            decision("b"),
            decision("c", "review", 5.0),
            decision("d", allowed=9.99),
            decision("e"),
            decision("f"),
        ],
    )
    ev = evaluate(t, a, d)
    # flagged: a (alert), e (alert), c (review); f's budget note does not count
    assert (ev.overall.right, ev.overall.flagged, ev.overall.found, ev.overall.actual) == (
        2,
        3,
        2,
        3,
    )
    assert round(ev.overall.precision, 4) == round(2 / 3, 4)
    hoarding = ev.by_risk["hoarding"]
    assert (hoarding.found, hoarding.actual, hoarding.right, hoarding.flagged) == (1, 2, 1, 2)
    assert ev.by_risk["compliance"].recall == 1.0
    assert ev.by_risk["compliance"].precision == 1.0  # no compliance alert: nothing named wrongly
    assert ev.by_pattern["identity_ring_device"].recall == 0.5
    assert ev.by_detector["x"].precision == 0.5  # it named a and e; e is honest
    assert ev.false_positives == {"family": 1}
    assert ev.subsidy_mismatches == ["d"]
    assert ev.undecided == []


def test_perfect(tmp_path: Path) -> None:
    t = write(
        tmp_path / "t", [truth("a", "fraud", "price_inflation", expected="0"), truth("b", None)]
    )
    a = write(tmp_path / "a", [alert("fraud", ["a"])])
    d = write(tmp_path / "d", [decision("a", "reject", 0.0), decision("b")])
    ev = evaluate(t, a, d)
    assert ev.overall.precision == ev.overall.recall == ev.overall.f1 == 1.0
    assert ev.subsidy_mismatches == [] and not ev.false_positives
