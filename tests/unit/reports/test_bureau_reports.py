"""The bureau's reports from a filled store: every format, Chinese and English, totals that
agree with the ledger to the fen, and no pseudonym shown whole."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from conftest import Filled
from store_checks import ledger_sums

from reports.bureau import KINDS, default_period, make
from reports.document import Report
from reports.frames import store_days
from reports.labels import Lang, label
from reports.period import Period
from reports.render import FORMATS, write
from reports.vocabulary import name
from schemas.rules import ProgrammeRules

PSEUDONYM = re.compile(r"[0-9a-f]{64}")
NOW = datetime(2026, 7, 3, 9, 0, tzinfo=UTC)


def build(filled: Filled, rules: ProgrammeRules, kind: str, lang: Lang = "zh") -> Report:
    period = store_days(filled.engine)
    assert period is not None
    return make(kind, filled.engine, rules, period, lang, source="test", now=NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_report_in_every_format(
    filled: Filled, rules: ProgrammeRules, tmp_path: Path, kind: str, fmt: str
) -> None:
    report = build(filled, rules, kind)
    written = write(report, fmt, tmp_path / f"{kind}.{fmt}")  # type: ignore[arg-type]
    assert written[0] == tmp_path / f"{kind}.{fmt}"
    for path in written:
        assert path.stat().st_size > 0
        if path.suffix != ".png" and path.suffix != ".xlsx":
            text = path.read_text(encoding="utf-8-sig")
            assert not PSEUDONYM.search(text), f"a whole pseudonym in {path.name}"
    if fmt == "md" and report.charts:
        assert len(written) == 1 + len(report.charts)
    if fmt == "csv":
        assert len(written) == len(report.sections)


def test_the_xlsx_has_a_sheet_per_table_with_chinese_headings(
    filled: Filled, rules: ProgrammeRules, tmp_path: Path
) -> None:
    write(build(filled, rules, "ledger"), "xlsx", tmp_path / "ledger.xlsx")
    sheets = pd.read_excel(tmp_path / "ledger.xlsx", sheet_name=None)
    assert list(sheets) == ["台账导出", "销售台账", "补贴资金使用明细台账"]
    fund = sheets["补贴资金使用明细台账"]
    assert list(fund.columns)[:6] == ["时间", "订单号", "项目", "预算线", "类型", "金额(元)"]
    assert not fund.astype(str).apply(lambda c: c.str.contains(PSEUDONYM)).any().any()


def test_english_headings_with_lang_en(
    filled: Filled, rules: ProgrammeRules, tmp_path: Path
) -> None:
    write(build(filled, rules, "daily", "en"), "xlsx", tmp_path / "daily.xlsx")
    sheets = pd.read_excel(tmp_path / "daily.xlsx", sheet_name=None)
    assert list(sheets)[:4] == [
        "Subsidy fund-use progress repor",  # sheet names stop at 31 characters
        "Fund-use progress",
        "Spend by day",
        "Order decisions",
    ]
    assert "projected exhaustion" in sheets["Fund-use progress"].columns


def test_progress_totals_agree_with_the_ledger_to_the_fen(
    filled: Filled, rules: ProgrammeRules
) -> None:
    report = build(filled, rules, "daily")
    progress = report.section("progress").frame
    totals = progress[progress["budget_line"] == "合计"]
    sums = ledger_sums(filled.engine)
    assert int(totals["used"].sum()) == sums["grant"] + sums["hold"] - sums["clawback"]
    assert int(totals["clawed_back"].sum()) == sums["clawback"]
    assert int(totals["rejected"].sum()) == sums["reject"]
    lines = progress[progress["budget_line"] != "合计"]
    for programme, group in lines.groupby("programme"):
        total = totals[totals["programme"] == programme]
        assert int(group["used"].sum()) == int(total["used"].iloc[0])
    decided = report.section("decisions_summary").frame
    assert int(decided["allowed"].sum()) == sums["allowed"]
    assert {c.key for c in report.charts} == {
        "chart_cumulative",
        "chart_daily",
        "chart_performance",  # reports/bureau_report.py
    }
    assert all(c.png.startswith(b"\x89PNG") for c in report.charts)


def test_incidents_group_every_alert_by_risk_and_pattern(
    filled: Filled, rules: ProgrammeRules
) -> None:
    report = build(filled, rules, "incidents", "en")
    grouped = report.section("by_pattern").frame
    assert int(grouped["alerts"].sum()) == sum(filled.stats.alerts.values())
    named = {name("detector", d, "en") for d in filled.stats.detectors}
    assert set(grouped["detector"]) == named  # in words from the shared vocabulary
    listed = report.section("incident_list").frame
    assert len(listed) == sum(filled.stats.alerts.values())
    people = listed[listed["entity"].str.startswith(("consumer", "delivery address", "phone"))]
    assert len(people) and people["entity"].str.endswith("…").all()


def test_the_default_period_is_the_last_day_or_the_whole_store(filled: Filled) -> None:
    whole = store_days(filled.engine)
    assert whole is not None and whole.days >= 2
    assert default_period(filled.engine, "ledger") == whole
    assert default_period(filled.engine, "daily") == Period(whole.end, whole.end)


def test_headings_exist_in_both_languages() -> None:
    for key in ("daily", "incidents", "ledger", "sales_ledger", "fund_ledger", "exhaustion"):
        assert label(key, "zh") != label(key, "en")
