"""The decision API under load: `riskmon console` (uvicorn, one process) and an async client.

A simulated week: the first days go into a SQLite store through the replay (the state the API
decides against), the last day's paid orders are the requests (orders it has not seen). Then:

1. throughput: `--concurrency` clients send back to back for `--seconds`;
2. at a fixed rate: `--rate` requests a second for `--seconds`, each timed from the moment it
   was due to be sent (so a stall counts for every request it holds up), p50/p99/max.

    .venv/bin/python benchmarks/console.py            # prints the figures
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import aiohttp
import orjson

HERE = Path(__file__).resolve().parent


def prepare(folder: Path, days: int, per_day: int) -> tuple[str, str, list[bytes]]:
    """The store of all days but the last, a token, and the last day's order_paid events."""
    from console.auth import add_token
    from replay import Replay
    from reports import migrate
    from reports.db import open_engine
    from reports.observer import StoreObserver
    from reports.writer import StoreWriter
    from schemas.rules import load_rules
    from simulation.generator import generate

    generate(7, days, folder, events_per_day=per_day)
    lines = (folder / "events.jsonl").read_bytes().splitlines()
    # the simulator's days run from the first order on; its last day's orders are asked about
    first = min(orjson.loads(line)["occurred_at"][:10] for line in lines)
    cutoff = (date.fromisoformat(first) + timedelta(days=days - 1)).isoformat()
    earlier = [line for line in lines if orjson.loads(line)["occurred_at"][:10] < cutoff]
    asked = [
        line
        for line in lines
        if orjson.loads(line)["occurred_at"][:10] >= cutoff and b'"order_paid"' in line
    ]
    (folder / "earlier.jsonl").write_bytes(b"\n".join(earlier) + b"\n")
    rules = load_rules()
    url = f"sqlite:///{folder}/store.db"
    engine = open_engine(url)
    try:
        migrate.upgrade(engine)
        Replay(rules, observers=[StoreObserver(StoreWriter(engine), rules)]).run(
            folder / "earlier.jsonl", catalog=folder / "catalog.jsonl"
        )
        with engine.begin() as connection:
            token = add_token(connection, "bench")
    finally:
        engine.dispose()
    return url, token, asked


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def closed_loop(
    url: str, headers: dict[str, str], bodies: list[bytes], concurrency: int, seconds: float
) -> tuple[int, list[float], dict[int, int]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        end = time.perf_counter() + seconds

        async def client(k: int) -> None:
            i = k
            while time.perf_counter() < end:
                body = bodies[i % len(bodies)]
                i += concurrency
                start = time.perf_counter()
                async with session.post(url, data=body) as response:
                    await response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1
                latencies.append(time.perf_counter() - start)

        await asyncio.gather(*(client(k) for k in range(concurrency)))
    return len(latencies), latencies, statuses


async def open_loop(
    url: str, headers: dict[str, str], bodies: list[bytes], rate: float, seconds: float
) -> tuple[list[float], dict[int, int], float]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def one(body: bytes, due: float) -> None:
            async with session.post(url, data=body) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1
            latencies.append(time.perf_counter() - due)

        total = int(rate * seconds)
        tasks = []
        start = time.perf_counter()
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(bodies[i % len(bodies)], due)))
        await asyncio.gather(*tasks)
        took = time.perf_counter() - start
    return latencies, statuses, total / took


def ms(value: float) -> str:
    return f"{value * 1000:.2f} ms"


async def run(args: argparse.Namespace, url: str, token: str, bodies: list[bytes]) -> None:
    decide = f"{url}/api/v1/decide"
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    await closed_loop(decide, headers, bodies, 8, 2.0)  # warm-up
    count, latencies, statuses = await closed_loop(
        decide, headers, bodies, args.concurrency, args.seconds
    )
    print(
        f"throughput, {args.concurrency} clients back to back for {args.seconds:g} s: "
        f"{count / args.seconds:,.0f} requests/s; p50 {ms(statistics.median(latencies))}, "
        f"p99 {ms(percentile(latencies, 0.99))}; statuses {dict(sorted(statuses.items()))}"
    )
    latencies, statuses, achieved = await open_loop(
        decide, headers, bodies, args.rate, args.seconds
    )
    print(
        f"at {args.rate:,.0f} requests/s for {args.seconds:g} s ({len(latencies):,} requests, "
        f"{achieved:,.0f}/s sent): p50 {ms(statistics.median(latencies))}, "
        f"p90 {ms(percentile(latencies, 0.90))}, p99 {ms(percentile(latencies, 0.99))}, "
        f"max {ms(max(latencies))}; statuses {dict(sorted(statuses.items()))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7, help="simulated days (the last: requests)")
    parser.add_argument("--events-per-day", type=int, default=2500)
    parser.add_argument("--rate", type=float, default=1000.0, help="requests/s of phase 2")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--concurrency", type=int, default=32, help="clients of phase 1")
    args = parser.parse_args()
    # this script's own folder comes first on the path, and its name is the console package's
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        store, token, bodies = prepare(folder, args.days, args.events_per_day)
        print(
            f"store: {args.days - 1} simulated days replayed "
            f"({time.perf_counter() - started:.1f} s); {len(bodies):,} paid orders of the "
            f"last day as requests; load average {os.getloadavg()[0]:.2f} on "
            f"{os.cpu_count()} cores"
        )
        from console.serve import ConsoleDidNotStart, served

        try:
            with served(
                ["--catalog", str(folder / "catalog.jsonl")],
                env={"RISKMON_DATABASE_URL": store},
                log=folder / "console.log",
            ) as url:
                # the client's own collector pausing would be timed as the server's latency: what
                # the set-up left is frozen, and the load loops make no cycles worth collecting
                gc.collect()
                gc.freeze()
                gc.disable()
                asyncio.run(run(args, url, token, bodies))
        except ConsoleDidNotStart as exc:
            raise SystemExit(str(exc)) from None


if __name__ == "__main__":
    main()
