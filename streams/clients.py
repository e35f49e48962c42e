"""Files to topics and topics to files, keyed as the contract says (kafka-python)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import orjson

from streams.topics import TOPICS

# a key is a field's path (dots), or fields joined by ":" (a control's `kind:key`)
_KEYS = {
    t.name: tuple(tuple(part.split(".")) for part in t.key.split(":"))
    for t in TOPICS
    if t.key != "none"
}


def message_key(topic: str, raw: bytes) -> bytes | None:
    """The Kafka key of a message: `consumer.id_hash` for orders, `sku` for the catalog...

    A message that is not JSON, or lacks its key, is sent without a key: the workers route it
    to the dead letters with the reason, which is where a bad message belongs.

    >>> message_key("catalog", b'{"sku": "SKU-1"}'), message_key("orders", b"{broken")
    (b'SKU-1', None)
    >>> message_key("controls", b'{"kind": "merchant", "key": "M0003"}')
    b'merchant:M0003'
    """
    paths = _KEYS.get(topic)
    if paths is None:
        return None
    try:
        record: Any = orjson.loads(raw)
        parts = []
        for path in paths:
            value = record
            for part in path:
                value = value[part]
            if not isinstance(value, str):
                return None
            parts.append(value)
    except (orjson.JSONDecodeError, KeyError, TypeError, IndexError):
        return None
    return ":".join(parts).encode()


def partition_of(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a keyed record (murmur2, as the Java
    client, kafka-python and aiokafka compute it).

    >>> partition_of(b"consumer-1", 8) == partition_of(b"consumer-1", 8) < 8
    True
    """
    return (murmur2(key) & 0x7FFFFFFF) % partitions


_M = 0x5BD1E995
_WORDS: dict[int, struct.Struct] = {}


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (seed 0x9747b28c), as kafka-python's `murmur2` computes it, with the
    4-byte words read by `struct` in one call rather than byte by byte (a replay hashes every
    consumer it meets: kafka-python's took a fifth of a replay's own time).

    >>> from kafka.partitioner.default import murmur2 as kafkas
    >>> all(murmur2(k) == kafkas(k) for k in (b"", b"a", b"ab", b"abc", b"abcd", b"consumer-1"))
    True
    """
    length = len(data)
    h = 0x9747B28C ^ length
    n = length >> 2
    words = _WORDS.get(n)
    if words is None:
        words = _WORDS[n] = struct.Struct(f"<{n}I")
    for k in words.unpack_from(data):
        k = (k * _M) & 0xFFFFFFFF
        k = ((k ^ (k >> 24)) * _M) & 0xFFFFFFFF
        h = (h * _M ^ k) & 0xFFFFFFFF
    extra = length & 3
    if extra:
        tail = length & ~3
        if extra >= 3:
            h ^= data[tail + 2] << 16
        if extra >= 2:
            h ^= data[tail + 1] << 8
        h = ((h ^ data[tail]) * _M) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * _M) & 0xFFFFFFFF
    return h ^ (h >> 15)


def send(topic: str, records: list[bytes], bootstrap: str) -> None:
    """A few records to a topic, keyed as the contract says, each delivered (raises if not)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=16 << 20)
    try:
        for raw in records:
            producer.send(topic, value=raw, key=message_key(topic, raw)).get(timeout=30)
    finally:
        producer.close()


def produce(path: Path, topic: str, bootstrap: str, batch_bytes: int = 65536) -> int:
    """Send every non-blank line of a JSON Lines file; returns how many were sent.

    `batch_bytes` 1 sends each record as its own batch (see `Settings.kafka_batch_bytes`).
    """
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=20,
        batch_size=batch_bytes,
        max_request_size=16 << 20,
        acks="all",
    )
    sent = 0
    try:
        with path.open("rb") as handle:
            for line in handle:
                raw = line.rstrip(b"\r\n")
                if not raw.strip():
                    continue
                producer.send(topic, value=raw, key=message_key(topic, raw))
                sent += 1
        producer.flush()
    finally:
        producer.close()
    return sent


def tail(
    topic: str,
    bootstrap: str,
    *,
    out: IO[bytes],
    until_idle: float | None = None,
    from_beginning: bool = False,
    on_message: Callable[[int], None] | None = None,
) -> int:
    """Write each message of a topic as one line; stop after `until_idle` seconds of silence."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
        consumer_timeout_ms=int(until_idle * 1000) if until_idle else float("inf"),
    )
    count = 0
    try:
        for message in consumer:
            out.write(message.value)
            out.write(b"\n")
            count += 1
            if on_message is not None:
                on_message(count)
        out.flush()
    finally:
        consumer.close()
    return count
