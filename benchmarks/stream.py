"""Streaming throughput and latency on the embedded broker, against a raw aiokafka loop, in one run.

    python benchmarks/stream.py [--events 50000] [--rate 1000] [--duration 30] [--seed 11]
        [--search-duration 15] [--search-steps 6] [--batch-bytes N] [--workdir DIR] [--quick]

Every figure comes from `riskmon worker` processes on the embedded tansu broker
(`streams.local.LocalCluster`), each phase on a fresh broker:

- the ceiling: a raw aiokafka loop consumes the N events pre-loaded on `orders`, parses each and
  produces one message per event to another topic; once batched as a client normally does,
  once with one record per batch, as the last release's workers produced; then the same loop
  as a relay from the end of `orders`, offered R events/s for D seconds: its delay is the
  baseline of the workers' (one hop, on a broker holding the same pre-load);
- throughput: one worker (and, on another broker, two) started, the catalog in its table, then
  N events pre-loaded on `orders`; events/s and decisions/s from the first message the intake
  forwards to the last decision (record timestamps), and to the last write of any stage once
  the group has committed all its input (the watch stage runs behind); the start and join
  apart; the workers' CPU per event, which other load on the machine barely moves;
- latency: the one worker, caught up, offered R events/s in bursts every 10 ms for D seconds;
  p50/p90/p99/max of the delay from an order's record timestamp on `orders` to its decision's
  on `decisions` (and p99 by 30 s window on a long run), and the lag of group `riskmon` on
  `orders` sampled every second, with the slope of a linear fit; then a search, doubling or
  halving the rate and then halving the gap, for the highest rate that keeps p99 under 250 ms
  and neither the lag nor the undecided backlog growing, each rate on a fresh broker after the
  same pre-load (tansu slows as its partitions grow: benchmarks/broker.py);
- the topic hops an order makes to its decision and to a behavioural alert, and the messages
  the workers write per event on the way.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would hide the
# packages it measures (as in replay.py).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import shlex  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from functools import partial  # noqa: E402
from typing import Any, NoReturn  # noqa: E402

import orjson  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from schemas.decode import DecodeError, decode_catalog  # noqa: E402
from simulation.generator import generate  # noqa: E402
from streams.clients import message_key  # noqa: E402
from streams.local import LocalCluster  # noqa: E402
from streams.topics import TOPICS  # noqa: E402

EVENTS_PER_DAY = 3400
GROUP = "riskmon"  # StreamConfig.app_id: the workers' consumer group
DECIDE_TOPIC = "riskmon-decide"  # streams.app.DECIDE_TOPIC, WATCH_TOPIC (not imported: faust)
WATCH_TOPIC = "riskmon-watch"
STAGE_INPUTS = ("orders", DECIDE_TOPIC, WATCH_TOPIC)
STAGE_OUTPUTS = (
    "decisions",
    "alerts",
    "riskmon-decide-state-changelog",
    "riskmon-watch-state-changelog",
)
WRITTEN = (  # what the workers write, per event on `orders`
    DECIDE_TOPIC,
    WATCH_TOPIC,
    "riskmon-decide-state-changelog",
    "riskmon-watch-state-changelog",
    "decisions",
    "alerts",
    "dead-letter",
)
RAW_TOPIC = "bench-raw"
P99_LIMIT_MS = 250.0
TICK = 0.01  # seconds between bursts of offered events
# A lag is "growing" when its fitted slope exceeds this share of the offered rate: with Faust
# committing once a second, a sawtooth of up to a second of traffic rides on the lag, and 5 %
# stays above that noise on a 15 s run while a real shortfall shows in p99 anyway.
GROWTH = 0.05
DRAIN = 5.0  # seconds after a run that its orders may still be decided in
WINDOW = 30.0  # seconds of a step whose p99 the summary gives on its own, on a long step
READ_EVERY = 0.5  # seconds between the reader's polls of the output (Offering says why)
INFO = ("--loglevel", "info")  # the workers log their partitions: see LocalCluster.wait_shared


# -- data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Data:
    folder: Path
    head: Path  # the first `events` lines: the throughput set
    events: int
    decisions: int  # distinct paid orders in the head: one decision each
    catalog: int  # valid catalog records: one changelog message each
    lines: int  # every event line; those after the head are offered at a fixed rate
    # orders paid in the head: a redelivered payment of one of them among the offered events
    # gets no second decision (the pipeline drops the repeated event id), so it is not waited for
    head_paid: frozenset[str] = frozenset()

    def tail(self) -> Iterator[bytes]:
        with (self.folder / "events.jsonl").open("rb") as handle:
            for number, line in enumerate(handle):
                if number >= self.events and line.strip():
                    yield line.rstrip(b"\r\n")


def prepare(folder: Path, events: int, offered: int, seed: int) -> Data:
    # A simulated set opens with a day of payments alone and closes with deliveries alone:
    # a quarter more than needed, over three days at least, keeps the offered part a mix.
    wanted = math.ceil((events + offered) * 1.25)
    days = max(3, round(wanted / EVENTS_PER_DAY))
    generate(seed, days, folder, events_per_day=math.ceil(wanted / days))
    head = folder / "head.jsonl"
    paid: set[str] = set()
    lines = 0
    with (folder / "events.jsonl").open("rb") as source, head.open("wb") as out:
        for line in source:
            if lines < events:
                out.write(line)
                event = orjson.loads(line)
                if event["event_type"] == "order_paid":
                    paid.add(event["order_id"])
            lines += 1
    catalog = 0
    with (folder / "catalog.jsonl").open("rb") as handle:
        for line in handle:
            try:
                decode_catalog(line.rstrip(b"\r\n"))
                catalog += 1
            except DecodeError:
                pass
    return Data(folder, head, min(events, lines), len(paid), catalog, lines, frozenset(paid))


# -- reading topics (tansu's ListOffsets is not a count: see end_offsets) -------------------


class Probe:
    """One open kafka-python consumer that reads topics' exact sizes and record timestamps."""

    def __init__(self, bootstrap: str) -> None:
        from kafka import KafkaConsumer

        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            fetch_max_bytes=64 << 20,
            max_partition_fetch_bytes=16 << 20,
            max_poll_records=10_000,
        )

    def __enter__(self) -> Probe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.consumer.close()

    def _parts(self, topic: str) -> list[Any]:
        from kafka import TopicPartition

        return [TopicPartition(topic, p) for p in self.consumer.partitions_for_topic(topic) or ()]

    def last_batches(self, topic: str) -> tuple[dict[int, int], int]:
        """Each partition's end offset, and the latest record timestamp (ms, -1: none).

        tansu answers ListOffsets(latest) with its last batch's base offset + 1, not the high
        watermark; a fetch from there returns that batch, and its response the true one.
        """
        consumer = self.consumer
        parts = self._parts(topic)
        listed = consumer.end_offsets(parts)
        ends = {tp.partition: listed[tp] for tp in parts}
        latest = -1
        live = [tp for tp in parts if listed[tp] > 0]
        consumer.assign(live)
        for tp in live:
            consumer.seek(tp, listed[tp] - 1)
        pending = set(live)
        deadline = time.monotonic() + 10
        while pending and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=200).items():
                high = consumer.highwater(tp) or 0
                ends[tp.partition] = max(ends[tp.partition], high, records[-1].offset + 1)
                latest = max(latest, *(r.timestamp for r in records))
                if records[-1].offset + 1 >= ends[tp.partition]:
                    pending.discard(tp)
        return ends, latest

    def end_offsets(self, topic: str) -> dict[int, int]:
        return self.last_batches(topic)[0]

    def size(self, topic: str) -> int:
        return sum(self.end_offsets(topic).values())

    def timestamps(self, topic: str, limit: int | None = None) -> tuple[list[int], set[int]]:
        """The record timestamps (ms) from the topic's beginning, and the timestamp types."""
        consumer = self.consumer
        ends = self.end_offsets(topic)
        parts = [tp for tp in self._parts(topic) if ends[tp.partition] > 0]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        out: list[int] = []
        kinds: set[int] = set()
        pending = set(parts)
        deadline = time.monotonic() + 120
        while pending and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                out.extend(r.timestamp for r in records)
                kinds.update(r.timestamp_type for r in records)
                if records[-1].offset + 1 >= ends[tp.partition]:
                    pending.discard(tp)
            if limit is not None and len(out) >= limit:
                break
        return out, kinds


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    with Probe(bootstrap) as probe:
        return probe.end_offsets(topic)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process so far (Linux /proc; None elsewhere or once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the ceiling: a raw aiokafka loop -------------------------------------------------------


@dataclass
class Raw:
    label: str
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds


async def raw_loop(bootstrap: str, events: int, out_topic: str, batch_bytes: int) -> float:
    """Consume `orders` from the start, parse each message, produce one per event; seconds."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 << 20,
        fetch_max_bytes=64 << 20,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, acks="all", max_batch_size=batch_bytes
    )
    await consumer.start()
    await producer.start()
    try:
        parts = [TopicPartition("orders", p) for p in consumer.partitions_for_topic("orders") or ()]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        seen = 0
        started: float | None = None
        while seen < events:
            batches = await consumer.getmany(timeout_ms=10_000, max_records=5000)
            if not batches:
                raise TimeoutError(f"raw loop: {seen:,} of {events:,} events after 10 s idle")
            if started is None:
                started = time.perf_counter()
            for records in batches.values():
                for record in records:
                    event = orjson.loads(record.value)
                    out = {"order_id": event["order_id"], "event_id": event["event_id"]}
                    await producer.send(out_topic, orjson.dumps(out), key=record.key)
                seen += len(records)
        await producer.flush()
        assert started is not None
        return time.perf_counter() - started
    finally:
        await producer.stop()
        await consumer.stop()


def ceiling(
    workdir: Path, data: Data, args: argparse.Namespace, console: Console
) -> tuple[list[Raw], Step]:
    """The raw loop's throughput (batched, and one record per batch), then its delay as a
    relay at the offered rate, on one broker holding the same pre-load as the workers'."""
    from kafka.admin import KafkaAdminClient, NewTopic

    runs = (("raw aiokafka loop, batched", 16384), ("raw aiokafka loop, 1 record/batch", 1))
    with LocalCluster(workdir / "raw") as cluster:
        admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap)
        try:
            admin.create_topics([NewTopic(f"{RAW_TOPIC}-{n}", 8, 1) for n in range(len(runs))])
        finally:
            admin.close()
        asyncio.run(preload(cluster.bootstrap, data.head))
        out = []
        for n, (label, batch_bytes) in enumerate(runs):
            seconds = asyncio.run(
                raw_loop(cluster.bootstrap, data.events, f"{RAW_TOPIC}-{n}", batch_bytes)
            )
            out.append(Raw(label, data.events, seconds))
            console.print(f"{label}: {data.events / seconds:,.0f} events/s")
        relay = asyncio.run(offer_to_relay(cluster.bootstrap, data, args.rate, args.duration))
        console.print(
            f"raw relay at {args.rate:,.0f} events/s for {args.duration:g} s: {relay.summary()}"
        )
        return out, relay


async def preload(bootstrap: str, path: Path) -> int:
    """Every line of a file onto `orders`, keyed as the contract says, as fast as it goes."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=256 << 10, acks="all"
    )
    await producer.start()
    sent = 0
    try:
        with path.open("rb") as handle:
            for line in handle:
                raw = line.rstrip(b"\r\n")
                await producer.send("orders", raw, key=message_key("orders", raw))
                sent += 1
        await producer.flush()
    finally:
        await producer.stop()
    return sent


# -- throughput -----------------------------------------------------------------------------


@dataclass
class Throughput:
    workers: int
    events: int
    decisions: int
    expected: int
    startup: float  # s from starting the workers to the catalog in their table
    window: float  # s from the first message the intake forwarded to the last decision
    drained: float  # s from then to the last write of any stage, every stage caught up
    waited: float  # s we waited after the last decision for the other stages
    cpu: dict[str, float]  # process -> CPU seconds from the pre-load until caught up
    spent: float  # s from the pre-load until caught up
    written: dict[str, int]  # topic -> messages the workers wrote there
    timestamp_types: set[int]

    @property
    def events_per_s(self) -> float:
        return self.events / self.window

    @property
    def decisions_per_s(self) -> float:
        return self.decisions / self.window

    @property
    def drained_per_s(self) -> float:
        return self.events / self.drained

    @property
    def worker_cpu_us(self) -> float:
        """Worker CPU per event: unlike the rates, barely moved by other load on the machine."""
        spent = sum(v for k, v in self.cpu.items() if k.startswith("worker"))
        return spent / self.events * 1e6


def throughput(cluster: LocalCluster, data: Data, workers: int, console: Console) -> Throughput:
    """Workers started and caught up with the catalog, then N events pre-loaded at once.

    The pre-load runs while the workers consume, but it writes tens of thousands of events a
    second, far ahead of them. (Stopping a worker once it has the catalog and starting it
    again after the pre-load, as first tried, adds its departed self to the next join: tansu
    keeps a member that left until its session times out, 10 s, then a 5 s rebalance.)
    """
    bootstrap = cluster.bootstrap
    cluster.produce(data.folder / "catalog.jsonl", "catalog")
    started = time.monotonic()
    processes = [cluster.start_worker(f"w{n + 1}") for n in range(workers)]
    # the group settled before the pre-load: a worker joining late would rebalance it in the
    # middle of the measurement (tansu takes 5 to 15 s over one)
    orders = next(t.partitions for t in TOPICS if t.name == "orders")
    cluster.wait_shared([f"w{n + 1}" for n in range(workers)], orders, 120)
    startup = time.monotonic() - started
    pids = {f"worker {n + 1}": p.pid for n, p in enumerate(processes)}
    if cluster.broker is not None and cluster.broker.process is not None:
        pids["broker"] = cluster.broker.process.pid
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    loading = time.monotonic()
    asyncio.run(preload(bootstrap, data.head))
    # a decision can be missing (a later event expired before its order): stop on silence too
    deadline = time.monotonic() + 120 + data.events / 20
    with Probe(bootstrap) as probe:
        decided, changed = 0, time.monotonic()
        while decided < data.decisions:
            time.sleep(1.0)
            check_alive(cluster)
            now = probe.size("decisions")
            if now != decided:
                decided, changed = now, time.monotonic()
            elif decided and time.monotonic() - changed > 15:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{decided:,} of {data.decisions:,} decisions\n{cluster.logs()}")
        # streaming interleaves the partitions, so an order or two may end otherwise than in
        # the file's order (a later event expired first); more missing is a broken pipeline
        if data.decisions - decided > max(3, data.decisions // 500):
            raise RuntimeError(
                f"{decided:,} of {data.decisions:,} decisions, no more for 15 s: the figures "
                f"would mean nothing\n{cluster.logs()}"
            )
        decided_at = time.monotonic()
        wait_caught_up(cluster, timeout=120 + data.events / 20)
        spent = time.monotonic() - loading
        cpu = {}
        for name, pid in pids.items():
            before, after = cpu_before[name], cpu_seconds(pid)
            if before is not None and after is not None:
                cpu[name] = after - before
        forwarded, _ = probe.timestamps(DECIDE_TOPIC, limit=2000)
        decisions, kinds = probe.timestamps("decisions")
        last_write = max(probe.last_batches(t)[1] for t in STAGE_OUTPUTS)
        result = Throughput(
            workers=workers,
            events=data.events,
            decisions=len(decisions),
            expected=data.decisions,
            startup=startup,
            window=(max(decisions) - min(forwarded)) / 1000,
            drained=(last_write - min(forwarded)) / 1000,
            waited=time.monotonic() - decided_at,
            cpu=cpu,
            spent=spent,
            written={topic: probe.size(topic) for topic in WRITTEN},
            timestamp_types=kinds,
        )
    console.print(
        f"{workers} worker(s): {result.events_per_s:,.0f} events/s, "
        f"{result.decisions_per_s:,.0f} decisions/s over {result.window:.1f} s "
        f"(start and join {result.startup:.1f} s); every stage caught up after "
        f"{result.drained:.1f} s: {result.drained_per_s:,.0f} events/s"
    )
    return result


def check_alive(cluster: LocalCluster) -> None:
    """The workers (LocalCluster says which exited, with its log) and the broker too."""
    cluster.check_workers()
    process = cluster.broker.process if cluster.broker is not None else None
    if process is not None and process.poll() is not None:
        raise RuntimeError(f"the broker exited with {process.returncode} (killed from outside?)")


def group_lag(probe: Probe, admin: Any, topics: tuple[str, ...] = STAGE_INPUTS) -> int:
    """Messages of `topics` (by default every stage's input) the workers' group has not
    committed."""
    offsets = admin.list_group_offsets(GROUP).get(GROUP, {})
    committed = {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}
    return sum(
        max(0, end - committed.get((topic, p), 0))
        for topic in topics
        for p, end in probe.end_offsets(topic).items()
    )


def wait_caught_up(cluster: LocalCluster, timeout: float) -> None:
    """Until every stage has committed all its input: the watch stage runs behind decide."""
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap)
    try:
        with Probe(cluster.bootstrap) as probe:
            deadline = time.monotonic() + timeout
            while (lag := group_lag(probe, admin)) > 0:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{lag:,} messages not processed\n{cluster.logs()}")
                check_alive(cluster)
                time.sleep(1.0)
    finally:
        admin.close()


# -- latency at an offered rate -------------------------------------------------------------


@dataclass
class Step:
    rate: float
    seconds: float
    offered: int = 0
    paid: list[str] = field(default_factory=list)  # order ids first paid in this step
    delays: list[float] = field(default_factory=list)  # ms, record timestamps
    lag: list[tuple[float, int]] = field(default_factory=list)  # (s, committed lag on orders)
    # (s, paid and not decided by then), by record timestamps: the reader's pace plays no part
    backlog: list[tuple[float, int]] = field(default_factory=list)
    clock: list[tuple[float, int]] = field(default_factory=list)  # (s, wall clock ms) sampled
    undecided: int = 0  # DRAIN seconds after the step
    exhausted: bool = False

    def pct(self, q: float, values: list[float] | None = None) -> float:
        ordered = sorted(self.delays if values is None else values)
        if not ordered:
            return math.nan
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    @staticmethod
    def slope(series: list[tuple[float, int]]) -> float:
        if len(series) < 3:
            return math.nan
        xs, ys = zip(*series, strict=True)
        return statistics.linear_regression(xs, [float(y) for y in ys]).slope

    @property
    def limit(self) -> float:
        return max(10.0, GROWTH * self.rate)

    @property
    def sustained(self) -> bool:
        slopes = (self.slope(self.lag), self.slope(self.backlog))
        return (
            not self.exhausted
            and self.undecided == 0
            and bool(self.delays)
            and self.pct(0.99) < P99_LIMIT_MS
            and all(not math.isnan(s) and s <= self.limit for s in slopes)
        )

    def summary(self) -> str:
        if not self.paid:
            return "no paid order offered" + (" (the data ran out)" if self.exhausted else "")
        undecided = f"; {self.undecided:,} undecided {DRAIN:g} s after" if self.undecided else ""
        return (
            f"p50 {self.pct(0.5):.0f} / p90 {self.pct(0.9):.0f} / p99 {self.pct(0.99):.0f} / "
            f"max {self.pct(1.0):.0f} ms{self.by_window()}; lag {self.slope(self.lag):+.1f}/s, "
            f"undecided {self.slope(self.backlog):+.1f}/s (growing above {self.limit:.0f}/s)"
            f"{undecided}"
        )

    def windows(self) -> list[float]:
        """p99 over each WINDOW seconds of the step (orders were offered at an even pace):
        whether the delay grows as the run goes on, which one figure for the run hides."""
        count = max(1, int(self.seconds // WINDOW))
        size = math.ceil(len(self.delays) / count)
        return [self.pct(0.99, self.delays[n : n + size]) for n in range(0, len(self.delays), size)]

    def by_window(self) -> str:
        """The windows' p99 as text ("" on a step of one window)."""
        windows = self.windows()
        if len(windows) < 2:
            return ""
        return f"; p99 by {self.seconds / len(windows):g} s window: " + ", ".join(
            f"{p:,.0f}" for p in windows
        )


class Offering:
    """A producer that offers events at a rate, and a reader of what they lead to on `output`.

    The reader polls every READ_EVERY seconds, not continuously: delays come from record
    timestamps, so its pace does not change them, and on tansu every fetch that finds data
    costs the broker a listing of the partition's every stored batch (benchmarks/broker.py):
    a reader polling as fast as it can would load the broker it measures.
    """

    def __init__(
        self,
        bootstrap: str,
        source: Iterator[bytes],
        paid_before: frozenset[str],
        lag: Callable[[], int],
        output: str = "decisions",
    ) -> None:
        self.bootstrap = bootstrap
        self.source = source
        self.paid_before = paid_before  # decided already: a repeated payment gets no decision
        self.lag = lag  # messages offered and not yet processed, as the consumer under test says
        self.output = output
        self.paid_at: dict[str, int] = {}  # order id -> its order_paid record timestamp (ms)
        self.decided: dict[str, int] = {}  # order id -> its output's record timestamp (ms)
        self.timestamp_types: set[int] = set()

    async def __aenter__(self) -> Offering:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

        self.producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5, acks="all")
        self.consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None)
        await self.producer.start()
        await self.consumer.start()
        decided = end_offsets(self.bootstrap, self.output)
        parts = [TopicPartition(self.output, p) for p in decided]
        self.consumer.assign(parts)
        for tp in parts:
            self.consumer.seek(tp, decided[tp.partition])
        self.reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.reader.cancel()
        try:
            await self.reader
        except asyncio.CancelledError:
            pass
        finally:
            await self.producer.stop()
            await self.consumer.stop()

    async def _read(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=100)
            for records in batches.values():
                for record in records:
                    out = orjson.loads(record.value)
                    # a decision is for a payment; the raw relay writes one per event
                    if out.get("event_type", "order_paid") != "order_paid":
                        continue
                    self.decided.setdefault(out["order_id"], record.timestamp)
                    self.timestamp_types.add(record.timestamp_type)
            await asyncio.sleep(READ_EVERY)

    async def _sample(self, step: Step, started: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            lag = await asyncio.to_thread(self.lag)
            at = loop.time() - started
            if at <= step.seconds:  # the trend is judged while offering, not while draining
                step.lag.append((at, lag))
                step.clock.append((at, int(time.time() * 1000)))
            await asyncio.sleep(1.0 - (loop.time() - started) % 1.0)

    async def step(self, rate: float, seconds: float) -> Step:
        step = Step(rate, seconds)
        loop = asyncio.get_running_loop()
        started = loop.time()
        sampler = asyncio.create_task(self._sample(step, started))
        try:
            tick = 0
            while not step.exhausted and tick * TICK < seconds:
                due = round(rate * min((tick + 1) * TICK, seconds))
                while step.offered < due:
                    raw = next(self.source, None)
                    if raw is None:
                        step.exhausted = True
                        break
                    event = orjson.loads(raw)
                    at = int(time.time() * 1000)
                    await self.producer.send(
                        "orders", raw, key=message_key("orders", raw), timestamp_ms=at
                    )
                    step.offered += 1
                    order_id = event.get("order_id")
                    if (
                        event.get("event_type") == "order_paid"
                        and order_id not in self.paid_at
                        and order_id not in self.paid_before
                    ):
                        self.paid_at[order_id] = at
                        step.paid.append(order_id)
                tick += 1
                await asyncio.sleep(max(0.0, started + tick * TICK - loop.time()))
            await self.producer.flush()
            drain_until = loop.time() + DRAIN
            while loop.time() < drain_until and any(o not in self.decided for o in step.paid):
                await asyncio.sleep(0.1)
        finally:
            sampler.cancel()
            try:
                await sampler
            except asyncio.CancelledError:
                pass
        for since, wall in step.clock:
            waiting = 0
            for order_id in step.paid:
                if self.paid_at[order_id] > wall:
                    break  # offered in order: the rest came later
                found = self.decided.get(order_id)
                waiting += int(found is None or found > wall)
            step.backlog.append((since, waiting))
        for order_id in step.paid:
            found = self.decided.get(order_id)
            if found is None:
                step.undecided += 1
                continue
            step.delays.append(found - self.paid_at[order_id])
        return step


class GroupLag:
    """Messages on `orders` the workers' group has not committed: its offsets, the ends."""

    def __init__(self, bootstrap: str) -> None:
        from kafka.admin import KafkaAdminClient

        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        self.probe = Probe(bootstrap)

    def __call__(self) -> int:
        return group_lag(self.probe, self.admin, ("orders",))

    def close(self) -> None:
        self.admin.close()
        self.probe.consumer.close()


async def offer_to_workers(
    cluster: LocalCluster, data: Data, rate: float, seconds: float
) -> tuple[Step, set[int]]:
    """The workers, caught up, offered `rate` events/s for `seconds`: decisions read back."""
    await asyncio.to_thread(wait_caught_up, cluster, 300)
    lag = GroupLag(cluster.bootstrap)
    try:
        async with Offering(cluster.bootstrap, data.tail(), data.head_paid, lag) as offering:
            step = await offering.step(rate, seconds)
            return step, offering.timestamp_types
    finally:
        lag.close()


class Relay:
    """The raw loop as a service: consumes `orders` from its end, produces one message per
    event to `out` (its order id and event type), with the workers' fetch wait; the baseline
    for the delay at an offered rate, on a broker holding the same pre-load."""

    def __init__(self, bootstrap: str, out: str, batch_bytes: int) -> None:
        self.bootstrap = bootstrap
        self.out = out
        self.batch_bytes = batch_bytes
        self.done: dict[int, int] = {}  # orders partition -> next offset to process

    async def run(self, ready: asyncio.Event) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

        from riskmon.settings import load_settings

        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=load_settings().kafka_fetch_wait_ms,
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            linger_ms=5,
            acks="all",
            max_batch_size=self.batch_bytes,
        )
        await consumer.start()
        await producer.start()
        try:
            parts = [TopicPartition("orders", p) for p in consumer.partitions_for_topic("orders")]
            consumer.assign(parts)
            await consumer.seek_to_end(*parts)
            for tp in parts:
                self.done[tp.partition] = await consumer.position(tp)
            ready.set()
            while True:
                batches = await consumer.getmany(timeout_ms=1000)
                for tp, records in batches.items():
                    for record in records:
                        event = orjson.loads(record.value)
                        out = {
                            "order_id": event["order_id"],
                            "event_id": event["event_id"],
                            "event_type": event["event_type"],
                        }
                        await producer.send(self.out, orjson.dumps(out), key=record.key)
                    self.done[tp.partition] = records[-1].offset + 1
        finally:
            await producer.stop()
            await consumer.stop()

    def lag(self, probe: Probe) -> int:
        ends = probe.end_offsets("orders")
        return sum(max(0, end - self.done.get(p, end)) for p, end in ends.items())


async def offer_to_relay(bootstrap: str, data: Data, rate: float, seconds: float) -> Step:
    from kafka.admin import KafkaAdminClient, NewTopic

    out = f"{RAW_TOPIC}-relay"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(out, 8, 1)])
    finally:
        admin.close()
    relay = Relay(bootstrap, out, 64 << 10)
    ready = asyncio.Event()
    task = asyncio.create_task(relay.run(ready))
    probe = Probe(bootstrap)
    try:
        await asyncio.wait_for(ready.wait(), 30)
        lag = partial(relay.lag, probe)
        async with Offering(bootstrap, data.tail(), data.head_paid, lag, out) as offering:
            return await offering.step(rate, seconds)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        probe.consumer.close()


def rates_to_try(args: argparse.Namespace, tried: list[Step]) -> float | None:
    """The next rate of the search: doubling or halving, then halving the gap; None: done."""
    passed = [s.rate for s in tried if s.sustained]
    failed = [s.rate for s in tried if not s.sustained]
    low, high = max(passed, default=None), min(failed, default=None)
    if high is None:
        rate = 2 * (low or args.rate)
    elif low is None:
        rate = high / 2
    elif high > low * 1.15:
        rate = (low + high) / 2
    else:
        return None
    if not args.rate / 16 <= rate <= 4 * args.rate:
        return None
    return round(rate)


# -- report ---------------------------------------------------------------------------------


def revision() -> str:
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "streams", "riskmon", "detectors", "schemas"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        head = ""
    if not head:
        return "(not a git checkout)"
    return f"{head}{' with uncommitted changes' if dirty else ''}"


def batch_bytes(args: argparse.Namespace) -> str:
    if args.batch_bytes is not None:
        return f"{args.batch_bytes} (--batch-bytes)"
    from riskmon.settings import load_settings

    return f"{getattr(load_settings(), 'kafka_batch_bytes', 'unset')} (settings)"


def report(
    args: argparse.Namespace,
    data: Data,
    raws: list[Raw],
    relay: Step,
    runs: list[Throughput],
    again: list[Throughput],
    main: Step,
    steps: list[Step],
    kinds: set[int],
    loads: tuple[float, float],
) -> Table:
    command = shlex.join(["python", "benchmarks/stream.py", *sys.argv[1:]])
    table = Table(title=f"riskmon streaming on the embedded broker: {command}")
    table.add_column("figure", no_wrap=True)
    table.add_column("value", justify="right")
    table.add_column("how", overflow="fold")
    ceiling = raws[0].rate
    plural = {1: "1 worker", 2: "2 workers"}

    table.add_row("data", f"{data.events:,} events", f"pre-loaded; {data.decisions:,} paid orders")
    for raw in raws:
        table.add_row(
            raw.label, f"{raw.rate:,.0f} ev/s", f"{raw.events:,} events in {raw.seconds:.2f} s"
        )
    for run in runs:
        cpu = ", ".join(f"{k} {v / run.spent:.0%}" for k, v in run.cpu.items())
        table.add_row(
            f"{plural[run.workers]}: events/s",
            f"{run.events_per_s:,.0f}",
            f"first message forwarded to the last decision, {run.window:.1f} s; "
            f"{run.events_per_s / ceiling:.1%} of the raw loop, "
            f"{run.events_per_s / raws[-1].rate:.1%} of it at 1 record/batch",
        )
        table.add_row(
            f"{plural[run.workers]}: events/s, every stage",
            f"{run.drained_per_s:,.0f}",
            f"to the last write of any stage once the group has committed all its input, "
            f"{run.drained:.1f} s (watch ran {run.waited:.1f} s past the last decision); "
            f"{run.drained_per_s / ceiling:.1%} of the raw loop",
        )
        table.add_row(
            f"{plural[run.workers]}: decisions/s",
            f"{run.decisions_per_s:,.0f}",
            f"{run.decisions:,} of {run.expected:,} expected; start and join "
            f"{run.startup:.1f} s (not counted); CPU until caught up: {cpu}",
        )
        table.add_row(
            f"{plural[run.workers]}: worker CPU per event",
            f"{run.worker_cpu_us:,.0f} µs",
            f"user + system, every stage: one core's worth is "
            f"{1e6 / run.worker_cpu_us:,.0f} events/s",
        )
    if again:
        table.add_row(
            "1 worker: events/s, the search's runs",
            ", ".join(f"{run.events_per_s:,.0f}" for run in again),
            "the same pre-load on a fresh broker before each rate tried",
        )
    table.add_row("2 workers against 1", f"{runs[1].events_per_s / runs[0].events_per_s:.2f}x", "")
    one = runs[0]
    per_event = {t: n / one.events for t, n in one.written.items() if n}
    table.add_row(
        "messages the workers write per event",
        f"{sum(per_event.values()):.2f}",
        ", ".join(f"{t} {v:.2f}" for t, v in per_event.items()),
    )
    table.add_row(
        "topic hops to a decision",
        "2",
        f"orders -> {DECIDE_TOPIC} -> decisions ({one.written[DECIDE_TOPIC]:,} of "
        f"{one.events:,} events crossed {DECIDE_TOPIC})",
    )
    table.add_row(
        "topic hops to a behavioural alert",
        "3",
        f"orders -> {DECIDE_TOPIC} -> {WATCH_TOPIC} -> alerts",
    )
    types = "/".join({0: "CreateTime", 1: "LogAppendTime"}.get(k, str(k)) for k in sorted(kinds))
    table.add_row(
        f"delay at {main.rate:,.0f} ev/s: p50/p90/p99/max",
        f"{main.pct(0.5):,.0f}/{main.pct(0.9):,.0f}/{main.pct(0.99):,.0f}/{main.pct(1.0):,.0f} ms",
        f"{len(main.delays):,} paid orders over {main.seconds:g} s; record timestamps "
        f"({types}), order_paid to decision{main.by_window()}",
    )
    table.add_row(
        f"raw relay at {relay.rate:,.0f} ev/s: p50/p90/p99/max",
        f"{relay.pct(0.5):,.0f}/{relay.pct(0.9):,.0f}/{relay.pct(0.99):,.0f}/"
        f"{relay.pct(1.0):,.0f} ms",
        f"the raw loop as a service on a broker with the same pre-load: order_paid to its "
        f"message, one hop{relay.by_window()}; lag {relay.slope(relay.lag):+,.1f}/s; the "
        f"workers' p99 is "
        f"{main.pct(0.99) / relay.pct(0.99):.1f}x its p99 "
        f"(+{main.pct(0.99) - relay.pct(0.99):,.0f} ms)",
    )
    lags = [lag for _, lag in main.lag] or [0]
    table.add_row(
        f"lag of group {GROUP} on orders at {main.rate:,.0f} ev/s",
        f"{main.slope(main.lag):+,.1f}/s",
        f"fitted slope, {len(main.lag)} samples a second apart (mean {statistics.fmean(lags):,.0f},"
        f" max {max(lags):,}); undecided orders {main.slope(main.backlog):+,.1f}/s; "
        f"growing above {main.limit:.0f}/s",
    )
    table.add_row(
        f"{main.rate:,.0f} ev/s sustained",
        "yes" if main.sustained else "no",
        f"p99 under {P99_LIMIT_MS:.0f} ms, neither lag growing, every order decided "
        f"within {DRAIN:g} s of the end ({main.undecided:,} not)",
    )
    for step in steps:
        table.add_row(
            f"  tried {step.rate:,.0f} ev/s for {step.seconds:g} s",
            "sustained" if step.sustained else "not sustained",
            step.summary(),
        )
    best = max((s.rate for s in (main, *steps) if s.sustained), default=None)
    table.add_row(
        "highest sustained rate",
        f"{best:,.0f} ev/s" if best is not None else "none of those tried",
        f"{best / ceiling:.2%} of the raw loop ({ceiling:,.0f} ev/s)" if best else "",
    )
    table.caption = (
        f"{os.cpu_count()} cores, load average {loads[0]:.2f} at the start, {loads[1]:.2f} at "
        f"the end; riskmon {revision()}; worker producer batch bytes {batch_bytes(args)}"
    )
    return table


def _interrupted(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt  # unwinds through the clusters, which stop what they started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000, help="pre-loaded for throughput")
    parser.add_argument("--rate", type=float, default=1000, help="offered events/s")
    parser.add_argument("--duration", type=float, default=30, help="seconds at --rate")
    parser.add_argument("--search-duration", type=float, default=15, help="seconds per rate")
    parser.add_argument("--search-steps", type=int, default=6, help="rates tried after --rate")
    parser.add_argument(
        "--batch-bytes", type=int, help="the workers' RISKMON_KAFKA_BATCH_BYTES (default: theirs)"
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--workdir", type=Path, help="keep the data and worker logs here")
    args = parser.parse_args()
    if args.quick:
        args.events, args.rate, args.duration = 600, 50, 3
        args.search_duration, args.search_steps = 3, 1
    signal.signal(signal.SIGTERM, _interrupted)
    console = Console()
    if not console.is_terminal:
        console.width = 160  # not 80: the table's notes would wrap into a column of words
    load_before = os.getloadavg()[0]
    env = {} if args.batch_bytes is None else {"RISKMON_KAFKA_BATCH_BYTES": str(args.batch_bytes)}
    # every rate starts from the same first offered event; the search goes up to 4x --rate
    offered = math.ceil(4 * args.rate * max(args.duration, args.search_duration))
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        data = prepare(workdir / "data", args.events, offered, args.seed)
        console.print(
            f"data: {data.lines:,} event lines; the first {data.events:,} ({data.decisions:,} "
            f"paid orders) pre-loaded, the rest offered at a rate"
        )
        raws, relay = ceiling(workdir, data, args, console)
        with LocalCluster(workdir / "one-worker", env=env, worker_args=INFO) as cluster:
            one = throughput(cluster, data, 1, console)
            main_step, kinds = asyncio.run(
                offer_to_workers(cluster, data, args.rate, args.duration)
            )
        console.print(
            f"latency at {args.rate:,.0f} events/s for {args.duration:g} s: {main_step.summary()}"
        )
        # each rate on a fresh broker after the same pre-load: on tansu a fetch costs more as
        # the partitions hold more batches (benchmarks/broker.py), so rates tried one after
        # another on one broker would each meet an older, slower broker than the last
        steps: list[Step] = []
        again: list[Throughput] = []
        for n in range(args.search_steps):
            rate = rates_to_try(args, [main_step, *steps])
            if rate is None:
                break
            with LocalCluster(workdir / f"rate-{n}", env=env, worker_args=INFO) as cluster:
                again.append(throughput(cluster, data, 1, console))
                step, _ = asyncio.run(offer_to_workers(cluster, data, rate, args.search_duration))
            steps.append(step)
            verdict = "sustained" if step.sustained else "not sustained"
            console.print(
                f"  {step.rate:,.0f} events/s for {step.seconds:g} s: {verdict}; {step.summary()}"
            )
            if step.exhausted:
                break
        with LocalCluster(workdir / "two-workers", env=env, worker_args=INFO) as cluster:
            two = throughput(cluster, data, 2, console)
    loads = (load_before, os.getloadavg()[0])
    kinds |= one.timestamp_types
    # as streams/app.py says, and as the run shows: every event crossed riskmon-decide once
    console.print(
        f"topic hops to a decision: 2 (orders -> {DECIDE_TOPIC} -> decisions); "
        f"to a behavioural alert: 3 (orders -> {DECIDE_TOPIC} -> {WATCH_TOPIC} -> alerts)"
    )
    console.print(
        report(args, data, raws, relay, [one, two], again, main_step, steps, kinds, loads)
    )


if __name__ == "__main__":
    main()
