"""The in-process runtime: files of events through the detectors (backtests, demo, evaluation)."""

from replay.engine import Replay, ReplayStats

__all__ = ["Replay", "ReplayStats"]
