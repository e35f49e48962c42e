"""Analysts' verdicts on their way to the models, in the decide stage's saved state.

A verdict reaches the models when their event time passes its `labelled_at`, as the replay
merges a file of them (replay/learning.py); one that comes later than that is due at once.
"""

from __future__ import annotations

from bisect import insort

from schemas.decode import decode_label
from schemas.labels import Label
from streams.state import PartitionStore


class PendingVerdicts:
    """Analysts' verdicts held in the partition's saved state until the models' event time
    reaches their `labelled_at`, as the replay merges them; one that comes later than that is
    due at once (the models then learn it a little later than a replay of the same files)."""

    def __init__(self, store: PartitionStore, max_bytes: int) -> None:
        self.table = store.table("label_pending")
        self.clock = store.table("learning")  # "time": the newest event time the models saw
        self.max_bytes = max_bytes
        self._keys: list[str] | None = None  # held keys in labelled_at order, built on first use

    def add(self, raw: bytes, offset: int) -> None:
        label = decode_label(raw, max(self.max_bytes, len(raw)))
        # fixed width, so the keys sort as the times do; the offset keeps repeats apart
        key = f"{label.labelled_at.timestamp():020.6f}|{offset:012d}"
        self.table[key] = raw.decode()
        if self._keys is not None:
            insort(self._keys, key)

    def forget(self) -> None:
        """The saved state was restored under it: read the held keys again."""
        self._keys = None

    def flush(self) -> list[Label]:
        """Every verdict held, in `labelled_at` order (the stream has gone quiet)."""
        keys, self._keys = sorted(self.table), []
        return [self._pop(key) for key in keys]

    def __len__(self) -> int:
        return len(self.table)

    def _pop(self, key: str) -> Label:
        raw = self.table.pop(key).encode()
        return decode_label(raw, max(self.max_bytes, len(raw)))

    def due(self, ts: float) -> list[Label]:
        """The verdicts due at or before `ts`, in `labelled_at` order; `ts` is now the time."""
        if ts > self.clock.get("time", float("-inf")):
            self.clock["time"] = ts
        now = self.clock["time"]
        keys = self._keys
        if keys is None:
            keys = self._keys = sorted(self.table)
        out = []
        while keys and float(keys[0].split("|", 1)[0]) <= now:
            out.append(self._pop(keys.pop(0)))
        return out
