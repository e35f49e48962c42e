"""The HTML report renders in a real headless Chromium (Debian's, /usr/bin/chromium; nothing
downloads a browser), and the xlsx opens in pandas with a sheet per table."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from replay import Replay
from reports import migrate
from reports.bureau import make
from reports.db import open_engine
from reports.frames import store_days
from reports.observer import StoreObserver
from reports.render import write
from reports.writer import StoreWriter
from schemas.rules import load_rules
from simulation.generator import generate

pytestmark = pytest.mark.integration
RULES = load_rules()
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    folder = tmp_path_factory.mktemp("chromium")
    generate(5, 3, folder, events_per_day=1500)
    engine = open_engine(f"sqlite:///{folder}/store.db")
    migrate.upgrade(engine)
    Replay(RULES, observers=[StoreObserver(StoreWriter(engine), RULES)]).run(
        folder / "events.jsonl", catalog=folder / "catalog.jsonl"
    )
    yield engine
    engine.dispose()


def screenshot(page: Path, png: Path, profile: Path) -> subprocess.CompletedProcess[bytes]:
    """One headless Chromium run, waited for (a profile of its own: runs never share one)."""
    return subprocess.run(  # noqa: S603 (a fixed program, our own arguments)
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            "--window-size=1280,1400",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no chromium: `make system` installs it")
@pytest.mark.parametrize("kind", ["daily", "incidents"])
def test_the_html_report_renders_in_headless_chromium(
    store: Engine, tmp_path: Path, kind: str
) -> None:
    period = store_days(store)
    assert period is not None
    report = make(kind, store, RULES, period, "zh", source="test", now=datetime.now(UTC))  # type: ignore[arg-type]
    page = tmp_path / f"{kind}.html"
    write(report, "html", page)
    png = tmp_path / f"{kind}.png"
    done = screenshot(page, png, tmp_path / "profile")
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 1400)
    assert len(data) > 20_000  # a page with tables and charts, not a blank one


def page_width(page: Path, profile: Path, viewport: int = 1280) -> int:
    """The document's scrollWidth in a `viewport`-wide headless Chromium: a copy of the page
    writes it into its title once laid out, and Chromium prints the DOM."""
    probe = page.with_name(f"{page.stem}-probe.html")
    script = (
        "<script>window.addEventListener('load', () => { document.title = "
        "'W=' + document.documentElement.scrollWidth; });</script></body>"
    )
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", script), "utf-8")
    done = subprocess.run(  # noqa: S603 (a fixed program, our own arguments)
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--window-size={viewport},1000",
            "--virtual-time-budget=3000",
            "--dump-dom",
            probe.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    found = re.search(r"<title>W=(\d+)</title>", done.stdout.decode(errors="replace"))
    assert found, done.stderr.decode(errors="replace")[-2000:]
    return int(found.group(1))


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no chromium: `make system` installs it")
@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("kind", ["daily", "incidents", "ledger"])
def test_every_column_is_readable_at_1280_px(
    store: Engine, tmp_path: Path, kind: str, lang: str
) -> None:
    """No sideways scrolling at 1,280 px: text cells wrap, the tables take the page's width."""
    period = store_days(store)
    assert period is not None
    report = make(kind, store, RULES, period, lang, source="test")  # type: ignore[arg-type]
    page = tmp_path / f"{kind}-{lang}.html"
    write(report, "html", page)
    assert page_width(page, tmp_path / "profile") <= 1280


def test_the_xlsx_report_has_its_sheets(store: Engine, tmp_path: Path) -> None:
    period = store_days(store)
    assert period is not None
    for kind, sheets in {
        "daily": [
            "补贴资金使用进度日报",
            "资金使用进度",
            "逐日资金使用",
            "订单审核结果",
            "绩效指标",  # reports/bureau_report.py
            "咨询投诉处理",
            "物流仓补贴资金来源",  # the co-funding split (reports/cofunding.py)
            "超期冻结订单",  # holds past [fund] hold_hours
            "图表",
        ],
        "incidents": ["风险事件报告", "按风险与模式汇总", "风险事件明细"],
        "ledger": ["台账导出", "销售台账", "补贴资金使用明细台账"],
    }.items():
        report = make(kind, store, RULES, period, "zh", source="test")  # type: ignore[arg-type]
        write(report, "xlsx", tmp_path / f"{kind}.xlsx")
        read = pd.read_excel(tmp_path / f"{kind}.xlsx", sheet_name=None)
        assert list(read) == sheets
        for name in sheets[1:]:
            # no complaint was registered in this store, nor is any hold old
            if name not in ("图表", "咨询投诉处理", "超期冻结订单"):
                assert len(read[name]) > 0, name
