"""The bureau configuration: when the daily package is due, where deliveries go, how fast an
incident must reach the bureau, the complaints' answer deadline, how long records are kept.

One TOML file (`RISKMON_BUREAU_CONFIG`), validated when it loads; without one, the defaults
below and no destination. A destination's HMAC key is never in the file: it names the file
(`key_file`, a Docker secret) or the variable (`key_env`) that holds it, and the key must be a
real one (`reports.keys.check_key`).

>>> config = BureauConfig()
>>> config.schedule.at, config.incidents.within_minutes, config.complaints.first_answer_hours
(datetime.time(1, 0), 5.0, 24.0)
"""

from __future__ import annotations

import os
import tomllib
from datetime import date, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from reports.keys import WeakKeyError, check_key

DEFAULT_ITEMS = ("daily", "incidents", "ledger")
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class ConfigError(ValueError):
    """A bureau configuration that cannot be used; the message names the field and the rule."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Schedule(_Model):
    # Each programme day D is due at `at` (the rules' time zone) on the day after D.
    at: time = time(1, 0)
    first_day: date | None = None  # None: the earliest programme start
    items: tuple[str, ...] = DEFAULT_ITEMS
    lang: Literal["zh", "en"] = "zh"


class Delivery(_Model):
    # Retries: the first after `retry_first_seconds`, each next one twice as late, at most
    # `retry_max_seconds` apart; a delivery is retried until it arrives.
    retry_first_seconds: float = Field(default=60.0, gt=0)
    retry_max_seconds: float = Field(default=3600.0, gt=0)
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    poll_seconds: float = Field(default=30.0, gt=0, le=3600)

    def backoff(self, attempts: int) -> timedelta:
        """How long after its `attempts`-th failure a delivery is tried again.

        >>> [Delivery().backoff(n).total_seconds() for n in (1, 2, 3, 10)]
        [60.0, 120.0, 240.0, 3600.0]
        """
        seconds = self.retry_first_seconds * 2 ** min(max(attempts - 1, 0), 30)
        return timedelta(seconds=min(seconds, self.retry_max_seconds))


class Incidents(_Model):
    push: bool = True
    within_minutes: float = Field(default=5.0, gt=0)
    severities: tuple[Literal["low", "medium", "high", "critical"], ...] = ("critical",)


class Complaints(_Model):
    first_answer_hours: float = Field(default=24.0, gt=0)


class Retention(_Model):
    """Days a record is kept after its own day; what is past it is anonymised or deleted by
    `riskmon retention apply` (docs/bureau.md says why these numbers)."""

    orders_days: int = Field(default=3 * 365 + 1, ge=30)
    alerts_days: int = Field(default=3 * 365 + 1, ge=30)
    complaints_days: int = Field(default=3 * 365 + 1, ge=30)
    audit_days: int = Field(default=10 * 365 + 3, ge=180)
    deliveries_days: int = Field(default=10 * 365 + 3, ge=30)


class Destination(_Model):
    name: Name
    kind: Literal["folder", "https"]
    path: Path | None = None  # folder
    url: str | None = None  # https
    key_file: Path | None = None
    key_env: str | None = None
    ca_file: Path | None = None  # a private CA the receiver's certificate is signed by
    daily: bool = True  # receives the daily package
    incidents: bool = False  # receives pushed incidents

    @model_validator(mode="after")
    def _complete(self) -> Destination:
        if self.kind == "folder" and self.path is None:
            raise ValueError("a folder destination needs `path`")
        if self.kind == "https":
            if not self.url or not self.url.startswith("https://"):
                raise ValueError("an https destination needs `url` starting with https://")
            if (self.key_file is None) == (self.key_env is None):
                raise ValueError("an https destination needs one of `key_file` or `key_env`")
        return self

    def key(self) -> bytes:
        """The HMAC key, read now (a rotated secret file is picked up without a restart)."""
        setting = f"destination {self.name}: " + (
            f"key_file {self.key_file}" if self.key_file else f"key_env {self.key_env}"
        )
        if self.key_file is not None:
            try:
                text = self.key_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"{setting}: cannot read it ({exc.strerror})") from None
        else:
            text = os.environ.get(self.key_env or "", "")
            if not text:
                raise ConfigError(f"{setting}: the variable is not set")
        try:
            return check_key(setting, text).encode("utf-8")
        except WeakKeyError as exc:
            raise ConfigError(str(exc)) from None


Share = Annotated[Decimal, Field(ge=0, le=1, decimal_places=4)]


class Fund(_Model):
    """The fund ledger's settings: when a hold is old enough to be listed (console, daily
    report, `riskmon holds list`), and each co-funded programme's platform share of its
    subsidy (the rest is public money): the logistics programme's 12 million include at least
    10 million of the platform's, 0.8334 of each yuan rounded up so the 10 are reached."""

    hold_hours: float = Field(default=72.0, gt=0)
    cofunding: dict[str, Share] = {"logistics_warehouse": Decimal("0.8334")}

    @property
    def hold_age(self) -> timedelta:
        return timedelta(hours=self.hold_hours)


class BureauConfig(_Model):
    schedule: Schedule = Schedule()
    fund: Fund = Fund()
    delivery: Delivery = Delivery()
    incidents: Incidents = Incidents()
    complaints: Complaints = Complaints()
    retention: Retention = Retention()
    destinations: tuple[Destination, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> BureauConfig:
        names = [d.name for d in self.destinations]
        if len(set(names)) != len(names):
            raise ValueError("destination names must differ")
        return self

    def destination(self, name: str) -> Destination:
        for destination in self.destinations:
            if destination.name == name:
                return destination
        raise KeyError(name)


def load_config(path: Path | None) -> BureauConfig:
    """The configuration in `path` (None: the defaults, no destination)."""
    if path is None:
        return BureauConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not TOML ({exc})") from None
    try:
        return BureauConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None
