"""The learning stage as both runtimes run it: the learner fed each decided event in event-time
order (detectors/sequence.py), analysts' verdicts merged in by event time, each paid order's
scores written out for the evaluator.

A verdict is applied when the learner's event time (the newest `occurred_at` it has been fed)
reaches its `labelled_at`, before the event that got there: what a live stage would have known.
In a replay the verdicts come from a file; live, the decide stage holds those that arrive ahead
of the learner's time and hands each over when it is due (`verdict`). Verdicts left when the
events of a file run out are applied at the end, so the progressive figures count them all.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import IO

import orjson

from detectors.alerts import Alert
from detectors.learning import Learner
from detectors.pipeline import Outcome
from detectors.watch import Watch, allowed_out
from schemas.catalog import CatalogEntry
from schemas.decode import DecodeError, decode_label
from schemas.labels import Label
from schemas.orders import OrderPaid
from schemas.times import TimeWindow


def read_labels(path: Path, window: TimeWindow | None = None) -> tuple[list[Label], int]:
    """Every valid verdict in `path`, in `labelled_at` order, and how many lines were not one."""
    labels: list[Label] = []
    bad = 0
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        try:
            labels.append(decode_label(line, window=window))
        except DecodeError:
            bad += 1
    labels.sort(key=lambda label: label.labelled_at.timestamp())  # stable: file order on ties
    return labels, bad


class LearningRun:
    def __init__(
        self,
        learner: Learner,
        labels: Path | None = None,
        scores_out: Path | None = None,
        window: TimeWindow | None = None,
    ) -> None:
        self.learner = learner
        self.labels, self.bad_labels = (
            read_labels(labels, window) if labels is not None else ([], 0)
        )
        self._times = [label.labelled_at.timestamp() for label in self.labels]
        self._next = 0
        self.watermark = float("-inf")
        self._files = ExitStack()
        self._scores: IO[bytes] | None = (
            self._files.enter_context(scores_out.open("wb")) if scores_out is not None else None
        )

    def catalog(self, entry: CatalogEntry) -> None:
        self.learner.on_catalog(entry)

    def learn(self, watch: Watch, at: float) -> list[Alert]:
        """The learner's alerts for one decided event, fed in order at its partition time `at`
        (detectors/sequence.py)."""
        ts = at
        if ts > self.watermark:
            self.watermark = ts
            self._feed(ts)
        learner = self.learner
        event = watch.event
        outcome = _outcome(watch)
        if not isinstance(event, OrderPaid):
            return allowed_out(learner.on_later(event, outcome, ts=watch.ts), watch.allowed)
        paid = learner.on_paid(event, outcome, ts=watch.ts, account_age=watch.account_age)
        alerts = allowed_out(paid, watch.allowed)
        if self._scores is not None and outcome.decision is not None:
            last = learner.last
            self._scores.write(
                orjson.dumps(
                    {
                        "order_id": last.order_id,
                        "anomaly": None if last.anomaly is None else round(last.anomaly, 6),
                        "classifier": round(last.classifier, 6),
                        "edge": round(last.edge, 4),
                    }
                )
                + b"\n"
            )
        return alerts

    def verdict(self, label: Label) -> None:
        """A verdict that is due: its `labelled_at` is at or before the learner's time."""
        self.learner.on_label(label)

    def _feed(self, until: float) -> None:
        labels, times = self.labels, self._times
        while self._next < len(labels) and times[self._next] <= until:
            self.learner.on_label(labels[self._next])
            self._next += 1

    def figures(self) -> dict[str, float]:
        """The learner's figures so far, and the verdicts file's counts."""
        figures = self.learner.quality()
        figures["labels_read"] = float(len(self.labels))
        figures["labels_invalid"] = float(self.bad_labels)
        return figures

    def detach(self) -> None:
        """Let go of this process's handle on the scores file: another (forked) process runs
        the learning and writes it (replay/learning_process.py)."""
        self._scores = None
        self._files.close()

    def finish(self) -> dict[str, float]:
        """Apply the verdicts still waiting; the learner's figures."""
        self._feed(float("inf"))
        self._files.close()
        return self.figures()


def _outcome(watch: Watch) -> Outcome:
    """The decide half's outcome as the models read it, the same in both runtimes: a worker's
    ticket carries only what `Watch.decided` holds."""
    decided = watch.decided
    if decided is None:
        return Outcome("processed")
    event = watch.event
    decision = {
        "order_id": event.order_id,
        "event_id": event.event_id,
        "decision": decided.kind,
        "allowed_subsidy": decided.allowed,
        "reasons": list(decided.reasons),
    }
    return Outcome(
        "processed",
        decision=decision,
        kind=decided.kind,
        claim=decided.claim,
        allowed=decided.allowed,
    )
