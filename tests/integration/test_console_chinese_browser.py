"""The console in Chinese, in a real browser (Debian's headless Chromium through Playwright,
against `riskmon console` in its own process): the queue on its open alerts, an alert with its
evidence in words, an entity's page, an escalation refused without a comment and then given,
and a supervisor disabling a user.

`RISKMON_CONSOLE_SCREENSHOTS=docs` keeps the pictures there (docs/console-zh-*.png).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.auth import add_user
from console.serve import served as serve_console
from replay import Replay
from reports import migrate
from reports.db import open_engine
from reports.observer import StoreObserver
from reports.writer import StoreWriter
from schemas.rules import load_rules
from simulation.generator import generate

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "correct horse battery"
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("console-zh")
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
            add_user(connection, "analyst-07", "analyst", PASSWORD)
            add_user(connection, "lead-01", "supervisor", PASSWORD)
    finally:
        engine.dispose()
    env = {
        "RISKMON_DATABASE_URL": store,
        "RISKMON_CONSOLE_SECRET": "browser-test-cookie-signing-key-5d02b7e3",
    }
    with serve_console(env=env, log=folder / "console.log") as served:
        yield served


def _keep(page: object, tmp_path: Path, name: str) -> None:
    shot = tmp_path / name
    page.screenshot(path=str(shot))  # type: ignore[attr-defined]
    folder = os.environ.get("RISKMON_CONSOLE_SCREENSHOTS")
    if folder:
        shutil.copy(shot, Path(folder) / name)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no chromium: `make system` installs it")
def test_the_console_in_chinese_queue_alert_entity_verdict_and_users(
    url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
            page.set_default_timeout(20_000)
            page.goto(f"{url}/alerts")
            assert page.locator("h1").inner_text() == "登录"
            page.fill("input[name=name]", "analyst-07")
            page.fill("input[name=password]", PASSWORD)
            page.click("section.login button[type=submit]")
            page.wait_for_url(re.compile(r"/alerts$"))

            # the queue: open alerts, the most money at risk first, in Chinese
            assert page.locator("h1").inner_text().startswith("预警队列")
            statuses = page.locator("table.alerts tbody [data-status]").all_inner_texts()
            assert statuses and set(statuses) == {"待处理"}
            amounts = page.locator("table.alerts tbody td.num:nth-child(7)").all_inner_texts()
            values = [float(a.replace("¥", "").replace(",", "")) for a in amounts]
            assert values == sorted(values, reverse=True)
            raised = page.locator("table.alerts tbody tr td:first-child a").first.inner_text()
            assert re.fullmatch(r"20\d\d-\d\d-\d\d \d\d:\d\d", raised)
            _keep(page, tmp_path, "console-zh-queue.png")

            # an alert: its evidence as labelled figures, the JSON folded away
            page.click("table.alerts tbody tr:first-child td:first-child a")
            page.wait_for_url(re.compile(r"/alerts/[0-9a-f]{32}$"))
            alert_url = page.url
            labels = page.locator("dl.figures dt").all_inner_texts()
            assert labels and all(HAN.search(label) for label in labels), labels
            assert not page.locator("details.raw pre").is_visible()
            page.click("details.raw summary")
            assert page.locator("details.raw pre").is_visible()
            page.click("details.raw summary")
            _keep(page, tmp_path, "console-zh-alert.png")

            # the alert's entity, on a page of its own
            entity = page.locator("dl.facts a[href^='/entities/']")
            if entity.count() == 0:
                entity = page.locator("table.orders a[href^='/entities/consumer/']").first
            entity.first.click()
            page.wait_for_url(re.compile(r"/entities/\w+/[^/]+$"))
            assert page.locator("h2").first.inner_text() == "按日统计"
            assert page.locator("table.alerts tbody tr").count() >= 1
            _keep(page, tmp_path, "console-zh-entity.png")

            # an escalation without a comment is refused in words; with one it goes
            page.goto(alert_url)
            page.on("dialog", lambda dialog: dialog.accept())  # "确认提交此处置?"
            page.click("section.verdict button.escalate")
            flash = page.locator("p.flash")
            flash.wait_for()
            assert "上报主管部门必须填写说明" in flash.inner_text()
            page.fill("section.verdict textarea[name=comment]", "同一地址四人申领,请主管部门核查")
            page.click("section.verdict button.escalate")
            page.wait_for_url(alert_url)
            assert "预警已上报" in page.locator("p.flash").inner_text()
            assert page.locator("h1 [data-status]").inner_text() == "已上报"
            _keep(page, tmp_path, "console-zh-verdict.png")

            # a supervisor disables the analyst on the users' page
            page.click("form.logout button")
            page.wait_for_url(re.compile(r"/login$"))
            page.fill("input[name=name]", "lead-01")
            page.fill("input[name=password]", PASSWORD)
            page.click("section.login button[type=submit]")
            page.wait_for_url(re.compile(r"/alerts$"))
            page.click("header nav a[href='/users']")
            page.wait_for_url(re.compile(r"/users$"))
            page.click("tr[data-user='analyst-07'] button.disable")
            page.wait_for_url(re.compile(r"/users$"))
            assert "已停用 analyst-07" in page.locator("p.flash").inner_text()
            assert "已停用" in page.locator("tr[data-user='analyst-07']").inner_text()
            _keep(page, tmp_path, "console-zh-users.png")
            page.goto(f"{url}/audit?action=user_disable")
            assert "analyst-07" in page.locator("table.audit tbody tr").first.inner_text()
        finally:
            browser.close()
