"""Runtime settings: the environment (`RISKMON_*`), read once at the edge, frozen.

Any setting may instead be read from a file named by `RISKMON_<NAME>_FILE` (Docker secrets:
`RISKMON_CONSOLE_SECRET_FILE=/run/secrets/console_secret`), so that a key never sits in the
environment of the process; setting both is refused.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, Field, SecretStr, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from schemas.times import DEFAULT_WINDOW, TimeWindow

PREFIX = "RISKMON_"


class _Files(PydanticBaseSettingsSource):
    """`RISKMON_<NAME>_FILE`: the setting's value is the file's content (one trailing newline
    dropped, as `echo` and most secret stores add it)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # every value comes from __call__

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name in self.settings_cls.model_fields:
            variable = f"{PREFIX}{name.upper()}"
            path = os.environ.get(f"{variable}_FILE")
            if not path:
                continue
            if os.environ.get(variable):
                raise ValueError(f"set {variable} or {variable}_FILE, not both")
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise ValueError(f"{variable}_FILE: cannot read {path} ({exc.strerror})") from None
            found[name] = text[:-1] if text.endswith("\n") else text
            found[name] = found[name].removesuffix("\r")
        return found


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _Files(settings_cls)

    rules: Path | None = Field(default=None, description="programme rules TOML (default: shipped)")
    max_message_bytes: int = Field(default=1 << 20, ge=1024)
    kafka: str | None = Field(default=None, description="broker host:port (RISKMON_KAFKA)")
    # Producer batch size in bytes for the command-line clients and the workers. The embedded
    # tansu broker reports a partition's end offset as its last record batch's base offset + 1;
    # the workers keep their restores whole regardless (see docs/durability.md), and 1 (one
    # record per batch) makes the end offsets of everything right, at a cost in speed.
    kafka_batch_bytes: int = Field(default=65536, ge=0)
    # How long the broker may hold a worker's fetch when nothing is new (Faust fixes 1.5 s):
    # each stage waits on a fetch, so this bounds the delay an idle partition adds per hop.
    kafka_fetch_wait_ms: int = Field(default=25, ge=1, le=10_000)
    # Seconds between a worker's full garbage-collection passes, which it runs on a timer
    # instead of Python's own schedule (streams/collector.py); 0 leaves them to Python.
    gc_full_every_s: int = Field(default=600, ge=0)
    # This worker's stable name in the consumer group (Kafka static membership): a worker that
    # restarts under the same name takes its own place back without a rebalance. Not on the
    # embedded tansu broker: a member rejoining under its name there never got its assignment.
    worker_id: str | None = Field(default=None, description="RISKMON_WORKER_ID")
    # An order whose occurred_at is this many seconds after its Kafka record's append time is
    # refused (`occurred_in_future`): a clock gone wrong upstream. 0 turns the check off.
    future_tolerance_s: int = Field(default=86400, ge=0)
    # Seconds of append time after which an `orders` partition with no new records stops
    # holding back the watch tickets of the others (streams/ordering.py): longer than a dead
    # worker's partitions take to reach a new reader; the longer, the later a quiet hour's alerts.
    partition_idle_s: float = Field(default=30.0, gt=0, le=3600)
    # The checkout authorization API (`riskmon worker --api-port`): an answer within this many
    # milliseconds or a 503 saying so; a reservation holds for this many seconds of event time.
    api_deadline_ms: int = Field(default=200, ge=1, le=60_000)
    # An API token the store accepted is taken this long without asking again: a revoked one
    # is refused within this many milliseconds at the latest. 0: the store asked every request.
    api_token_ttl_ms: int = Field(default=1000, ge=0, le=60_000)
    checkout_hold_s: int = Field(default=1800, ge=1)
    metrics_port: int = Field(default=9108, ge=0, le=65535, description="/metrics; 0: none")
    # SQLAlchemy URL of the store; credentials in it are never logged
    database_url: SecretStr = Field(default=SecretStr("sqlite:///var/riskmon.db"))
    # Never a default and never logged: the key that turns identifiers into pseudonyms.
    pseudonym_key: SecretStr | None = None
    # The analyst console: the key that signs session cookies (none: a random one per process,
    # so sessions end when it restarts; at least 32 bytes, reports/keys.py), Secure cookies when
    # served over https, how long a session lasts (from the login; since its last request),
    # the proxies whose X-Forwarded-For is believed (the client address that login throttling
    # and the audit trail see), and the catalog the decision API checks products against.
    console_secret: SecretStr | None = None
    console_secure_cookies: bool = False
    console_session_hours: float = Field(default=8.0, gt=0, le=24 * 7)
    console_idle_minutes: float = Field(default=30.0, gt=0)
    console_trusted_proxies: str = Field(default="", description="comma-separated addresses")
    # The key that signs and encrypts backups (`riskmon backup`, `restore`); never a default.
    backup_key: SecretStr | None = None
    catalog: Path | None = Field(default=None, description="catalog records, JSON Lines")
    # The bureau's side (docs/bureau.md): the TOML file with the delivery schedule, the
    # destinations, the incident push, the complaints' deadline and the retention periods.
    bureau_config: Path | None = Field(default=None, description="bureau configuration TOML")
    # The window of event times the contract accepts (schemas/times.py), RFC 3339 with an
    # offset: an event outside it is a dead letter (`time_out_of_range`), a rules file whose
    # programme period reaches outside it is refused. Both bounds within 1900 and 2200.
    event_time_min: AwareDatetime = Field(
        default=DEFAULT_WINDOW.start, description="RISKMON_EVENT_TIME_MIN (included)"
    )
    event_time_max: AwareDatetime = Field(
        default=DEFAULT_WINDOW.end, description="RISKMON_EVENT_TIME_MAX (excluded)"
    )

    @model_validator(mode="after")
    def _window_is_usable(self) -> Settings:
        self.event_window  # noqa: B018 - raises WindowError, a ValueError, when it is not
        return self

    @property
    def event_window(self) -> TimeWindow:
        return TimeWindow(self.event_time_min, self.event_time_max)


def load_settings() -> Settings:
    """The settings, or an exit naming each bad setting and its rule (never its value)."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{PREFIX}{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise SystemExit(f"error: {problems}") from None
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
