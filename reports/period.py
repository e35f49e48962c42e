"""The days a report covers, on the programme's calendar (the `day` column of every table)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


class PeriodError(ValueError):
    """Dates that do not make a period; the message says which option and why."""


@dataclass(frozen=True, slots=True)
class Period:
    """From `start` to `end`, both days included.

    >>> Period.parse(None, "2026-07-01", "2026-07-03").days
    3
    >>> str(Period.parse("2026-07-02", None, None))
    '2026-07-02'
    """

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __str__(self) -> str:
        return str(self.start) if self.start == self.end else f"{self.start} .. {self.end}"

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range(self.days)]

    @classmethod
    def parse(cls, day: str | None, start: str | None, end: str | None) -> Period | None:
        """`--date D`, or `--from D --to D`, or nothing (None: the caller picks the default)."""
        if day is not None and (start is not None or end is not None):
            raise PeriodError("give --date, or --from and --to, not both")
        if day is not None:
            one = _date("--date", day)
            return cls(one, one)
        if start is None and end is None:
            return None
        if start is None or end is None:
            raise PeriodError("--from and --to go together")
        period = cls(_date("--from", start), _date("--to", end))
        if period.end < period.start:
            raise PeriodError(f"--to {end} is before --from {start}")
        return period


def _date(option: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"{option} takes a date as YYYY-MM-DD") from None
