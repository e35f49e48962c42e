"""Where the intake says the `orders` partitions stand: what it read, and the ends listed for
those it does not read, so tickets wait for orders whose reader died before they came."""

from __future__ import annotations

from typing import Any

from test_ordering import names, ticket

from replay.observers import Fanout
from streams.decoding import RecentOrders
from streams.frames import unframe
from streams.intake import Intake
from streams.ordering import WatchQueue
from streams.state import PartitionStore


def stood(intake: Intake, **kwargs: Any) -> dict[str, list[int | None]]:
    batch = intake.apply([], **kwargs)
    meta, _ = list(unframe(batch.frames[-1]))[-1]
    positions: dict[str, list[int | None]] = meta["pos"]
    return positions


def test_the_ends_listed_for_partitions_read_elsewhere_are_reported_with_nothing_read() -> None:
    intake = Intake(RecentOrders(), Fanout(), 1 << 20)
    fetched = {0: 12, 1: None}
    pos = stood(
        intake,
        highwater=fetched.get,
        assigned=[0, 1],
        partitions=3,
        listed={0: 7, 1: 9, 2: 50},
    )
    # the higher of the fetch's end and the listed one; the listing alone when nothing fetched
    assert pos == {"0": [-1, 12], "1": [-1, 9], "2": [-1, 50]}


def test_without_a_listing_only_the_assigned_partitions_are_reported() -> None:
    intake = Intake(RecentOrders(), Fanout(), 1 << 20)
    assert stood(intake, highwater=lambda p: 4, assigned=[1]) == {"1": [-1, 4]}


def test_orders_appended_after_their_reader_died_hold_the_others_tickets_back() -> None:
    q = WatchQueue(PartitionStore(0, {}), decode=lambda raw: raw, idle_after=10.0)
    q.note(0, 100.0, appended=1.0)
    q.position(0, read=19, end=20)  # its reader read all it had fetched, then died
    q.note(1, 500.0, appended=40.0)  # partition 1 goes on, long after partition 0's last
    q.hold(ticket("ahead", 450.0), 450.0)
    q.position(0, read=-1, end=25)  # a listing by a worker that does not read partition 0
    assert q.behind() == {"0"}
    assert q.ready() == []
    assert q.ready(idle=True) == []  # not even at the tail: orders nobody has read
    q.note(0, 460.0, appended=41.0)  # the new reader takes partition 0 over
    q.position(0, read=24, end=25)
    assert names(q.ready()) == ["o-ahead"]


def test_a_partition_is_quiet_only_up_to_the_last_listing_of_the_ends() -> None:
    q = WatchQueue(PartitionStore(0, {}), decode=lambda raw: raw, idle_after=10.0)
    q.note(0, 100.0, appended=1.0)
    q.position(0, read=19, end=20)
    q.listed(5.0)  # the ends as of append time 5: what came to partition 0 since is unknown
    q.note(1, 500.0, appended=40.0)
    q.hold(ticket("ahead", 450.0), 450.0)
    assert q.ready() == []  # partition 0 is not known to have been quiet for 10 s
    q.listed(41.0)  # listed again: nothing more in partition 0
    assert names(q.ready()) == ["o-ahead"]


def test_the_listing_time_goes_with_the_report() -> None:
    intake = Intake(RecentOrders(), Fanout(), 1 << 20)
    batch = intake.apply([], lambda p: None, [], 2, {0: 3, 1: 4}, 1234.5)
    meta, _ = list(unframe(batch.frames[-1]))[-1]
    assert meta["la"] == 1234.5
    assert meta["of"] == 2


def test_past_a_quiet_partition_only_what_was_appended_before_the_listing_goes() -> None:
    q = WatchQueue(PartitionStore(0, {}), decode=lambda raw: raw, idle_after=10.0)
    q.note(0, 100.0, appended=1.0)
    q.position(0, read=19, end=20)
    q.note(1, 400.0, appended=39.0)
    q.hold(ticket("before", 400.0), 400.0, appended=39.0)
    q.note(1, 500.0, appended=42.0)
    q.hold(ticket("after", 450.0), 450.0, appended=42.0)
    q.listed(40.0)  # partition 0 known quiet up to 40: what came to it after is unknown
    assert names(q.ready()) == ["o-before"]
    q.listed(43.0)  # and up to 43: nothing came
    assert names(q.ready()) == ["o-after"]
    assert q.late == 0
