"""Merchant fake orders (刷单 / 虚假交易): a burst of subsidised orders from new accounts that
share devices or payment accounts, at one merchant, within a day.

Honest shops also sell to new accounts; it is the sharing among them that marks a script.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

from detectors.base import Detector
from detectors.context import DAY, HOUR, PaidContext, window
from detectors.store import Store, revive


class MerchantEntry(NamedTuple):
    """One new account's subsidised order at a merchant (table `merchant_new`, oldest first)."""

    ts: float  # the order's event time
    consumer: str
    device: str
    payment_account: str
    order_id: str


class MerchantBursts(Detector):
    """New-account orders at one merchant that share devices or payment accounts.

    The honest look-alike it leaves alone: a shop whose new customers (people who signed up
    for the subsidy) each buy on their own device and pay from their own account
    (tests/unit/detectors/test_arbitrage_fraud.py).

    >>> from detectors.examples import order, run
    >>> fake = [order(p, number=n, hours=n / 4, merchant="M0666", device=f"dv-{n % 2}",
    ...               payment=f"pay-{n % 2}", created="2026-07-05T08:00:00+08:00",
    ...               price=300.0, subsidy=30.0) for n, p in enumerate("abcde")]
    >>> run(*fake)[-1]
    'merchant_fake_orders: O-a-0 O-b-1 O-c-2 O-d-3 O-e-4'
    """

    name = "merchant_fake_orders"
    risk = "fraud"
    entities = ("merchant",)

    def on_paid(self, ctx: PaidContext, store: Store) -> None:
        if ctx.claim <= 0 or not ctx.owns("merchant"):
            return
        event = ctx.event
        if ctx.account_age > self.rules.detectors.new_account_days * DAY:
            return
        rule = self.rules.detectors.merchant_burst
        table = store.table("merchant_new")
        entries = window(
            revive(MerchantEntry, table.get(event.merchant_id, [])),
            ctx.ts,
            rule.window_hours * HOUR,
        )
        entries.append(
            MerchantEntry(
                ctx.ts, ctx.consumer, event.device_id, event.payment.account_hash, ctx.order_id
            )
        )
        table[event.merchant_id] = entries
        if len(entries) < rule.min_suspicious_orders:
            return
        # identities per device and per payment account among the merchant's new-account orders
        devices = Counter(device for device, _ in {(e.device, e.consumer) for e in entries})
        payments = Counter(
            account for account, _ in {(e.payment_account, e.consumer) for e in entries}
        )
        suspicious = [
            e for e in entries if devices[e.device] > 1 or payments[e.payment_account] > 1
        ]
        if len(suspicious) < rule.min_suspicious_orders:
            return
        ctx.alert(
            self.name,
            self.risk,
            "critical",
            "hold",
            ("merchant", event.merchant_id),
            list(dict.fromkeys(e.order_id for e in suspicious)),
            score=min(1.0, len(suspicious) / (2 * rule.min_suspicious_orders) + 0.5),
            evidence={
                "suspicious_orders": len(suspicious),
                "new_account_orders": len(entries),
                "shared_devices": sum(1 for n in devices.values() if n > 1),
                "shared_payment_accounts": sum(1 for n in payments.values() if n > 1),
                "window_hours": rule.window_hours,
            },
        )
