"""A broker and workers on this machine, as processes: the live demo, the tests, the benchmark.

Every process started here is stopped and waited for (orphans are never reaped on some
machines), and every worker writes its log to a file in the working folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

import orjson

from streams.broker import EmbeddedBroker
from streams.clients import produce
from streams.topics import TOPICS


class LocalCluster:
    """An embedded broker (or an existing one) and riskmon workers as subprocesses."""

    def __init__(
        self,
        workdir: Path,
        *,
        partitions: int | None = None,
        watch_partitions: int = 8,
        bootstrap: str | None = None,
        worker_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        topics = TOPICS
        if partitions is not None:  # every input and output topic with this many
            topics = tuple(
                replace(t, partitions=partitions if t.partitions > 1 else 1) for t in TOPICS
            )
        self.broker = EmbeddedBroker(topics=topics) if bootstrap is None else None
        self.bootstrap = bootstrap or ""
        self.watch_partitions = watch_partitions
        self.worker_args = worker_args
        self.env = env or {}
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, IO[bytes]] = {}
        self._readers: dict[str, TopicReader] = {}

    def __enter__(self) -> LocalCluster:
        if self.broker is not None:
            self.bootstrap = self.broker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        log = self._logs.get(name)
        if log is None or log.closed:
            log = self._logs[name] = (self.workdir / f"worker-{name}.log").open("ab")
        command = [
            sys.executable,
            "-m",
            "riskmon",
            "worker",
            "--kafka",
            self.bootstrap,
            "--watch-partitions",
            str(self.watch_partitions),
            *self.worker_args,
        ]
        # several workers on one machine: /metrics only where a test or the demo asks for it
        env = {**os.environ, "RISKMON_METRICS_PORT": "0", **self.env}
        process = subprocess.Popen(  # noqa: S603 - our own command line
            command, stdout=log, stderr=subprocess.STDOUT, env=env
        )
        self.workers[name] = process
        return process

    def kill_worker(self, name: str, signum: int = signal.SIGKILL) -> None:
        process = self.workers.pop(name)
        process.send_signal(signum)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def produce(self, path: Path, topic: str) -> int:
        return produce(path, topic, self.bootstrap)

    def reader(self, topic: str) -> TopicReader:
        """A reader of `topic` from its beginning, kept for the cluster's life."""
        reader = self._readers.get(topic)
        if reader is None:
            reader = self._readers[topic] = TopicReader(self.bootstrap, topic)
        return reader

    def count(self, topic: str) -> int:
        """Messages read from a topic so far (its end offsets are not a count on every broker:
        tansu numbers batches, not records)."""
        reader = self.reader(topic)
        reader.poll()
        return len(reader.values)

    def wait_for(
        self, topic: str, predicate: Callable[[int], bool], timeout: float, what: str = ""
    ) -> int:
        """Read a topic until `predicate(messages)`; raises TimeoutError with the workers' logs."""
        deadline = time.monotonic() + timeout
        while True:
            size = self.count(topic)
            if predicate(size):
                return size
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{what or topic}: {size} messages after {timeout:g} s\n{self.logs()}"
                )
            self.check_workers()

    def read(self, topic: str, idle: float = 2.0) -> list[dict[str, Any]]:
        """Every message of a topic (JSON), reading until `idle` seconds bring nothing new."""
        reader = self.reader(topic)
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < idle:
            if reader.poll():
                quiet_since = time.monotonic()
        return [orjson.loads(value) for value in reader.values]

    def assignment(self, name: str) -> list[int]:
        """The `orders` partitions worker `name` held after its last rebalance, from its log
        (the worker must log at info level)."""
        log = self.workdir / f"worker-{name}.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        lines = [x for x in text.splitlines() if "assigned orders partitions" in x]
        last = lines[-1].strip().rsplit(" ", 1)[1] if lines else "none"
        return [] if last == "none" else [int(p) for p in last.split(",")]

    def wait_shared(self, names: Sequence[str], partitions: int, timeout: float) -> None:
        """Until the named workers hold every `orders` partition between them, each some and
        none twice: the group has settled (a rebalance in the middle of a measurement, or of a
        kill, would be measured too)."""
        deadline = time.monotonic() + timeout
        while True:
            shares = [self.assignment(name) for name in names]
            held = sorted(p for share in shares for p in share)
            if all(shares) and held == list(range(partitions)):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"orders partitions held: {shares}\n{self.logs()}")
            self.check_workers()
            time.sleep(0.5)

    def check_workers(self) -> None:
        for name, process in self.workers.items():
            if process.poll() is not None:
                raise RuntimeError(f"worker {name} exited with {process.returncode}\n{self.logs()}")

    def logs(self, lines: int = 40) -> str:
        out = []
        for name in self._logs:
            path = self.workdir / f"worker-{name}.log"
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- worker {name} ---\n" + "\n".join(text))
        return "\n".join(out)

    def close(self) -> None:
        for name in list(self.workers):
            self.kill_worker(name, signal.SIGTERM)
        for reader in self._readers.values():
            reader.close()
        for log in self._logs.values():
            log.close()
        if self.broker is not None:
            self.broker.stop()


class TopicReader:
    """Every message of one topic, from the beginning, read as it comes (no consumer group)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        from kafka import KafkaConsumer

        self.topic = topic
        self.values: list[bytes] = []
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_bytes=64 << 20,
            max_partition_fetch_bytes=64 << 20,
        )
        self._assigned = False

    def poll(self, timeout: float = 0.2) -> int:
        """Read what has come; returns how many messages that was."""
        if not self._assigned and not self._assign():
            time.sleep(timeout)
            return 0
        got = 0
        for messages in self.consumer.poll(timeout_ms=int(timeout * 1000)).values():
            self.values.extend(m.value for m in messages)
            got += len(messages)
        return got

    def _assign(self) -> bool:
        from kafka import TopicPartition

        self.consumer._client.cluster.request_update()  # the topic may be new
        parts = self.consumer.partitions_for_topic(self.topic)
        if not parts:
            return False
        tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
        self.consumer.assign(tps)
        self.consumer.seek_to_beginning(*tps)
        self._assigned = True
        return True

    def close(self) -> None:
        self.consumer.close()
