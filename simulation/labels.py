"""Analysts' verdicts (topic `labels`) on a simulated data set, as they come in life: late, on a
sample, and now and then wrong.

Who gets a verdict: most orders the rules flag (the risk team works its alert queue), a smaller
share of the fraud no rule names (it surfaces later, through complaints, chargebacks or an
investigation) and a random audit of everything else. The verdict comes hours to days after the
order; a small share of verdicts is wrong. The draw has its own random stream, so asking for
labels leaves the events' bytes unchanged.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from simulation.book import Book
from simulation.unnamed import UNNAMED

REVIEWED = 0.7  # share of rule-flagged (named) fraud that analysts label
SURFACED = 0.3  # share of unnamed fraud that is found out and labelled, later
AUDITED = 0.06  # share of every other order drawn for a random audit
NOISE = 0.01  # share of verdicts that are wrong
ANALYSTS = 12


def analyst_labels(seed: int, book: Book, sample: float | None = None) -> list[dict[str, Any]]:
    """Label records, sorted by `labelled_at` (the order a topic would carry them in). With
    `sample`, verdicts on that share of all paid orders at random instead, 2 to 7 days late
    (the regime of data sets labelled by a random review rather than by an alert queue: fraud
    in the verdicts at its rate in the orders, no richer)."""
    rng = random.Random(seed * 7919 + 17)
    paid_at: dict[str, datetime] = {}
    for _, _, event in book.events:
        if event["event_type"] == "order_paid":
            paid_at.setdefault(event["order_id"], datetime.fromisoformat(event["occurred_at"]))
    out: list[tuple[datetime, str, dict[str, Any]]] = []
    for order_id, truth in book.truth.items():
        at = paid_at.get(order_id)
        if at is None:
            continue
        bad = truth["label"] == "fraud"
        if sample is not None:
            chance, delay = sample, rng.uniform(48, 168)
        elif bad and truth["pattern"] in UNNAMED:
            chance, delay = SURFACED, rng.uniform(24, 168)
        elif bad:
            chance, delay = REVIEWED, rng.uniform(4, 72)
        else:
            chance, delay = AUDITED, rng.uniform(12, 120)
        if rng.random() >= chance:
            continue
        verdict = bad if rng.random() >= NOISE else not bad
        labelled_at = (at + timedelta(hours=delay)).replace(microsecond=0)
        out.append(
            (
                labelled_at,
                order_id,
                {
                    "schema_version": 1,
                    "order_id": order_id,
                    "label": "fraud" if verdict else "legit",
                    "risk": truth["risk"] if verdict and bad else None,
                    "labelled_at": labelled_at.isoformat(),
                    "analyst": f"analyst-{rng.randint(1, ANALYSTS):02d}",
                },
            )
        )
    out.sort(key=lambda row: (row[0], row[1]))
    return [row[2] for row in out]
