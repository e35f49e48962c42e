"""ROC AUC and precision/recall, exact offline and progressive online.

river's `metrics.ROCAUC` discretises scores over ten thresholds in [0, 1] and degenerates on
unbounded scores (docs/learning.md, field notes); these count ranks instead.

>>> roc_auc([True, False, True, False], [0.9, 0.1, 0.4, 0.4])
0.875
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any


def roc_auc(labels: Sequence[bool], scores: Sequence[float]) -> float:
    """The probability that a random positive outscores a random negative (ties count half)."""
    ranked = sorted(zip(scores, labels, strict=True), key=lambda pair: pair[0])
    positives = sum(1 for label in labels if label)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return float("nan")
    rank_sum = 0.0
    i = 0
    while i < len(ranked):
        j = i
        hits = 0
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            hits += ranked[j][1]
            j += 1
        rank_sum += hits * (i + j + 1) / 2  # the tied block's mean rank, 1-based
        i = j
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


class Progressive:
    """Progressive validation of a probabilistic classifier: each verdict is scored with the
    model as it stood before learning it. ROC AUC over every verdict so far (scores binned to
    1/1000, bounded memory) and over the latest `window`; precision and recall at `threshold`.

    >>> p = Progressive(threshold=0.5)
    >>> for fraud, prob in [(True, 0.9), (False, 0.2), (True, 0.3), (False, 0.6)]:
    ...     p.update(fraud, prob)
    >>> p.figures()["auc"], p.figures()["precision"], p.figures()["recall"]
    (0.75, 0.5, 0.5)
    """

    BINS = 1000

    def __init__(
        self, threshold: float, window: int = 1000, milestones: tuple[int, ...] = ()
    ) -> None:
        self.threshold = threshold
        self.pos = [0] * self.BINS
        self.neg = [0] * self.BINS
        self.recent: deque[tuple[bool, float]] = deque(maxlen=window)
        self.tp = self.fp = self.fn = self.tn = 0
        self.milestones = milestones
        self.at: dict[str, float] = {}  # AUC when the n-th verdict was scored

    def update(self, fraud: bool, probability: float) -> None:
        b = min(self.BINS - 1, max(0, int(probability * self.BINS)))
        (self.pos if fraud else self.neg)[b] += 1
        self.recent.append((fraud, probability))
        flagged = probability >= self.threshold
        if fraud:
            self.tp += flagged
            self.fn += not flagged
        else:
            self.fp += flagged
            self.tn += not flagged
        n = self.tp + self.fp + self.fn + self.tn
        if n in self.milestones:
            self.at[str(n)] = self._binned_auc()

    def _binned_auc(self) -> float:
        positives, negatives = sum(self.pos), sum(self.neg)
        if not positives or not negatives:
            return float("nan")
        below = 0  # negatives in lower bins
        wins = 0.0
        for p, n in zip(self.pos, self.neg, strict=True):
            wins += p * (below + n / 2)
            below += n
        return wins / (positives * negatives)

    def figures(self) -> dict[str, float]:
        labels = self.tp + self.fp + self.fn + self.tn
        recent = list(self.recent)
        out = {
            "labels": float(labels),
            "auc": self._binned_auc(),
            "auc_recent": roc_auc([f for f, _ in recent], [p for _, p in recent])
            if recent
            else float("nan"),
            "precision": self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan"),
            "recall": self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan"),
        }
        for n, auc in self.at.items():
            out[f"auc_at_{n}"] = auc
        return out

    def state(self) -> dict[str, Any]:
        return {
            "pos": self.pos,
            "neg": self.neg,
            "recent": [list(r) for r in self.recent],
            "counts": [self.tp, self.fp, self.fn, self.tn],
            "at": self.at,
        }

    def load(self, state: dict[str, Any]) -> None:
        self.pos = list(state["pos"])
        self.neg = list(state["neg"])
        self.recent = deque(((bool(f), float(p)) for f, p in state["recent"]), self.recent.maxlen)
        self.tp, self.fp, self.fn, self.tn = state["counts"]
        self.at = dict(state["at"])
