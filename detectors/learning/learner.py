"""The learning stage: one object that sees every order after the decide half, in sequence.

For each paid order (`on_paid`): count its links (MIDAS-R edge bursts), compute its features,
score it with Half-Space Trees against the orders before it, ask the classifier trained on the
verdicts so far, feed the merchant's subsidy-share window; alerts for what crosses a threshold.
For each later event (`on_later`): the merchant's refund-rate window. For each verdict
(`on_label`): progressive validation, then learning. Pure: event time only, no I/O; state in
memory, saved and restored whole through `checkpoint` / `restore` (same state, same bytes).

The decision record is written by the decide half before this stage runs, so the classifier's
score cannot change it: it joins through alerts. Once the classifier has learnt `min_labels`
verdicts, an order whose probability reaches `classifier_threshold` gets a `review` alert
(detector `classifier`) naming it, and every anomaly alert carries the probability in its
evidence. The stage reads only what both runtimes give it: the event, and of the outcome the
decision (`kind`, `claim`, `allowed`), never the watch half's alerts.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from detectors.alerts import Alert
from detectors.context import LaterEvent
from detectors.learning import codec
from detectors.learning.anomaly import AnomalyStage
from detectors.learning.classifier import Verdicts
from detectors.learning.config import LearningConfig
from detectors.learning.drift import Drift, MerchantDrift
from detectors.learning.edges import EdgeBursts
from detectors.learning.features import (
    ATTRIBUTES,
    DAY,
    SPANS,
    EntityState,
    VerdictContext,
    attribute_fingerprints,
    expand,
    identity_fingerprint,
    order_features,
    verdict_features,
)
from detectors.pipeline import Outcome
from schemas.catalog import CatalogEntry
from schemas.labels import Label
from schemas.orders import OrderPaid
from schemas.outputs import Severity
from schemas.rules import ProgrammeRules

FORMAT = 1  # the checkpoint's layout; `codec.VERSION` is the container's
# Settings a restored learner may change: thresholds read at each order, not the state's shape.
TUNABLE = frozenset(
    {
        "anomaly_budget",
        "warmup_orders",
        "explain_top",
        "min_labels",
        "classifier_threshold",
        "anomaly_gate",
        "drift_min_orders",
        "drift_watch_days",
        "edge_threshold",
    }
)
DETECTORS = ("anomaly", "classifier", "edge_burst", "merchant_drift")


@dataclass(slots=True)
class Scores:
    """The last paid order's scores, for a caller that records them (replay's `--scores-out`)."""

    order_id: str = ""
    anomaly: float | None = None  # None in the anomaly detectors' warm-up: not a comparison
    classifier: float = 0.0
    edge: float = 0.0


class Learner:
    """The online models of one runtime. Build it with the rules and a `LearningConfig`."""

    def __init__(self, rules: ProgrammeRules, config: LearningConfig | None = None) -> None:
        self.rules = rules
        self.config = config = config or LearningConfig()
        offset = rules.timezone.utcoffset(None)
        self.offset = offset.total_seconds() if offset is not None else 0.0
        self.context = VerdictContext(rules)
        self.entities = EntityState(config.links_horizon_days)
        self.edges = EdgeBursts(config.edge_width, config.edge_decay, config.edge_tick_hours * 3600)
        self.anomaly = AnomalyStage(
            SPANS,
            seed=config.seed,
            budget=config.anomaly_budget,
            warmup=config.warmup_orders,
            n_trees=config.hst_trees,
            height=config.hst_height,
            window=config.hst_window,
        )
        self.verdicts = Verdicts(
            expand=expand,
            learning_rate=config.learning_rate,
            threshold=config.classifier_threshold,
            horizon_days=config.label_horizon_days,
            max_pending=config.max_pending,
        )
        self.merchants = MerchantDrift(
            delta=config.drift_delta,
            min_events=config.drift_min_orders,
            watch_days=config.drift_watch_days,
        )
        self.references: dict[str, float] = {}
        self.counts = dict.fromkeys(("orders", "later", *DETECTORS), 0)
        self.last = Scores()

    # -- inputs ------------------------------------------------------------------------------

    def on_catalog(self, entry: CatalogEntry) -> None:
        """A catalog record: its reference price, for the `markup` feature."""
        self.references[entry.sku] = float(entry.reference_price)

    def on_paid(self, event: OrderPaid, outcome: Outcome) -> list[Alert]:
        """A paid order, after the decide half (`outcome` of `Pipeline.decide`)."""
        if outcome.decision is None:  # a duplicate, or refused: nothing was decided
            return []
        config = self.config
        ts = event.occurred_at.timestamp()
        self.entities.sweep(ts)
        self.verdicts.expire(ts)
        self.counts["orders"] += 1
        identity = identity_fingerprint(event.consumer.id_hash)
        targets = attribute_fingerprints(event)
        x = order_features(
            event,
            self.entities,
            self.references,
            self.offset,
            ts=ts,
            identity=identity,
            attributes=targets,
            merchant=self.merchants.profile(event.merchant_id),
        )
        burst, where = self.edges.score(identity, targets, self.entities.fresh, ts)
        x["edge_burst"] = burst
        score, anomalous = self.anomaly.score(x)
        # read of `x` before `verdict_features` adds the classifier's features to it
        drivers = self.anomaly.drivers(x, config.explain_top) if anomalous else []
        subsidy_share = x["subsidy_share"]
        z = verdict_features(
            x,
            event,
            self.context,
            anomaly=score,
            claim=float(outcome.claim),
            allowed=float(outcome.allowed),
            approved=outcome.kind == "approve",
            recent=self.edges.recent,
        )
        trained = self.verdicts.learnt >= config.min_labels
        self.verdicts.remember(event.order_id, ts, z)
        # an untrained classifier's probability joins nothing: not worth its microseconds
        probability = self.verdicts.probability(z) if trained else 0.0
        self.last = Scores(event.order_id, score if self.anomaly.warm else None, probability, burst)

        alerts: list[Alert] = []
        about = ("consumer", event.consumer.id_hash)
        if anomalous and (not trained or probability >= config.anomaly_gate):
            evidence: dict[str, Any] = {
                "threshold": round(self.anomaly.limit or 0.0, 4),
                "budget": config.anomaly_budget,
                "drivers": drivers,
            }
            if trained:
                evidence["classifier_probability"] = round(probability, 4)
            alerts.append(self._alert("anomaly", "fraud", event, about, score, evidence))
        if trained and probability >= config.classifier_threshold:
            evidence = {
                "threshold": config.classifier_threshold,
                "labels_learnt": self.verdicts.learnt,
                "anomaly_score": round(score, 4),
            }
            alerts.append(self._alert("classifier", "fraud", event, about, probability, evidence))
        if burst >= config.edge_threshold:
            alerts.append(self._edge_alert(event, z, burst, where))
        drift = self.merchants.share(event.merchant_id, event.order_id, subsidy_share, ts)
        if drift is not None:
            alerts.append(self._drift_alert(event, drift))
        return alerts

    def on_later(self, event: LaterEvent, outcome: Outcome) -> list[Alert]:
        """A cancellation, refund or delivery applied by the decide half."""
        if outcome.status != "processed":
            return []
        self.counts["later"] += 1
        released = event.event_type != "order_delivered"
        drift = self.merchants.fate(
            event.merchant_id, event.order_id, released, event.occurred_at.timestamp()
        )
        return [] if drift is None else [self._drift_alert(event, drift)]

    def on_label(self, label: Label) -> None:
        """An analyst's verdict: scored by the classifier as it stands, then learnt."""
        self.verdicts.learn(label.order_id, label.label == "fraud")

    # -- outputs -----------------------------------------------------------------------------

    def quality(self) -> dict[str, float]:
        """Progressive validation of the classifier (ROC AUC over every verdict and over the
        latest thousand, precision and recall at its threshold, verdicts learnt), and counts."""
        out = {f"classifier_{k}": v for k, v in self.verdicts.quality.figures().items()}
        out["labels_unmatched"] = float(self.verdicts.unmatched)
        out["labels_pending_orders"] = float(len(self.verdicts.pending))
        out["anomaly_threshold"] = self.anomaly.limit or 0.0
        for name, n in self.counts.items():
            out[f"{name}_total" if name in ("orders", "later") else f"{name}_alerts"] = float(n)
        return out

    def _alert(
        self,
        detector: str,
        risk: str,
        event: OrderPaid | LaterEvent,
        entity: tuple[str, str],
        score: float,
        evidence: dict[str, Any],
        order_ids: list[str] | None = None,
        severity: Severity = "medium",
    ) -> Alert:
        self.counts[detector] += 1
        return Alert(
            detector=detector,
            risk=risk,
            severity=severity,
            action="review",
            entity_type=entity[0],
            entity_key=entity[1],
            order_ids=order_ids or [event.order_id],
            raised_at=event.occurred_at,
            event_id=event.event_id,
            score=min(1.0, max(0.0, score)),
            evidence=evidence,
        )

    def _edge_alert(self, event: OrderPaid, x: dict[str, float], burst: float, where: int) -> Alert:
        if where < 0:
            entity = ("consumer", event.consumer.id_hash)
            identities = 1.0
        else:
            kind = ATTRIBUTES[where]
            key = (
                event.device_id,
                event.payment.account_hash,
                event.delivery.address_hash,
                event.consumer.phone_hash,
            )[where]
            entity = ("payment_account" if kind == "payment" else kind, key)
            identities = x[f"{kind}_ids"]
        evidence = {
            "score": round(burst, 2),
            "threshold": self.config.edge_threshold,
            "node": entity[0],
            "distinct_consumers": int(identities),
        }
        return self._alert(
            "edge_burst",
            "hoarding",
            event,
            entity,
            burst / (2 * self.config.edge_threshold),
            evidence,
        )

    def _drift_alert(self, event: OrderPaid | LaterEvent, drift: Drift) -> Alert:
        evidence = {
            "stream": drift.stream,
            "before": round(drift.before, 4),
            "after": round(drift.after, 4),
            "peers_median": round(drift.peers, 4),
            "watching": drift.watching,
        }
        return self._alert(
            "merchant_drift",
            "fraud",
            event,
            ("merchant", drift.merchant),
            drift.after,
            evidence,
            order_ids=list(drift.order_ids),
        )

    # -- state -------------------------------------------------------------------------------

    def checkpoint(self) -> bytes:
        """Everything the models know, as bytes (same state, same bytes): save it, and
        `Learner.restore` it after a restart."""
        entities = self.entities
        return codec.dumps(
            {
                "format": FORMAT,
                "config": self.config.as_dict(),
                "rules": self.rules.version,
                "entities": entities.state(),
                "edges": self.edges.state(),
                "anomaly": self.anomaly.state(),
                "verdicts": self.verdicts.state(),
                "merchants": self.merchants.state(),
                "references": self.references,
                "counts": self.counts,
            }
        )

    @classmethod
    def restore(cls, rules: ProgrammeRules, config: LearningConfig | None, blob: bytes) -> Learner:
        """A learner that carries on where the checkpointed one stopped."""
        saved = codec.loads(blob)
        if saved.get("format") != FORMAT:
            raise codec.CheckpointError(
                f"checkpoint format {saved.get('format')}, expected {FORMAT}"
            )
        config = config or LearningConfig(**saved["config"])
        changed = sorted(
            f.name
            for f in fields(LearningConfig)
            if f.name not in TUNABLE and saved["config"].get(f.name) != getattr(config, f.name)
        )
        if changed:
            raise codec.CheckpointError(
                f"checkpoint was made with other settings of {', '.join(changed)}"
            )
        learner = cls(rules, config)
        learner.entities.load(saved["entities"])
        learner.edges.load(saved["edges"])
        learner.anomaly.load(saved["anomaly"])
        learner.verdicts.load(saved["verdicts"])
        learner.merchants.load(saved["merchants"])
        learner.references = dict(saved["references"])
        learner.counts = dict(saved["counts"])
        return learner


__all__ = ["DAY", "DETECTORS", "Learner", "LearningConfig", "Scores"]
