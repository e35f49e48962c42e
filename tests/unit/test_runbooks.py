"""The emergency plan (应急预案, docs/runbooks/): every Prometheus alert rule names its page in a
`runbook_url` annotation, the page exists and names the rule; the index links every page; each
emergency page names a control or a command to use; every `riskmon ...` command a page names is
one the command line has; every link of a page leads somewhere."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from riskmon.cli import app

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "docs" / "runbooks"
RULES = sorted((ROOT / "dashboards" / "prometheus" / "rules").glob("*.yml"))
EMERGENCIES = ("budget-running-out", "fraud-wave", "workers-down", "bad-platform-data")
PAGES = sorted(RUNBOOKS.glob("*.md"))
COMMAND = re.compile(r"\briskmon((?: [a-z][a-z-]*){1,2})")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _rules() -> list[dict[str, Any]]:
    found = []
    for path in RULES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            found += [rule for rule in group["rules"] if "alert" in rule]
    return found


def test_every_alert_rule_has_its_runbook_page() -> None:
    rules = _rules()
    assert len({r["alert"] for r in rules}) >= 11
    for rule in rules:
        url = rule["annotations"].get("runbook_url")
        assert url == f"docs/runbooks/{rule['alert']}.md", rule["alert"]
        page = ROOT / url
        assert page.is_file(), url
        text = page.read_text(encoding="utf-8")
        assert text.startswith(f"# {rule['alert']} "), url  # the rule's name, in the title
        assert re.search(r"[\u4e00-\u9fff]", text.split("English")[0]), url  # Chinese first


def test_the_index_links_every_page_and_every_emergency_has_one() -> None:
    index = (RUNBOOKS / "README.md").read_text(encoding="utf-8")
    linked = set(LINK.findall(index))
    for page in PAGES:
        if page.name != "README.md":
            assert page.name in linked, page.name
    for name in EMERGENCIES:
        text = (RUNBOOKS / f"{name}.md").read_text(encoding="utf-8")
        assert "riskmon controls add" in text or "riskmon rules publish" in text, name
        assert "**English.**" in text, name


def _commands() -> Any:
    """The command line's tree (a group's `commands` maps names to commands and groups)."""
    command = typer.main.get_command(app)
    assert hasattr(command, "commands")
    return command


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_command_a_page_names_exists(page: Path) -> None:
    top = _commands()
    named = COMMAND.findall(page.read_text(encoding="utf-8"))
    for words in named:
        first, *rest = words.split()
        assert first in top.commands, f"riskmon {first}"
        command = top.commands[first]
        if hasattr(command, "commands") and rest:
            assert rest[0] in command.commands, f"riskmon {first} {rest[0]}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_of_a_runbook_leads_to_a_file(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    targets = [t.partition("#")[0] for t in LINK.findall(text) if not t.startswith("http")]
    assert [t for t in targets if t and not (page.parent / t).exists()] == []
