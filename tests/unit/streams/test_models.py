"""The models' checkpoints: parts, manifest, and what a crash in between leaves."""

from __future__ import annotations

import os

import pytest

from streams import models


def write(table: dict[str, bytes], blob: bytes, offset: int, *, crash_after: int | None = None):
    previous = models.manifest_of(table)
    parts, (key, manifest) = models.records(blob, offset, previous)
    for i, (part_key, value) in enumerate(parts):
        if crash_after is not None and i == crash_after:
            return
        table[part_key] = value
    if crash_after is None:
        table[key] = manifest


def test_a_checkpoint_comes_back_whole_in_parts_under_the_limit() -> None:
    blob = os.urandom(3 * models.PART_BYTES + 17)
    table: dict[str, bytes] = {}
    write(table, blob, 41)
    assert all(len(v) <= models.PART_BYTES for k, v in table.items() if "/part/" in k)
    got, manifest = models.load(table)
    assert got == blob
    assert (manifest.parts, manifest.offset, manifest.slot) == (4, 41, 0)


def test_a_checkpoint_cut_short_leaves_the_previous_one_whole() -> None:
    old, new = os.urandom(2 * models.PART_BYTES), os.urandom(2 * models.PART_BYTES)
    table: dict[str, bytes] = {}
    write(table, old, 10)
    write(table, new, 20, crash_after=1)  # one part of the other slot, no manifest
    got, manifest = models.load(table)
    assert (got, manifest.offset) == (old, 10)
    write(table, new, 30)
    got, manifest = models.load(table)
    assert (got, manifest.offset, manifest.slot) == (new, 30, 1)


def test_missing_or_damaged_parts_are_said_not_guessed() -> None:
    with pytest.raises(models.CheckpointMissing, match="no checkpoint yet"):
        models.load({})
    table: dict[str, bytes] = {}
    write(table, b"abc" * 1000, 5)
    damaged = dict(table)
    damaged[models.part_key(0, 0)] = b"x" + damaged[models.part_key(0, 0)][1:]
    with pytest.raises(models.CheckpointMissing, match="digest"):
        models.load(damaged)
    gone = {k: v for k, v in table.items() if "/part/" not in k}
    with pytest.raises(models.CheckpointMissing, match="part 0 of 1 missing"):
        models.load(gone)
    with pytest.raises(models.CheckpointMissing, match="unreadable manifest"):
        models.load({models.MANIFEST: b"{not json"})
