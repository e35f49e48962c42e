"""A report before it is written: facts, tables (pandas) and charts (PNG), format-free.

Builders (`progress`, `incidents`, `ledgers`, `reconcile`) make a `Report`; `render` writes it
as xlsx, html, md or csv. Tables name their columns by label keys (`reports.labels`) and keep
money as integer fen, so every format prints the same totals to the fen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from reports.labels import Lang

# text: as it is; long: text that may wrap; money: integer fen; int: a count; share: a fraction
ColumnKind = Literal["text", "long", "money", "int", "share"]


@dataclass
class Section:
    key: str  # its heading's label key; the sheet name in xlsx
    frame: pd.DataFrame  # columns named by label keys
    kinds: dict[str, ColumnKind] = field(default_factory=dict)
    note: str | None = None
    # what an empty table says instead of rows: the period had nothing, and why
    # (`reports.emptiness` fills it for a builder that did not)
    empty: str | None = None

    def kind(self, column: str) -> ColumnKind:
        return self.kinds.get(column, "text")


@dataclass
class Chart:
    key: str  # its title's label key
    png: bytes


@dataclass
class Report:
    key: str  # daily | incidents | ledger | reconciliation
    lang: Lang
    facts: list[tuple[str, str]] = field(default_factory=list)  # (label key, text)
    sections: list[Section] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)

    def section(self, key: str) -> Section:
        for section in self.sections:
            if section.key == key:
                return section
        raise KeyError(key)
