"""Control records on merchants for the `controls` topic (events.md, version 1.1), through the
store's outbox (`controls_out`), as the labels go: written in the transaction of the decision
that issues them, sent to Kafka after it commits, kept until the broker takes them.

`control_record` is the one place a record is made: when `schemas/controls.py` lands, it is
where the record is validated by the contract's model instead of `check_control`.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, func, insert, select, update

from reports.bureau_tables import controls_out

OUTBOX, SENT = "outbox", "sent"
TOPIC = "controls"
FIELDS = (
    "schema_version",
    "control_id",
    "kind",
    "key",
    "action",
    "reason",
    "author",
    "issued_at",
    "effective_from",
    "expires_at",
)


def check_control(record: dict[str, Any]) -> dict[str, Any]:
    """The record as events.md defines it, or ValueError naming the field (never the value)."""
    if set(record) != set(FIELDS):
        raise ValueError(f"a control record has exactly the fields {', '.join(FIELDS)}")
    if record["schema_version"] != 1:
        raise ValueError("schema_version: 1")
    if record["kind"] != "merchant" or record["action"] not in ("block", "lift"):
        raise ValueError("kind, action: a merchant is blocked or lifted here")
    for name in ("control_id", "key", "reason", "author"):
        if not isinstance(record[name], str) or not record[name]:
            raise ValueError(f"{name}: a non-empty string")
    for name in ("issued_at", "effective_from"):
        at = datetime.fromisoformat(record[name])
        if at.tzinfo is None:
            raise ValueError(f"{name}: RFC 3339 with an offset")
    if record["expires_at"] is not None:
        raise ValueError("expires_at: a merchant's control lasts until lifted")
    return record


def control_record(
    control_id: str,
    merchant_id: str,
    action: str,
    reason: str,
    author: str,
    at: datetime,
    timezone: Any,
) -> dict[str, Any]:
    stamp = at.astimezone(timezone).isoformat(timespec="seconds")
    return check_control(
        {
            "schema_version": 1,
            "control_id": control_id,
            "kind": "merchant",
            "key": merchant_id,
            "action": action,
            "reason": reason[:500],
            "author": author,
            "issued_at": stamp,
            "effective_from": stamp,
            "expires_at": None,
        }
    )


def enqueue(
    connection: Connection,
    merchant_id: str,
    action: str,
    reason: str,
    author: str,
    now: datetime,
    timezone: Any,
) -> str:
    """Put a block or lift on `merchant_id` into the outbox; returns its control id."""
    n = connection.execute(
        select(func.count()).select_from(controls_out).where(controls_out.c.key == merchant_id)
    ).scalar_one()
    control_id = f"c-merchant-{merchant_id}-{n + 1:04d}"[:64]
    record = control_record(control_id, merchant_id, action, reason, author, now, timezone)
    connection.execute(
        insert(controls_out).values(
            control_id=control_id,
            kind="merchant",
            key=merchant_id,
            payload=orjson.dumps(record).decode(),
            status=OUTBOX,
            created_at=now,
            sent_at=None,
        )
    )
    return control_id


def waiting(connection: Connection) -> int:
    return connection.execute(
        select(func.count()).select_from(controls_out).where(controls_out.c.status == OUTBOX)
    ).scalar_one()


class ControlSender:
    """Sends the outbox's control records to Kafka, keyed `kind:key` as the contract says (the
    topic is compacted on that key). Without a broker they wait. One flush at a time."""

    def __init__(
        self, engine: Engine, bootstrap: str | None, batch_bytes: int = 1, producer: Any = None
    ) -> None:
        self.engine = engine
        self.bootstrap = bootstrap
        self.batch_bytes = batch_bytes
        self.last_error: str | None = None
        self.producer: Any = producer  # a Kafka producer, made on first use if not given
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return bool(self.bootstrap)

    def _connect(self) -> Any:
        if self.producer is None:
            from kafka import KafkaProducer

            self.producer = KafkaProducer(
                bootstrap_servers=self.bootstrap,
                batch_size=self.batch_bytes,
                linger_ms=0,
                acks="all",
                max_block_ms=5000,
                request_timeout_ms=5000,
            )
        return self.producer

    def flush(self) -> int:
        if not self.configured:
            return 0
        with self._lock:
            with self.engine.connect() as connection:
                rows = connection.execute(
                    select(
                        controls_out.c.control_id,
                        controls_out.c.kind,
                        controls_out.c.key,
                        controls_out.c.payload,
                    )
                    .where(controls_out.c.status == OUTBOX)
                    .order_by(controls_out.c.created_at, controls_out.c.control_id)
                ).all()
            if not rows:
                return 0
            try:
                producer = self._connect()
                futures = [
                    producer.send(TOPIC, value=r.payload.encode(), key=f"{r.kind}:{r.key}".encode())
                    for r in rows
                ]
                producer.flush(timeout=10)
                for future in futures:
                    future.get(timeout=10)
            except Exception as exc:  # any broker failure: they wait for the next flush
                self.last_error = type(exc).__name__
                self.close()
                return 0
            self.last_error = None
            with self.engine.begin() as connection:
                connection.execute(
                    update(controls_out)
                    .where(controls_out.c.control_id.in_([r.control_id for r in rows]))
                    .values(status=SENT, sent_at=datetime.now(UTC))
                )
            return len(rows)

    def close(self) -> None:
        if self.producer is not None:
            try:
                self.producer.close(timeout=5)
            finally:
                self.producer = None
