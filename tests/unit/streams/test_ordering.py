"""Watch tickets held until every active orders partition has come that far."""

from __future__ import annotations

from dataclasses import replace

from detectors.examples import order
from detectors.watch import Watch
from streams.ordering import WatchQueue
from streams.state import PartitionStore


def ticket(name: str, ts: float) -> Watch:
    event = order(name)
    at = event.occurred_at.fromtimestamp(ts, event.occurred_at.tzinfo)
    event = event.model_copy(update={"occurred_at": at, "order_id": f"o-{name}"})
    return Watch(event, None, False, event.model_dump_json().encode())


def queue() -> WatchQueue:
    return WatchQueue(PartitionStore(0, {}), decode=lambda raw: raw, idle_after=10.0)


def names(tickets: list) -> list[str]:
    return [t.watch.event.order_id for t in tickets]


def test_one_partition_releases_a_ticket_once_a_later_event_has_come() -> None:
    q = queue()
    q.note(0, 100.0, appended=1.0)
    q.hold(ticket("c0", 100.0), 100.0)
    assert q.ready() == []  # a sibling at the same instant may still come
    q.note(0, 90.0, appended=2.0)  # out of order within the partition
    q.hold(ticket("c1", 90.0), 90.0)
    assert names(q.ready()) == ["o-c1"]
    q.note(0, 120.0, appended=3.0)
    q.hold(ticket("c2", 120.0), 120.0)
    assert names(q.ready()) == ["o-c0"]
    assert names(q.ready(idle=True)) == ["o-c2"]  # the tail, when the input goes quiet
    assert q.late == 0


def test_ready_tickets_go_in_event_time_order_then_by_event_id_not_as_they_came() -> None:
    q = queue()
    q.note(0, 300.0, appended=1.0)
    for name, ts in (("b", 200.0), ("c", 100.0), ("a", 200.0)):
        q.hold(ticket(name, ts), ts)
    released = [(t.at, t.watch.event.event_id) for t in q.ready()]
    assert released == sorted(released)
    assert [at for at, _ in released] == [100.0, 200.0, 200.0]
    assert q.ready() == []


def test_a_ticket_older_than_one_released_goes_at_once_and_is_counted_late() -> None:
    q = queue()
    q.note(0, 100.0, appended=1.0)
    q.note(1, 500.0, appended=1.0)
    q.hold(ticket("early", 50.0), 50.0)
    assert names(q.ready()) == ["o-early"]
    q.note(0, 600.0, appended=2.0)
    q.hold(ticket("ahead", 400.0), 400.0)
    assert names(q.ready()) == ["o-ahead"]
    q.hold(ticket("late", 300.0), 300.0)  # partition 1 had passed 300 already: out of order
    assert names(q.ready()) == ["o-late"] and q.late == 1


def test_a_partition_behind_holds_back_what_the_others_ran_ahead_to() -> None:
    q = queue()
    q.note(0, 100.0, appended=1.0)
    q.hold(ticket("early", 100.0), 100.0)
    q.note(1, 500.0, appended=1.0)  # partition 1 races ahead
    q.hold(ticket("ahead", 500.0), 500.0)
    assert q.ready() == []  # nothing strictly before the slowest partition's 100
    q.note(0, 300.0, appended=2.0)
    q.hold(ticket("late", 300.0), 300.0)
    assert names(q.ready()) == ["o-early"]  # "late" and "ahead" wait for partition 0
    q.note(0, 600.0, appended=3.0)
    assert names(q.ready()) == ["o-late"]  # partition 1 is at 500: "ahead" waits for it
    q.note(1, 700.0, appended=3.0)
    assert names(q.ready()) == ["o-ahead"]
    assert len(q) == 0


def test_an_idle_partition_stops_holding_back_and_everything_can_go() -> None:
    q = queue()
    q.note(0, 100.0, appended=1.0)
    q.note(1, 500.0, appended=1.0)
    q.hold(ticket("ahead", 500.0), 500.0)
    assert q.ready() == []
    q.note(1, 600.0, appended=12.0)  # nothing appended to partition 0 for 11 s
    assert names(q.ready()) == ["o-ahead"]
    q.note(0, 100.0, appended=13.0)  # back: it holds back again
    q.hold(ticket("later", 650.0), 650.0)
    assert q.ready() == []
    assert names(q.ready(idle=True)) == ["o-later"]


def test_a_partition_whose_reader_had_not_read_all_holds_back_however_old() -> None:
    q = queue()
    q.note(0, 100.0, appended=1.0)
    q.position(0, read=9, end=20)  # its reader died with orders unread
    q.note(1, 500.0, appended=30.0)  # the others go on, long after partition 0's last record
    q.hold(ticket("ahead", 450.0), 450.0)
    assert q.ready() == []
    assert q.ready(idle=True) == []  # not even at the tail: partition 0 is not done
    q.note(0, 550.0, appended=31.0)  # a new reader takes partition 0 over
    q.position(0, read=19, end=20)
    assert names(q.ready()) == ["o-ahead"]


def test_at_the_tail_only_the_partitions_behind_hold_back() -> None:
    q = queue()
    q.note(0, 100.0, appended=1.0)
    q.note(1, 500.0, appended=1.0)
    q.note(2, 200.0, appended=1.0)
    q.position(2, read=4, end=7)
    q.hold(ticket("a", 150.0), 150.0)
    q.hold(ticket("b", 500.0), 500.0)
    assert q.ready() == []  # partition 0 is not idle yet: it holds back at 100
    assert names(q.ready(idle=True)) == ["o-a"]  # partition 2 still holds back at 200
    q.position(2, read=6, end=7)
    assert names(q.ready(idle=True)) == ["o-b"]


def test_a_late_report_from_a_former_reader_does_not_hold_a_finished_partition_back() -> None:
    q = queue()
    q.note(0, 100.0, appended=1.0)
    q.note(1, 500.0, appended=30.0)
    q.position(0, read=19, end=20)  # the new reader has read partition 0 to its end
    q.position(0, read=9, end=15)  # what the worker that lost it had sent, arriving after
    q.hold(ticket("ahead", 500.0), 500.0)
    assert names(q.ready(idle=True)) == ["o-ahead"]
    assert q.behind() == set()
    q.position(0, read=19, end=25)  # more appended since: behind until read
    assert q.behind() == {"0"}


def test_held_tickets_survive_as_saved_state() -> None:
    store = PartitionStore(0, {})
    q = WatchQueue(store, decode=lambda raw: ("decoded", raw))
    q.note(0, 100.0, appended=1.0)
    q.note(1, 50.0, appended=1.0)
    held = ticket("held", 100.0)
    q.hold(held, 100.0)
    assert q.ready() == []
    again = WatchQueue(store, decode=lambda raw: ("decoded", raw))  # restored: no event objects
    again.note(0, 150.0, appended=2.0)
    again.note(1, 200.0, appended=2.0)
    [out] = again.ready()
    assert out.watch.event == ("decoded", held.raw)
    assert replace(out.watch, event=held.event) == held
