"""The daily package for the bureau (定期回传数据): the reports of one programme day, as files.

What a package holds is a list of item names from the configuration (`schedule.items`); each
name is a builder registered here. The shipped ones are the fund-use progress report (with the
performance figures), the incident report and the two ledgers; another (the platform's claim,
say) is added with `register_item` and named in the configuration, nothing else changes.

A package is a zip archive (the body of an HTTPS delivery) or the same files in a folder, with
`manifest.json`: the day, the rules' version, when it was made, each file's size and SHA-256.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine

from reports.labels import Lang
from reports.period import Period
from reports.render import Format, write
from schemas.rules import ProgrammeRules

FORMAT = "riskmon-bureau-package"
VERSION = 1
MANIFEST = "manifest.json"
# zip entries carry a time; a fixed one keeps the archive a function of its files
_ZIP_TIME = (2026, 1, 1, 0, 0, 0)

# (name, bytes) of the files an item adds to a package
Files = list[tuple[str, bytes]]
Item = Callable[[Engine, ProgrammeRules, date, Lang, datetime], Files]


class PackageError(ValueError):
    """A package that cannot be built as configured (an unknown item, say)."""


def _report_files(kind: str, formats: tuple[Format, ...]) -> Item:
    """An item that writes one of the bureau reports (`reports.bureau.make`) for the day."""

    def build(engine: Engine, rules: ProgrammeRules, day: date, lang: Lang, now: datetime) -> Files:
        from reports.bureau import make

        report = make(kind, engine, rules, Period(day, day), lang, source="riskmon bureau", now=now)  # type: ignore[arg-type]
        files: Files = []
        with tempfile.TemporaryDirectory() as folder:
            for fmt in formats:
                out = Path(folder) / f"{kind}-{day}.{fmt}"
                for path in write(report, fmt, out):
                    files.append((path.name, path.read_bytes()))
        return files

    return build


def _claim_files(
    engine: Engine, rules: ProgrammeRules, day: date, lang: Lang, now: datetime
) -> Files:
    """The platform's claim (申报清单) of the day, xlsx (`reports.claim`; default shares)."""
    from reports.bureau_config import Fund
    from reports.claim import make_claim, report

    built = report(make_claim(engine, Period(day, day), Fund().cofunding), rules, lang)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / f"claim-{day}.xlsx"
        return [(path.name, path.read_bytes()) for path in write(built, "xlsx", out)]


ITEMS: dict[str, Item] = {
    "daily": _report_files("daily", ("html", "xlsx")),
    "incidents": _report_files("incidents", ("xlsx",)),
    "ledger": _report_files("ledger", ("xlsx",)),
    "claim": _claim_files,
}


def register_item(name: str, item: Item) -> None:
    """Make `name` available to `schedule.items` (e.g. "claim", once `riskmon claim` exists)."""
    ITEMS[name] = item


def check_items(names: tuple[str, ...]) -> None:
    unknown = [n for n in names if n not in ITEMS]
    if unknown:
        raise PackageError(
            f"schedule.items names {', '.join(unknown)}, which riskmon does not build "
            f"(known: {', '.join(sorted(ITEMS))})"
        )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Package:
    """The files of one day's package, and its manifest."""

    day: date
    files: Files
    manifest: dict[str, Any] = field(default_factory=dict)

    def manifest_bytes(self) -> bytes:
        return orjson.dumps(self.manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)

    def all_files(self) -> Files:
        return [*self.files, (MANIFEST, self.manifest_bytes())]

    def zip_bytes(self) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in self.all_files():
                info = zipfile.ZipInfo(f"{self.day}/{name}", date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data)
        return out.getvalue()


def build_package(
    engine: Engine,
    rules: ProgrammeRules,
    day: date,
    items: tuple[str, ...],
    lang: Lang,
    now: datetime,
) -> Package:
    check_items(items)
    files: Files = []
    for item in items:
        files.extend(ITEMS[item](engine, rules, day, lang, now))
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "day": str(day),
        "items": list(items),
        "generated_at": now.astimezone(rules.timezone).isoformat(timespec="seconds"),
        "rules": rules.version,
        "files": [{"name": n, "bytes": len(d), "sha256": sha256(d)} for n, d in files],
    }
    return Package(day, files, manifest)
