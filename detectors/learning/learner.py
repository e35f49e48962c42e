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

import math
from array import array
from dataclasses import dataclass, fields
from statistics import NormalDist
from typing import Any

from detectors.alerts import Alert
from detectors.context import LaterEvent
from detectors.learning import codec
from detectors.learning.anomaly import AnomalyStage
from detectors.learning.bursts import ConsumerHours
from detectors.learning.calibration import Flood, Threshold
from detectors.learning.classifier import Verdicts
from detectors.learning.config import LearningConfig
from detectors.learning.drift import Drift, MerchantDrift
from detectors.learning.edges import EdgeBursts
from detectors.learning.features import (
    ATTRIBUTES,
    DAY,
    HOUR,
    SPANS,
    UNWEIGHED,
    EntityState,
    VerdictContext,
    attribute_fingerprints,
    identity_fingerprint,
    order_features,
    verdict_features,
)
from detectors.learning.profiles import Profiles
from detectors.pipeline import Outcome
from schemas.catalog import CatalogEntry
from schemas.labels import Label
from schemas.orders import OrderPaid
from schemas.outputs import Severity
from schemas.rules import ProgrammeRules

ROBUST_FROM = 0.9  # the highest quantile a robust threshold reads (calibration.py)
FORMAT = 5  # the checkpoint's layout; `codec.VERSION` is the container's
# Settings a restored learner may change: thresholds read at each order, not the state's shape.
TUNABLE = frozenset(
    {
        "warmup_orders",
        "explain_top",
        "min_labels",
        "classifier_threshold",
        "verdicts_half",
        "anomaly_gate",
        "anomaly_margin",
        "edge_margin",
        "calibration_verdicts",
        "alerts_per_entity_day",
        "alerts_per_hour",
        "quiet_days",
        "drift_min_orders",
        "drift_watch_days",
        "edge_threshold",
        "ring_household",
        "burst_orders",
    }
)
DETECTORS = ("anomaly", "classifier", "edge_burst", "merchant_drift", "long_ring", "young_burst")
PAIR_ORDERS = 16  # order ids kept per device-and-card pair, the newest


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
        self.long = EntityState(config.long_horizon_days)  # devices and accounts over weeks
        self.profiles = Profiles()
        self.edges = EdgeBursts(config.edge_width, config.edge_decay, config.edge_tick_hours * 3600)
        self.anomaly = AnomalyStage(
            SPANS,
            seed=config.seed,
            warmup=config.warmup_orders,
            n_trees=config.hst_trees,
            height=config.hst_height,
            window=config.hst_window,
        )
        self.verdicts = Verdicts(
            ignore=UNWEIGHED,
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
        self.thresholds = {
            "anomaly": self._threshold(config.anomaly_quantile, config.anomaly_margin, robust=True),
            "edge_burst": self._threshold(config.edge_quantile, config.edge_margin),
            # the classifier's honest quantile is over probabilities: only its verdicts count
            "classifier": self._threshold(0.999, 0.0),
            # identities per device-and-card pair of honest orders: a count, the margin 1
            "long_ring": self._threshold(config.ring_quantile, 1.0),
            # new categories per consumer-hour of approved subsidised orders: a count
            # (its floor, `burst_orders`, holds from the first order: read after 1/(1-q) scores)
            "young_burst": self._threshold(config.burst_quantile, 1.0, early=True),
        }
        self.hours = ConsumerHours()
        self.thin_floor = config.burst_orders - 1  # what a burst needs at a thin hour
        self.young = rules.detectors.new_account_days * DAY
        # device-and-card pair -> ((order id, event-time hour), ...) newest last; the table in
        # order of last use, so the oldest pairs go first past `ring_pairs`
        self.pairs: dict[int, tuple[tuple[str, int], ...]] = {}
        self.flood = Flood(per_entity=config.alerts_per_entity_day, per_hour=config.alerts_per_hour)
        # fingerprint of a consumer, device, payment account or phone an analyst found legit
        # -> event time until which no learning alert names it; in order of last update, each
        # at most `quiet_late` before the latest `until` set then (`_sweep_quiet` stops early)
        self.quiet: dict[int, float] = {}
        self.quiet_newest = -math.inf
        self.quiet_late = 0.0
        self.references: dict[str, float] = {}
        self.counts = dict.fromkeys(("orders", "later", *DETECTORS, "held", "quieted"), 0)
        self.last = Scores()
        self.warm_at: float | None = None  # event time of the first order scored warm

    def _threshold(
        self, q: float, margin: float, *, robust: bool = False, early: bool = False
    ) -> Threshold:
        # A q-quantile of honest scores is read once 1/(1-q) of them are in (one beyond it), and
        # the anomaly stage's are counted only once the stage is warm: its scores before that
        # are not yet comparisons (on a simulated month, 19 honest orders alerted the day after
        # a 1,000-score warm-up, at a threshold a third of the later one). It used to wait for
        # 10/(1-q): 10,000 orders, more than a month of a programme of 300 orders a day, where
        # no learning detector but the classifier ever spoke (docs/learning.md). A threshold
        # with no honest part (margin 0) waits for none.
        settled = math.ceil(1 / (1 - q)) if margin > 0 else 1
        if robust:  # read from the median and the 90 % quantile: 100 scores settle those
            settled = math.ceil(10 / (1 - ROBUST_FROM))
        return Threshold(
            q=q,
            margin=margin,
            warmup=settled if robust or early else max(1, self.config.warmup_orders // 2, settled),
            legit_q=self.config.legit_quantile,
            min_verdicts=self.config.calibration_verdicts,
            tail_z=NormalDist().inv_cdf(q) if robust else None,
        )

    # -- inputs ------------------------------------------------------------------------------

    def on_catalog(self, entry: CatalogEntry) -> None:
        """A catalog record: its reference price, for the `markup` feature."""
        self.references[entry.sku] = float(entry.reference_price)

    def on_paid(
        self,
        event: OrderPaid,
        outcome: Outcome,
        *,
        ts: float | None = None,
        account_age: float | None = None,
    ) -> list[Alert]:
        """A paid order, after the decide half (`outcome` of `Pipeline.decide`); `ts` and
        `account_age` in seconds as the decide half computed them, if it did (each
        `timestamp()` of a pydantic datetime costs about a microsecond)."""
        if outcome.decision is None:  # a duplicate, or refused: nothing was decided
            return []
        config = self.config
        if ts is None:
            ts = event.occurred_at.timestamp()
        day = int(ts // DAY)
        entities, long, verdicts = self.entities, self.long, self.verdicts
        if day > entities.swept or day > long.swept or day > verdicts.swept:
            # once a day of event time (each sweep would return at once on another order)
            if day > entities.swept:
                self._sweep_quiet(ts)
                self._sweep_pairs(ts)
            entities.sweep(ts)
            long.sweep(ts)
            verdicts.expire(ts)
            self.hours.sweep(ts)
        self.counts["orders"] += 1
        identity = identity_fingerprint(event.consumer.id_hash)
        targets = attribute_fingerprints(event)
        x = order_features(
            event,
            self.entities,
            self.references,
            self.offset,
            ts=ts,
            account_age=account_age,
            identity=identity,
            attributes=targets,
            merchant=self.merchants.profile(event.merchant_id),
            long=self.long,
            profiles=self.profiles,
        )
        pair_ids, pair_orders = self._pair(event.order_id, identity, targets, ts)
        burst, where = self.edges.score(identity, targets, self.entities.fresh, ts)
        x["edge_burst"] = burst
        thresholds = self.thresholds
        anomaly_limit = thresholds["anomaly"].value()
        score, anomalous = self.anomaly.score(x, anomaly_limit)
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
            strangers=self.entities.strangers,
        )
        owners = (identity, targets[0], targets[1], targets[3])
        learnt = self.verdicts.learnt
        trained = learnt >= config.min_labels
        self.verdicts.remember(event.order_id, ts, z, owners)
        # an untrained classifier's probability joins nothing: not worth its microseconds
        probability = self.verdicts.probability(z) if trained else 0.0
        self.last = Scores(event.order_id, score if self.anomaly.warm else None, probability, burst)
        classifier_limit = (
            max(self._classifier_threshold(), thresholds["classifier"].value()) if trained else 1.0
        )
        edge_limit = max(config.edge_threshold, thresholds["edge_burst"].value())
        approved = outcome.kind == "approve"
        # scores from before the warm-up are not comparisons yet: they would set the threshold
        if self.warm_at is None and self.anomaly.warm:
            self.warm_at = ts
        if approved and self.anomaly.warm and not anomalous:
            thresholds["anomaly"].observe(score)
        if approved and burst < edge_limit:
            thresholds["edge_burst"].observe(burst)
        if trained and approved and probability < classifier_limit:
            thresholds["classifier"].observe(probability)

        alerts: list[Alert] = []
        # who the alerts name, and whether an analyst quieted them: read only for an alert
        about: tuple[str, str] | None = None
        quiet: bool | None = None
        weight = learnt / (learnt + config.verdicts_half) if trained else 0.0
        if anomalous and (1.0 - weight) + weight * probability >= config.anomaly_gate:
            about = ("consumer", event.consumer.id_hash)
            quiet = self._quiet(owners, ts)
            evidence: dict[str, Any] = {
                "score": round(score, 4),  # the alert's own score is scaled to 0-1
                "threshold": round(anomaly_limit, 4),
                "drivers": drivers,
            }
            if trained:
                evidence["classifier_probability"] = round(probability, 4)
                evidence["classifier_weight"] = round(weight, 3)
            alert = self._alert("anomaly", "fraud", event, about, score, evidence)
            self._admit(alerts, alert, quiet)
        if trained and probability >= classifier_limit:
            if about is None or quiet is None:
                about = ("consumer", event.consumer.id_hash)
                quiet = self._quiet(owners, ts)
            evidence = {
                "threshold": round(classifier_limit, 4),
                "labels_learnt": learnt,
                "anomaly_score": round(score, 4),
                "drivers": self.verdicts.drivers(z, config.explain_top),
            }
            alert = self._alert("classifier", "fraud", event, about, probability, evidence)
            self._admit(alerts, alert, quiet)
        if burst >= edge_limit and _coordinated(event, z, where):
            if quiet is None:
                quiet = self._quiet(owners, ts)
            alert = self._edge_alert(event, z, burst, where, edge_limit)
            node_quiet = quiet or (0 <= where < 2 and self._quiet((targets[where],), ts))
            self._admit(alerts, alert, node_quiet if where >= 0 else quiet)
        ring_limit = self._ring_limit()
        if approved and pair_ids < ring_limit:
            thresholds["long_ring"].observe(float(pair_ids))
        if pair_ids >= ring_limit:
            alert = self._ring_alert(event, pair_orders, pair_ids, ring_limit)
            self._admit(alerts, alert, self._quiet(owners[1:3], ts))
        if event.subsidy_amount > 0:
            young = self._young_burst(event, identity, approved, ts, account_age)
            hours = self.hours
            if young is not None and self._admit(
                alerts,
                young,
                self._quiet(owners, ts) if quiet is None else quiet,
                extends=hours.alerted(identity, ts),
            ):
                hours.mark(identity, ts)
        drift = self.merchants.share(event.merchant_id, event.order_id, subsidy_share, ts)
        if drift is not None:
            alerts.append(self._drift_alert(event, drift))
        return alerts

    def _pair(
        self, order_id: str, identity: int, targets: tuple[int, int, int, int], ts: float
    ) -> tuple[int, tuple[tuple[str, int], ...]]:
        """Count the order on its device-and-card pair (over the long horizon): the pair's
        distinct identities, and its orders in the horizon (this one last), kept for a ring
        alert to name."""
        key = (targets[0] * 0x9E3779B97F4A7C15 ^ targets[1]) & 0xFFFFFFFFFFFFFFFF
        hour = int(ts // HOUR)
        identities, _ = self.long.link(key, identity, hour)
        pairs = self.pairs
        kept = pairs.pop(key, ())
        cutoff = hour - self.long.horizon
        orders = (*(o for o in kept if o[1] >= cutoff), (order_id, hour))[-PAIR_ORDERS:]
        pairs[key] = orders
        if len(pairs) > self.config.ring_pairs:
            del pairs[next(iter(pairs))]
        return identities, orders

    def _sweep_quiet(self, ts: float) -> None:
        """Forget the quiet periods that ended before `ts`. The table is in order of last
        update, and every entry after one ending at `ts + quiet_late` or later was set after
        it, at most `quiet_late` before the latest end then: the scan stops there (the same
        entries forgotten as a pass over all of them)."""
        quiet = self.quiet
        fresh = ts + self.quiet_late
        expired = []
        for key, until in quiet.items():
            if until >= fresh:
                break
            if until < ts:
                expired.append(key)
        for key in expired:
            del quiet[key]

    def _sweep_pairs(self, ts: float) -> None:
        """Forget the pairs whose newest order the long horizon has passed: the table is in
        order of last use, so the scan stops at the first pair still in it."""
        cutoff = int(ts // HOUR) - self.long.horizon
        pairs = self.pairs
        expired = []
        for key, kept in pairs.items():
            if kept[-1][1] >= cutoff:
                break
            expired.append(key)
        for key in expired:
            del pairs[key]

    def _ring_limit(self) -> int:
        """Identities on one pair that make a ring: above a household and above what honest
        traffic shows (infinite in the warm-up)."""
        honest = self.thresholds["long_ring"].value()
        if math.isinf(honest):
            return 1 << 30
        return max(self.config.ring_household, int(honest)) + 1

    def _young_burst(
        self, event: OrderPaid, identity: int, approved: bool, ts: float, age: float | None
    ) -> Alert | None:
        """Count the subsidised order in its consumer's hour; an alert when a young account's
        hour reaches the limit: `burst_orders` (one less at a thin hour of the programme's
        traffic) and above what honest traffic shows."""
        categories = tuple(sorted({item.category for item in event.items}))
        hours = self.hours
        new, orders = hours.add(identity, event.order_id, ts, categories)
        thin = hours.thin(int(((ts + self.offset) % DAY) // HOUR), ts, ask=new >= self.thin_floor)
        threshold = self.thresholds["young_burst"]
        honest = threshold.value()
        floor = self.thin_floor if thin else self.config.burst_orders
        # the floor holds from the first order: the calibration may only raise it
        limit = floor if math.isinf(honest) else max(floor, int(honest) + 1)
        if approved and new < limit:
            threshold.observe(float(new))
        if new < limit:
            return None
        if age is None:
            age = ts - event.consumer.account_created_at.timestamp()
        if age >= self.young:
            return None
        typical = round(threshold.honest.get() or 1.0, 3)
        evidence = {
            "categories": new,
            "threshold": limit,
            "orders": len(orders),
            "window_minutes": round(self.hours.window / 60),
            "account_age_days": round(max(0.0, age) / DAY, 2),
            "thin_hour": thin,
            "drivers": [{"feature": "categories_in_hour", "value": new, "typical": typical}],
        }
        entity = ("consumer", event.consumer.id_hash)
        return self._alert(
            "young_burst",
            "fraud",
            event,
            entity,
            new / (2 * limit),
            evidence,
            order_ids=list(orders),
        )

    def _classifier_threshold(self) -> float:
        """Strict while few verdicts are in, easing towards `classifier_threshold`."""
        n, half = self.verdicts.learnt, self.config.verdicts_half
        return 1.0 - (1.0 - self.config.classifier_threshold) * n / (n + half)

    def _quiet(self, owners: tuple[int, ...], ts: float) -> bool:
        quiet = self.quiet
        if quiet:
            for key in owners:
                if quiet.get(key, -1.0) >= ts:
                    return True
        return False

    def _admit(
        self, alerts: list[Alert], alert: Alert, quiet: bool, *, extends: bool = False
    ) -> bool:
        """Keep `alert` unless an analyst found its entity legit or it floods; `extends`: it
        names one more order of a case already alerted (one case growing, not a flood)."""
        if quiet:
            self.counts["quieted"] += 1
        elif extends or self.flood.allow(
            alert.detector, alert.entity_key, alert.raised_at.timestamp()
        ):
            self.counts[alert.detector] += 1
            alerts.append(alert)
            return True
        else:
            self.counts["held"] += 1
        return False

    def on_later(
        self, event: LaterEvent, outcome: Outcome, *, ts: float | None = None
    ) -> list[Alert]:
        """A cancellation, refund or delivery applied by the decide half (`ts` as it computed
        it, if it did)."""
        if outcome.status != "processed":
            return []
        self.counts["later"] += 1
        kind = event.event_type
        drift = self.merchants.fate(
            event.merchant_id,
            event.order_id,
            kind != "order_delivered",
            event.occurred_at.timestamp() if ts is None else ts,
            refund=kind == "order_refunded",
        )
        return [] if drift is None else [self._drift_alert(event, drift)]

    def on_label(self, label: Label) -> None:
        """An analyst's verdict: scored by the classifier as it stands, then learnt; the
        thresholds take the scores the order had; a `legit` verdict quiets who placed it."""
        fraud = label.label == "fraud"
        learnt = self.verdicts.learn(label.order_id, fraud)
        if learnt is None:
            return
        x, thresholds = learnt.x, self.thresholds
        # a score from before the stage was warm was no comparison (its scale still moving):
        # it would set the floor the legit verdicts give the threshold
        if self.warm_at is not None and learnt.ts >= self.warm_at:
            thresholds["anomaly"].verdict(x["anomaly"], fraud=fraud)
        thresholds["edge_burst"].verdict(x["edge_burst"], fraud=fraud)
        thresholds["classifier"].verdict(learnt.probability, fraud=fraud)
        if not fraud:
            self._hush(learnt.owners, label.labelled_at.timestamp() + self.config.quiet_days * DAY)

    def _hush(self, owners: tuple[int, ...], until: float) -> None:
        """No learning alert names any of `owners` until `until` (event time)."""
        if until > self.quiet_newest:
            self.quiet_newest = until
        elif self.quiet_newest - until > self.quiet_late:
            self.quiet_late = self.quiet_newest - until
        quiet = self.quiet
        for key in owners:
            if quiet.get(key, -1.0) < until:
                quiet.pop(key, None)  # to the end: the table in order of last update
                quiet[key] = until

    # -- outputs -----------------------------------------------------------------------------

    def quality(self) -> dict[str, float]:
        """Progressive validation of the classifier (ROC AUC over every verdict and over the
        latest thousand, precision and recall at its threshold, verdicts learnt), and counts."""
        out = {f"classifier_{k}": v for k, v in self.verdicts.quality.figures().items()}
        out["labels_unmatched"] = float(self.verdicts.unmatched)
        out["labels_pending_orders"] = float(len(self.verdicts.pending))
        anomaly = self.thresholds["anomaly"]
        out["anomaly_threshold"] = anomaly.value() if anomaly.ready else 0.0  # 0 in the warm-up
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

    def _edge_alert(
        self, event: OrderPaid, x: dict[str, float], burst: float, where: int, limit: float
    ) -> Alert:
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
        means = self.anomaly.means
        drivers = [{"feature": "edge_burst", "value": round(burst, 3), "typical": 0.0}]
        for name in ("device", "payment", "address", "phone"):
            for feature in (f"{name}_ids", f"{name}_recent"):
                value = x[feature]
                typical = means.get(feature, 1.0) if feature.endswith("_ids") else 1.0
                if value > typical + 0.5:
                    drivers.append(
                        {"feature": feature, "value": round(value, 3), "typical": round(typical, 3)}
                    )
        evidence = {
            "score": round(burst, 2),
            "threshold": round(limit, 3),
            "node": entity[0],
            "distinct_consumers": int(identities),
            "drivers": drivers[: 1 + self.config.explain_top],
        }
        return self._alert("edge_burst", "hoarding", event, entity, burst / (2 * limit), evidence)

    def _ring_alert(
        self,
        event: OrderPaid,
        orders: tuple[tuple[str, int], ...],
        identities: int,
        limit: int,
    ) -> Alert:
        named = [order_id for order_id, _ in orders]
        typical = round(self.thresholds["long_ring"].honest.get() or 1.0, 3)
        evidence = {
            "identities": identities,
            "threshold": limit,
            "window_days": round(self.long.horizon / 24),
            "orders": len(named),
            "drivers": [
                {"feature": "device_ids_long", "value": identities, "typical": typical},
                {"feature": "payment_ids_long", "value": identities, "typical": typical},
            ],
        }
        entity = ("payment_account", event.payment.account_hash)
        score = identities / (2 * limit)
        return self._alert("long_ring", "fraud", event, entity, score, evidence, order_ids=named)

    def _drift_alert(self, event: OrderPaid | LaterEvent, drift: Drift) -> Alert:
        self.counts["merchant_drift"] += 1
        evidence = {
            "stream": drift.stream,
            "before": round(drift.before, 4),
            "after": round(drift.after, 4),
            "peers_median": round(drift.peers, 4),
            "watching": drift.watching,
            "drivers": [
                {
                    "feature": f"merchant_{drift.stream}",
                    "value": round(drift.after, 4),
                    "typical": round(drift.peers, 4),
                },
                {
                    "feature": f"merchant_{drift.stream}_before",
                    "value": round(drift.before, 4),
                    "typical": round(drift.peers, 4),
                },
            ],
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
                "long": self.long.state(),
                "profiles": self.profiles.state(),
                "edges": self.edges.state(),
                "anomaly": self.anomaly.state(),
                "verdicts": self.verdicts.state(),
                "merchants": self.merchants.state(),
                "thresholds": {k: v.state() for k, v in self.thresholds.items()},
                "flood": self.flood.state(),
                "pair_keys": array("Q", self.pairs).tobytes(),
                "pair_orders": [[list(o) for o in kept] for kept in self.pairs.values()],
                "quiet_keys": array("Q", self.quiet).tobytes(),
                "quiet_until": array("d", self.quiet.values()).tobytes(),
                "quiet_newest": self.quiet_newest,
                "quiet_late": self.quiet_late,
                "references": self.references,
                "counts": self.counts,
                "warm_at": self.warm_at,
                "hours": self.hours.state(),
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
        learner.long.load(saved["long"])
        learner.profiles.load(saved["profiles"])
        learner.edges.load(saved["edges"])
        learner.anomaly.load(saved["anomaly"])
        learner.verdicts.load(saved["verdicts"])
        learner.merchants.load(saved["merchants"])
        for name, threshold in learner.thresholds.items():
            threshold.load(saved["thresholds"][name])
        learner.flood.load(saved["flood"])
        pair_keys = array("Q")
        pair_keys.frombytes(saved["pair_keys"])
        learner.pairs = {
            key: tuple((order_id, hour) for order_id, hour in kept)
            for key, kept in zip(pair_keys, saved["pair_orders"], strict=True)
        }
        keys, until = array("Q"), array("d")
        keys.frombytes(saved["quiet_keys"])
        until.frombytes(saved["quiet_until"])
        learner.quiet = dict(zip(keys, until, strict=True))
        # before 2026-12-05 the table was not kept in order of update: sweep all of it
        learner.quiet_newest = saved.get("quiet_newest", -math.inf)
        learner.quiet_late = saved.get("quiet_late", math.inf)
        learner.references = dict(saved["references"])
        learner.counts = dict(saved["counts"])
        learner.hours.load(saved["hours"])
        # a checkpoint from before `warm_at` was kept: a warm stage counts every verdict
        default = 0.0 if learner.anomaly.warm else None
        learner.warm_at = saved.get("warm_at", default)
        return learner


__all__ = ["DAY", "DETECTORS", "Learner", "LearningConfig", "Scores"]


def _coordinated(event: OrderPaid, x: dict[str, float], where: int) -> bool:
    """Whether a burst of links is evidence on its own: it must join identities. A burst on
    one consumer's own node, or on an attribute only that consumer uses, is one person's use
    of the programme, which its limits already bound (the quota detectors act past them). An
    address is shared by many by design (a pickup point, an office's reception desk, whose 20
    staff's first week burst like a ring: two false alerts in ten simulated days), and the
    rules watch addresses with their own counts (address rings, the reception desk, the pickup
    pipeline); a device, card or phone is not. Each is scored and learnt from all the same
    (docs/detectors.md)."""
    if where < 0:
        return False
    kind = ATTRIBUTES[where]
    if kind == "address":
        return False
    return x[f"{kind}_ids"] >= 2
