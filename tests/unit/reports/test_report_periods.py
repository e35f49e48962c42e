"""Every report kind, for an empty period, a one-day period and a month, in both languages:
no empty table without a sentence saying why (in html, md and xlsx), no forecast date past
the programme's end, at risk never above what the named orders claimed, xlsx columns as wide
as their content."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from html import escape
from pathlib import Path

import pytest
from conftest import Filled
from openpyxl import load_workbook
from sqlalchemy import Engine
from typer.testing import CliRunner

from reports.bureau import KINDS, default_period, make
from reports.document import Report
from reports.frames import store_days
from reports.period import Period
from reports.render import shown_width, write
from reports.vocabulary import LANGS, Lang
from riskmon.cli import app
from schemas.rules import ProgrammeRules

ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}")


def periods(filled: Filled) -> dict[str, Period]:
    held = store_days(filled.engine)
    assert held is not None
    after = held.end + timedelta(days=20)
    return {
        "empty": Period(after, after),
        "one_day": Period(held.end, held.end),
        "month": Period(date(2026, 7, 1), date(2026, 7, 31)),
    }


def _build(filled: Filled, rules: ProgrammeRules, kind: str, period: Period, lang: Lang) -> Report:
    return make(kind, filled.engine, rules, period, lang, source="test")  # type: ignore[arg-type]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("which", ["empty", "one_day", "month"])
@pytest.mark.parametrize("kind", KINDS)
def test_no_table_is_silently_empty(
    filled: Filled, rules: ProgrammeRules, tmp_path: Path, kind: str, which: str, lang: Lang
) -> None:
    period = periods(filled)[which]
    report = _build(filled, rules, kind, period, lang)
    empty = [s for s in report.sections if s.frame.empty]
    for section in empty:
        assert section.empty, (kind, which, section.key)
        if lang == "zh":
            assert section.empty.startswith("本期(") and "无" in section.empty
        else:
            assert section.empty.startswith("Nothing in this period")
    if which == "empty":
        assert empty, "a period after the store's last day has empty tables"
        facts = dict(report.facts)
        assert "nothing_booked" in facts
    html = tmp_path / "r.html"
    md = tmp_path / "r.md"
    write(report, "html", html)
    write(report, "md", md)
    for section in empty:
        assert section.empty is not None
        assert escape(section.empty) in html.read_text(encoding="utf-8")
        assert section.empty in md.read_text(encoding="utf-8")


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("which", ["empty", "one_day", "month"])
def test_no_forecast_past_the_programme(
    filled: Filled, rules: ProgrammeRules, which: str, lang: Lang
) -> None:
    report = _build(filled, rules, "daily", periods(filled)[which], lang)
    last = max(p.end for p in rules.programmes.values()).astimezone(rules.timezone).date()
    shown = list(report.section("progress").frame["exhaustion"])
    assert shown
    for value in shown:
        if ISO_DAY.match(value):
            assert date.fromisoformat(value) <= last, value
        else:  # said in words, never a bare dash
            assert value in {
                "已用尽",
                "exhausted",
                "项目期内不会用尽",
                "not exhausted within the programme",
                "近7日无净使用,按此进度不会用尽",
                "no spend in the last 7 days: not exhausted at this pace",
            }, value


def test_at_risk_never_exceeds_what_the_named_orders_claimed(
    filled: Filled, rules: ProgrammeRules
) -> None:
    report = _build(filled, rules, "incidents", periods(filled)["month"], "zh")
    grouped = report.section("by_pattern").frame
    assert len(grouped) and int(grouped["subsidy_at_risk"].sum()) > 0
    assert (grouped["subsidy_at_risk"] <= grouped["claimed"]).all()
    assert "涉险补贴 =" in (report.section("by_pattern").note or "")


def test_the_default_incident_day_has_alerts(filled: Filled) -> None:
    day = default_period(filled.engine, "incidents")
    held = store_days(filled.engine)
    assert held is not None and held.start <= day.start == day.end <= held.end


def test_evidence_reads_as_sentences_in_the_incident_list(
    filled: Filled, rules: ProgrammeRules
) -> None:
    listed = _build(filled, rules, "incidents", periods(filled)["month"], "zh")
    evidence = listed.section("incident_list").frame["evidence"]
    assert len(evidence)
    assert not evidence.str.contains(r"[a-z]+_[a-z_]+=", regex=True).any()  # no raw key=value


def test_xlsx_columns_fit_their_content(
    filled: Filled, rules: ProgrammeRules, tmp_path: Path
) -> None:
    for kind in ("incidents", "ledger"):
        report = _build(filled, rules, kind, periods(filled)["month"], "zh")
        out = tmp_path / f"{kind}.xlsx"
        write(report, "xlsx", out)
        book = load_workbook(out)
        for sheet in book.worksheets[1:]:
            for column in sheet.iter_cols(min_row=1, max_row=min(sheet.max_row, 200)):
                letter = column[0].column_letter
                width = sheet.column_dimensions[letter].width
                for cell in column:
                    text = str(cell.value or "")
                    if cell.is_date or TIMESTAMP.match(text):
                        assert width >= 19, (sheet.title, letter, width)  # a whole timestamp
                    if not cell.alignment.wrap_text:
                        assert width >= shown_width(text), (sheet.title, letter, text)


def test_the_command_says_an_empty_period_on_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, new_store: Callable[[], Engine]
) -> None:
    engine = new_store()  # migrated, holding nothing
    monkeypatch.setenv("RISKMON_DATABASE_URL", str(engine.url))
    out = tmp_path / "inc.html"
    for lang, said in (
        ("zh", "本期(2026年8月1日)无风险事件:存储中尚无任何记录。"),
        ("en", "Nothing in this period (1 August 2026): no alerts; the store holds nothing yet."),
    ):
        args = ["report", "incidents", "--date", "2026-08-01", "--out", str(out), "--lang", lang]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        assert said in " ".join(result.output.split()), result.output
        assert said in out.read_text(encoding="utf-8")
