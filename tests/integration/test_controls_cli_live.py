"""`riskmon controls add` and `lift`, the command as an operator runs it, on the real broker while
orders flow (issue 16 item 1): a merchant blocked from the stream's time on gets every later
order rejected naming the control, the lift ends it, both are in the store and the audit trail.
The time from starting the command to the first order it changes is measured (the command's
own start, its imports and the store included; publishing alone: test_controls_live.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from factories import CATALOG, jsonl, ts
from sqlalchemy import select
from test_controls_live import Feeder, _first

from reports.bureau_tables import controls_out
from reports.db import open_engine
from reports.tables import audit
from streams.local import LocalCluster

pytestmark = pytest.mark.integration


def _riskmon(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "riskmon", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_controls_add_then_lift_change_the_orders_from_their_time_on(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_bytes(jsonl(CATALOG))
    store = f"sqlite:///{tmp_path}/riskmon.db"
    with LocalCluster(tmp_path, partitions=1, watch_partitions=1) as cluster:
        env = {**os.environ, "RISKMON_DATABASE_URL": store, "RISKMON_KAFKA": cluster.bootstrap}
        _riskmon(env, "db", "upgrade")  # an operator's store is there already
        cluster.produce(catalog, "catalog")
        cluster.start_worker("a")
        # fed until the lift has shown: the command's start is what the machine's load makes it
        feeder = Feeder(cluster.bootstrap, 100_000)
        feeder.start()
        cluster.wait_for("decisions", lambda n: n >= 100, 90, "the first orders")
        blocked_from = feeder.hours_now()
        started = time.time()
        out = _riskmon(
            env,
            "controls",
            "add",
            "merchant",
            "M0001",
            "block",
            "--reason",
            "fake orders confirmed, incident 17",
            "--effective",
            ts(blocked_from),
            "--user",
            "ops-1",
        )
        returned = time.time()
        control_id = out.split(":", 1)[0].strip()
        first_changed = _first(cluster, lambda d: f"control:{control_id}" in d["reasons"], 60)
        time.sleep(1.0)
        lifted_from = feeder.hours_now()
        _riskmon(
            env,
            "controls",
            "lift",
            control_id,
            "--reason",
            "cleared",
            "--effective",
            ts(lifted_from),
        )
        # orders decided before the lift is read stay blocked: it is read once the command
        # has sent it, so "after" counts from the stream's time at the command's return
        lift_sent = feeder.hours_now()
        after_lift = len(feeder.sent) + 100  # the lift's time + 0.5 h is 50 orders on
        cluster.wait_for("decisions", lambda n: n >= after_lift, 120, "orders after the lift")
        feeder.stop.set()
        feeder.join(timeout=60)
        total = len(feeder.sent)
        cluster.wait_for("decisions", lambda n: n >= total, 120, "every order")
        decisions = {d["order_id"]: d for d in cluster.read("decisions")}
    print(
        f"riskmon controls add: started -> returned {(returned - started) * 1000:.0f} ms, "
        f"returned -> first order it changed {(first_changed - returned) * 1000:.0f} ms, "
        f"started -> first order it changed {(first_changed - started) * 1000:.0f} ms"
    )
    hours = {order_id: h for _, h, order_id in feeder.sent}
    blocked = [o for o, d in decisions.items() if f"control:{control_id}" in d["reasons"]]
    assert blocked
    for order_id, decision in decisions.items():
        h = hours[order_id]
        if h < blocked_from:
            assert f"control:{control_id}" not in decision["reasons"], (h, decision)
        if order_id in blocked:
            assert decision["decision"] == "reject" and blocked_from <= h < lift_sent + 0.5
        if h >= lift_sent + 0.5:
            assert decision["decision"] == "approve", (h, decision)
    engine = open_engine(store)
    try:
        with engine.connect() as connection:
            records = [
                orjson.loads(p)
                for p in connection.execute(select(controls_out.c.payload)).scalars()
            ]
            trail = connection.execute(
                select(audit.c.actor, audit.c.target).where(audit.c.action == "control")
            ).all()
            statuses = set(connection.execute(select(controls_out.c.status)).scalars())
    finally:
        engine.dispose()
    assert [r["action"] for r in records] == ["block", "lift"] and statuses == {"sent"}
    assert [t.target for t in trail] == [r["control_id"] for r in records]
    assert trail[0].actor == "cli:ops-1" and trail[1].actor.startswith("cli:")
    # last, so that a slow machine shows the checks above first. The command's own start (a
    # Python process: 1 s of CPU) is not asserted: on a shared machine it is what the load makes
    # it; from its record sent to the first order changed is the worker's part
    assert first_changed - returned < 20.0
