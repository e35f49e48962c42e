"""A control's state at a moment, by the workers' rule (detectors/controls.py) on its key's
timeline: scheduled before its time, active, expired, superseded by a later control of the key,
lifted by a later lift; a lift only once its time has come."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from console.control_register import build, states_at
from schemas.controls import Control

T0 = datetime(2026, 7, 10, 1, 0, tzinfo=UTC)


def control(
    control_id: str, action: str, at: float, expires: float | None = None, key: str = "M1"
) -> Control:
    return build(
        control_id,
        "merchant",
        key,
        action,
        "reason",
        "cli:ops",
        issued_at=T0,
        effective_from=T0 + timedelta(hours=at),
        expires_at=None if expires is None else T0 + timedelta(hours=expires),
        timezone=UTC,
    )


def test_states_follow_the_timeline_of_each_key() -> None:
    controls = [
        control("c-1", "block", 0),
        control("c-2", "hold", 2, expires=3),
        control("c-3", "lift", 5),
        control("c-4", "block", 8),
        control("c-5", "allow", 1, key="M2"),
    ]

    def at(hours: float) -> dict[str, str]:
        return states_at(controls, T0 + timedelta(hours=hours))

    assert at(1)["c-1"] == "active" and at(1)["c-2"] == "scheduled" and at(1)["c-4"] == "scheduled"
    assert at(2)["c-1"] == "superseded" and at(2)["c-2"] == "active"
    assert at(4)["c-2"] == "expired"  # and c-1 stays superseded: an expiry revives nothing
    assert at(6)["c-2"] == "lifted" and at(6)["c-1"] == "lifted" and at(6)["c-3"] == "lift"
    assert at(9)["c-4"] == "active" and at(9)["c-5"] == "active"
    assert at(0.5)["c-5"] == "scheduled"
