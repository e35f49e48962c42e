"""Saved state: a batch cut short by a crash is rolled back, a finished one is kept whole."""

from __future__ import annotations

from decimal import Decimal

from streams.state import MARKER, DictBacking, DurableState


def test_a_saved_batch_comes_back_as_it_was() -> None:
    backing = DictBacking()
    state = DurableState(backing)
    store, fresh = state.partition(3)
    assert fresh and store.applied == -1
    store.table("budget")["p/line"] = {"used": Decimal("10.50"), "sent": []}
    store.table("seen")["e-1"] = 1
    assert state.save(store, offset=41) == 2
    state.revoke({3})
    again, fresh = state.partition(3)
    assert fresh and again.applied == 41
    assert again.table("budget")["p/line"] == {"used": "10.50", "sent": []}
    assert Decimal(again.table("budget")["p/line"]["used"]) == Decimal("10.50")
    assert again.table("seen") == {"e-1": 1}


def test_a_batch_cut_short_is_rolled_back_to_what_it_found() -> None:
    backing = DictBacking()
    state = DurableState(backing)
    store, _ = state.partition(0)
    store.table("quota")["alice"] = {"w1": 1}
    state.save(store, offset=9)
    # the next batch changes two keys and deletes one; the worker dies after writing them
    # but before the marker
    store.table("quota")["alice"] = {"w1": 2}
    store.table("quota")["bob"] = {"w1": 1}
    del store.table("quota")["alice"]
    store.table("quota")["alice"] = {"w1": 3}
    state.save(store, offset=15)
    backing[f"0|{MARKER}"] = b"9"  # as if the marker never reached the broker
    state.revoke({0})
    restored: list[tuple[int, int, int]] = []
    state.on_restore = lambda p, keys, back: restored.append((p, keys, back))
    again, _ = state.partition(0)
    assert again.applied == 9
    assert dict(again.table("quota")) == {"alice": {"w1": 1}}
    assert restored == [(0, 1, 2)]
    # and the rollback itself is saved: a second restart finds the same state
    state.revoke({0})
    third, _ = state.partition(0)
    assert dict(third.table("quota")) == {"alice": {"w1": 1}}


def test_partitions_do_not_see_each_others_keys() -> None:
    backing = DictBacking()
    state = DurableState(backing)
    for partition in (0, 1):
        store, _ = state.partition(partition)
        store.table("ring")["dv-1"] = [partition]
        state.save(store, offset=partition)
    state.revoke({0, 1})
    assert state.partition(0)[0].table("ring") == {"dv-1": [0]}
    assert state.partition(1)[0].table("ring") == {"dv-1": [1]}


def test_shared_tables_are_read_through_not_saved() -> None:
    catalog = {"SKU-1": "product"}
    state = DurableState(DictBacking(), shared={"catalog": catalog})  # type: ignore[dict-item]
    store, _ = state.partition(0)
    assert store.table("catalog")["SKU-1"] == "product"
    assert state.save(store, offset=0) == 0
