"""A rules version published mid-stream changes the rules from its effective time on, in the
replay and in the streaming stages alike, and every decision names the version it was made
under (issue 16, item 2). The real broker: tests/integration/test_controls_live.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from factories import CATALOG, jsonl, line, paid, ts
from inprocess import Log, Worker, feed, outputs

from detectors.products import Catalog
from replay import Replay
from schemas.catalog import CATALOG_ADAPTER
from schemas.decode import DecodeError, decode_publication
from schemas.publications import publication
from schemas.rules import DEFAULT_RULES_PATH, load_rules
from streams.clients import message_key
from streams.messages import DECIDE_TOPIC, headers_of

RULES = load_rules()


def lower_cap() -> str:
    """The shipped rules with phones capped at 300 yuan instead of 500, as version "v2"."""
    text = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    text = text.replace(f'version = "{RULES.version}"', 'version = "pingshan-2026.2"', 1)
    digital = text.index("[programmes.featured_goods.budget_lines.digital]")
    cap = text.index("cap_per_unit = 500", digital)
    return text[:cap] + "cap_per_unit = 300" + text[cap + len("cap_per_unit = 500") :]


def published(effective_hours: float) -> bytes:
    record = publication(
        lower_cap(), effective_from=ts(effective_hours), published_at=ts(0), author="cli:lead"
    )
    return orjson.dumps(record)


def orders() -> list[bytes]:
    return [line(paid(f"v{n}", at=n)) for n in range(6)]  # one phone each, at 0..5 h


def test_a_version_applies_from_its_effective_time_and_each_decision_names_it(
    tmp_path: Path,
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(x + b"\n" for x in orders()))
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_bytes(jsonl(CATALOG))
    engine = Replay(RULES, versions=[decode_publication(published(2.5))])
    engine.run(events, catalog=catalog, decisions_out=tmp_path / "d.jsonl")
    decisions = [orjson.loads(x) for x in (tmp_path / "d.jsonl").read_bytes().splitlines()]
    assert [d["rules_version"] for d in decisions] == [RULES.version] * 3 + ["pingshan-2026.2"] * 3
    assert [d["allowed_subsidy"] for d in decisions] == [500.0] * 3 + [300.0] * 3
    assert [d["decision"] for d in decisions] == ["approve"] * 3 + ["review"] * 3


def test_the_stages_take_the_same_timeline_from_the_decide_log() -> None:
    log = Log()
    log.append(DECIDE_TOPIC, 0, None, published(2.5), headers_of("rules"))  # the rules agent's
    feed(log, orders(), lambda raw: message_key("orders", raw))
    catalog = Catalog()
    for entry in CATALOG:
        catalog.add(CATALOG_ADAPTER.validate_json(line(entry)))
    worker = Worker(log, RULES, catalog=catalog)
    asyncio.run(worker.run())
    decisions = sorted(outputs(log)["decisions"].values(), key=lambda d: d["decided_at"])
    assert [d["rules_version"] for d in decisions] == [RULES.version] * 3 + ["pingshan-2026.2"] * 3
    assert [d["allowed_subsidy"] for d in decisions] == [500.0] * 3 + [300.0] * 3
    # the watch stage was told of the version before any ticket decided under it
    watch = [r for (topic, _), rs in log.topics.items() if topic == "riskmon-watch" for r in rs]
    assert any(dict(r.headers or ()).get("kind") == b"rules" for r in watch)


def test_a_publication_whose_text_or_digest_does_not_hold_is_refused() -> None:
    record = orjson.loads(published(1))
    tampered = {
        **record,
        "rules": record["rules"].replace("cap_per_unit = 300", "cap_per_unit = 900"),
    }
    with pytest.raises(DecodeError, match="sha256"):
        decode_publication(orjson.dumps(tampered))
    renamed = {**record, "version": "other"}
    with pytest.raises(DecodeError, match="version"):
        decode_publication(orjson.dumps(renamed))
