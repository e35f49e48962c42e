"""Checkout authorizations and what they reserve (contract v1.1, `order_checkout`).

The 立减 is applied at checkout, before payment, so the platform asks first. The decide stage
answers in its one sequence, with the same deciding detectors as a payment, and an approved
answer reserves what it allows: the consumer's quota, the qualification code, the budget. The
reservation is the order itself in the `orders` table, marked `reserved`, so everything that
counts quotas, codes and spend sees it as taken, and giving it back is a cancellation's release.

- The `order_paid` of the same order before `expires_at` commits it: the reservation is given
  back and the payment decided at once in its place, never allowed more than was authorized;
  a payment that differs from its checkout (amounts, items, the consumer) is decided afresh
  and says so (`checkout_differs`).
- `order_cancelled` before payment, or the decide stage's event time passing `expires_at`,
  gives it back.
- A second checkout of the same order replaces the first; a repeated one (same `event_id`) gets
  the answer given before.

Expiry follows event time (the newest `occurred_at` the stage has decided): with no events,
nothing expires; a replay of the same events expires the same reservations at the same points.
"""

from __future__ import annotations

import hashlib
import heapq
from datetime import UTC, datetime
from typing import Any

import orjson

from detectors.store import Store
from schemas.common import construct
from schemas.orders import ConsumerRef, OrderCancelled, OrderCheckout, OrderPaid

EXPIRED = "expired"
RELEASED = "released"
COMMITTED = "committed"


def authorization_id(event_id: str) -> str:
    """A stable id: the same checkout asked twice is the same authorization."""
    return hashlib.blake2b(f"authorization|{event_id}".encode(), digest_size=16).hexdigest()


def as_paid(checkout: OrderCheckout) -> OrderPaid:
    """The checkout as the deciding detectors read a payment (the same fields)."""
    fields = {name: getattr(checkout, name) for name in type(checkout).model_fields}
    fields["event_type"] = "order_paid"
    return construct(OrderPaid, fields)


def digest(event: OrderPaid | OrderCheckout) -> str:
    """What must not differ between a checkout and its payment for the answer to stand."""
    basis = {
        "consumer": event.consumer.id_hash,
        "programme": event.programme,
        "merchant": event.merchant_id,
        "items": [
            [i.sku, i.category, i.quantity, str(i.unit_price), i.energy_grade] for i in event.items
        ],
        "order_amount": str(event.order_amount),
        "subsidy_amount": str(event.subsidy_amount),
        "paid_amount": str(event.payment.paid_amount),
    }
    return hashlib.blake2b(orjson.dumps(basis), digest_size=16).hexdigest()


def cancellation(order_id: str, order: dict[str, Any], ts: float, why: str) -> OrderCancelled:
    """The release of a reservation, as the detectors' `on_later` hooks read a cancellation."""
    return construct(
        OrderCancelled,
        {
            "schema_version": 1,
            "event_id": f"{why}:{order_id}",
            "event_type": "order_cancelled",
            "occurred_at": datetime.fromtimestamp(ts, UTC),
            "order_id": order_id,
            "programme": order["programme"],
            "merchant_id": order["merchant"],
            "consumer": construct(ConsumerRef, {"id_hash": order["consumer"]}),
            "refund_amount": None,
        },
    )


class Reservations:
    """The reservations' expiry times, earliest first, in memory.

    They have no table of their own: a reservation is its order's entry in `orders`, whose
    `reserved.expires` says when it lapses, so a checkout and its release each write one
    changelog record less (a table of order id -> expiry, written at both, was two of a
    checkout's ten). Built from the orders on first use (a restore, a roll-back), when the
    entries of that older table, if any, are removed: the orders hold the same.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.orders = store.table("orders")
        self._heap: list[tuple[float, str]] | None = None
        self._held: set[str] = set()

    def _built(self) -> list[tuple[float, str]]:
        heap = self._heap
        if heap is None:
            held = {
                order_id: order["reserved"]["expires"]
                for order_id, order in self.orders.items()
                if isinstance(order, dict) and order.get("reserved")
            }
            heap = self._heap = [(expires, order_id) for order_id, expires in held.items()]
            heapq.heapify(heap)
            self._held = set(held)
            older = self.store.table("reservations")
            for order_id in list(older):
                del older[order_id]
        return heap

    def add(self, order_id: str, expires: float) -> None:
        """`order_id`'s entry in `orders` is reserved until `expires` (written by the caller)."""
        heapq.heappush(self._built(), (expires, order_id))
        self._held.add(order_id)

    def remove(self, order_id: str) -> None:
        """`order_id`'s reservation is over (its entry in `orders` changed by the caller)."""
        self._built()
        self._held.discard(order_id)

    def due(self, now: float) -> list[str]:
        """The orders whose reservation expires at or before `now`, earliest first."""
        heap = self._built()
        out = []
        while heap and heap[0][0] <= now:
            expires, order_id = heapq.heappop(heap)
            if order_id not in self._held:
                continue  # committed or released since
            order = self.orders.get(order_id)
            held = order.get("reserved") if isinstance(order, dict) else None
            if held and held["expires"] == expires:  # not renewed since
                out.append(order_id)
        return out

    def forget(self) -> None:
        """The saved state was restored under it."""
        self._heap = None
        self._held = set()

    def __len__(self) -> int:
        self._built()
        return len(self._held)
