"""What the classifier never weighs (`features.UNWEIGHED`): raw sharing of a device, card,
phone or address, and an amount just above the programme's minimum. Analysts' verdicts on rings,
pipelines and split orders teach it those go with fraud; offices, pickup stations, households and
consumers at the programme's limits have them too, honestly. The learner keeps them with each
order (the anomaly score and the explanations read them) and learns no weight for them."""

from __future__ import annotations

from detectors.learning import Learner, LearningConfig
from detectors.learning.classifier import Verdicts
from detectors.learning.features import UNWEIGHED
from schemas.rules import load_rules

ALLOWED_OR_SHARED = ("address_ids", "resale_address", "address_recent", "near_minimum")


def taught(ignore: frozenset[str]) -> Verdicts:
    """Verdicts where fraud always comes with a shared address at the programme's minimum and
    with strangers on the device, and legit orders with none of it."""
    verdicts = Verdicts(
        ignore=ignore, learning_rate=0.1, threshold=0.5, horizon_days=10, max_pending=10_000
    )
    for n in range(600):
        fraud = n % 3 == 0
        x = {
            "amount": 6.0 + (n % 7) / 10,
            "address_ids": 2.5 if fraud else 0.0,
            "resale_address": 2.4 if fraud else 0.0,
            "address_recent": 2.2 if fraud else 0.9,
            "near_minimum": 1.0 if fraud else 0.0,
            "strangers": 1.5 if fraud else 0.0,
        }
        verdicts.remember(f"O{n}", n * 60.0, x, (n, 1, 2, 3))
        verdicts.learn(f"O{n}", fraud)
    return verdicts


def order(**changed: float) -> dict[str, float]:
    base = {
        "amount": 6.3,
        "address_ids": 0.0,
        "resale_address": 0.0,
        "address_recent": 0.9,
        "near_minimum": 0.0,
        "strangers": 0.0,
    }
    return {**base, **changed}


def test_an_office_at_the_programmes_minimum_scores_as_any_order() -> None:
    verdicts = taught(UNWEIGHED)
    office = order(address_ids=2.5, resale_address=2.4, address_recent=2.2, near_minimum=1.0)
    assert verdicts.probability(office) == verdicts.probability(order())
    # what it does weigh still moves it: identities there who deliver elsewhere
    assert verdicts.probability(order(strangers=1.5)) > 0.9 > verdicts.probability(order())
    coefficients, _ = verdicts.model.coefficients()
    assert not set(ALLOWED_OR_SHARED) & set(coefficients)


def test_without_the_list_the_same_verdicts_would_have_weighed_them() -> None:
    verdicts = taught(frozenset())
    office = order(address_ids=2.5, resale_address=2.4, address_recent=2.2, near_minimum=1.0)
    assert verdicts.probability(office) > 0.9 > verdicts.probability(order())


def test_the_learner_keeps_them_from_its_classifier() -> None:
    learner = Learner(load_rules(), LearningConfig())
    assert set(ALLOWED_OR_SHARED) <= learner.verdicts.ignore == UNWEIGHED
