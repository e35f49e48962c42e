"""Files sealed with AES-256-GCM (`cryptography`), written and read as streams, 1 MiB at a time.

`cryptography`'s AES-GCM seals one message held in memory; a table of a busy store can be
larger than memory should hold, so a file is a sequence of chunks, each its own AES-GCM
message. What ties them together is the associated data of each chunk: the file's label (the
table), the chunk's number and whether it is the last. A chunk moved, dropped, repeated or
taken from another file fails its tag; a file cut after a whole chunk lacks its last chunk and
is refused. (The construction is the "STREAM" one of Hoang, Reyhanitabar, Rogaway and Vizár,
which Tink's streaming AEAD and libsodium's secretstream also follow.)

    file   = MAGIC chunk*
    chunk  = nonce (12 random bytes) | length (4 bytes, big-endian) | ciphertext with its tag
    AAD    = label | 0x00 | chunk number (8 bytes, big-endian) | 0x01 if last else 0x00

A key seals at most a few thousand chunks here (one backup: keys are derived per backup), far
below the 2^32 random nonces a GCM key allows.

>>> import io
>>> buffer = io.BytesIO()
>>> with SealedWriter(buffer, bytes(32), "t", chunk=4) as out:
...     _ = out.write(b"hello world")
>>> open_sealed(io.BytesIO(buffer.getvalue()), bytes(32), "t").read()
b'hello world'
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"riskmon-sealed-1\n"
CHUNK = 1 << 20
_NONCE = 12
_TAG = 16


class SealError(ValueError):
    """A sealed file that does not open: another key, altered, truncated, or not sealed."""


def _aad(label: str, index: int, last: bool) -> bytes:
    return label.encode("utf-8") + b"\0" + struct.pack(">QB", index, 1 if last else 0)


class SealedWriter(io.RawIOBase):
    """A writable stream that seals what it is given into `raw`; `close` writes the last
    chunk (it does not close `raw`)."""

    def __init__(self, raw: BinaryIO, key: bytes, label: str, chunk: int = CHUNK) -> None:
        super().__init__()
        self._raw = raw
        self._aead = AESGCM(key)
        self._label = label
        self._chunk = chunk
        self._buffer = bytearray()
        self._index = 0
        raw.write(MAGIC)

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._buffer += data
        while len(self._buffer) > self._chunk:  # the last chunk is written by close
            self._seal(bytes(self._buffer[: self._chunk]), last=False)
            del self._buffer[: self._chunk]
        return len(data)

    def _seal(self, plain: bytes, *, last: bool) -> None:
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, plain, _aad(self._label, self._index, last))
        self._raw.write(nonce + struct.pack(">I", len(sealed)) + sealed)
        self._index += 1

    def close(self) -> None:
        if not self.closed:
            self._seal(bytes(self._buffer), last=True)
            self._buffer.clear()
        super().close()


def _chunks(raw: BinaryIO, key: bytes, label: str) -> Iterator[bytes]:
    if raw.read(len(MAGIC)) != MAGIC:
        raise SealError(f"{label}: not a sealed riskmon file")
    aead = AESGCM(key)
    index = 0
    while True:
        head = raw.read(_NONCE + 4)
        if len(head) < _NONCE + 4:
            raise SealError(f"{label}: cut short (its last chunk is missing)")
        nonce, size = head[:_NONCE], struct.unpack(">I", head[_NONCE:])[0]
        if size < _TAG or size > CHUNK + _TAG:
            raise SealError(f"{label}: a chunk of impossible length: the file is damaged")
        sealed = raw.read(size)
        if len(sealed) < size:
            raise SealError(f"{label}: cut short inside chunk {index}")
        for last in (False, True):
            try:
                plain = aead.decrypt(nonce, sealed, _aad(label, index, last))
            except InvalidTag:
                continue
            yield plain
            if last:
                if raw.read(1):
                    raise SealError(f"{label}: bytes after its last chunk: the file is damaged")
                return
            break
        else:
            raise SealError(
                f"{label}: chunk {index} does not open with this key (another key, or altered)"
            )
        index += 1


class _SealedReader(io.RawIOBase):
    def __init__(self, raw: BinaryIO, key: bytes, label: str) -> None:
        super().__init__()
        self._chunks = _chunks(raw, key, label)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: memoryview | bytearray) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(target), len(self._pending))
        target[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def open_sealed(raw: BinaryIO, key: bytes, label: str) -> io.BufferedReader:
    """A readable stream of what `raw` seals; `SealError` as soon as a chunk fails."""
    return io.BufferedReader(_SealedReader(raw, key, label), buffer_size=CHUNK)
