"""The features of one paid order, for the anomaly detector and the classifier alike.

They come from the order itself and from compact state the learning stage keeps on its own
(it runs as one sequential stage and cannot read the watch stage's partitioned state): decayed
order counts per consumer, and the identities seen per device, payment account, address and
phone over a horizon, keyed by 64-bit fingerprints and swept by event time, so memory is
bounded by the traffic of the horizon (and capped). Floats live here only: money stays
`Decimal` everywhere else.

>>> from detectors.examples import order
>>> state = EntityState(horizon_days=14)
>>> x = order_features(order("alice", price=3000.0, subsidy=450.0), state, {}, 8 * 3600.0)
>>> round(x["subsidy_share"], 3), x["lines"], x["device_ids"], x["consumer_2h"]
(0.15, 1.0, 1.0, 1.0)
"""

from __future__ import annotations

import math
from array import array
from hashlib import blake2b
from typing import Any

from detectors.learning.profiles import Profiles
from schemas.orders import OrderPaid
from schemas.rules import ProgrammeRules

# In this order everywhere (the classifier's stored vectors, the explanations, the docs).
FEATURES = (
    "amount",  # log(1 + order amount)
    "subsidy_share",  # claimed subsidy / order amount
    "lines",  # order lines
    "units",  # log(1 + units)
    "categories",  # distinct categories in the basket
    "hour",  # local hour of day, with minutes as a fraction
    "account_age",  # log(1 + days since the account was created)
    "markup",  # highest unit price against its catalog reference, minus 1
    "consumer_2h",  # the consumer's orders, decayed with a 2-hour half-life
    "consumer_1d",  # the consumer's orders, decayed with a 1-day half-life
    "consumer_7d",  # ... with a 7-day half-life
    "device_ids",  # distinct identities on this device within the horizon
    "payment_ids",  # ... on this payment account
    "address_ids",  # ... at this delivery address
    "phone_ids",  # ... behind this phone
    "device_ids_long",  # distinct identities on this device over the long horizon (weeks)
    "payment_ids_long",  # ... on this payment account
    "units_vs_category",  # a line's log units against its category's usual, in spreads
    "amount_vs_category",  # a line's log amount against its category's usual
    "amount_vs_merchant",  # the order's log amount against its merchant's usual
    "merchant_hour",  # how rare the order's hour is in its merchant's profile (surprise)
    "merchant_markup",  # the merchant's mean mark-up on the references across its sales
    "merchant_refund_rate",  # the merchant's recent releases / (releases + deliveries)
    "merchant_subsidy_share",  # the merchant's recent mean subsidy share
    "edge_burst",  # the MIDAS-R score of the order's identity -> attribute links
)
# Each feature's span for the histogram scorer (low, high, binned on a log scale), values as
# `order_features` gives them: beyond the span a value falls in the end bin.
SPANS: dict[str, tuple[float, float, bool]] = {
    "amount": (0.0, 12.0, False),  # already log(1 + yuan): up to ~160,000 yuan
    "subsidy_share": (0.0, 0.5, False),
    "lines": (0.0, 3.0, True),
    "units": (0.0, 5.0, False),  # already log(1 + units)
    "categories": (0.0, 3.0, True),
    "hour": (0.0, 24.0, False),
    "account_age": (0.0, 8.0, False),  # already log(1 + days)
    "markup": (-0.5, 1.0, False),
    "consumer_2h": (0.0, 3.0, True),
    "consumer_1d": (0.0, 3.0, True),
    "consumer_7d": (0.0, 3.0, True),
    "device_ids": (0.0, 3.0, True),
    "payment_ids": (0.0, 3.0, True),
    "address_ids": (0.0, 4.0, True),
    "phone_ids": (0.0, 3.0, True),
    "device_ids_long": (0.0, 3.0, True),
    "payment_ids_long": (0.0, 3.0, True),
    "units_vs_category": (-3.0, 9.0, False),
    "amount_vs_category": (-3.0, 9.0, False),
    "amount_vs_merchant": (-4.0, 8.0, False),
    "merchant_hour": (0.0, 9.0, False),
    "merchant_markup": (-0.5, 1.0, False),
    "merchant_refund_rate": (0.0, 1.0, False),
    "merchant_subsidy_share": (0.0, 0.5, False),
    "edge_burst": (0.0, 3.0, True),
}
# What the classifier sees besides: the anomaly score, what the decide half made of the order,
# and a few facts whose effect is not monotone (a linear model needs them spelt out).
VERDICT_FEATURES = (
    *FEATURES,
    "anomaly",  # the Half-Space Trees score
    "over_claim",  # (claim - allowed) / claim: what the rules refused
    "held",  # 1 if the decision was not approve
    "resale",  # share of the units in high-resale categories
    "pickup",  # 1 if delivered to a pickup point
    "order_basis",  # 1 for a programme subsidising the order (the logistics one)
    "near_minimum",  # 1 if the amount is within 25 % above the programme's minimum
    "night",  # 1 between 00:00 and 06:00 local time
    "new_account",  # 1 if the account is younger than the rules' new_account_days
    "resale_shared",  # resale x log(1 + strangers, below)
    "resale_address",  # resale x log(identities at its address)
    "device_recent",  # identities newly linked to its device, decayed (about a day): MIDAS-R
    "payment_recent",  # ... to its payment account
    "address_recent",  # ... to its address
    "phone_recent",  # ... to its phone
    "strangers",  # identities on its device, payment account or phone who deliver elsewhere
)
# What the classifier does not weigh: raw sharing, and what the programme allows. Identities on
# one device, payment account or phone: a household shares them as a ring does (half its false
# alerts were families on one tablet and card, early, while its verdicts were few). Identities
# at one address: an office or a pickup station gathers them as a resale pipeline does (with
# verdicts on a random 30 %, every wrong classifier alert of a seed's month was an office or a
# pickup station, driven by `resale_address` and `address_recent`). An amount just above the
# programme's minimum: the rules allow it, and a consumer at the limits is no fraud for being
# there (another seed's 37 wrong alerts, every one such a consumer). The classifier reads
# sharing as `strangers` (identities there who deliver elsewhere) and the device, card and
# phone links' recent bursts; the counts and the flag stay with the anomaly score, the rules'
# rings, splits and pipelines, and `long_ring`.
UNWEIGHED = frozenset(
    (
        "device_ids",
        "payment_ids",
        "phone_ids",
        "device_ids_long",
        "payment_ids_long",
        "address_ids",
        "resale_address",
        "address_recent",
        "near_minimum",
    )
)
# Until 2026-12-05 the classifier also read an indicator per bucket of 16 counts and of the
# hour ("device_ids=3", "hour=0"). Each was present only when 1.0, so the standard scaler saw
# it constant (deviation 0, scaled value 0) and the logistic regression's weight on it stayed
# 0: they never moved a probability, and cost 4-6 µs an order. Dropped: the same answers bit for
# bit (tests/unit/learning/test_classifier_indicators.py; docs/learning.md).
ATTRIBUTES = ("device", "payment", "address", "phone")
HOUR = 3600.0
DAY = 86400.0
MAX_IDENTITIES = 64  # per attribute: a pickup station's month of residents fits
_SALT = {kind: n * 0x9E3779B97F4A7C15 & (1 << 64) - 1 for n, kind in enumerate(ATTRIBUTES, 1)}
_LN2 = math.log(2)
_LOW32 = (1 << 32) - 1


def hex_fingerprint(kind: str, value: str) -> int:
    """64 bits of a pseudonym (already an HMAC, so its digits are uniform), salted per kind.

    >>> hex_fingerprint("address", "ab" * 32) != hex_fingerprint("phone", "ab" * 32)
    True
    """
    return int(value[:16], 16) ^ _SALT[kind]


def text_fingerprint(kind: str, value: str) -> int:
    """64 bits of an arbitrary key (a device id), stable across processes (not `hash()`)."""
    digest = blake2b(value.encode(), digest_size=8, person=kind.encode()[:16]).digest()
    return int.from_bytes(digest, "little")


def identity_fingerprint(id_hash: str) -> int:
    """32 bits of the consumer's pseudonym: enough to tell apart the few identities of one
    attribute, half the memory of 64."""
    return int(id_hash[:8], 16)


def attribute_fingerprints(event: OrderPaid) -> tuple[int, int, int, int]:
    """(device, payment account, address, phone), in `ATTRIBUTES` order."""
    return (
        text_fingerprint("device", event.device_id),
        hex_fingerprint("payment", event.payment.account_hash),
        hex_fingerprint("address", event.delivery.address_hash),
        hex_fingerprint("phone", event.consumer.phone_hash),
    )


class EntityState:
    """Decayed order counts per consumer and identities per attribute, by event time.

    Values are ints and tuples of numbers, never lists: the cyclic garbage collector skips
    them, and it would otherwise walk a hundred thousand of them at every full pass.
    """

    def __init__(self, horizon_days: float, max_entries: int = 1_000_000) -> None:
        self.horizon = int(horizon_days * 24)  # hours
        self.max_entries = max_entries
        # consumer fingerprint -> (last event time, orders (2 h half-life), (1 day), (7 days)),
        # in order of last update; `newest` the latest event time counted, `late` the most an
        # order counted came behind the newest before it (so the sweep knows where to stop)
        self.velocity: dict[int, tuple[float, float, float, float]] = {}
        self.newest = -math.inf
        self.late = 0.0
        # attribute fingerprint -> identity << 32 | hour, or a tuple of those (newest last)
        self.links: dict[int, int | tuple[int, ...]] = {}
        self.swept = -1  # the event-time day of the last sweep
        # which of the last order's attributes it linked to for the first time (in the horizon)
        self.fresh: tuple[bool, ...] = ()
        # identities on the last order's device, payment account or phone who deliver elsewhere
        self.strangers = 0

    def consumer(self, key: int, ts: float) -> tuple[float, float, float]:
        """Count this order for the consumer; its decayed counts, this order included. The
        entry moves to the end of the table: the table stays in order of last update."""
        if ts > self.newest:
            self.newest = ts
        elif self.newest - ts > self.late:
            self.late = self.newest - ts
        entry = self.velocity.pop(key, None)
        if entry is None:
            self.velocity[key] = (ts, 1.0, 1.0, 1.0)
            return 1.0, 1.0, 1.0
        last, n2h, n1d, n7d = entry
        dt = ts - last
        if dt > 0:  # an order earlier than the last one seen counts, undecayed
            last = ts
            n2h *= math.exp(-_LN2 * dt / (2 * HOUR))
            n1d *= math.exp(-_LN2 * dt / DAY)
            n7d *= math.exp(-_LN2 * dt / (7 * DAY))
        n2h += 1.0
        n1d += 1.0
        n7d += 1.0
        self.velocity[key] = (last, n2h, n1d, n7d)
        return n2h, n1d, n7d

    def link(self, key: int, identity: int, hour: int) -> tuple[int, bool]:
        """Record that `identity` used the attribute now: the distinct identities within the
        horizon, and whether this one is new among them (a new link of the identity graph).
        The entry moves to the end of the table: the table stays in order of last use."""
        record = identity << 32 | hour
        links = self.links
        entry = links.pop(key, None)
        if entry is None:
            links[key] = record
            return 1, True
        cutoff = hour - self.horizon
        if type(entry) is int:  # one identity so far: most devices, accounts, phones
            if entry >> 32 == identity:
                links[key] = record
                return 1, False
            if entry & _LOW32 < cutoff:
                links[key] = record
                return 1, True
            links[key] = (entry, record)
            return 2, True
        live = [r for r in entry if r & _LOW32 >= cutoff]  # type: ignore[union-attr]
        others = tuple(r for r in live if r >> 32 != identity)
        new = len(others) == len(live)
        kept = others[-(MAX_IDENTITIES - 1) :] + (record,)
        links[key] = kept if len(kept) > 1 else record
        return len(kept), new

    def identities(self, key: int) -> set[int]:
        """The identities linked to the attribute (as `link` left them: within the horizon)."""
        entry = self.links.get(key)
        if entry is None:
            return set()
        if type(entry) is int:
            return {entry >> 32}
        return {r >> 32 for r in entry}  # type: ignore[union-attr]

    def strangers_of(self, shared: tuple[int, ...], address: int) -> int:
        """The most identities on one of `shared` (a device, a card, a phone) that do not
        deliver to `address`: a family shares a device, a card and a flat; a ring shares the
        device or card across flats."""
        home = self.identities(address)
        return max(len(self.identities(key) - home) for key in shared)

    def sweep(self, ts: float) -> None:
        """Forget what the horizon has passed, once a day of event time (`link` skips expired
        identities itself: this gives the memory back). The links table is in order of last
        use, so the scan stops at the first attribute still in the horizon."""
        day = int(ts // DAY)
        if day <= self.swept:
            return
        self.swept = day
        cutoff = int(ts // HOUR) - self.horizon
        links = self.links
        expired = []
        for key, entry in links.items():
            if (entry if type(entry) is int else entry[-1]) & _LOW32 >= cutoff:  # type: ignore[index]
                break
            expired.append(key)
        for key in expired:
            del links[key]
        stale = ts - 30 * DAY  # a consumer's 7-day count is below 5 % a month later
        # In order of last update, every consumer after one last seen at `stale + late` or
        # later was counted after it, at most `late` behind the newest time then: none of them
        # is stale, and the scan stops there (the same consumers forgotten as a full pass).
        velocity = self.velocity
        fresh = stale + self.late
        old = []
        for key, counts in velocity.items():
            if counts[0] >= fresh:
                break
            if counts[0] < stale:
                old.append(key)
        for key in old:
            del velocity[key]
        for table in (self.links, self.velocity):
            excess = len(table) - self.max_entries
            if excess > 0:  # the longest unused go first
                for key in list(table)[:excess]:
                    del table[key]

    def state(self) -> dict[str, Any]:
        velocity = self.velocity
        return {
            "links": _pack(self.links),
            "velocity_keys": array("Q", velocity).tobytes(),
            "velocity": array("d", (v for entry in velocity.values() for v in entry)).tobytes(),
            "newest": self.newest,
            "late": self.late,
            "swept": self.swept,
        }

    def load(self, state: dict[str, Any]) -> None:
        self.links = _unpack(state["links"])
        keys, values = array("Q"), array("d")
        keys.frombytes(state["velocity_keys"])
        values.frombytes(state["velocity"])
        self.velocity = {
            k: (values[4 * n], values[4 * n + 1], values[4 * n + 2], values[4 * n + 3])
            for n, k in enumerate(keys)
        }
        self.swept = state["swept"]
        # a checkpoint from before 2026-12-05 kept the table in order of first count: its
        # sweeps scan the whole table
        self.newest = state.get("newest", -math.inf)
        self.late = state.get("late", math.inf)


class VerdictContext:
    """What `verdict_features` needs of the rules, read once."""

    def __init__(self, rules: ProgrammeRules) -> None:
        self.resale = frozenset(rules.detectors.resale_categories)
        self.new_account = math.log1p(rules.detectors.new_account_days)
        self.minimum: dict[str, float] = {}
        for name, programme in rules.programmes.items():
            if programme.basis == "order":
                line = next(iter(programme.budget_lines.values()))
                if line.min_order_amount is not None:
                    self.minimum[name] = float(line.min_order_amount)


def verdict_features(
    x: dict[str, float],
    event: OrderPaid,
    context: VerdictContext,
    *,
    anomaly: float,
    claim: float,
    allowed: float,
    approved: bool,
    recent: list[float],
    strangers: int = 0,
) -> dict[str, float]:
    """The classifier's features: `x` (the order's `FEATURES`) with the rest of
    `VERDICT_FEATURES` added to it, in place (a copy per order is not worth its time)."""
    units = resale = 0
    for item in event.items:
        units += item.quantity
        if item.category in context.resale:
            resale += item.quantity
    share = resale / units if units else 0.0
    minimum = context.minimum.get(event.programme)
    ratio = float(event.order_amount) / minimum if minimum else 0.0
    z = x
    z["anomaly"] = anomaly
    z["over_claim"] = (claim - allowed) / claim if claim > 0 else 0.0
    z["held"] = 0.0 if approved else 1.0
    z["resale"] = share
    z["pickup"] = 1.0 if event.delivery.pickup_point else 0.0
    z["order_basis"] = 1.0 if minimum is not None else 0.0
    z["near_minimum"] = 1.0 if 1.0 <= ratio < 1.25 else 0.0
    z["night"] = 1.0 if x["hour"] < 6.0 else 0.0
    z["new_account"] = 1.0 if x["account_age"] < context.new_account else 0.0
    # the identities sharing its device, card or phone from other flats: a family's shared
    # tablet is no coordination (it was, as the most identities on any of them: half of the
    # classifier's false alerts were families)
    z["resale_shared"] = share * math.log1p(strangers)
    z["resale_address"] = share * math.log(x["address_ids"])
    z["device_recent"], z["payment_recent"], z["address_recent"], z["phone_recent"] = recent
    z["strangers"] = float(strangers)
    return z


def _pack(table: dict[int, int | tuple[int, ...]]) -> dict[str, bytes]:
    """The links table as flat arrays: keys, identities per key, then the records."""
    keys = array("Q", table)
    sizes = array("B", (1 if type(v) is int else len(v) for v in table.values()))  # type: ignore[arg-type]
    records = array("Q")
    for v in table.values():
        if type(v) is int:
            records.append(v)
        else:
            records.extend(v)  # type: ignore[arg-type]
    return {"keys": keys.tobytes(), "sizes": sizes.tobytes(), "records": records.tobytes()}


def _unpack(packed: dict[str, bytes]) -> dict[int, int | tuple[int, ...]]:
    keys, sizes, records = array("Q"), array("B"), array("Q")
    keys.frombytes(packed["keys"])
    sizes.frombytes(packed["sizes"])
    records.frombytes(packed["records"])
    out: dict[int, int | tuple[int, ...]] = {}
    at = 0
    for key, size in zip(keys, sizes, strict=True):
        out[key] = records[at] if size == 1 else tuple(records[at : at + size])
        at += size
    return out


def order_features(
    event: OrderPaid,
    state: EntityState,
    references: dict[str, float],
    offset: float,
    *,
    ts: float | None = None,
    account_age: float | None = None,
    identity: int | None = None,
    attributes: tuple[int, int, int, int] | None = None,
    merchant: tuple[float, float] = (0.0, 0.0),
    edge_burst: float = 0.0,
    long: EntityState | None = None,
    profiles: Profiles | None = None,
) -> dict[str, float]:
    """The order's features, after counting it in `state`.

    `offset` is the programme's UTC offset in seconds (its calendar's hour of day), `references`
    the catalog's reference price per SKU, `identity` and `attributes` the fingerprints (computed
    here when not given), `merchant` the merchant's (refund rate, subsidy share) before this
    order, `edge_burst` the order's MIDAS-R score; `ts` its event time and `account_age` the
    consumer's in seconds, when known; `long` the links over weeks (devices and payment
    accounts), `profiles` the category's and merchant's usual (without them those features are
    0).
    """
    if ts is None:
        ts = event.occurred_at.timestamp()
    amount = float(event.order_amount)
    items = event.items
    units = 0
    markup = 0.0
    # each line's fields read once (a pydantic attribute is not a cheap read), for the basket's
    # figures here and the profiles' comparisons below
    categories: list[str] = []
    quantities: list[int] = []
    prices: list[float] = []
    for item in items:
        quantity, price = item.quantity, float(item.unit_price)
        units += quantity
        categories.append(item.category)
        quantities.append(quantity)
        prices.append(price)
        reference = references.get(item.sku)
        if reference:
            markup = max(markup, price / reference - 1.0)
    markup = min(max(markup, -0.5), 1.0)
    local_hour = ((ts + offset) % DAY) / HOUR
    if account_age is None:
        account_age = ts - event.consumer.account_created_at.timestamp()
    age = max(0.0, account_age) / DAY
    if identity is None:
        identity = identity_fingerprint(event.consumer.id_hash)
    device, payment, address, phone = attributes or attribute_fingerprints(event)
    n2h, n1d, n7d = state.consumer(identity, ts)
    hour = int(ts // HOUR)
    link = state.link
    device_ids, new_device = link(device, identity, hour)
    payment_ids, new_payment = link(payment, identity, hour)
    address_ids, new_address = link(address, identity, hour)
    phone_ids, new_phone = link(phone, identity, hour)
    state.fresh = (new_device, new_payment, new_address, new_phone)
    # most orders share nothing: no sets to build
    state.strangers = (
        state.strangers_of((device, payment, phone), address)
        if device_ids > 1 or payment_ids > 1 or phone_ids > 1
        else 0
    )
    if long is not None:
        device_long = float(long.link(device, identity, hour)[0])
        payment_long = float(long.link(payment, identity, hour)[0])
    else:
        device_long, payment_long = float(device_ids), float(payment_ids)
    if profiles is not None:
        by_units, by_line, by_merchant, merchant_hour, merchant_markup = profiles.compare(
            categories, quantities, prices, event.merchant_id, local_hour, markup, amount
        )
    else:
        by_units = by_line = by_merchant = merchant_hour = merchant_markup = 0.0
    return {
        "amount": math.log1p(amount),
        "subsidy_share": float(event.subsidy_amount) / amount if amount > 0 else 0.0,
        "lines": float(len(items)),
        "units": math.log1p(units),
        "categories": float(len(set(categories))),
        "hour": local_hour,
        "account_age": math.log1p(age),
        "markup": markup,
        "consumer_2h": n2h,
        "consumer_1d": n1d,
        "consumer_7d": n7d,
        "device_ids": float(device_ids),
        "payment_ids": float(payment_ids),
        "address_ids": float(address_ids),
        "phone_ids": float(phone_ids),
        "device_ids_long": device_long,
        "payment_ids_long": payment_long,
        "units_vs_category": by_units,
        "amount_vs_category": by_line,
        "amount_vs_merchant": by_merchant,
        "merchant_hour": merchant_hour,
        "merchant_markup": merchant_markup,
        "merchant_refund_rate": merchant[0],
        "merchant_subsidy_share": merchant[1],
        "edge_burst": edge_burst,
    }
