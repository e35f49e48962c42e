"""`riskmon demo`: a broker, a worker, and simulated traffic fed at a steady rate, watched live.

The simulator writes a few days at a time (every pattern appears in each chunk); a feeder
thread sends them to `orders` at `rate` events per second, chunk after chunk with the days
moving on, until Ctrl-C or `duration`. The screen shows what comes out of the topics.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from schemas.pseudonyms import mask_hash
from simulation.generator import generate
from streams.local import LocalCluster

PLAIN_EVERY = 5.0  # seconds between the plain lines written when the output is not a terminal


@dataclass
class Feed:
    """The feeder's progress, read by the screen."""

    sent: int = 0
    chunks: int = 0
    days: str = ""
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


def _feed(
    cluster: LocalCluster,
    folder: Path,
    seed: int,
    days: int,
    rate: float,
    feed: Feed,
    stop: threading.Event,
) -> None:
    from kafka import KafkaProducer

    from streams.clients import message_key

    producer = KafkaProducer(bootstrap_servers=cluster.bootstrap, linger_ms=5, batch_size=1)
    start = date(2026, 7, 1)
    try:
        chunk = 0
        while not stop.is_set():
            out = folder / f"chunk-{chunk}"
            first = start + timedelta(days=chunk * days)
            # one registry for the whole run: the first chunk's catalog, produced before the
            # worker started, holds every SKU of every chunk at the same price
            generate(
                seed + chunk,
                days,
                out,
                start=first,
                bad_lines=2,
                catalog_seed=seed,
                catalog_start=start,
            )
            feed.days = f"{first:%m-%d} .. {first + timedelta(days=days - 1):%m-%d}"
            began = time.monotonic()
            sent_here = 0
            with (out / "events.jsonl").open("rb") as handle:
                for line in handle:
                    raw = line.rstrip(b"\r\n")
                    if not raw.strip():
                        continue
                    if stop.is_set():
                        return
                    producer.send("orders", value=raw, key=message_key("orders", raw))
                    sent_here += 1
                    feed.sent += 1
                    ahead = sent_here / rate - (time.monotonic() - began)
                    if ahead > 0.01:  # paced in small bursts: steady, not one flood
                        time.sleep(ahead)
            producer.flush()
            feed.chunks += 1
            chunk += 1
    except Exception as exc:  # the screen says so, rather than a silent thread
        feed.error = f"{type(exc).__name__}: {exc}"
    finally:
        producer.close()
        feed.done.set()


class Screen:
    """Counters and the newest alerts, from the output topics."""

    def __init__(self, cluster: LocalCluster, feed: Feed, launched: float) -> None:
        self.cluster = cluster
        self.feed = feed
        self.launched = launched  # when the command started, for "alerts within 30 s"
        self.decisions: Counter[str] = Counter()
        self.alerts: Counter[str] = Counter()
        self.by_detector: Counter[str] = Counter()
        self.dead: Counter[str] = Counter()
        self.newest: deque[dict[str, Any]] = deque(maxlen=12)
        self.seen_alerts: set[str] = set()
        self.started = time.monotonic()
        self.first_alert: float | None = None
        self._read = {t: 0 for t in ("decisions", "alerts", "dead-letter")}

    def poll(self) -> None:
        for topic in self._read:
            reader = self.cluster.reader(topic)
            reader.poll(0.05)
            for value in reader.values[self._read[topic] :]:
                self._take(topic, orjson.loads(value))
            self._read[topic] = len(reader.values)

    def _take(self, topic: str, record: dict[str, Any]) -> None:
        if topic == "decisions":
            self.decisions[record["decision"]] += 1
        elif topic == "dead-letter":
            self.dead[record["reason"]] += 1
        elif record["alert_id"] not in self.seen_alerts:  # redelivered alerts count once
            self.seen_alerts.add(record["alert_id"])
            self.alerts[record["risk"]] += 1
            self.by_detector[record["detector"]] += 1
            self.newest.append(record)
            # the newest by event time, not by arrival: the watch stage and the models send
            # theirs a moment after the decide stage's
            ordered = sorted(self.newest, key=lambda a: a["raised_at"], reverse=True)
            self.newest = deque(ordered, maxlen=self.newest.maxlen)
            if self.first_alert is None:
                self.first_alert = time.monotonic() - self.launched

    def line(self) -> str:
        """The counters on one line, for an output that is not a terminal (a file, a pipe)."""
        elapsed = time.monotonic() - self.started
        top = ", ".join(f"{k} {v:,}" for k, v in self.by_detector.most_common(4))
        return (
            f"{elapsed:6.0f} s  sent {self.feed.sent:,}  decided {sum(self.decisions.values()):,}"
            f" ({', '.join(f'{k} {v:,}' for k, v in sorted(self.decisions.items()))})"
            f"  alerts {sum(self.alerts.values()):,} ({top})"
            f"  dead letters {sum(self.dead.values()):,}"
        )

    def render(self) -> Group:
        elapsed = time.monotonic() - self.started
        decided = sum(self.decisions.values())
        counters = Table(title="riskmon live", title_justify="left", show_header=False)
        counters.add_column(style="bold")
        counters.add_column(justify="right")
        counters.add_row("running", f"{elapsed:,.0f} s")
        counters.add_row("simulated days", self.feed.days or "-")
        counters.add_row("events sent to orders", f"{self.feed.sent:,}")
        counters.add_row(
            "orders decided",
            f"{decided:,}  " + "  ".join(f"{k} {v:,}" for k, v in sorted(self.decisions.items())),
        )
        counters.add_row(
            "alerts",
            f"{sum(self.alerts.values()):,}  "
            + "  ".join(f"{k} {v:,}" for k, v in sorted(self.alerts.items())),
        )
        counters.add_row(
            "dead letters",
            f"{sum(self.dead.values()):,}  "
            + "  ".join(f"{k} {v:,}" for k, v in sorted(self.dead.items())),
        )
        if self.first_alert is not None:
            counters.add_row("first alert", f"{self.first_alert:.1f} s after the start")
        if self.feed.error:
            counters.add_row("[red]feeder stopped[/red]", self.feed.error)
        newest = Table(title="newest alerts", title_justify="left")
        for column in ("raised at", "detector", "risk", "severity", "action", "entity", "orders"):
            newest.add_column(column)
        newest.add_column("at risk", justify="right")
        for alert in self.newest:
            entity = alert["entity"]
            newest.add_row(
                alert["raised_at"][5:16].replace("T", " "),
                alert["detector"],
                alert["risk"],
                alert["severity"],
                alert["action"],
                f"{entity['type']} {_shown(entity['key'])}",
                str(len(alert["order_ids"])),
                f"{alert['subsidy_at_risk']:,.2f}",
            )
        return Group(counters, newest)


def _shown(key: str) -> str:
    """Pseudonyms masked (a person's); merchant, device and code ids as they are."""
    return mask_hash(key) if len(key) == 64 and all(c in _HEX for c in key) else key


_HEX = frozenset("0123456789abcdef")


def run_demo(
    folder: Path,
    *,
    seed: int,
    days: int,
    rate: float,
    duration: float | None,
    bootstrap: str | None,
    console: Console,
) -> Screen:
    """Until Ctrl-C or `duration` seconds; stops everything it started."""
    launched = time.monotonic()
    folder.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    feed = Feed()
    console.print("starting the broker..." if bootstrap is None else f"broker {bootstrap}")
    # the simulated days run far faster than the clock: after half an hour their events are
    # "in the future" of their records' append time, a check the demo turns off
    env = {"RISKMON_FUTURE_TOLERANCE_S": "0"}
    with LocalCluster(
        folder / "cluster", bootstrap=bootstrap, watch_partitions=8, env=env
    ) as cluster:
        first = folder / "chunk-0"
        start = date(2026, 7, 1)
        generate(
            seed, days, first, start=start, bad_lines=2, catalog_seed=seed, catalog_start=start
        )
        console.print(f"broker {cluster.bootstrap}; catalog and one worker...")
        cluster.produce(first / "catalog.jsonl", "catalog")
        # no need to wait for the worker to read it: it decides no order before its catalog
        cluster.start_worker("1")
        feeder = threading.Thread(
            target=_feed,
            args=(cluster, folder, seed, days, rate, feed, stop),
            name="feeder",
            daemon=True,
        )
        feeder.start()
        screen = Screen(cluster, feed, launched)

        def running() -> bool:
            return duration is None or time.monotonic() - screen.started < duration

        try:
            if console.is_terminal:
                with Live(screen.render(), console=console, refresh_per_second=4) as live:
                    while running():
                        screen.poll()
                        cluster.check_workers()
                        live.update(screen.render())
            else:  # a file or a pipe: a plain line every few seconds, no redrawn frames
                printed = time.monotonic()
                while running():
                    screen.poll()
                    cluster.check_workers()
                    if time.monotonic() - printed >= PLAIN_EVERY:
                        console.print(screen.line(), soft_wrap=True)
                        printed = time.monotonic()
                console.print(screen.line(), soft_wrap=True)
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            feeder.join(timeout=10)
    return screen
