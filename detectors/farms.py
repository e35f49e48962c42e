"""Account farms: many accounts created just before buying, on few devices or IP ranges.

The evidence is account age and linkage together: accounts opened within days of their order
(`new_account_days`, from `consumer.account_created_at`), linked to each other by a device, a
payment account or an IP range, and acting together: several of them within one day (a
burst), or buying the same goods, or simply many of them on one device or payment account
within a week. Each link is counted on its own, so a farm spread thin over devices still shows
on the payment accounts or the IP range it shares, and no single per-device count decides.

The honest look-alikes it leaves alone: new accounts that are simply new (people sign up for a
subsidy: a young account alone means nothing), and a family of four sharing a tablet and a
payment account, new accounts or not, whose members buy different things a day or more apart
(tests in tests/unit/detectors/test_hoarding.py and test_lookalikes.py).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from decimal import Decimal
from typing import NamedTuple

from detectors.base import Detector
from detectors.context import DAY, HOUR, PaidContext, window
from detectors.store import Store, revive


def ip_prefix(ip: str, bits: int) -> str | None:
    """The network an address belongs to (IPv6 uses twice the bits), or None if unparsable.

    >>> ip_prefix("113.88.10.21", 24)
    '113.88.10.0/24'
    >>> ip_prefix("2408:8456:3c10::1", 24)
    '2408:8456:3c10::/48'
    """
    if bits == 24:
        # the common case without the ipaddress module (ten times slower than this)
        head, dot, last = ip.rpartition(".")
        if dot and last.isdigit() and head.count(".") == 2 and int(last) < 256:
            octets = head.split(".")
            if all(o.isdigit() and int(o) < 256 and (o == "0" or o[0] != "0") for o in octets):
                return f"{head}.0/24"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    length = bits if address.version == 4 else min(bits * 2, 128)
    return str(ipaddress.ip_network(f"{address}/{length}", strict=False))


class FarmEntry(NamedTuple):
    """One new account's order at a device, payment account or IP range (tables
    `farm_<entity>`, oldest first)."""

    ts: float  # the order's event time
    consumer: str
    order_id: str
    claim: Decimal | str  # the subsidy claimed: a string once restored, read with Decimal(x)
    categories: Sequence[str] = ()  # sorted; entries saved before this field have none


class AccountFarms(Detector):
    """New accounts per device, payment account and IP range that act together.

    >>> from detectors.examples import order, run
    >>> young = "2026-07-05T08:00:00+08:00"  # a day before the orders
    >>> run(*[order(p, number=n, hours=n, device="dv-farm", created=young, subsidy=0.0)
    ...       for n, p in enumerate("abc")])
    ['account_farm: O-a-0 O-b-1 O-c-2']
    """

    name = "account_farm"
    risk = "hoarding"
    entities = ("device", "payment_account", "ip_prefix")

    def on_paid(self, ctx: PaidContext, store: Store) -> None:
        if ctx.account_age > self.rules.detectors.new_account_days * DAY:
            return
        rule = self.rules.detectors.account_farm
        linked = (
            ("device", ctx.event.device_id),
            ("payment_account", ctx.event.payment.account_hash),
        )
        for entity, key in linked:
            self._track(ctx, store, entity, key, rule.device_window_hours, rule.device_min_accounts)
        prefix = ip_prefix(ctx.event.ip, rule.ip_prefix_bits)
        if prefix is not None:
            self._track(ctx, store, "ip_prefix", prefix, rule.ip_window_hours, rule.ip_min_accounts)

    def _track(
        self, ctx: PaidContext, store: Store, entity: str, key: str, hours: float, minimum: int
    ) -> None:
        if not ctx.owns(entity):
            return
        rule = self.rules.detectors.account_farm
        table = store.table(f"farm_{entity}")
        categories = sorted({v.item.category for v in ctx.items})
        entry = FarmEntry(ctx.ts, ctx.consumer, ctx.order_id, ctx.claim, categories)
        seen = table.get(key)
        if seen is None:  # most devices, accounts and ranges see one new account
            table[key] = [entry]
            return
        entries = window(revive(FarmEntry, seen), ctx.ts, max(hours, rule.burst_hours) * HOUR)
        entries.append(entry)
        table[key] = entries
        burst = rule.burst_min_accounts
        if len({e.consumer for e in entries}) < min(minimum, burst):
            return
        span = ctx.ts - hours * HOUR
        accounts = {e.consumer for e in entries if e.ts >= span}
        recent = ctx.ts - rule.burst_hours * HOUR
        bunched = {e.consumer for e in entries if e.ts >= recent}
        alike = (
            max(
                len({e.consumer for e in entries if e.ts >= span and c in e.categories})
                for c in categories
            )
            if categories
            else 0
        )
        if len(accounts) >= minimum:
            why, count = "accounts", len(accounts)
        elif entity != "ip_prefix" and len(bunched) >= burst:
            why, count = "burst", len(bunched)
        elif entity != "ip_prefix" and alike >= burst:
            why, count = "same_goods", alike
        else:
            return
        ctx.alert(
            self.name,
            self.risk,
            "high",
            "hold",
            (entity, key),
            list(dict.fromkeys(e.order_id for e in entries if e.ts >= span)),
            score=min(1.0, 0.6 + 0.05 * (count - burst + 1)),
            evidence={
                "new_accounts": len(accounts),
                "evidence": why,
                "window_hours": hours,
                "burst_hours": rule.burst_hours,
                "new_account_days": self.rules.detectors.new_account_days,
            },
        )
