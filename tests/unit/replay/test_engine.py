"""The replay: every good line processed, every bad one dead-lettered with its line and reason."""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path

import orjson
import pytest
from factories import CATALOG, h, jsonl, later, line, paid
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replay import Replay
from schemas.outputs import ALERT_ADAPTER, DEAD_LETTER_ADAPTER, DECISION_ADAPTER
from schemas.rules import load_rules

RULES = load_rules()


def write(tmp: Path, events: list[bytes]) -> tuple[Path, Path]:
    (tmp / "events.jsonl").write_bytes(b"".join(e + b"\n" for e in events))
    (tmp / "catalog.jsonl").write_bytes(jsonl(CATALOG))
    return tmp / "events.jsonl", tmp / "catalog.jsonl"


def replay(tmp: Path, events: list[bytes]) -> tuple[Replay, list[dict], list[dict], list[dict]]:
    ev, cat = write(tmp, events)
    engine = Replay(RULES)
    engine.run(
        ev,
        catalog=cat,
        alerts_out=tmp / "a.jsonl",
        decisions_out=tmp / "d.jsonl",
        dead_letter_out=tmp / "x.jsonl",
    )
    read = [
        [orjson.loads(x) for x in (tmp / name).read_bytes().splitlines()]
        for name in ("a.jsonl", "d.jsonl", "x.jsonl")
    ]
    return engine, read[0], read[1], read[2]


def test_outputs_follow_the_contract(tmp_path: Path) -> None:
    ring = [line(paid(f"r{n}", at=n, device_id="dv-ring")) for n in range(4)]
    engine, alerts, decisions, dead = replay(tmp_path, ring)
    assert len(decisions) == 4 and alerts and dead == []
    for record in alerts:
        ALERT_ADAPTER.validate_json(orjson.dumps(record))
    for record in decisions:
        DECISION_ADAPTER.validate_json(orjson.dumps(record))
    # a ring holds its orders through its alerts; the rules approve each of them
    assert engine.stats.decisions["approve"] == 4
    assert {a["action"] for a in alerts} == {"hold"}


def test_bad_lines_go_to_the_dead_letter_file_with_line_and_reason(tmp_path: Path) -> None:
    good = paid()
    lines = [
        b"{not json",
        line(good),
        b"",
        line({**paid("p2"), "schema_version": 2}),
        line(later(good, "order_delivered", at=3)),
        b'{"event_type": "order_paid"}',
    ]
    engine, _, decisions, dead = replay(tmp_path, lines)
    assert len(decisions) == 1
    assert [(d["line"], d["reason"]) for d in dead] == [
        (1, "malformed_json"),
        (4, "unsupported_schema_version"),
        (6, "invalid"),
    ]
    for record in dead:
        DEAD_LETTER_ADAPTER.validate_json(orjson.dumps(record))
        assert record["file"] == "events.jsonl" and record["topic"] == "orders"
    assert base64.b64decode(dead[0]["raw_base64"]) == b"{not json"
    assert engine.stats.events == 2 and engine.stats.blank_lines == 1


def test_a_raw_id_number_in_a_bad_line_is_redacted_in_the_dead_letter(tmp_path: Path) -> None:
    raw_id = "110105" + "19491231002X"  # built here: no file holds a valid ID number whole
    bad = line(paid(consumer__id_hash=raw_id))
    _, _, _, dead = replay(tmp_path, [bad])
    assert dead[0]["redacted"] == 1
    assert raw_id.encode() not in base64.b64decode(dead[0]["raw_base64"])
    assert raw_id not in orjson.dumps(dead[0]).decode()


def test_unmatched_refund_is_reported_at_the_end(tmp_path: Path) -> None:
    stray = later(paid(), "order_refunded", at=1, refund="5.00")
    _, _, decisions, dead = replay(tmp_path, [line(stray)])
    assert decisions == [] and [d["reason"] for d in dead] == ["unmatched_order"]


GOOD = [line(paid(f"g{n}", at=n)) for n in range(6)]
garbage = st.one_of(
    st.binary(max_size=200).filter(lambda b: b"\n" not in b and b"\r" not in b and b.strip()),
    st.sampled_from(GOOD).map(lambda g: g[: len(g) // 2]),
    st.sampled_from(GOOD).map(lambda g: g.replace(b'"quantity":1', b'"quantity":"1"')),
    st.sampled_from(GOOD).map(lambda g: g.replace(b"+08:00", b"")),
    st.sampled_from(GOOD).map(lambda g: g.replace(b'"schema_version":1', b'"schema_version":9')),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    picks=st.lists(
        st.one_of(
            st.sampled_from(GOOD).map(lambda g: ("good", g)), garbage.map(lambda b: ("bad", b))
        ),
        max_size=25,
    )
)
def test_any_mix_of_good_and_hostile_lines(tmp_path: Path, picks: list[tuple[str, bytes]]) -> None:
    folder = Path(tempfile.mkdtemp(dir=tmp_path))  # hypothesis reuses the fixture
    engine, _, decisions, dead = replay(folder, [raw for _, raw in picks])
    bad_lines = {n for n, (kind, _) in enumerate(picks, 1) if kind == "bad"}
    assert {d["line"] for d in dead if d["reason"] != "duplicate_order"} == bad_lines
    assert all(d["reason"] and d["error"] for d in dead)
    distinct_good = {raw for kind, raw in picks if kind == "good"}
    assert len(decisions) == len(distinct_good)  # a repeated line is a duplicate event
    assert engine.stats.duplicates == sum(1 for k, _ in picks if k == "good") - len(distinct_good)


def test_same_file_twice_gives_identical_outputs(tmp_path: Path) -> None:
    events = [line(paid(f"s{n}", at=n, delivery__address_hash=h("addr:s"))) for n in range(5)]
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.mkdir()
    b.mkdir()
    first = replay(a, events)
    second = replay(b, events)
    assert first[1:] == second[1:]


def test_bad_catalog_lines_are_dead_letters_too(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(line(paid()) + b"\n")
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_bytes(jsonl(CATALOG) + b'{"sku": "half a record"}\n' + b"\n")
    engine = Replay(RULES)
    engine.run(events, catalog=catalog, dead_letter_out=tmp_path / "x.jsonl")
    dead = [orjson.loads(x) for x in (tmp_path / "x.jsonl").read_bytes().splitlines()]
    assert [(d["topic"], d["line"], d["reason"]) for d in dead] == [
        ("catalog", len(CATALOG) + 1, "invalid")
    ]
    assert engine.stats.catalog_entries == len(CATALOG)
    assert engine.stats.decisions["approve"] == 1


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
def test_an_event_at_the_edge_of_time_is_a_dead_letter_and_the_run_goes_on(
    tmp_path: Path, when: str
) -> None:
    before, poison, after = paid("before"), paid("edge", occurred_at=when), paid("after", at=1)
    engine, _, decisions, dead = replay(tmp_path, [line(before), line(poison), line(after)])
    assert [d["line"] for d in dead] == [2]  # refused by the contract, or failed on: never fatal
    assert dead[0]["reason"] in {"time_out_of_range", "processing_error"}
    assert [d["order_id"] for d in decisions] == [before["order_id"], after["order_id"]]
