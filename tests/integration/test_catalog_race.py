"""No decision before its catalog, on the real broker, in every start order.

A worker decides an order only once the catalog it has read is current as of the order's
arrival (streams/catalog.py): whether the worker starts before or after the catalog and the
orders are produced, and when a product is registered in the middle of the stream, its
decisions are the replay's, which reads the whole catalog first and applies each registration
from its `registered_at` on. One `orders` partition, so that the decisions are compared whole
(with several, which of two consumers sharing a qualification code gets it first follows the
interleaving; tests/integration/test_streaming.py compares the flagged orders there).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from replay import Replay
from schemas.rules import load_rules
from simulation.generator import generate
from streams.local import LocalCluster

pytestmark = pytest.mark.integration


class Race:
    """A simulated set cut in two, with one SKU registered only in the middle of the stream
    (before its first order) as a catalog record of its own."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        lines = [x for x in (folder / "events.jsonl").read_bytes().splitlines() if x.strip()]
        first_seen: dict[str, int] = {}
        times: dict[str, list[str]] = {}
        for n, line in enumerate(lines):
            record = _json(line)
            if record.get("event_type") != "order_paid":
                continue
            for item in record.get("items", []):
                first_seen.setdefault(item["sku"], n)
                times.setdefault(item["sku"], []).append(record["occurred_at"])
        catalog = (folder / "catalog.jsonl").read_bytes().splitlines()
        registered = {_json(x).get("sku") for x in catalog}
        # the registered SKU bought last for the first time: the stream is cut before that order
        self.sku = max(registered & first_seen.keys(), key=lambda sku: first_seen[sku])
        half = first_seen[self.sku]
        assert half > len(lines) // 4, "a first part of some size"
        (entry,) = [x for x in catalog if _json(x).get("sku") == self.sku]
        since = min(times[self.sku])  # at its first order's own instant: in force for it
        update = {**_json(entry), "registered_at": since}
        self.first = folder / "first.jsonl"
        self.second = folder / "second.jsonl"
        self.catalog = folder / "catalog-initial.jsonl"
        self.update = folder / "catalog-update.jsonl"
        self.first.write_bytes(b"\n".join(lines[:half]) + b"\n")
        self.second.write_bytes(b"\n".join(lines[half:]) + b"\n")
        self.catalog.write_bytes(b"\n".join(x for x in catalog if x != entry) + b"\n")
        self.update.write_bytes(orjson.dumps(update) + b"\n")
        whole = folder / "catalog-whole.jsonl"
        whole.write_bytes(self.catalog.read_bytes() + self.update.read_bytes())
        events = folder / "events-whole.jsonl"
        events.write_bytes(self.first.read_bytes() + self.second.read_bytes())
        Replay(load_rules(), orders_partitions=1).run(
            events, catalog=whole, decisions_out=folder / "decisions.jsonl"
        )
        self.decisions = {
            d["order_id"]: d
            for d in map(orjson.loads, (folder / "decisions.jsonl").read_bytes().splitlines())
        }
        self.bought = {
            _json(x)["order_id"]
            for x in lines[half:]
            if any(i["sku"] == self.sku for i in _json(x).get("items", []))
        }


def _json(line: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


@pytest.fixture(scope="module")
def race(tmp_path_factory: pytest.TempPathFactory) -> Race:
    folder = tmp_path_factory.mktemp("race")
    generate(9, 2, folder, events_per_day=1500)
    return Race(folder)


@pytest.mark.parametrize("start", ["worker_first", "data_first", "update_mid_stream"])
def test_the_worker_decides_as_the_replay_whatever_the_start_order(
    race: Race, tmp_path: Path, start: str
) -> None:
    with LocalCluster(tmp_path, partitions=1, watch_partitions=1) as cluster:
        if start == "worker_first":
            cluster.start_worker("a")
        if start == "update_mid_stream":  # the worker has read the first catalog long before
            cluster.produce(race.catalog, "catalog")
            cluster.start_worker("a")
            cluster.produce(race.first, "orders")
            cluster.wait_for("decisions", lambda n: n > 100, 90, "the first orders")
            cluster.produce(race.update, "catalog")
            cluster.produce(race.second, "orders")
        else:  # straight after each other, no waiting
            cluster.produce(race.catalog, "catalog")
            cluster.produce(race.first, "orders")
            cluster.produce(race.update, "catalog")
            cluster.produce(race.second, "orders")
        if start == "data_first":
            cluster.start_worker("a")
        cluster.wait_for("decisions", lambda n: n >= len(race.decisions), 120, "decisions")
        decisions = {d["order_id"]: d for d in cluster.read("decisions")}
    # the SKU registered mid-stream is eligible for the orders that buy it, in the replay
    assert race.bought
    assert not any("product_eligibility" in race.decisions[o]["reasons"] for o in race.bought)
    assert decisions == race.decisions
