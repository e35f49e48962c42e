"""The complaint flow and the merchant register in a real browser: Debian's headless Chromium
(driven by Playwright, nothing downloads a browser) against `riskmon console` in its own
process. Each role sees only what it should: the analyst registers and handles a complaint and
takes a merchant's application through the checklist but decides nothing; the supervisor
approves and suspends the merchant (a block control record for the `controls` topic); the
bureau reads both, with no form to act, and cannot open the alert queue.

`RISKMON_BUREAU_SCREENSHOTS=DIR` also keeps the pages' pictures there.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from console.auth import add_user
from console.merchant_controls import check_control
from console.serve import served as serve_console
from replay import Replay
from reports import migrate
from reports.bureau_tables import complaints, controls_out, merchants
from reports.db import open_engine
from reports.observer import StoreObserver
from reports.tables import audit
from reports.writer import StoreWriter
from schemas.rules import load_rules
from simulation.generator import generate

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "correct horse battery"
LICENCE = "91440300MA5F00001Y"  # made up, of the right shape


@dataclass
class Served:
    url: str
    store: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("bureau-browser")
    generate(5, 1, folder, events_per_day=800)
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
            add_user(connection, "bureau-01", "bureau", PASSWORD)
    finally:
        engine.dispose()
    with serve_console(
        ["--catalog", str(folder / "catalog.jsonl")],
        env={
            "RISKMON_DATABASE_URL": store,
            "RISKMON_CONSOLE_SECRET": "browser-test-cookie-signing-key-7c41e0a9",
        },
        log=folder / "console.log",
    ) as url:
        yield Served(url, store)


def login(page: Any, url: str, name: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/(alerts|incidents)$"))


def logout(page: Any) -> None:
    page.click("form.logout button")  # 退出 or Log out, by the user's language
    page.wait_for_url(re.compile(r"/login$"))


def keep(page: Any, name: str) -> None:
    folder = os.environ.get("RISKMON_BUREAU_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=True)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no chromium: `make system` installs it")
def test_complaints_and_merchants_each_role_seeing_what_it_should(served: Served) -> None:
    from playwright.sync_api import sync_playwright

    rng = random.Random(41)
    phone = "13" + "".join(rng.choice("0123456789") for _ in range(9))  # made at run time
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(20_000)

            # the analyst: a complaint registered, taken, answered, closed
            login(page, served.url, "analyst-07")
            page.click("a:has-text('咨询投诉')")
            page.wait_for_url(re.compile(r"/complaints$"))
            page.select_option("select[name=category]", "subsidy_not_applied")
            page.fill("input[name=contact]", phone)
            page.fill("textarea[name=summary]", "下单后补贴未到账")
            page.fill("input[name=orders]", "PS20260701000001")
            page.click("section.register button[type=submit]")
            page.wait_for_url(re.compile(r"/complaints/\d+$"))
            complaint_page = page.url
            masked = phone[:3] + "****" + phone[-4:]
            assert page.inner_text("dd.identity") == masked
            assert phone not in page.content()
            page.click("button.take")
            page.wait_for_url(complaint_page)
            assert page.inner_text("dd.assignee") == "analyst-07"
            page.fill("textarea[name=text]", "已核实并补发")
            page.click("button.answer")
            page.wait_for_url(complaint_page)
            page.fill("input[name=text]", "消费者确认")
            page.click("button.close")
            page.wait_for_url(complaint_page)
            assert "已办结" in page.inner_text("h1")
            keep(page, "complaint.png")

            # the analyst: a merchant's application and its checklist; no decision to take
            page.goto(f"{served.url}/merchants")
            page.fill("input[name=merchant_id]", "M0001")
            page.fill("input[name=name]", "坪山数码专营店")
            page.fill("input[name=licence_no]", LICENCE)
            page.fill("input[name=categories]", "mobile_phone tablet")
            page.click("section.apply button[type=submit]")
            page.wait_for_url(re.compile(r"/merchants/M0001$"))
            for box in ("licence_checked", "categories_checked", "training_done"):
                page.check(f"input[name={box}]")
            page.click("form.checklist button[type=submit]")
            page.wait_for_url(re.compile(r"/merchants/M0001$"))
            assert page.inner_text("h1 .status") == "已审核"
            assert page.locator("section.decision").count() == 0
            logout(page)

            # the supervisor: approves, then suspends
            login(page, served.url, "lead-01")
            page.goto(f"{served.url}/merchants/M0001")
            page.fill("textarea[name=reason]", "材料齐全")
            page.click("button[value=approve]")
            page.wait_for_url(re.compile(r"/merchants/M0001$"))
            assert page.inner_text("h1 .status") == "正常"
            page.fill("textarea[name=reason]", "虚假交易经确认")
            page.click("button[value=suspend]")
            page.wait_for_url(re.compile(r"/merchants/M0001$"))
            assert page.inner_text("h1 .status") == "暂停"
            assert "风险档案" in page.content()
            keep(page, "merchant.png")
            logout(page)

            # the bureau: reads both, acts on neither, and has no alert queue
            login(page, served.url, "bureau-01")
            page.goto(f"{served.url}/complaints")
            assert masked in page.content() and phone not in page.content()
            assert page.locator("form[method=post][action='/complaints']").count() == 0
            page.goto(complaint_page)
            assert page.locator("main form").count() == 0
            page.goto(f"{served.url}/merchants")
            assert "暂停" in page.inner_text("table.merchants")
            assert page.locator("section.apply").count() == 0
            page.goto(f"{served.url}/merchants/M0001")
            assert page.locator("main form").count() == 0
            answer = page.goto(f"{served.url}/alerts")
            assert answer is not None and answer.status == 403
        finally:
            browser.close()

    engine = open_engine(served.store)
    try:
        with engine.connect() as connection:
            status = connection.execute(select(complaints.c.status)).scalar_one()
            merchant = connection.execute(select(merchants.c.status)).scalar_one()
            (payload,) = connection.execute(select(controls_out.c.payload)).scalars().all()
            actions = connection.execute(select(audit.c.actor, audit.c.action)).all()
    finally:
        engine.dispose()
    assert (status, merchant) == ("closed", "suspended")
    record = check_control(orjson.loads(payload))
    assert (record["key"], record["action"], record["author"]) == ("M0001", "block", "lead-01")
    assert ("analyst-07", "complaint") in actions and ("lead-01", "merchant") in actions
    assert ("bureau-01", "view_complaint") in actions and ("bureau-01", "view_merchant") in actions
