"""The documentation: a README that stays a door, pages that exist, links that lead somewhere,
a contract page in step with the schemas, and no test file cited that is not there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from riskmon import contract_doc

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = (
    "docs/architecture.md",
    "docs/durability.md",
    "docs/operations.md",
    "docs/learning.md",
    "docs/reports.md",
    "docs/console.md",
    "docs/contract.md",
    "docs/broker-notes.md",
    "docs/analysts.md",
    "docs/operators.md",
    "docs/bureau.md",
    "docs/runbooks/README.md",
    "benchmarks/README.md",
    "CHANGELOG.md",
)
DOCUMENTS = (README, *(ROOT / page for page in PAGES))
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
SKIPPED = {".git", ".venv", "var", ".mypy_cache", ".pytest_cache", ".ruff_cache", "node_modules"}


def anchors(page: Path) -> set[str]:
    """The anchors GitHub makes of a page's headings."""
    out = set()
    for line in FENCE.sub("", page.read_text(encoding="utf-8")).splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return out


def links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return [t for t in LINK.findall(text) if not t.startswith(("http://", "https://", "mailto:"))]


def test_the_readme_is_a_door_of_at_most_250_lines() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 250


def test_every_page_exists_and_the_readme_links_to_it() -> None:
    linked = {target.split("#")[0] for target in links(README)}
    for page in PAGES:
        assert (ROOT / page).is_file(), page
        assert page in linked, f"README.md does not link to {page}"


@pytest.mark.parametrize("page", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_of_a_page_leads_to_a_file_and_heading_that_exist(page: Path) -> None:
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        found = (page.parent / path).resolve() if path else page
        if not found.exists():
            broken.append(target)
        elif anchor and found.suffix == ".md" and anchor not in anchors(found):
            broken.append(target)
    assert broken == []


def test_the_contract_page_is_in_step_with_the_schemas() -> None:
    page = contract_doc.PAGE.read_text(encoding="utf-8")
    assert contract_doc.updated(page) == page, "run: python -m riskmon.contract_doc"


def test_the_contract_tables_name_every_field_of_every_topic() -> None:
    from schemas.catalog import CatalogEntry
    from schemas.labels import Label
    from schemas.outputs import Alert, DeadLetter, Decision

    tables = contract_doc.render()
    for model in (CatalogEntry, Label, Alert, Decision, DeadLetter):
        for name in model.model_fields:
            assert f"| `{name}` |" in tables, (model.__name__, name)
    for name in ("consumer.id_hash", "items[].unit_price", "payment.paid_amount", "refund_amount"):
        assert f"| `{name}` |" in tables, name


def test_every_test_file_cited_in_the_code_and_the_docs_exists() -> None:
    cited = re.compile(r"\btests/[\w/]+\.py\b")
    missing = []
    for path in ROOT.rglob("*"):
        if SKIPPED & set(path.relative_to(ROOT).parts) or path.suffix not in {
            ".py",
            ".md",
            ".toml",
            ".yml",
            ".yaml",
        }:
            continue
        for name in cited.findall(path.read_text(encoding="utf-8", errors="replace")):
            if not (ROOT / name).is_file():
                missing.append(f"{path.relative_to(ROOT)}: {name}")
    assert missing == []
