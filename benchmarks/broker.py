"""The embedded broker's fetch cost as a partition holds more record batches, in one run.

    python benchmarks/broker.py [--batches 0,2000,5000,10000,20000,40000] [--record-bytes 300]
        [--probes 50]

On a fresh tansu (the embedded broker), one partition is filled with records one batch each
(every send awaited before the next, as a producer at a low rate per partition sends them),
and at each size a consumer at the partition's end times `--probes` single records from their
send to their fetch, with the workers' fetch wait, while the broker's CPU is read from /proc.
The baseline is the same measure on the empty partition, in the same run.

Why it matters: tansu 0.6.0's memory storage (tansu-storage/src/dynostore.rs, `fetch`) lists
every stored batch object of a partition each time a fetch finds that partition has something
to read, so a consumer's fetch costs more the more batches its partitions hold, whatever it
reads. Apache Kafka finds a fetch's position in an offset index and does not slow so.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would hide the
# packages it measures (as in replay.py).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import shlex  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from riskmon.settings import load_settings  # noqa: E402
from streams.broker import EmbeddedBroker  # noqa: E402
from streams.topics import TopicSpec  # noqa: E402

TOPIC = "bench-batches"


@dataclass(frozen=True)
class Point:
    batches: int  # record batches the partition held
    delays: list[float]  # ms, send to fetch, sorted
    broker_cpu: float  # the broker's CPU over the probes, in cores

    def pct(self, q: float) -> float:
        return self.delays[min(len(self.delays) - 1, int(q * len(self.delays)))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, clock ticks of 1/100 s


async def measure(
    bootstrap: str, pid: int, sizes: list[int], record_bytes: int, probes: int, wait_ms: int
) -> list[Point]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, acks="all")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, fetch_max_wait_ms=wait_ms
    )
    await producer.start()
    await consumer.start()
    tp = TopicPartition(TOPIC, 0)
    consumer.assign([tp])
    body = b"x" * record_bytes
    batches = 0
    points = []
    try:
        for size in sizes:
            while batches < size:
                await (await producer.send(TOPIC, body, partition=0))  # alone in its batch
                batches += 1
            await asyncio.sleep(1.0)
            await consumer.seek_to_end(tp)
            delays = []
            before, started = cpu_seconds(pid), time.perf_counter()
            for _ in range(probes):
                sent = time.perf_counter()
                await (await producer.send(TOPIC, b"probe", partition=0))
                batches += 1
                while not await consumer.getmany(tp, timeout_ms=5000):
                    pass
                delays.append((time.perf_counter() - sent) * 1000)
            cpu = (cpu_seconds(pid) - before) / (time.perf_counter() - started)
            points.append(Point(size, sorted(delays), cpu))
            print(f"{size:,} batches: p50 {points[-1].pct(0.5):.1f} ms", flush=True)
    finally:
        await producer.stop()
        await consumer.stop()
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="0,2000,5000,10000,20000,40000")
    parser.add_argument("--record-bytes", type=int, default=300)
    parser.add_argument("--probes", type=int, default=50)
    args = parser.parse_args()
    sizes = sorted(int(n) for n in args.batches.split(","))
    wait_ms = load_settings().kafka_fetch_wait_ms
    broker = EmbeddedBroker(topics=(TopicSpec(TOPIC, "none", 1, "in"),))
    try:
        bootstrap = broker.start()
        assert broker.process is not None
        points = asyncio.run(
            measure(bootstrap, broker.process.pid, sizes, args.record_bytes, args.probes, wait_ms)
        )
    finally:
        broker.stop()
    base = points[0]
    command = shlex.join(["python", "benchmarks/broker.py", *sys.argv[1:]])
    table = Table(
        title=f"tansu: a fetch at a partition's end as the partition holds more batches: {command}"
    )
    for column in ("batches held", "send to fetch p50", "p99", "p50 against the first", "broker"):
        table.add_column(column, justify="right")
    for point in points:
        table.add_row(
            f"{point.batches:,}",
            f"{point.pct(0.5):.1f} ms",
            f"{point.pct(0.99):.1f} ms",
            f"{point.pct(0.5) / base.pct(0.5):.2f}x",
            f"{point.broker_cpu:.2f} cores",
        )
    table.caption = (
        f"one consumer with the workers' fetch wait ({wait_ms} ms), {args.probes} probes a size, "
        f"{args.record_bytes}-byte records one per batch"
    )
    Console().print(table)


if __name__ == "__main__":
    main()
