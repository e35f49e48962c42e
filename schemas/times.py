"""Event times: RFC 3339 with an offset, inside a window of plausible times.

A time the contract accepts is one every stage can do arithmetic on: `0001-01-01T00:00:00+14:00`
is a valid RFC 3339 time, but converting it to the programme's time zone overflows, and one
such event would stop a worker at every restart. The window is data, not a clock reading: the
default below, or one the edge passes in (the `window` argument of the decode functions, the
`RISKMON_EVENT_TIME_MIN` / `_MAX` settings), through pydantic's validation context.

The default, 2000-01-01 to 2100-01-01 UTC, holds the 2026 programme with decades to spare on
both sides: an account created in the early days of Chinese e-commerce (the platforms date
from 2003-2004) is still accepted, and so is any plausible later scheme; what it refuses is a
time no platform can produce, which is the only thing it needs to refuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, Field
from pydantic_core import PydanticCustomError

OUTER_START = datetime(1900, 1, 1, tzinfo=UTC)
OUTER_END = datetime(2200, 1, 1, tzinfo=UTC)
"""No window may reach past these: far enough from `datetime`'s limits (years 1 and 9999) that
a detector's windows and grace periods, a year or so at most, never overflow."""

WINDOW_KEY = "window"
"""The key of the window in a validation context."""


class WindowError(ValueError):
    """A window that is empty, not time-zone aware, or reaching past the outer limits."""


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Event times from `start` (included) to `end` (excluded), both with a time zone.

    >>> window = TimeWindow(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    >>> datetime(2026, 7, 1, tzinfo=UTC) in window, datetime(2027, 1, 1, tzinfo=UTC) in window
    (True, False)
    >>> TimeWindow(datetime(2027, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    Traceback (most recent call last):
    ...
    schemas.times.WindowError: the event-time window must start before it ends
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for bound in (self.start, self.end):
            if bound.tzinfo is None or bound.utcoffset() is None:
                raise WindowError("the event-time window's bounds need a time zone offset")
        if self.start >= self.end:
            raise WindowError("the event-time window must start before it ends")
        if self.start < OUTER_START or self.end > OUTER_END:
            raise WindowError(
                f"the event-time window must lie within {OUTER_START:%Y-%m-%d} and "
                f"{OUTER_END:%Y-%m-%d} (UTC)"
            )

    def __contains__(self, at: object) -> bool:
        # Aware datetimes compare on the instant whatever their offsets, without converting.
        return isinstance(at, datetime) and self.start <= at < self.end

    def describe(self) -> str:
        return f"{self.start.isoformat()} (included) to {self.end.isoformat()} (excluded)"


DEFAULT_WINDOW = TimeWindow(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def window_of(context: Any) -> TimeWindow:
    """The window a validation context carries, else the default."""
    if isinstance(context, dict):
        window = context.get(WINDOW_KEY)
        if isinstance(window, TimeWindow):
            return window
    return DEFAULT_WINDOW


def check_time(value: datetime, window: TimeWindow, field: str) -> None:
    """Raise the contract's error (`time_out_of_range`, the field named) if `value` is outside."""
    if not (window.start <= value < window.end):
        raise PydanticCustomError(
            "time_out_of_range",
            "{field}: outside the accepted window of event times, {window}",
            {"field": field, "window": window.describe()},
        )


# pydantic's core checks a time against the outer limits as it reads it; its error is the
# contract's `time_out_of_range`, and the message names the window, not the limit.
_OUTER = {
    "greater_than_equal": OUTER_START.isoformat().replace("+00:00", "Z"),
    "less_than": OUTER_END.isoformat().replace("+00:00", "Z"),
}


def past_outer_limits(error: Mapping[str, Any]) -> bool:
    """Whether a pydantic error (from `errors()` with its context) is a time past the limits."""
    limit = _OUTER.get(error.get("type", ""))
    return limit is not None and limit in (error.get("ctx") or {}).values()


Timestamp = Annotated[
    AwareDatetime,
    Field(
        ge=OUTER_START,
        lt=OUTER_END,
        description=(
            "RFC 3339 with an offset, within the accepted window of event times (by default "
            f"{DEFAULT_WINDOW.describe()})"
        ),
    ),
]
"""RFC 3339 with an offset (a time without one is rejected). The outer limits are checked as
the field is read (in pydantic's core, at no cost); the window itself by the message's
screening (`schemas.screening`), once per message, and by the rules for a programme's period."""

__all__ = [
    "DEFAULT_WINDOW",
    "OUTER_END",
    "OUTER_START",
    "WINDOW_KEY",
    "TimeWindow",
    "Timestamp",
    "WindowError",
    "check_time",
    "past_outer_limits",
    "window_of",
]
