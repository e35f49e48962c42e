"""The replay's murmur2 gives Kafka's partitions: the same hash as kafka-python's, any key."""

from __future__ import annotations

import random

from kafka.partitioner.default import murmur2 as kafka_murmur2

from streams.clients import murmur2, partition_of


def test_murmur2_is_kafka_pythons_for_every_length_and_byte() -> None:
    rng = random.Random(7)
    keys = [bytes(rng.randrange(256) for _ in range(n)) for n in range(0, 80) for _ in range(20)]
    keys += [bytes([255]) * n for n in range(40)] + [f"{rng.getrandbits(256):064x}".encode()]
    for key in keys:
        assert murmur2(key) == kafka_murmur2(key), key.hex()


def test_partition_of_a_consumer_key() -> None:
    key = f"{random.Random(1).getrandbits(256):064x}".encode()
    assert partition_of(key, 12) == (kafka_murmur2(key) & 0x7FFFFFFF) % 12
