"""Checkout authorizations over HTTP on the real broker (issue 17).

A worker with `--api-port` answers `POST /api/v1/authorize`; concurrent checkouts are decided
in the decide stage's one sequence, so a budget line with room for 40 approves exactly 40 of 50,
one qualification code goes to one checkout, a consumer's last quota unit to one; a worker
killed after answering comes back with the reservation there exactly once, and the payment
commits it.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from factories import CATALOG, item, jsonl, line, paid

from schemas.rules import DEFAULT_RULES_PATH
from streams.broker import free_port
from streams.local import LocalCluster

pytestmark = pytest.mark.integration
LOCAL = item("SKU-LS-1", "local_specialty", "200.00")  # 10 %: 20 yuan of subsidy a unit


def rules_with_local_budget(folder: Path, budget: int) -> Path:
    text = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    local = text.index("[programmes.featured_goods.budget_lines.local_specialty]")
    start = text.index("budget = ", local)
    end = text.index("\n", start)
    path = folder / "rules.toml"
    path.write_text(text[:start] + f"budget = {budget}" + text[end:], encoding="utf-8")
    return path


class Service:
    """A broker, a store with an API token, one worker serving the API."""

    def __init__(self, folder: Path, budget: int) -> None:
        from console.auth import add_token
        from reports import migrate
        from reports.db import open_engine

        self.folder = folder
        url = f"sqlite:///{folder / 'store.db'}"
        engine = open_engine(url)
        migrate.upgrade(engine)
        with engine.begin() as connection:
            self.token = add_token(connection, "platform")
        engine.dispose()
        self.port = free_port()
        self.cluster = LocalCluster(
            folder,
            partitions=1,
            watch_partitions=1,
            worker_args=("--api-port", str(self.port)),
            env={
                "RISKMON_DATABASE_URL": url,
                "RISKMON_RULES": str(rules_with_local_budget(folder, budget)),
                "RISKMON_API_DEADLINE_MS": "1000",  # the tests' machine may be slow; 200 by default
            },
        )
        self.url = f"http://127.0.0.1:{self.port}/api/v1/authorize"

    def __enter__(self) -> Service:
        self.cluster.__enter__()
        catalog = self.folder / "catalog.jsonl"
        catalog.write_bytes(jsonl(CATALOG))
        self.cluster.produce(catalog, "catalog")
        self.start()
        return self

    def start(self) -> None:
        self.cluster.start_worker("a")
        asyncio.run(self._until_ready(90))

    async def _until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        health = self.url.replace("authorize", "health")
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                try:
                    async with session.get(health) as answer:
                        if answer.status == 200 and (await answer.json())["ready"]:
                            return
                except aiohttp.ClientError:
                    pass
                self.cluster.check_workers()
                await asyncio.sleep(0.5)
        raise TimeoutError(f"the API did not come up\n{self.cluster.logs()}")

    def __exit__(self, *exc: object) -> None:
        self.cluster.__exit__(*exc)

    def ask(self, events: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
        """Checkouts sent all at once; their statuses and answers, in order."""

        async def send(session: aiohttp.ClientSession, event: dict[str, Any]) -> Any:
            headers = {"Authorization": f"Bearer {self.token}"}
            async with session.post(self.url, data=line(event), headers=headers) as answer:
                return answer.status, orjson.loads(await answer.read())

        async def all_at_once() -> list[tuple[int, dict[str, Any]]]:
            async with aiohttp.ClientSession() as session:
                return list(await asyncio.gather(*(send(session, e) for e in events)))

        return asyncio.run(all_at_once())


def checkout(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "event_type": "order_checkout", "event_id": f"ck-{event['event_id']}"}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with Service(tmp_path_factory.mktemp("checkout"), budget=800) as running:  # room for 40
        yield running


def test_fifty_concurrent_checkouts_against_room_for_forty_get_forty(service: Service) -> None:
    events = [
        checkout(paid(f"race{n}", at=n * 0.001, items=[LOCAL], subsidy="20.00")) for n in range(50)
    ]
    answers = service.ask(events)
    assert {status for status, _ in answers} == {200}, answers[:3]
    approved = [a for _, a in answers if a["decision"] == "approve"]
    assert len(approved) == 40
    assert all(Decimal(a["allowed_subsidy"]) == 20 for a in approved)


def test_two_checkouts_on_one_code_get_one_approval(service: Service) -> None:
    code = {"code": "GDQ-shared-7", "verified": True}
    events = [checkout(paid(f"code{n}", at=1 + n * 0.001, qualification=code)) for n in range(2)]
    decisions = sorted(a["decision"] for _, a in service.ask(events))
    assert decisions.count("approve") == 1


def test_a_consumers_last_quota_unit_is_given_once(service: Service) -> None:
    events = [
        checkout(
            paid("quota", at=2 + n * 0.001, qualification={"code": f"GDQ-q{n}", "verified": True})
        )
        for n in range(3)
    ]
    decisions = [a["decision"] for _, a in service.ask(events)]
    assert decisions.count("approve") == 1


def test_a_killed_worker_keeps_its_reservation_once_and_the_payment_commits_it(
    tmp_path: Path,
) -> None:
    with Service(tmp_path, budget=20) as running:  # room for one local specialty unit
        first = paid("kept", at=0, items=[LOCAL], subsidy="20.00")
        [(status, answer)] = running.ask([checkout(first)])
        assert status == 200 and answer["decision"] == "approve"
        running.cluster.kill_worker("a", signal.SIGKILL)  # after the answer, before payment
        time.sleep(11)  # the dead member's session ends (10 s) before the new one joins
        running.start()
        other = paid("other", at=0.1, items=[LOCAL], subsidy="20.00")
        [(_, refused)] = running.ask([checkout(other)])
        assert refused["decision"] == "reject"  # the line's room is reserved, once
        paid_at = {**first, "occurred_at": paid("t", at=0.2)["occurred_at"]}
        payment = tmp_path / "payment.jsonl"
        payment.write_bytes(line(paid_at) + b"\n")
        running.cluster.produce(payment, "orders")
        running.cluster.wait_for("decisions", lambda n: n >= 1, 60, "the payment's decision")
        [decision] = running.cluster.read("decisions")
        updates = [(u["order_id"], u["status"]) for u in running.cluster.read("authorizations")]
    assert (decision["decision"], decision["allowed_subsidy"]) == ("approve", 20.0)
    assert updates.count((first["order_id"], "committed")) == 1
