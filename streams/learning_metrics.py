"""The online learner's quality as Prometheus series, from `Learner.quality()`'s figures.

    figure of `quality()`             series (model="classifier" on each riskmon_model_*)
    classifier_auc, _auc_recent       riskmon_model_auc{window="all" | "recent"}
    classifier_precision, _recall     riskmon_model_precision, riskmon_model_recall
    classifier_labels                 riskmon_model_labels_total{state="learnt"}
    labels_unmatched                  riskmon_model_labels_total{state="unmatched"}
    labels_pending_orders             riskmon_model_pending_orders
    anomaly_threshold                 riskmon_anomaly_threshold
    orders_total, later_total         riskmon_learning_events_total{kind="order" | "later"}
    <detector>_alerts                 riskmon_learning_alerts_total{detector}
    held_alerts, quieted_alerts       riskmon_learning_alerts_withheld_total{reason="flood" |
                                      "quieted"} (a flood cap; an entity found legit)

The figures are kept as the latest dict, replaced in one assignment, and become families only
when scraped: the learner computes them now and then (the ROC AUC of its recent window sorts a
thousand scores), never per event. A figure missing from an update keeps its last value; one
that is not a number is ignored: a gauge never stops a worker. An undefined figure (no fraud
verdict yet, nothing flagged yet) is NaN, as the learner gives it, so a rule comparing it is
false rather than fooled by a zero.

The counts are the learner's own, carried through its checkpoints: they survive a restart,
unlike `riskmon_alerts_total`, which counts what this process raised.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

# `detectors.learning.DETECTORS`, spelt out so that the metrics need not import the models
# (tests/unit/metrics/test_learning_metrics.py holds them equal)
LEARNING_DETECTORS = (
    "anomaly",
    "classifier",
    "edge_burst",
    "merchant_drift",
    "long_ring",
    "young_burst",
)

# family -> (type, help, label names)
FAMILIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "riskmon_model_auc": (
        "gauge",
        "Progressive ROC AUC of a learnt model on the verdicts, over all and the latest 1,000",
        ("model", "window"),
    ),
    "riskmon_model_precision": (
        "gauge",
        "Progressive precision of a learnt model at its alert threshold",
        ("model",),
    ),
    "riskmon_model_recall": (
        "gauge",
        "Progressive recall of a learnt model at its alert threshold",
        ("model",),
    ),
    "riskmon_model_labels": (
        "counter",
        "Analysts' verdicts: learnt, or unmatched (their order not or no longer remembered)",
        ("model", "state"),
    ),
    "riskmon_model_pending_orders": (
        "gauge",
        "Orders whose features are kept, waiting for a verdict",
        ("model",),
    ),
    "riskmon_anomaly_threshold": (
        "gauge",
        "Anomaly score an order must reach to raise an alert (adaptive; 0 in the warm-up)",
        (),
    ),
    "riskmon_learning_events": (
        "counter",
        "Events the learning stage has seen: paid orders, later events",
        ("kind",),
    ),
    "riskmon_learning_alerts": (
        "counter",
        "Alerts raised by the learning stage since its models began, by detector",
        ("detector",),
    ),
    "riskmon_learning_alerts_withheld": (
        "counter",
        "Learning alerts held back: past a flood cap, or on an entity an analyst found legit",
        ("reason",),
    ),
}

# figure of `Learner.quality()` -> (family, label values)
SERIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "classifier_auc": ("riskmon_model_auc", ("classifier", "all")),
    "classifier_auc_recent": ("riskmon_model_auc", ("classifier", "recent")),
    "classifier_precision": ("riskmon_model_precision", ("classifier",)),
    "classifier_recall": ("riskmon_model_recall", ("classifier",)),
    "classifier_labels": ("riskmon_model_labels", ("classifier", "learnt")),
    "labels_unmatched": ("riskmon_model_labels", ("classifier", "unmatched")),
    "labels_pending_orders": ("riskmon_model_pending_orders", ("classifier",)),
    "anomaly_threshold": ("riskmon_anomaly_threshold", ()),
    "orders_total": ("riskmon_learning_events", ("order",)),
    "later_total": ("riskmon_learning_events", ("later",)),
    **{f"{d}_alerts": ("riskmon_learning_alerts", (d,)) for d in LEARNING_DETECTORS},
    "held_alerts": ("riskmon_learning_alerts_withheld", ("flood",)),
    "quieted_alerts": ("riskmon_learning_alerts_withheld", ("quieted",)),
}


class LearningQuality:
    """A collector of the latest learner figures (see the module's list)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._values: dict[str, float] = {}
        self._lock = threading.Lock()  # two updaters (a timer, the end of a run) merge safely
        registry.register(self)

    def update(self, figures: Mapping[str, object]) -> None:
        """Take the figures this module knows from `figures`; others are ignored."""
        if not isinstance(figures, Mapping):
            return
        with self._lock:
            values = dict(self._values)
            for key in SERIES:
                value = figures.get(key)
                if isinstance(value, bool) or not isinstance(value, int | float):
                    continue
                values[key] = float(value)
            self._values = values  # one assignment: a scrape reads a whole update

    def values(self) -> dict[str, float]:
        """figure -> its last value."""
        return dict(self._values)

    def describe(self) -> Iterable[Metric]:
        return self._families().values()

    def collect(self) -> Iterable[Metric]:
        families = self._families()
        for key, value in self._values.items():
            family, labels = SERIES[key]
            if FAMILIES[family][0] == "counter" and not math.isfinite(value):
                continue  # a counter is never NaN; the learner's counts never are either
            families[family].add_metric(labels, value)
        return families.values()

    @staticmethod
    def _families() -> dict[str, GaugeMetricFamily | CounterMetricFamily]:
        out: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}
        for name, (kind, documentation, labels) in FAMILIES.items():
            if kind == "counter":
                out[name] = CounterMetricFamily(name, documentation, labels=labels)
            else:
                out[name] = GaugeMetricFamily(name, documentation, labels=labels)
        return out


__all__ = ["FAMILIES", "LEARNING_DETECTORS", "SERIES", "LearningQuality"]
