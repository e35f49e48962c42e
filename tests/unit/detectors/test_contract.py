"""The contract every detector keeps (after river's check suite): configuration at construction
only, no state of its own, deterministic, a docstring, a readable repr."""

from __future__ import annotations

import copy
import inspect

import pytest
from factories import h, later, paid

import detectors
from detectors.base import Detector
from detectors.pipeline import Pipeline
from detectors.store import MemoryStore
from schemas.rules import load_rules

RULES = load_rules()
CLASSES = [
    getattr(detectors, name)
    for name in detectors.__all__
    if inspect.isclass(getattr(detectors, name))
    and issubclass(getattr(detectors, name), Detector)
    and getattr(detectors, name) is not Detector
]


def _events() -> list[dict]:
    shared = {
        "device_id": "dv-shared",
        "delivery__address_hash": h("addr:shared"),
        "consumer__account_created_at": "2026-07-05T08:00:00+08:00",
    }
    orders = [paid(f"c{n}", at=n, **shared) for n in range(6)]
    return [
        *orders,
        later(orders[0], "order_refunded", at=8, refund="9999.00"),
        later(orders[1], "order_cancelled", at=9),
        paid("c1", at=10, **shared),
    ]


def test_every_detector_is_listed() -> None:
    names = {type(d).__name__ for d in Pipeline(RULES, MemoryStore()).detectors}
    assert names == {cls.__name__ for cls in CLASSES}


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_detector_contract(cls: type[Detector]) -> None:
    assert cls.__doc__ or inspect.getmodule(cls).__doc__
    assert cls.name and cls.risk in {"compliance", "hoarding", "arbitrage", "fraud", "budget"}
    detector = cls(RULES)
    assert repr(detector).startswith(cls.__name__)
    before = copy.deepcopy(vars(detector))
    from factories import Run

    run = Run()
    old = run.pipeline
    run.pipeline = Pipeline(
        RULES,
        run.store,
        deciding=[d if type(d) is not cls else detector for d in old.deciding],
        watching=[d if type(d) is not cls else detector for d in old.watching],
    )
    events = _events()
    run.feed(*events)
    assert vars(detector).keys() == before.keys()  # state lives in the store, not the detector
    again = Run().feed(*events)
    assert again.alerts == run.alerts and again.decisions == run.decisions
