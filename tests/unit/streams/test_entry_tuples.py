"""The detectors' windowed entries are named tuples in memory and JSON lists in a worker's
saved state: restored, they read as the same tuples, and the detectors answer as if the
worker had never stopped."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from detectors.alerts import Alert
from detectors.arbitrage import Release
from detectors.examples import cancel, logistics, order, phone_entry
from detectors.farms import FarmEntry
from detectors.merchants import MerchantEntry
from detectors.pipeline import Pipeline
from detectors.products import Catalog
from detectors.qualification import CodeUse, DeviceCode
from detectors.rings import Recipients, RingEntry
from detectors.splits import SplitEntry
from detectors.store import MemoryStore, Store, revive
from schemas.outputs import Origin
from schemas.rules import load_rules
from streams.state import DictBacking, DurableState, PartitionStore, dumps_state

RULES = load_rules()

# one entry of each kind, as its detector builds it (claims are Decimal until saved)
ENTRIES: list[tuple[str, Any]] = [
    ("ring_device", RingEntry(1.5, "c-1", "mobile_phone", "O-1", Decimal("500.00"))),
    ("farm_ip_prefix", FarmEntry(2.5, "c-2", "O-2", Decimal("0"), ["laptop", "mobile_phone"])),
    ("merchant_new", MerchantEntry(3.5, "c-3", "dv-3", "pay-3", "O-3")),
    ("codes", CodeUse("O-4", "c-4", True)),
    ("device_codes", DeviceCode(4.5, "Q-5", "O-5", "c-5")),
    ("splits", SplitEntry(5.5, "O-6", "2026-07-06")),
    ("splits", SplitEntry(6.5, "O-7", "")),
    ("released", Release(7.5, "O-8", None, False)),
]


def restarted(state: DurableState, store: PartitionStore, offset: int) -> PartitionStore:
    """`store` saved, dropped and rebuilt from its changelog, as a worker that restarts."""
    state.save(store, offset)
    state.revoke({store.partition})
    again, fresh = state.partition(store.partition)
    assert fresh
    return again


def as_saved(entry: Any) -> Any:
    """The entry as a restore gives it back: a claim is the string the JSON holds."""
    return entry._replace(claim=str(entry.claim)) if hasattr(entry, "claim") else entry


@pytest.mark.parametrize(("table", "entry"), ENTRIES, ids=[type(e).__name__ for _, e in ENTRIES])
def test_an_entry_saved_as_a_list_is_restored_as_its_named_tuple(table: str, entry: Any) -> None:
    state = DurableState(DictBacking())
    store, _ = state.partition(0)
    store.table(table)["k"] = [entry]
    saved = orjson.loads(dumps_state([entry]))
    assert saved == [list(orjson.loads(dumps_state(list(entry))))]  # a plain JSON list
    again = restarted(state, store, 7)
    restored = again.table(table)["k"]
    assert restored == saved
    back = revive(type(entry), restored)
    assert back == [as_saved(entry)] and type(back[0]) is type(entry)


def test_a_category_history_of_releases_comes_back_release_by_release() -> None:
    state = DurableState(DictBacking())
    store, _ = state.partition(0)
    history = {"mobile_phone": [Release(1.0, "O-1", "Q-1", True), Release(2.0, "O-2")]}
    store.table("released")["c-1"] = history
    restored = restarted(state, store, 3).table("released")["c-1"]
    assert {k: revive(Release, v) for k, v in restored.items()} == history


def test_the_recipients_pair_comes_back_as_recipients() -> None:
    state = DurableState(DictBacking())
    store, _ = state.partition(0)
    seen = Recipients({"c-1": 1.0, "c-2": 2.0}, {"mobile_phone": 2.0})
    store.table("recipients")["addr-1"] = seen
    restored = restarted(state, store, 3).table("recipients")["addr-1"]
    assert restored == [seen.consumers, seen.categories]
    assert Recipients(*restored) == seen


def test_entries_saved_before_a_field_existed_take_the_old_meaning() -> None:
    # a farm entry without categories alikes nothing; a split without a period counts in no
    # period; a release without code and scarcity counts as recycled
    assert revive(FarmEntry, [[1.0, "c", "O-1", "0"]])[0].categories == ()
    assert revive(SplitEntry, [[1.0, "O-1"]])[0].period is None
    assert revive(Release, [[1.0, "O-1"]]) == [Release(1.0, "O-1", None, True)]
    assert revive(Release, [[1.0, "O-1", "Q"]]) == [Release(1.0, "O-1", "Q", True)]


def events() -> list[Any]:
    """Orders that fill every windowed table and raise each of their detectors' alerts."""
    young = "2026-07-05T08:00:00+08:00"
    out: list[Any] = [
        order(p, number=n, hours=n, device="dv-shared") for n, p in enumerate(("ra", "rb", "rc"))
    ]
    out += [
        order(p, number=n, hours=10 + n, device="dv-farm", created=young, subsidy=0.0)
        for n, p in enumerate(("fa", "fb", "fc"))
    ]
    out += [
        order(p, number=n, hours=20 + n / 4, merchant="M0666", device=f"dv-m{n % 2}",
              payment=f"pay-m{n % 2}", created=young, price=300.0, subsidy=30.0)
        for n, p in enumerate(("ma", "mb", "mc", "md", "me"))
    ]  # fmt: skip
    first = order("qa", number=1, hours=30, code="Q-1")
    out += [first, order("qb", number=2, hours=32, code="Q-1"), cancel(first, hours=33)]
    out += [order("qc", number=3, hours=34, code="Q-1")]
    out += [
        order(p, number=n, hours=40 + n, device="dv-desk", code=f"Q-{p}")
        for n, p in enumerate(("da", "db", "dc", "dd", "de"))
    ]
    out += [logistics("sa", number=n, hours=50 + n, amount=105.0) for n in range(4)]
    a, b, c = (order("xa", number=n, hours=60 + 10 * n, code="Q-x") for n in range(3))
    out += [a, cancel(a, hours=61), b, cancel(b, hours=71), c]
    return out


def catalog_entry() -> Any:
    return phone_entry()


def alerts_of(event: Any, store: Store) -> list[Alert]:
    return Pipeline(RULES, store).on_order(event, b"{}", Origin("orders")).alerts


TABLES = (
    "ring_device",
    "recipients",
    "farm_device",
    "merchant_new",
    "codes",
    "device_codes",
    "splits",
    "released",
)


def test_detectors_restored_after_every_event_alert_as_a_run_that_never_stopped() -> None:
    memory = MemoryStore()
    catalog = memory.table("catalog")
    catalog.add(catalog_entry())
    state = DurableState(DictBacking(), shared={"catalog": Catalog()})
    state.shared["catalog"].add(catalog_entry())
    store, _ = state.partition(0)
    unbroken: list[Alert] = []
    restoring: list[Alert] = []
    for offset, event in enumerate(events()):
        unbroken += alerts_of(event, memory)
        restoring += alerts_of(event, store)
        store = restarted(state, store, offset)
    assert restoring == unbroken
    raised = {a.detector for a in unbroken}
    assert {
        "device_ring",
        "account_farm",
        "merchant_fake_orders",
        "qualification_reuse",
        "qualification_shared",
        "device_many_codes",
        "split_orders",
        "refund_cycling",
    } <= raised
    # and what is saved is what the unbroken run holds, written as JSON
    for name in TABLES:
        assert memory.tables[name], name
        kept = orjson.loads(dumps_state(memory.tables[name]))
        assert orjson.loads(dumps_state(dict(store.table(name)))) == kept, name
