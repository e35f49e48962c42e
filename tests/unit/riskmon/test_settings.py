"""Settings from the environment: the window of accepted event times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from riskmon.settings import load_settings
from schemas.times import DEFAULT_WINDOW


def test_the_default_window_is_the_contracts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RISKMON_EVENT_TIME_MIN", raising=False)
    monkeypatch.delenv("RISKMON_EVENT_TIME_MAX", raising=False)
    assert load_settings().event_window == DEFAULT_WINDOW


def test_the_window_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKMON_EVENT_TIME_MIN", "2015-01-01T00:00:00+08:00")
    monkeypatch.setenv("RISKMON_EVENT_TIME_MAX", "2030-01-01T00:00:00Z")
    window = load_settings().event_window
    assert window.start == datetime(2015, 1, 1, tzinfo=timezone(timedelta(hours=8)))
    assert window.end == datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("low", "high", "words"),
    [
        ("2030-01-01T00:00:00Z", "2020-01-01T00:00:00Z", "start before it ends"),
        ("2020-01-01T00:00:00", "2030-01-01T00:00:00Z", "timezone"),  # no offset
        ("0001-01-01T00:00:00+14:00", "2030-01-01T00:00:00Z", "within 1900-01-01 and 2200-01-01"),
    ],
)
def test_an_unusable_window_is_refused_in_words(
    monkeypatch: pytest.MonkeyPatch, low: str, high: str, words: str
) -> None:
    monkeypatch.setenv("RISKMON_EVENT_TIME_MIN", low)
    monkeypatch.setenv("RISKMON_EVENT_TIME_MAX", high)
    with pytest.raises(SystemExit, match=words):  # one message, naming the setting, no traceback
        load_settings()
