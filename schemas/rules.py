"""The programme rules: one versioned TOML file, validated at load, errors naming the line.

Everything the programme's notice fixes as a number (rates, caps, quotas, budgets, categories,
periods) and every detector threshold is data here (`riskmon/rules/programme-2026.toml` is the
default), so a bureau changes a rate by shipping a new file, and a second scheme (the 2026
national rules) is just another file.
"""

from __future__ import annotations

import re
import tomllib
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from schemas.times import WINDOW_KEY, Timestamp, TimeWindow, window_of

DEFAULT_RULES_PATH = (
    Path(__file__).resolve().parents[1] / "riskmon" / "rules" / "programme-2026.toml"
)
ANY_CATEGORY = "*"


def _exact_decimal(value: Any) -> Any:
    # TOML floats arrive as binary doubles; their shortest repr is the text that was written.
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int):
        return Decimal(value)
    return value


Rate = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(gt=0, le=1)]
Amount = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(gt=0, decimal_places=2)]
Fraction = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(ge=0, le=10)]


class _Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Quota(_Rules):
    count: PositiveInt
    unit: Literal["item", "order"]
    per: Literal["category", "budget_line"]
    period: Literal["programme", "week", "day"]


class BudgetLine(_Rules):
    title: str
    budget: Amount
    categories: Annotated[list[str], Field(min_length=1)]
    rate: Rate | None = None
    rates_by_energy_grade: dict[Annotated[int, Field(ge=1, le=5)], Rate] | None = None
    cap_per_unit: Amount | None = None
    cap_per_order: Amount | None = None
    max_unit_price: Amount | None = None
    min_order_amount: Amount | None = None
    quota: Quota | None = None
    quota_overrides: dict[str, PositiveInt] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_rate(self) -> BudgetLine:
        if (self.rate is None) == (self.rates_by_energy_grade is None):
            raise ValueError("give exactly one of rate and rates_by_energy_grade")
        if self.rates_by_energy_grade is not None and not self.rates_by_energy_grade:
            raise ValueError("rates_by_energy_grade is empty")
        if self.quota_overrides and self.quota is None:
            raise ValueError("quota_overrides without a quota")
        return self

    @field_validator("quota_overrides")
    @classmethod
    def _overrides_in_line(cls, value: dict[str, int], info: ValidationInfo) -> dict[str, int]:
        unknown = set(value) - set(info.data.get("categories") or ())
        if unknown:
            raise ValueError(f"names categories not in this line: {sorted(unknown)}")
        return value

    def rate_for(self, energy_grade: int | None) -> Decimal | None:
        """The subsidy rate of a unit, or None when its energy grade is not eligible."""
        if self.rates_by_energy_grade is None:
            return self.rate
        if energy_grade is None:
            return None
        return self.rates_by_energy_grade.get(energy_grade)

    def quota_count(self, category: str) -> int | None:
        if self.quota is None:
            return None
        return self.quota_overrides.get(category, self.quota.count)


class Programme(_Rules):
    title: str
    start: Timestamp  # both inside the window of accepted event times (schemas.times)
    end: Timestamp
    basis: Literal["item", "order"]
    requires_qualification: bool
    requires_catalog: bool
    max_markup: Fraction | None = None
    warehouses: list[str] | None = None
    budget_lines: Annotated[dict[str, BudgetLine], Field(min_length=1)]

    @field_validator("start", "end")
    @classmethod
    def _in_window(cls, value: datetime, info: ValidationInfo) -> datetime:
        window = window_of(info.context)
        if value not in window:
            raise PydanticCustomError(
                "time_out_of_range",
                "outside the accepted window of event times, {window}",
                {"window": window.describe()},
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Programme:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        seen: dict[str, str] = {}
        for name, line in self.budget_lines.items():
            if self.basis == "item":
                if line.cap_per_unit is None:
                    raise ValueError(f"budget line {name!r}: an item-basis line needs cap_per_unit")
                if ANY_CATEGORY in line.categories:
                    raise ValueError(
                        f"budget line {name!r}: '*' only fits an order-basis programme"
                    )
            elif line.cap_per_order is None:
                raise ValueError(f"budget line {name!r}: an order-basis line needs cap_per_order")
            for category in line.categories:
                if category in seen:
                    raise ValueError(
                        f"category {category!r} is in budget lines {seen[category]!r} and {name!r}"
                    )
                seen[category] = name
        if self.basis == "order" and len(self.budget_lines) != 1:
            raise ValueError("an order-basis programme has exactly one budget line")
        return self

    @cached_property
    def budget(self) -> Decimal:
        return sum((line.budget for line in self.budget_lines.values()), Decimal(0))


class Eligibility(_Rules):
    require_real_name: bool = True
    require_valid_id_checksum: bool = True
    min_age: Annotated[int, Field(ge=0, le=120)]
    delivery_regions: Annotated[
        list[Annotated[str, Field(pattern=r"^[0-9]{6}$")]], Field(min_length=1)
    ]


class WindowRule(_Rules):
    window_hours: Annotated[float, Field(gt=0, le=24 * 366)]
    min_identities: Annotated[int, Field(ge=2)]
    # once a group crossed: how long a later order of it still gets its own alert, and how far
    # back the alert names the group's earlier orders (None: window_hours)
    follow_hours: Annotated[float, Field(gt=0, le=24 * 366)] | None = None


class ReceptionRule(_Rules):
    """A delivery address many people receive at (an office reception, a building's desk)."""

    days: Annotated[float, Field(gt=0, le=366)] = 30
    min_identities: Annotated[int, Field(ge=2)] = 8
    min_categories: Annotated[int, Field(ge=1)] = 3


class AccountFarmRule(_Rules):
    device_window_hours: Annotated[float, Field(gt=0)]
    device_min_accounts: Annotated[int, Field(ge=2)]
    ip_window_hours: Annotated[float, Field(gt=0)]
    ip_min_accounts: Annotated[int, Field(ge=2)]
    ip_prefix_bits: Annotated[int, Field(ge=8, le=32)]
    # fewer new accounts on one device or payment account suffice when they act together:
    # within `burst_hours` of each other, or buying the same goods
    burst_hours: Annotated[float, Field(gt=0)] = 24
    burst_min_accounts: Annotated[int, Field(ge=2)] = 3


class SplitOrdersRule(_Rules):
    window_hours: Annotated[float, Field(gt=0)]
    min_orders: Annotated[int, Field(ge=2)]
    near_minimum_ratio: Annotated[Decimal, BeforeValidator(_exact_decimal), Field(ge=1, le=10)]


class RefundCyclingRule(_Rules):
    window_days: Annotated[float, Field(gt=0)]
    min_released: Annotated[int, Field(ge=1)]


class QualificationRule(_Rules):
    device_window_hours: Annotated[float, Field(gt=0)]
    device_max_codes: Annotated[int, Field(ge=1)]


class MerchantBurstRule(_Rules):
    window_hours: Annotated[float, Field(gt=0)]
    min_suspicious_orders: Annotated[int, Field(ge=2)]


class PendingRule(_Rules):
    grace_hours: Annotated[float, Field(gt=0)]


class DetectorRules(_Rules):
    resale_categories: list[str]
    new_account_days: Annotated[float, Field(gt=0)]
    rings: WindowRule
    pickup_pipeline: WindowRule
    reception: ReceptionRule = ReceptionRule()
    account_farm: AccountFarmRule
    split_orders: SplitOrdersRule
    refund_cycling: RefundCyclingRule
    qualification: QualificationRule
    merchant_burst: MerchantBurstRule
    pending: PendingRule


def _offset(value: Any) -> Any:
    if isinstance(value, str):
        match = re.fullmatch(r"([+-])(\d{2}):(\d{2})", value)
        if not match:
            raise ValueError("timezone must be an offset such as '+08:00'")
        sign = 1 if match[1] == "+" else -1
        return timezone(sign * timedelta(hours=int(match[2]), minutes=int(match[3])))
    return value


class ProgrammeRules(_Rules):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    version: Annotated[str, Field(min_length=1)]
    title: str
    timezone: Annotated[timezone, BeforeValidator(_offset)]
    categories: Annotated[list[str], Field(min_length=1)]
    budget_alert_thresholds: list[
        Annotated[Decimal, BeforeValidator(_exact_decimal), Field(gt=0, le=1)]
    ]
    eligibility: Eligibility
    programmes: Annotated[dict[str, Programme], Field(min_length=1)]
    detectors: DetectorRules

    @model_validator(mode="after")
    def _thresholds(self) -> ProgrammeRules:
        if list(self.budget_alert_thresholds) != sorted(set(self.budget_alert_thresholds)):
            raise ValueError("budget_alert_thresholds must be increasing, without repeats")
        if len(set(self.categories)) != len(self.categories):
            raise ValueError("categories lists a category twice")
        return self

    def unknown_categories(self) -> list[tuple[tuple[str, ...], str]]:
        """Where a rule names a category that `categories` does not list (a spelling mistake)."""
        known = set(self.categories)
        problems: list[tuple[tuple[str, ...], str]] = []
        for pname, programme in self.programmes.items():
            for lname, line in programme.budget_lines.items():
                loc: tuple[str, ...] = ("programmes", pname, "budget_lines", lname, "categories")
                for category in line.categories:
                    if category != ANY_CATEGORY and category not in known:
                        problems.append((loc, f"unknown category {category!r}"))
        for category in self.detectors.resale_categories:
            if category not in known:
                loc = ("detectors", "resale_categories")
                problems.append((loc, f"unknown category {category!r}"))
        return problems


class RulesError(ValueError):
    """A rules file that cannot be used; the message names the file and line."""


def load_rules(path: Path | None = None, *, window: TimeWindow | None = None) -> ProgrammeRules:
    """Read and validate a rules file (the shipped default when no path is given).

    A programme's period must lie inside `window`, the event times the contract accepts (its
    default when None): a programme the monitor could never see an order of is a mistake.
    """
    path = path or DEFAULT_RULES_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"{path}: cannot read the rules file ({exc.strerror})") from None
    return parse_rules(text, source=str(path), window=window)


def parse_rules(
    text: str, *, source: str = "<rules>", window: TimeWindow | None = None
) -> ProgrammeRules:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{source}: not valid TOML: {exc}") from None
    context = {WINDOW_KEY: window} if window is not None else None
    try:
        rules = ProgrammeRules.model_validate(data, context=context)
    except ValidationError as exc:
        problems = [
            (tuple(str(part) for part in error["loc"]), error["msg"])
            for error in exc.errors(include_url=False, include_input=False)
        ]
    else:
        problems = rules.unknown_categories()
        if not problems:
            return rules
    lines = [
        f"{source}:{locate(text, loc)}: {'.'.join(loc) or '(top level)'}: {message}"
        for loc, message in problems
    ]
    raise RulesError("invalid rules file\n" + "\n".join(lines))


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*\"?([A-Za-z0-9_\-]+)\"?\s*=")


def locate(text: str, loc: tuple[str, ...]) -> int:
    """The 1-based line of the TOML text that a validation error's location points at.

    tomllib keeps no positions, so the line is found again from the table headers and keys:
    the longest table header that prefixes the location, then the key inside that table.
    """
    lines = text.splitlines()
    headers: list[tuple[int, tuple[str, ...]]] = [(0, ())]
    for number, line in enumerate(lines, start=1):
        match = _HEADER.match(line)
        if match:
            parts = tuple(p.strip().strip('"') for p in match[1].split("."))
            headers.append((number, parts))
    best_line, best_parts = 0, tuple[str, ...]()
    for number, parts in headers:
        if loc[: len(parts)] == parts and len(parts) >= len(best_parts):
            best_line, best_parts = number, parts
    rest = loc[len(best_parts) :]
    if not rest:
        return max(best_line, 1)
    for number in range(best_line + 1, len(lines) + 1):
        line = lines[number - 1]
        if number > best_line + 1 and _HEADER.match(line):
            break
        match = _KEY.match(line)
        if match and match[1] == rest[0]:
            return number
    return max(best_line, 1)
