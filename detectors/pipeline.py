"""One event through every detector: the engine both runtimes drive.

The replay feeds it a file; the streaming agents feed it Kafka messages. Either way the same
event with the same state yields the same decision and the same alerts, with the same ids.

It has two halves. `decide` runs the deciding detectors, whose state (quotas, codes, the
budget, the orders) fixes an order's allowed subsidy and so must see every order in one
sequence; it returns the decision and a `Watch` per event. `Watchers.watch` runs the watching
detectors over those, each under the entity its state is keyed by, so a runtime can spread
them over partitions. `on_order` runs both, in-process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from detectors.alerts import Alert
from detectors.arbitrage import RefundArbitrage, RefundCycling
from detectors.base import Detector
from detectors.budget import Budget
from detectors.compliance import Compliance, PriceInflation
from detectors.context import HOUR, LaterContext, LaterEvent, PaidContext
from detectors.controls import ControlRecord, Controls, allowed_at
from detectors.controls import add as add_control
from detectors.farms import AccountFarms
from detectors.merchants import MerchantBursts
from detectors.products import Catalog, product
from detectors.qualification import DeviceCodes, Qualification
from detectors.quotas import Quotas
from detectors.reservations import (
    COMMITTED,
    EXPIRED,
    RELEASED,
    Reservations,
    as_paid,
    authorization_id,
    cancellation,
    digest,
)
from detectors.rings import IdentityRings
from detectors.splits import SplitOrders
from detectors.store import Store
from detectors.watch import Decided, Watch, Watchers, paid_context
from schemas.catalog import CatalogEntry
from schemas.money import ZERO, to_fen
from schemas.orders import ORDER_ADAPTER, OrderCheckout, OrderPaid
from schemas.outputs import Origin, dead_letter_record, decision_record
from schemas.rules import ProgrammeRules

OutcomeStatus = Literal["processed", "duplicate", "pending", "rejected"]


def deciding_detectors(rules: ProgrammeRules) -> list[Detector]:
    """The checks that fix an order's allowed subsidy, in the order they must run: the
    controls after compliance has placed each item on its budget line, before any quota, code
    or budget is taken."""
    return [
        Compliance(rules),
        Controls(rules),
        PriceInflation(rules),
        Qualification(rules),
        Quotas(rules),
        Budget(rules),
    ]


def watching_detectors(rules: ProgrammeRules) -> list[Detector]:
    """Behavioural detectors: they raise alerts and may ask for a hold, never change amounts."""
    return [
        DeviceCodes(rules),
        IdentityRings(rules),
        AccountFarms(rules),
        SplitOrders(rules),
        RefundCycling(rules),
        MerchantBursts(rules),
        RefundArbitrage(rules),
    ]


@dataclass(slots=True)
class Outcome:
    status: OutcomeStatus
    decision: dict[str, Any] | None = None
    alerts: list[Alert] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    # what the decided order charged to each of its programme's budget lines
    lines: dict[str, Decimal] = field(default_factory=dict)
    # what a cancellation or refund gave back to the budget
    clawback: Decimal = ZERO
    kind: str | None = None
    claim: Decimal = ZERO
    allowed: Decimal = ZERO
    # later events that were waiting for this payment, applied after it, with what each did
    applied: list[tuple[LaterEvent, Outcome]] = field(default_factory=list)
    # what the watching detectors are to see of it, in order (the payment, then those events)
    watch: list[Watch] = field(default_factory=list)
    # a checkout's answer (detectors/reservations.py), and what became of reservations: an
    # answer, then committed | released | expired records, for the `authorizations` topic
    authorization: dict[str, Any] | None = None
    updates: list[dict[str, Any]] = field(default_factory=list)


DEFAULT_HOLD_SECONDS = 1800.0  # a checkout's reservation: 30 minutes of event time

# Outcomes that carry nothing, shared (read-only) rather than built for every event.
DUPLICATE = Outcome("duplicate")
PENDING = Outcome("pending")
DELIVERED = Outcome("processed")


class Pipeline:
    """Runs the detectors over order and catalog events, with state in `store`.

    Duplicated `event_id`s change nothing. A later event of an order not yet seen paid waits in
    the store and is applied when the payment arrives; past the grace period (event time) it is
    reported as a dead letter, never dropped.
    """

    def __init__(
        self,
        rules: ProgrammeRules,
        store: Store,
        *,
        deciding: list[Detector] | None = None,
        watching: list[Detector] | None = None,
        deliveries: bool = False,
        reservations: Reservations | None = None,
        hold_seconds: float = DEFAULT_HOLD_SECONDS,
    ) -> None:
        self.rules = rules
        self.store = store
        # checkout reservations, shared by every rules version's pipeline of one store
        self.reservations = reservations if reservations is not None else Reservations(store)
        self.hold_seconds = hold_seconds
        self._authorizations = store.table("authorizations")  # checkout event id -> answer
        # whether a delivery makes a `Watch` (for the online models: no detector watches one)
        self.deliveries = deliveries
        self.deciding = deciding if deciding is not None else deciding_detectors(rules)
        self.watching = watching if watching is not None else watching_detectors(rules)
        self.detectors = [*self.deciding, *self.watching]
        self.watchers = Watchers(rules, store, self.watching)
        # only the hooks a detector implements: most events need a few of them
        self._deciding = _hooks(self.deciding, "on_paid")
        self._on_decided = _hooks(self.deciding, "on_decided")
        self._on_later = _hooks(self.deciding, "on_later")
        self.watermark = float("-inf")
        self._grace = rules.detectors.pending.grace_hours * HOUR
        # events written in the programme's own offset need no conversion to its calendar
        self._offset = rules.timezone.utcoffset(None)
        self._seen = store.table("seen_events")
        self._orders = store.table("orders")
        self._pending = store.table("pending")

    def on_catalog(self, entry: CatalogEntry) -> None:
        """A catalog record: it applies to the orders from its `registered_at` on."""
        catalog = self.store.table("catalog")
        if isinstance(catalog, Catalog):
            catalog.add(entry)
        else:  # a store given as plain tables: a table of the latest registration per SKU
            catalog[entry.sku] = product(entry)

    def on_control(self, control: ControlRecord) -> bool:
        """A control record, read: it applies to the orders decided from now on whose event
        time it covers (detectors/controls.py). False for one read before (a redelivery)."""
        return add_control(self.store, control)

    def on_order(self, event: OrderPaid | LaterEvent, raw: bytes, origin: Origin) -> Outcome:
        """Both halves for one event: its decision, and every alert it raises."""
        outcome = self.decide(event, raw, origin)
        if outcome.watch:
            watch = self.watchers.watch
            for ticket in outcome.watch:
                outcome.alerts.extend(watch(ticket))
        return outcome

    def decide(
        self, event: OrderPaid | LaterEvent, raw: bytes, origin: Origin, ts: float | None = None
    ) -> Outcome:
        """The deciding half: the decision, the deciding detectors' alerts, what to watch
        (`ts`: the event's time in epoch seconds, if the caller has it already)."""
        if ts is None:
            ts = event.occurred_at.timestamp()
        expired = self._expire(ts)
        seen = self._seen.get(event.event_id)
        if seen is None and self._authorizations:
            # a checkout's event id is kept with its answer only (one changelog record less)
            answered = self._authorizations.get(event.event_id)
            if answered is not None:
                seen = _identity("order_checkout", answered["order_id"])
        identity = _identity(event.event_type, event.order_id)
        if seen is not None:
            # 1: an entry written before identities were kept (a repeat, as it was then taken)
            if seen in (1, identity):
                outcome = DUPLICATE
            else:  # not a redelivery: ignoring it would lose an order without a word
                outcome = _rejected(
                    raw,
                    origin,
                    "event_id_reused",
                    f"event_id {event.event_id!r} was first seen on another event "
                    f"(another order or event type); only a redelivery may repeat it",
                )
        else:
            self._seen[event.event_id] = identity
            if isinstance(event, OrderPaid):
                outcome = self._paid(event, ts, raw, origin)
            else:
                outcome = self._later(event, ts, raw, origin)
        if expired:
            outcome = replace(outcome, updates=[*expired, *outcome.updates])
        return outcome

    # -- checkout authorizations (detectors/reservations.py) ---------------------------------

    def authorize(self, checkout: OrderCheckout, raw: bytes, origin: Origin) -> Outcome:
        """A checkout's answer, and the reservation of what it allows."""
        ts = checkout.occurred_at.timestamp()
        expired = self._expire(ts)
        answered = self._authorizations.get(checkout.event_id)
        if answered is not None:  # asked again (a retry): the same answer
            return Outcome("duplicate", authorization=answered, updates=expired)
        # its event id is kept in `authorizations` with the answer, not in `seen_events` too:
        # a payment reusing it is refused by `decide` all the same
        order_id = checkout.order_id
        existing = self._orders.get(order_id)
        updates = list(expired)
        if isinstance(existing, dict) and existing.get("reserved"):
            updates.append(self._release(order_id, existing, ts, RELEASED))  # a new checkout
            existing = None
        aid = authorization_id(checkout.event_id)
        expires = ts + self.hold_seconds
        if existing is not None:  # paid already: nothing to authorize
            answer = self._answer(aid, checkout, "reject", ZERO, ["order_already_paid"], expires)
        else:
            event = as_paid(checkout)
            ctx, kind = self._run(event, ts, None)
            ctx.order_state["reserved"] = {
                "authorization": aid,
                "expires": expires,
                "allowed": ctx.allowed,
                "digest": digest(checkout),
            }
            for hook in self._on_decided:
                hook(ctx, self.store)
            self._orders[order_id] = ctx.order_state
            self.reservations.add(order_id, expires)
            answer = self._answer(aid, checkout, kind, ctx.allowed, ctx.reasons, expires)
            # the bureau's budget thresholds are crossed by what is reserved: said once, now
            alerts = [a for a in ctx.alerts if a.detector == "budget_threshold"]
            self._authorizations[checkout.event_id] = answer
            updates.append({**answer, "status": "authorized"})
            return Outcome(
                "processed",
                alerts=alerts,
                lines=ctx.lines,
                authorization=answer,
                updates=updates,
            )
        self._authorizations[checkout.event_id] = answer
        updates.append({**answer, "status": "authorized"})
        return Outcome("processed", authorization=answer, updates=updates)

    def _answer(
        self,
        aid: str,
        checkout: OrderCheckout,
        kind: str,
        allowed: Decimal,
        reasons: list[str],
        expires: float,
    ) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "authorization_id": aid,
            "order_id": checkout.order_id,
            "decision": kind,
            "allowed_subsidy": str(to_fen(allowed)),
            "reasons": list(reasons),
            "expires_at": datetime.fromtimestamp(expires, checkout.occurred_at.tzinfo).isoformat(),
            "rules_version": self.rules.version,
        }

    def _release(self, order_id: str, order: dict[str, Any], ts: float, why: str) -> dict[str, Any]:
        """A reservation given back, as a cancellation gives a paid order's subsidy back."""
        held = order["reserved"]
        event = cancellation(order_id, order, ts, why)
        ctx = LaterContext(event=event, rules=self.rules, order=order, ts=ts, released=True)
        ctx.clawback = Decimal(order["allowed"]) - Decimal(order["clawed"])
        order["released"] = True
        for hook in self._on_later:
            hook(ctx, self.store)
        del self._orders[order_id]
        self.reservations.remove(order_id)
        return {
            "schema_version": 1,
            "authorization_id": held["authorization"],
            "order_id": order_id,
            "status": why,
            "at": datetime.fromtimestamp(ts, UTC).isoformat(),
        }

    def _expire(self, ts: float) -> list[dict[str, Any]]:
        """Reservations whose expiry the stream's event time has passed, given back."""
        if ts > self.watermark:
            self.watermark = ts
        if not self.reservations:
            return []
        out = []
        for order_id in self.reservations.due(self.watermark):
            order = self._orders.get(order_id)
            if order is not None and order.get("reserved"):
                out.append(self._release(order_id, order, self.watermark, EXPIRED))
            else:
                self.reservations.remove(order_id)
        return out

    def _paid(self, event: OrderPaid, ts: float, raw: bytes, origin: Origin) -> Outcome:
        existing = self._orders.get(event.order_id)
        authorized: Decimal | None = None
        updates: list[dict[str, Any]] = []
        differs = False
        if existing is not None:
            held = existing.get("reserved") if isinstance(existing, dict) else None
            if not held:
                return _rejected(
                    raw,
                    origin,
                    "duplicate_order",
                    f"order_id {event.order_id!r} was already paid under another event_id",
                )
            # the checkout's reservation, given back and taken again by the payment itself
            updates.append(self._release(event.order_id, existing, ts, COMMITTED))
            if ts < held["expires"]:
                authorized = Decimal(held["allowed"])
                differs = held["digest"] != digest(event)
            else:
                updates[-1]["status"] = EXPIRED  # too late: decided as without one
        ctx, kind = self._run(event, ts, authorized)
        if differs:
            ctx.reasons.append("checkout_differs")
        store = self.store
        for hook in self._on_decided:
            hook(ctx, store)
        self._orders[event.order_id] = ctx.order_state
        outcome = self._decided(event, ctx, kind, raw)
        outcome.updates = updates
        return outcome

    def _run(
        self, event: OrderPaid, ts: float, authorized: Decimal | None
    ) -> tuple[PaidContext, str]:
        """The deciding detectors over a payment (or a checkout as one), `authorized` the most
        it may be allowed; its context, with the order's state to keep, and its decision."""
        ctx = paid_context(event, self.rules, self._offset, ts)
        ctx.authorized = authorized
        store = self.store
        for hook in self._deciding:
            hook(ctx, store)
        if not ctx.settled:
            ctx.settle()
        # behavioural holds come on the alerts topic, a moment later, naming the orders
        if ctx.refused or (ctx.claim > 0 and ctx.allowed == 0):
            kind = "reject"
        elif ctx.claim > ctx.allowed or ctx.hold:
            kind = "review"
        else:
            kind = "approve"
        ctx.order_state = {
            "consumer": ctx.consumer,
            "programme": event.programme,
            "merchant": event.merchant_id,
            "ts": ts,
            "claim": ctx.claim,
            "allowed": ctx.allowed,
            "paid": event.payment.paid_amount,
            "refunded": ZERO,
            "clawed": ZERO,
            "released": False,
            "code": event.qualification.code if event.qualification else None,
            "cats": _granted_categories(ctx) if ctx.allowed > 0 else [],
        }
        return ctx, kind

    def _decided(self, event: OrderPaid, ctx: PaidContext, kind: str, raw: bytes) -> Outcome:
        decided = Decided(kind, ctx.claim, ctx.allowed, tuple(ctx.reasons))
        outcome = Outcome(
            "processed",
            decision=decision_record(
                order_id=event.order_id,
                event_id=event.event_id,
                decided_at=event.occurred_at,
                decision=kind,
                allowed_subsidy=ctx.allowed,
                reasons=ctx.reasons,
                rules_version=self.rules.version,
            ),
            alerts=ctx.alerts,
            lines=ctx.lines,
            kind=kind,
            claim=ctx.claim,
            allowed=ctx.allowed,
            watch=[
                Watch(
                    event,
                    raw=raw,
                    decided=decided,
                    allowed=tuple(ctx.allowed_entities),
                    ts=ctx.ts,
                    account_age=ctx.account_age,
                )
            ],
        )
        waiting = self._pending.pop(event.order_id, None)
        if waiting:
            for entry in sorted(waiting, key=lambda e: e["ts"]):  # in event-time order
                later = ORDER_ADAPTER.validate_json(entry["raw"])
                assert not isinstance(later, OrderPaid)
                applied = self._apply(
                    later, entry["ts"], entry["raw"].encode(), Origin(*entry["origin"])
                )
                outcome.applied.append((later, applied))
                outcome.watch.extend(applied.watch)
                outcome.alerts.extend(applied.alerts)
                outcome.dead_letters.extend(applied.dead_letters)
                outcome.clawback += applied.clawback
        return outcome

    def _later(self, event: LaterEvent, ts: float, raw: bytes, origin: Origin) -> Outcome:
        order = self._orders.get(event.order_id)
        if isinstance(order, dict) and order.get("reserved"):
            if (
                event.event_type == "order_cancelled"
                and order["consumer"] == event.consumer.id_hash
            ):
                update = self._release(event.order_id, order, ts, RELEASED)
                return Outcome("processed", updates=[update])
            order = None  # a refund or a delivery of an order not paid yet: it waits, as before
        if order is None:
            waiting = list(self._pending.get(event.order_id, []))
            waiting.append({"raw": raw.decode("utf-8"), "ts": ts, "origin": list(origin)})
            self._pending[event.order_id] = waiting
            return PENDING
        return self._apply(event, ts, raw, origin)

    def _apply(self, event: LaterEvent, ts: float, raw: bytes, origin: Origin) -> Outcome:
        order = self._orders[event.order_id]
        if order["consumer"] != event.consumer.id_hash:
            return _rejected(
                raw,
                origin,
                "consumer_mismatch",
                "consumer.id_hash differs from the one that paid this order",
            )
        if event.event_type == "order_delivered":
            # half of all events: nothing weighs a delivery yet, so no detector is called
            order["delivered"] = True
            self._orders[event.order_id] = order
            if not self.deliveries:
                return DELIVERED  # nothing watches a delivery either
            # the models learn a merchant's orders' fates (delivered or given back) in order
            return Outcome(
                "processed", watch=[Watch(event, order, False, raw, watched=False, ts=ts)]
            )
        ctx = LaterContext(event=event, rules=self.rules, order=order, ts=ts)
        allowed = Decimal(order["allowed"])
        clawed = Decimal(order["clawed"])
        paid = Decimal(order["paid"])
        refund = event.refund_amount
        if refund is not None:
            order["refunded"] = Decimal(order["refunded"]) + refund
        full = event.event_type == "order_cancelled" or (Decimal(order["refunded"]) >= paid)
        if not order["released"]:
            if full:
                ctx.released = True
                ctx.clawback = allowed - clawed
                order["released"] = True
            elif refund is not None and paid > 0:
                ctx.clawback = min(to_fen(allowed * refund / paid), allowed - clawed)
            order["clawed"] = clawed + ctx.clawback
        for hook in self._on_later:
            hook(ctx, self.store)
        self._orders[event.order_id] = order
        allowing = allowed_at(self.store, event.consumer.id_hash, event.merchant_id, ts)
        return Outcome(
            "processed",
            alerts=ctx.alerts,
            clawback=ctx.clawback,
            watch=[Watch(event, order, ctx.released, raw, allowed=allowing, ts=ts)],
        )

    def expire(self, *, everything: bool = False) -> list[dict[str, Any]]:
        """Dead letters for later events whose payment has not come within the grace period.

        With `everything`, at the end of a finite input, all that still waits is reported.
        """
        out = []
        for order_id, waiting in list(self._pending.items()):
            keep = []
            for entry in waiting:
                if everything or self.watermark - entry["ts"] > self._grace:
                    hours = self.rules.detectors.pending.grace_hours
                    error = f"no order_paid for order {order_id!r} within {hours:g} h of event time"
                    raw = entry["raw"].encode()
                    origin = Origin(*entry["origin"])
                    out.append(
                        dead_letter_record(
                            reason="unmatched_order", error=error, raw=raw, origin=origin
                        )
                    )
                else:
                    keep.append(entry)
            if keep:
                self._pending[order_id] = keep
            else:
                del self._pending[order_id]
        return out


def _hooks(detectors: list[Detector], name: str) -> list[Callable[[Any, Store], None]]:
    base = getattr(Detector, name)
    return [getattr(d, name) for d in detectors if getattr(type(d), name) is not base]


def _granted_categories(ctx: PaidContext) -> list[str]:
    return sorted({v.item.category for v in ctx.items if v.granted_units})


def _identity(event_type: str, order_id: str) -> str:
    """What an event id was first seen on, short: a redelivery matches it, a reuse does not.

    >>> _identity("order_paid", "o-1") == _identity("order_paid", "o-1")
    True
    >>> _identity("order_paid", "o-1") == _identity("order_refunded", "o-1")
    False
    """
    digest = _IDENTITY.copy()  # a copy: no keyword arguments parsed per event
    digest.update(f"{event_type}\x1f{order_id}".encode())
    return digest.hexdigest()


_IDENTITY = hashlib.blake2b(digest_size=6)


def _rejected(raw: bytes, origin: Origin, reason: str, error: str) -> Outcome:
    record = dead_letter_record(reason=reason, error=error, raw=raw, origin=origin)
    return Outcome("rejected", dead_letters=[record])


__all__ = [
    "Origin",
    "Outcome",
    "Pipeline",
    "Watch",
    "Watchers",
    "deciding_detectors",
    "watching_detectors",
]
