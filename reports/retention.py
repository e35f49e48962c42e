"""Retention: what is past its period is anonymised or deleted (PIPL: kept no longer than its
purpose needs), what the audit of the programme needs is kept.

| kind       | past its period                                                              |
|------------|------------------------------------------------------------------------------|
| orders     | the consumer's pseudonym in decisions and the sales ledger anonymised         |
| alerts     | pseudonyms in an alert's entity and evidence anonymised                       |
| complaints | identity, summary and answers removed; kind, category and times kept           |
| audit      | rows deleted (the trail's trigger allows it only inside a recorded run)        |
| deliveries | rows deleted                                                                  |

Anonymised is not pseudonymised again: each pseudonym becomes `anon-` and a digest under a
random key made for the run and never stored, so rows of one person still count as one (the
reports' distinct consumers do not change) but cannot be linked to the person, nor to their
newer rows. The money (decisions' amounts, both ledgers, the fund ledger whole) is never
touched: it is the programme's fund record.

`plan` counts what a run would change (the dry run); `apply` changes it in one transaction,
with a `retention_runs` row and an audit row.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update

from console import audit
from reports.bureau_config import Retention
from reports.bureau_tables import complaint_events, complaints, deliveries, retention_runs
from reports.tables import alerts, decisions, sales_ledger
from reports.tables import audit as audit_table

ANON = "anon-"
_PSEUDONYM = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
REMOVED = "[removed: retention]"


@dataclass
class Step:
    kind: str
    action: str  # anonymise | delete
    before: str  # the cut-off, as text
    rows: int = 0


@dataclass
class Plan:
    at: datetime
    steps: list[Step] = field(default_factory=list)
    cutoffs: dict[str, Any] = field(default_factory=dict)

    def detail(self) -> dict[str, Any]:
        return {
            s.kind: {"action": s.action, "before": s.before, "rows": s.rows} for s in self.steps
        }


def cutoffs(retention: Retention, now: datetime, timezone: Any) -> dict[str, Any]:
    today = now.astimezone(timezone).date()
    return {
        "orders": today - timedelta(days=retention.orders_days),
        "alerts": today - timedelta(days=retention.alerts_days),
        "complaints": now - timedelta(days=retention.complaints_days),
        "audit": now - timedelta(days=retention.audit_days),
        "deliveries": now - timedelta(days=retention.deliveries_days),
    }


def _not_anon(column: Any) -> Any:
    return ~column.startswith(ANON)


def plan(engine: Engine, retention: Retention, now: datetime, timezone: Any) -> Plan:
    cut = cutoffs(retention, now, timezone)
    result = Plan(now, cutoffs=cut)
    with engine.connect() as connection:
        count = connection.execute
        result.steps = [
            Step(
                "orders",
                "anonymise",
                str(cut["orders"]),
                count(
                    select(func.count()).where(
                        decisions.c.day < cut["orders"], _not_anon(decisions.c.consumer)
                    )
                ).scalar_one()
                + count(
                    select(func.count()).where(
                        sales_ledger.c.day < cut["orders"], _not_anon(sales_ledger.c.consumer)
                    )
                ).scalar_one(),
            ),
            Step(
                "alerts",
                "anonymise",
                str(cut["alerts"]),
                sum(1 for _ in _alerts_to_anonymise(connection, cut["alerts"])),
            ),
            Step(
                "complaints",
                "anonymise",
                cut["complaints"].isoformat(timespec="seconds"),
                count(
                    select(func.count()).where(
                        complaints.c.created_at < cut["complaints"],
                        complaints.c.anonymised_at.is_(None),
                    )
                ).scalar_one(),
            ),
            Step(
                "audit",
                "delete",
                cut["audit"].isoformat(timespec="seconds"),
                count(select(func.count()).where(audit_table.c.at < cut["audit"])).scalar_one(),
            ),
            Step(
                "deliveries",
                "delete",
                cut["deliveries"].isoformat(timespec="seconds"),
                count(
                    select(func.count()).where(deliveries.c.created_at < cut["deliveries"])
                ).scalar_one(),
            ),
        ]
    return result


def _alerts_to_anonymise(connection: Connection, before: date) -> Iterable[Any]:
    rows = connection.execute(
        select(alerts.c.alert_id, alerts.c.entity_key, alerts.c.evidence).where(
            alerts.c.day < before
        )
    )
    for row in rows:
        if _PSEUDONYM.fullmatch(row.entity_key) or _PSEUDONYM.search(row.evidence):
            yield row


class _Anonymiser:
    """One run's mapping: the same pseudonym, the same token; the key dies with the run."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def token(self, pseudonym: str) -> str:
        digest = hashlib.blake2b(pseudonym.encode(), key=self._key, digest_size=16).hexdigest()
        return ANON + digest

    def text(self, value: str) -> str:
        return _PSEUDONYM.sub(lambda m: self.token(m.group(0)), value)


def apply(engine: Engine, retention: Retention, now: datetime, timezone: Any, actor: str) -> Plan:
    """Anonymise and delete what is past its period, in one transaction; returns what was done."""
    done = plan(engine, retention, now, timezone)
    cut = done.cutoffs
    anonymiser = _Anonymiser()
    with engine.begin() as connection:
        run_id = connection.execute(
            insert(retention_runs)
            .values(
                at=now,
                actor=actor,
                state="applying",
                audit_before=cut["audit"],
                detail=orjson.dumps(done.detail()).decode(),
            )
            .returning(retention_runs.c.run_id)
        ).scalar_one()
        for table in (decisions, sales_ledger):
            people = (
                connection.execute(
                    select(table.c.consumer)
                    .where(table.c.day < cut["orders"], _not_anon(table.c.consumer))
                    .distinct()
                )
                .scalars()
                .all()
            )
            if people:
                connection.execute(
                    update(table)
                    .where(table.c.consumer == bindparam("old"), table.c.day < cut["orders"])
                    .values(consumer=bindparam("new")),
                    [{"old": p, "new": anonymiser.token(p)} for p in people],
                )
        changed = [
            {
                "id": row.alert_id,
                "key": anonymiser.text(row.entity_key),
                "evidence": anonymiser.text(row.evidence),
            }
            for row in _alerts_to_anonymise(connection, cut["alerts"])
        ]
        if changed:
            connection.execute(
                update(alerts)
                .where(alerts.c.alert_id == bindparam("id"))
                .values(entity_key=bindparam("key"), evidence=bindparam("evidence")),
                changed,
            )
        old = select(complaints.c.complaint_id).where(
            complaints.c.created_at < cut["complaints"], complaints.c.anonymised_at.is_(None)
        )
        old_ids = connection.execute(old).scalars().all()
        if old_ids:
            connection.execute(
                update(complaint_events)
                .where(complaint_events.c.complaint_id.in_(old_ids))
                .values(note="")
            )
            connection.execute(
                update(complaints)
                .where(complaints.c.complaint_id.in_(old_ids))
                .values(
                    identity_masked="***",
                    identity_hash=None,
                    summary=REMOVED,
                    anonymised_at=now,
                )
            )
        connection.execute(delete(audit_table).where(audit_table.c.at < cut["audit"]))
        connection.execute(delete(deliveries).where(deliveries.c.created_at < cut["deliveries"]))
        connection.execute(
            update(retention_runs).where(retention_runs.c.run_id == run_id).values(state="done")
        )
        audit.record(
            connection,
            actor,
            "retention_apply",
            target=str(run_id),
            detail=done.detail(),
            at=now,
        )
    return done


def record_dry_run(engine: Engine, result: Plan, actor: str) -> None:
    with engine.begin() as connection:
        audit.record(connection, actor, "retention_dry_run", detail=result.detail(), at=result.at)
