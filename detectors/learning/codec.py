"""The learning stage's checkpoint format: JSON and raw byte blobs, compressed, versioned.

Not pickle (the style guide keeps pickled objects off the topics): a checkpoint is data, and
reading one runs no code of its choosing. river's estimators are walked attribute by attribute;
a class is looked up by name among river's own modules only (or the few builtins below) and
rebuilt without its constructor, its attributes set back; river's Rust-backed objects (ADWIN,
the running quantile, the weight vectors) go through their own byte state.

Layout: `RMLN`, a version byte, then zlib of: the JSON document's length (8 bytes, big-endian),
the document, then each blob as its length and its bytes. Same state, same bytes.

>>> from river import preprocessing
>>> scaler = preprocessing.StandardScaler()
>>> scaler.learn_one({"a": 1.0}); scaler.learn_one({"a": 3.0})
>>> again = loads(dumps({"scaler": scaler, "inf": float("-inf"), "raw": b"\\x00\\x01"}))
>>> again["scaler"].transform_one({"a": 3.0}), again["inf"], again["raw"]
({'a': 1.0}, -inf, b'\\x00\\x01')
"""

from __future__ import annotations

import collections
import copyreg
import functools
import importlib
import math
import random
import struct
import zlib
from typing import Any

import orjson

MAGIC = b"RMLN"
VERSION = 1
_BUILTINS: dict[str, Any] = {
    "builtins.float": float,
    "builtins.int": int,
    "builtins.tuple": tuple,
    "builtins.list": list,
    "builtins.dict": dict,
    "builtins.bool": bool,
}


_NEWOBJ = getattr(copyreg, "__newobj__")  # noqa: B009 - typeshed does not declare it
# The only classes a checkpoint may call with arguments (a weight vector from its dict); every
# other class is rebuilt without running its constructor.
_CALLABLE = frozenset({"river._river_rust.vectordict.VectorDict"})


class CheckpointError(ValueError):
    """A checkpoint that is not one, of another version, or naming a class it may not."""


def _name(obj: Any) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def _resolve(name: str) -> Any:
    if name in _BUILTINS:
        return _BUILTINS[name]
    module, _, attr = name.rpartition(".")
    if not module.startswith("river.") and module != "river":
        raise CheckpointError(f"checkpoint names a class outside river: {name!r}")
    try:
        found = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        raise CheckpointError(f"checkpoint names an unknown class: {name!r}") from None
    if not isinstance(found, type):
        raise CheckpointError(f"checkpoint names something that is not a class: {name!r}")
    return found


class _Encoder:
    def __init__(self) -> None:
        self.blobs: list[bytes] = []
        self.memo: dict[int, int] = {}
        self.keep: list[Any] = []  # memoised objects stay alive, so their ids stay theirs

    def blob(self, data: bytes) -> dict[str, int]:
        self.blobs.append(data)
        return {"$b": len(self.blobs) - 1}

    def enc(self, obj: Any) -> Any:  # noqa: C901 - one case per kind of value
        if obj is None or isinstance(obj, bool | int | str):
            return obj
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"$f": repr(obj)}
        if isinstance(obj, bytes | bytearray | memoryview):
            return self.blob(bytes(obj))
        if isinstance(obj, list):
            return [self.enc(v) for v in obj]
        if isinstance(obj, tuple):
            return {"$t": [self.enc(v) for v in obj]}
        if isinstance(obj, collections.Counter):
            return {"$counter": self.pairs(obj)}
        if isinstance(obj, collections.defaultdict):
            return {"$dd": self.enc(obj.default_factory), "items": self.pairs(obj)}
        if isinstance(obj, collections.deque):
            return {"$deque": [self.enc(v) for v in obj], "maxlen": obj.maxlen}
        if type(obj) is dict:
            if all(isinstance(k, str) and not k.startswith("$") for k in obj):
                return {k: self.enc(v) for k, v in obj.items()}
            return {"$d": self.pairs(obj)}
        if isinstance(obj, random.Random):
            version, internal, gauss = obj.getstate()
            return {"$rng": [version, list(internal), self.enc(gauss)]}
        if isinstance(obj, functools.partial):
            return {"$partial": self.enc(obj.func), "args": self.enc(obj.args)}
        if isinstance(obj, type):
            name = _name(obj)
            _resolve(name)  # refuse now what could not be read back
            return {"$type": name}
        return self.instance(obj)

    def pairs(self, mapping: dict[Any, Any]) -> list[list[Any]]:
        return [[self.enc(k), self.enc(v)] for k, v in mapping.items()]

    def instance(self, obj: Any) -> Any:
        cls = type(obj)
        name = _name(cls)
        _resolve(name)
        ref = self.memo.get(id(obj))
        if ref is not None:
            return {"$ref": ref}
        ref = self.memo[id(obj)] = len(self.memo)
        self.keep.append(obj)
        if hasattr(obj, "__dict__"):
            return {"$o": name, "id": ref, "s": {k: self.enc(v) for k, v in vars(obj).items()}}
        # a Rust-backed object: its own reduction, whose state is bytes
        reduced = obj.__reduce_ex__(2)
        maker, args, state = reduced[0], reduced[1], reduced[2] if len(reduced) > 2 else None
        if maker is _NEWOBJ:
            return {"$new": name, "id": ref, "args": self.enc(args[1:]), "state": self.enc(state)}
        if maker is cls and name in _CALLABLE:
            return {"$call": name, "id": ref, "args": self.enc(args), "state": self.enc(state)}
        raise CheckpointError(f"cannot checkpoint {name}: it reduces through {maker!r}")


class _Decoder:
    def __init__(self, blobs: list[bytes]) -> None:
        self.blobs = blobs
        self.memo: dict[int, Any] = {}

    def dec(self, doc: Any) -> Any:  # noqa: C901 - the encoder's cases, backwards
        if isinstance(doc, list):
            return [self.dec(v) for v in doc]
        if not isinstance(doc, dict):
            return doc
        if not doc or not next(iter(doc)).startswith("$"):
            return {k: self.dec(v) for k, v in doc.items()}
        tag = next(iter(doc))
        if tag == "$f":
            return float(doc["$f"])
        if tag == "$b":
            return self.blobs[doc["$b"]]
        if tag == "$t":
            return tuple(self.dec(v) for v in doc["$t"])
        if tag == "$d":
            return {_hashable(self.dec(k)): self.dec(v) for k, v in doc["$d"]}
        if tag == "$counter":
            return collections.Counter({_hashable(self.dec(k)): self.dec(v) for k, v in doc[tag]})
        if tag == "$dd":
            out: collections.defaultdict[Any, Any] = collections.defaultdict(self.dec(doc["$dd"]))
            out.update({_hashable(self.dec(k)): self.dec(v) for k, v in doc["items"]})
            return out
        if tag == "$deque":
            return collections.deque((self.dec(v) for v in doc[tag]), maxlen=doc["maxlen"])
        if tag == "$rng":
            rng = random.Random()  # noqa: S311 - river's own generator, its state restored
            version, internal, gauss = doc[tag]
            rng.setstate((version, tuple(internal), self.dec(gauss)))
            return rng
        if tag == "$partial":
            return functools.partial(self.dec(doc[tag]), *self.dec(doc["args"]))
        if tag == "$type":
            return _resolve(doc[tag])
        if tag == "$ref":
            return self.memo[doc[tag]]
        if tag in ("$o", "$new", "$call"):
            return self.instance(tag, doc)
        raise CheckpointError(f"unknown tag in checkpoint: {tag!r}")

    def instance(self, tag: str, doc: dict[str, Any]) -> Any:
        cls = _resolve(doc[tag])
        if tag == "$o":
            obj = cls.__new__(cls)
            self.memo[doc["id"]] = obj
            obj.__dict__.update({k: self.dec(v) for k, v in doc["s"].items()})
            return obj
        if tag == "$call" and doc[tag] not in _CALLABLE:
            raise CheckpointError(f"checkpoint may not build {doc[tag]!r} from arguments")
        args = self.dec(doc["args"])
        obj = cls.__new__(cls, *args) if tag == "$new" else cls(*args)
        state = self.dec(doc["state"])
        if state is not None:
            obj.__setstate__(state)
        self.memo[doc["id"]] = obj
        return obj


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def dumps(tree: Any) -> bytes:
    encoder = _Encoder()
    doc = orjson.dumps(encoder.enc(tree))
    parts = [struct.pack(">Q", len(doc)), doc]
    for blob in encoder.blobs:
        parts.append(struct.pack(">Q", len(blob)))
        parts.append(blob)
    return MAGIC + bytes([VERSION]) + zlib.compress(b"".join(parts), 6)


def loads(data: bytes) -> Any:
    if data[:4] != MAGIC:
        raise CheckpointError("not a riskmon learning checkpoint")
    if data[4] != VERSION:
        raise CheckpointError(f"checkpoint version {data[4]}, this release reads {VERSION}")
    try:
        raw = zlib.decompress(data[5:])
    except zlib.error as exc:
        raise CheckpointError(f"corrupt checkpoint: {exc}") from None
    (size,) = struct.unpack_from(">Q", raw, 0)
    doc = orjson.loads(raw[8 : 8 + size])
    at = 8 + size
    blobs = []
    while at < len(raw):
        (n,) = struct.unpack_from(">Q", raw, at)
        blobs.append(raw[at + 8 : at + 8 + n])
        at += 8 + n
    return _Decoder(blobs).dec(doc)
