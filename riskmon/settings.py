"""Runtime settings: the environment (`RISKMON_*`), read once at the edge, frozen."""

from __future__ import annotations

from pathlib import Path

from pydantic import AwareDatetime, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.times import DEFAULT_WINDOW, TimeWindow


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RISKMON_", frozen=True, extra="ignore")

    rules: Path | None = Field(default=None, description="programme rules TOML (default: shipped)")
    max_message_bytes: int = Field(default=1 << 20, ge=1024)
    kafka: str | None = Field(default=None, description="broker host:port (RISKMON_KAFKA)")
    # Producer batch size in bytes for the command-line clients and the workers. The embedded
    # tansu broker reports a partition's end offset as its last record batch's base offset + 1;
    # the workers keep their restores whole regardless (see streams/state.py), and 1 (one
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
    metrics_port: int = Field(default=9108, ge=0, le=65535, description="/metrics; 0: none")
    # SQLAlchemy URL of the store; credentials in it are never logged
    database_url: SecretStr = Field(default=SecretStr("sqlite:///var/riskmon.db"))
    # Never a default and never logged: the key that turns identifiers into pseudonyms.
    pseudonym_key: SecretStr | None = None
    # The analyst console: the key that signs session cookies (none: a random one per process,
    # so sessions end when it restarts), Secure cookies when served over https, and the catalog
    # the decision API checks products against.
    console_secret: SecretStr | None = None
    console_secure_cookies: bool = False
    catalog: Path | None = Field(default=None, description="catalog records, JSON Lines")
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
    return Settings()
