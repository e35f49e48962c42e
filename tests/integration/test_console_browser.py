"""The console in a real browser: Debian's headless Chromium (/usr/bin/chromium, driven by
Playwright; nothing downloads a browser) against `riskmon console` in its own process, with an
embedded broker for the labels topic. Log in, filter the queue, open an alert, confirm it; the
labels message is on the topic and the verdict in the audit trail; in English, as these users
chose.

`RISKMON_CONSOLE_SCREENSHOT=docs/console-queue.png` also keeps the queue's picture there.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from console.auth import add_user
from console.serve import served as serve_console
from replay import Replay
from reports import migrate
from reports.db import open_engine
from reports.observer import StoreObserver
from reports.tables import alert_orders
from reports.writer import StoreWriter
from schemas.rules import load_rules
from simulation.generator import generate
from streams.local import LocalCluster

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "correct horse battery"


@dataclass
class Served:
    url: str
    store: str
    cluster: LocalCluster


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("console-browser")
    generate(5, 1, folder, events_per_day=2000)
    rules = load_rules()
    store = f"sqlite:///{folder}/store.db"
    engine = open_engine(store)
    try:
        migrate.upgrade(engine)
        Replay(rules, observers=[StoreObserver(StoreWriter(engine), rules)]).run(
            folder / "events.jsonl", catalog=folder / "catalog.jsonl"
        )
        with engine.begin() as connection:
            # the console in English, as these two chose (Chinese: test_console_chinese_browser)
            add_user(connection, "analyst-07", "analyst", PASSWORD, lang="en")
            add_user(connection, "lead-01", "supervisor", PASSWORD, lang="en")
    finally:
        engine.dispose()
    with (
        LocalCluster(folder / "cluster") as cluster,
        serve_console(
            env={
                "RISKMON_DATABASE_URL": store,
                "RISKMON_KAFKA": cluster.bootstrap,
                "RISKMON_CONSOLE_SECRET": "browser-test-cookie-signing-key-7c41e0a9",
            },
            log=folder / "console.log",
        ) as url,
    ):
        yield Served(url, store, cluster)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no chromium: `make system` installs it")
def test_log_in_filter_confirm_and_see_the_label_and_the_audit_row(
    served: Served, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(20_000)
            page.goto(f"{served.url}/alerts")
            assert "/login" in page.url  # nothing without logging in
            page.fill("input[name=name]", "analyst-07")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r"/alerts$"))

            page.select_option("select[name=risk]", "hoarding")  # the script submits it
            page.wait_for_url(re.compile(r"risk=hoarding"))
            risks = page.locator("table.alerts tbody tr td:nth-child(3)").all_inner_texts()
            assert risks and set(risks) == {"hoarding"}
            page.screenshot(path=str(tmp_path / "queue.png"))
            keep = os.environ.get("RISKMON_CONSOLE_SCREENSHOT")
            if keep:
                shutil.copy(tmp_path / "queue.png", keep)

            page.click("table.alerts tbody tr:first-child td:first-child a")
            page.wait_for_url(re.compile(r"/alerts/[0-9a-f]{32}$"))
            alert_id = page.url.rsplit("/", 1)[1]
            assert "Evidence" in page.content()
            page.fill("section.verdict textarea[name=comment]", "four people, one address")
            page.once("dialog", lambda dialog: dialog.accept())  # "Record the verdict?"
            page.click("section.verdict button.confirm")
            flash = page.locator("p.flash")
            flash.wait_for()
            assert "alert confirmed" in flash.inner_text()
            assert "sent to Kafka" in flash.inner_text(), flash.inner_text()

            page.click("button:has-text('Log out')")
            page.wait_for_url(re.compile(r"/login$"))
            page.fill("input[name=name]", "lead-01")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r"/alerts$"))
            page.goto(f"{served.url}/audit?action=verdict")
            row = page.locator("table.audit tbody tr").first
            assert "analyst-07" in row.inner_text() and alert_id in row.inner_text()
        finally:
            browser.close()

    engine = open_engine(served.store)
    try:
        with engine.connect() as connection:
            orders = set(
                connection.execute(
                    select(alert_orders.c.order_id).where(alert_orders.c.alert_id == alert_id)
                ).scalars()
            )
    finally:
        engine.dispose()
    labels = served.cluster.read("labels")
    assert {m["order_id"] for m in labels} == orders
    assert {(m["label"], m["risk"], m["analyst"]) for m in labels} == {
        ("fraud", "hoarding", "analyst-07")
    }
