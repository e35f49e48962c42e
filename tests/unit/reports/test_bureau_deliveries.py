"""Scheduled data return: on a clock the test moves (no sleeps), to a local HTTPS receiver with
a self-signed certificate made here. The daily package arrives on time, signed, once; a
receiver down for two days gets the missed days when it returns; every delivery is in the
audit trail; a folder destination gets the same files."""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest
from conftest import Filled
from prometheus_client import CollectorRegistry
from receiver import Receiver, receiver
from sqlalchemy import Engine, select

from console.auth import User
from console.verdicts import give
from reports.bureau_config import BureauConfig, Delivery, Destination, Incidents, Schedule
from reports.bureau_deliveries import DELIVERED, PENDING, Deliverer, listing
from reports.bureau_destinations import signature
from reports.bureau_metrics import DeliveryMetrics
from reports.bureau_tables import deliveries
from reports.db import open_engine
from reports.tables import alerts, audit
from schemas.rules import ProgrammeRules

CST = ZoneInfo("Asia/Shanghai")
KEY = b"q7Hc1vN0pZ3yL8eR2tWm5sKd9gXb4jAf-test-receiver"  # made for these tests
PSEUDONYM = re.compile(rb"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def to(self, day: date, hour: int, minute: int = 0) -> None:
        self.at = datetime.combine(day, time(hour, minute), CST)


@pytest.fixture
def store(filled: Filled, tmp_path: Path) -> Iterator[Engine]:
    """A copy of the two simulated days' store (2026-07-01 and 02), the test's own."""
    path = tmp_path / "store.db"
    shutil.copy(str(filled.engine.url.database), path)
    engine = open_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def bureau(tmp_path: Path) -> Iterator[Receiver]:
    with receiver(tmp_path, KEY) as running:
        yield running


def https(bureau: Receiver, tmp_path: Path, **more: object) -> Destination:
    key_file = tmp_path / "bureau.key"
    key_file.write_bytes(KEY + b"\n")
    return Destination(
        name="bureau-api",
        kind="https",
        url=bureau.url,
        key_file=key_file,
        ca_file=bureau.ca_file,
        **more,  # type: ignore[arg-type]
    )


def config(*destinations: Destination, **delivery: float) -> BureauConfig:
    return BureauConfig(
        schedule=Schedule(first_day=date(2026, 7, 1), items=("daily", "incidents")),
        delivery=Delivery(**delivery),
        incidents=Incidents(push=any(d.incidents for d in destinations)),
        destinations=destinations,
    )


@dataclass
class Setup:
    deliverer: Deliverer
    clock: Clock
    registry: CollectorRegistry


def deliverer(store: Engine, rules: ProgrammeRules, cfg: BureauConfig, clock: Clock) -> Setup:
    registry = CollectorRegistry()
    return Setup(Deliverer(store, rules, cfg, clock, DeliveryMetrics(registry)), clock, registry)


def test_the_daily_package_arrives_on_time_signed_and_once(
    store: Engine, rules: ProgrammeRules, bureau: Receiver, tmp_path: Path
) -> None:
    clock = Clock(datetime(2026, 7, 2, 0, 59, tzinfo=CST))
    run = deliverer(store, rules, config(https(bureau, tmp_path)), clock)
    run.deliverer.tick()
    assert bureau.accepted == []  # 00:59: not due yet

    clock.to(date(2026, 7, 2), 1, 0)
    result = run.deliverer.tick()
    assert len(result.delivered) == 1 and not result.failed
    (got,) = bureau.accepted
    assert (got.package, got.subject) == ("daily", "2026-07-01")
    assert got.signed_at == int(clock.at.timestamp())  # signed with the clock's time, checked
    with zipfile.ZipFile(io.BytesIO(got.body)) as archive:
        names = set(archive.namelist())
        manifest = orjson.loads(archive.read("2026-07-01/manifest.json"))
        for entry in manifest["files"]:
            data = archive.read(f"2026-07-01/{entry['name']}")
            assert len(data) == entry["bytes"]
    assert {"2026-07-01/daily-2026-07-01.html", "2026-07-01/daily-2026-07-01.xlsx"} <= names
    assert "2026-07-01/incidents-2026-07-01.xlsx" in names
    assert manifest["day"] == "2026-07-01" and manifest["rules"] == rules.version
    assert not PSEUDONYM.search(archive_text(got.body))  # identities masked in every file

    # once: later passes, and a restarted service, send nothing again
    clock.to(date(2026, 7, 2), 1, 5)
    run.deliverer.tick()
    again = deliverer(store, rules, config(https(bureau, tmp_path)), clock)
    again.deliverer.tick()
    assert len(bureau.accepted) == 1 and bureau.duplicates == 0

    with store.connect() as connection:
        (row,) = listing(connection)
        trail = connection.execute(select(audit).where(audit.c.action == "delivery")).all()
    assert row["state"] == DELIVERED and row["attempts"] == 1
    assert row["receipt"] == f'HTTP 200 {{"ack":"bureau-{got.delivery_id[:8]}"}}'
    assert row["delivery_id"] == got.delivery_id
    assert [(t.actor, t.target) for t in trail] == [("bureau-serve", got.delivery_id)]
    assert (
        run.registry.get_sample_value(
            "riskmon_bureau_delivery_attempts_total",
            {"destination": "bureau-api", "package": "daily", "outcome": "delivered"},
        )
        == 1
    )


def archive_text(body: bytes) -> bytes:
    """Every report of a zip package, xlsx sheets unpacked too (not the manifest: its SHA-256
    sums are 64 hex digits too)."""
    out = []
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        for name in archive.namelist():
            if name.endswith("manifest.json"):
                continue
            data = archive.read(name)
            if name.endswith(".xlsx"):
                with zipfile.ZipFile(io.BytesIO(data)) as sheet:
                    out += [sheet.read(n) for n in sheet.namelist() if n.endswith(".xml")]
            else:
                out.append(data)
    return b"\n".join(out)


def test_a_receiver_down_for_two_days_gets_the_missed_days_when_it_returns(
    store: Engine, rules: ProgrammeRules, bureau: Receiver, tmp_path: Path
) -> None:
    clock = Clock(datetime(2026, 7, 2, 1, 0, tzinfo=CST))
    cfg = config(https(bureau, tmp_path), retry_first_seconds=3600, retry_max_seconds=6 * 3600)
    run = deliverer(store, rules, cfg, clock)
    bureau.up = False
    # down from 2026-07-02 01:00 to 2026-07-04 02:00; the service looks every 3 hours
    while clock.at < datetime(2026, 7, 4, 2, 0, tzinfo=CST):
        result = run.deliverer.tick()
        assert not result.delivered
        clock.at += timedelta(hours=3)
    assert bureau.refused > 0 and bureau.accepted == []
    with store.connect() as connection:
        waiting = listing(connection, state=PENDING)
    assert sorted(r["subject"] for r in waiting) == ["2026-07-01", "2026-07-02", "2026-07-03"]
    # the oldest is tried at each pass; the others wait for the same retry, untried meanwhile
    assert {r["last_error"] for r in waiting} <= {"bureau-api: HTTP 503", None}
    assert (
        run.registry.get_sample_value(
            "riskmon_bureau_delivery_failing", {"destination": "bureau-api"}
        )
        >= 1
    )
    assert (
        run.registry.get_sample_value(
            "riskmon_bureau_delivery_oldest_overdue_seconds", {"destination": "bureau-api"}
        )
        > 40 * 3600
    )

    bureau.up = True
    clock.at = max(r["next_attempt_at"] for r in waiting)  # the last of the retries is due
    result = run.deliverer.tick()
    assert len(result.delivered) == 3 and not result.failed
    assert [r.subject for r in bureau.of("daily")] == ["2026-07-01", "2026-07-02", "2026-07-03"]
    assert bureau.duplicates == 0
    assert (
        run.registry.get_sample_value(
            "riskmon_bureau_delivery_failing", {"destination": "bureau-api"}
        )
        == 0
    )

    with store.connect() as connection:
        rows = {r["subject"]: r for r in listing(connection)}
        trail = connection.execute(select(audit.c.action, audit.c.target)).all()
    delivered = [t for a, t in trail if a == "delivery"]
    failed = [t for a, t in trail if a == "delivery_failed"]
    assert sorted(delivered) == sorted(r["delivery_id"] for r in rows.values())
    assert len(failed) == sum(r["attempts"] - 1 for r in rows.values()) > 0
    assert rows["2026-07-01"]["attempts"] > 1


def test_a_wrong_key_is_refused_by_the_receiver_and_recorded_as_a_failure(
    store: Engine, rules: ProgrammeRules, bureau: Receiver, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong.key"
    wrong.write_text("Zq8wE3rT6yU1iO4pA7sD0fG5hJ2kL9xC-another-key")
    destination = https(bureau, tmp_path).model_copy(update={"key_file": wrong})
    clock = Clock(datetime(2026, 7, 2, 1, 0, tzinfo=CST))
    run = deliverer(store, rules, config(destination), clock)
    assert run.deliverer.tick().failed
    with store.connect() as connection:
        (row,) = listing(connection)
    assert row["state"] == PENDING and row["last_error"] == "bureau-api: HTTP 401"
    assert row["next_attempt_at"] == clock.at + timedelta(seconds=60)
    assert bureau.accepted == []


def test_the_signature_covers_the_time_the_id_and_the_body() -> None:
    base = signature(KEY, 100, "d1", b"body")
    assert base != signature(KEY, 101, "d1", b"body")
    assert base != signature(KEY, 100, "d2", b"body")
    assert base != signature(KEY, 100, "d1", b"bodx")


def test_a_folder_gets_each_day_once_whole(
    store: Engine, rules: ProgrammeRules, tmp_path: Path
) -> None:
    folder = tmp_path / "outbox"
    destination = Destination(name="bureau-share", kind="folder", path=folder)
    clock = Clock(datetime(2026, 7, 3, 9, 0, tzinfo=CST))
    run = deliverer(store, rules, config(destination), clock)
    assert len(run.deliverer.tick().delivered) == 2  # 07-01 and 07-02, both due by now
    for day in ("2026-07-01", "2026-07-02"):
        placed = folder / "daily" / day / "1"
        manifest = orjson.loads((placed / "manifest.json").read_bytes())
        for entry in manifest["files"]:
            assert (placed / entry["name"]).stat().st_size == entry["bytes"]
        assert orjson.loads((placed / "delivery.json").read_bytes())["subject"] == day
    assert not list(folder.rglob("*.partial"))
    # delivered again (a store restored from before the delivery): found there, nothing written
    with store.begin() as connection:
        connection.execute(
            deliveries.update().values(state=PENDING, next_attempt_at=clock.at, attempts=1)
        )
    before = (folder / "daily" / "2026-07-01" / "1" / "manifest.json").stat().st_mtime_ns
    run.deliverer.tick()
    assert (folder / "daily" / "2026-07-01" / "1" / "manifest.json").stat().st_mtime_ns == before
    with store.connect() as connection:
        receipts = [r["receipt"] for r in listing(connection)]
    assert all(r.endswith("(there already)") for r in receipts)


def test_the_schedule_is_the_day_before_at_one_in_the_morning_shanghai_time(
    store: Engine, rules: ProgrammeRules
) -> None:
    run = Deliverer(store, rules, config(), lambda: datetime.now(UTC))
    assert run.due_at(date(2026, 7, 1)) == datetime(2026, 7, 2, 1, 0, tzinfo=CST)
    just_before = datetime(2026, 7, 1, 16, 59, 59, tzinfo=UTC)  # 00:59:59 in Shanghai
    assert run.days_due(just_before) == []
    assert run.days_due(just_before + timedelta(seconds=1)) == [date(2026, 7, 1)]
    assert run.days_due(datetime(2026, 7, 5, 12, 0, tzinfo=CST))[-1] == date(2026, 7, 4)
    assert Deliverer(store, rules, BureauConfig(), lambda: just_before).first_day == date(
        2026, 7, 1
    )  # the programmes' start, without a first_day


def test_an_escalated_incident_and_its_updates_reach_the_bureau_masked(
    store: Engine, rules: ProgrammeRules, bureau: Receiver, tmp_path: Path
) -> None:
    clock = Clock(datetime(2026, 7, 2, 0, 10, tzinfo=CST))
    destination = https(bureau, tmp_path, daily=False, incidents=True)
    run = deliverer(store, rules, config(destination), clock)
    run.deliverer.tick()
    critical = {r.subject for r in bureau.of("incident")}
    with store.connect() as connection:
        expected = set(
            connection.execute(
                select(alerts.c.alert_id).where(alerts.c.severity == "critical")
            ).scalars()
        )
        alert_id = connection.execute(
            select(alerts.c.alert_id).where(alerts.c.severity == "high").limit(1)
        ).scalar_one()
    assert expected and critical == expected  # every critical alert, at once

    lead = User("lead-01", "supervisor")
    with store.begin() as connection:
        give(connection, lead, alert_id, "escalate", "ring of four", timezone=CST, now=clock.at)
    clock.at += timedelta(seconds=30)  # the service's next look
    run.deliverer.tick()
    pushed = [r for r in bureau.of("incident") if r.subject == alert_id]
    assert len(pushed) == 1
    case = orjson.loads(pushed[0].body)
    assert case["status"] == "escalated" and case["incident"]["comment"] == "ring of four"
    assert not PSEUDONYM.search(pushed[0].body)
    with store.connect() as connection:
        row = connection.execute(
            select(deliveries).where(deliveries.c.delivery_id == pushed[0].delivery_id)
        ).one()
    assert row.delivered_at - row.created_at <= timedelta(minutes=5)
    assert row.receipt.startswith("HTTP 200") and "ack" in row.receipt  # the acknowledgement

    with store.begin() as connection:
        give(connection, lead, alert_id, "confirm", "confirmed", timezone=CST, now=clock.at)
    clock.at += timedelta(seconds=30)
    run.deliverer.tick()
    run.deliverer.tick()  # nothing moved since: nothing new
    pushed = [orjson.loads(r.body) for r in bureau.of("incident") if r.subject == alert_id]
    assert [c["status"] for c in pushed] == ["escalated", "confirmed"]
    assert [v["action"] for v in pushed[1]["verdicts"]] == ["escalate", "confirm"]
    assert bureau.duplicates == 0


def test_a_corrected_day_is_sent_again_as_a_new_version(
    store: Engine, rules: ProgrammeRules, bureau: Receiver, tmp_path: Path
) -> None:
    clock = Clock(datetime(2026, 7, 2, 1, 0, tzinfo=CST))
    run = deliverer(store, rules, config(https(bureau, tmp_path)), clock)
    run.deliverer.tick()
    clock.at += timedelta(hours=5)
    (again,) = run.deliverer.resend(date(2026, 7, 1), "cli:ops")
    run.deliverer.tick()
    first, second = bureau.of("daily")
    assert first.subject == second.subject == "2026-07-01"
    assert second.delivery_id == again != first.delivery_id  # a new id: not deduped away
    with store.connect() as connection:
        versions = sorted(r["version"] for r in listing(connection))
        resent = (
            connection.execute(select(audit.c.actor).where(audit.c.action == "delivery_resend"))
            .scalars()
            .all()
        )
    assert versions == ["1", "2"] and resent == ["cli:ops"]
