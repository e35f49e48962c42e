"""What an input message is screened for, once its fields are valid one by one.

- Its event times lie in the window of accepted times (`schemas.times`: the default, or the
  one the edge put in the validation context).
- No control character (C0, DEL, C1) and no invisible formatting character (bidirectional
  embeddings, overrides and isolates, zero-width characters, the byte-order mark, tag
  characters) in an identifier: `M\\u0000evil` fails in PostgreSQL, and `M\\u202eevil` shows as
  another merchant. Text written by a person (`PROSE`) may hold tabs and line breaks, and
  zero-width joiners, but still no other control and no bidirectional override or isolate.
- No raw ID number or mobile number, in any disguise (`schemas.identifiers`), in any text the
  monitor accepts: known fields and unknown ones alike (an unknown field is kept, so it would
  reach the state of a waiting event), names and numbers of unknown fields included.

One model validator per message does it (`ScreenedMessage`): it gathers the texts and times of
the message and its parts in one walk, checks the texts joined (a regular expression for the
characters, one scan for identifiers) and the times against the window, and walks again, to
name the field, only when something is found. Errors name the field and the character's code
point, never the value.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Annotated, Any, Self, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from schemas.common import Screen, WireModel
from schemas.identifiers import raw_identifier_kind
from schemas.times import TimeWindow, check_time, window_of

KEYS = "keys"
"""Where the screening leaves, in a validation context, how many keys the message had."""
UNKNOWN = "unknown"
"""And how many unknown fields it carried, its parts' included (`schemas.orders.extra_fields`)."""
SCREENED = "screened"
"""Set (True) in a validation context: the same bytes were screened already, by the process that
passed them on (replay/learning_process.py decodes again the lines the replay accepted), so the
screening, which only ever refuses, is not run again."""

_INVISIBLE = (
    "\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000e0000-\U000e007f"
)
_FORBIDDEN = {
    "ident": re.compile(f"[\x00-\x1f\x7f-\x9f{_INVISIBLE}]"),
    "prose": re.compile(
        "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
        "\U000e0000-\U000e007f]"
    ),
}
_IDENT_FORBIDDEN = _FORBIDDEN["ident"].search
_IPV4 = re.compile(
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
)
_IPV6 = re.compile(r"[0-9A-Fa-f:.]{2,45}")
_JOIN = "Z"  # a letter: it ends a run of digits, so two fields never join into one number


_OCTETS = frozenset(str(n) for n in range(256))  # what `_IPV4` takes for one octet


def _is_ip(value: str) -> bool:
    octets = value.split(".")
    if len(octets) == 4:  # `_IPV4.fullmatch`, without the regular expression's cost
        a, b, c, d = octets
        if a in _OCTETS and b in _OCTETS and c in _OCTETS and d in _OCTETS:
            return True
    if ":" in value and _IPV6.fullmatch(value):
        import ipaddress

        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            return False
        return True
    return False


@dataclass(frozen=True, slots=True)
class _Plan:
    """The fields of one model class, by how they are screened."""

    ident: tuple[str, ...] = ()
    prose: tuple[str, ...] = ()
    ip: tuple[str, ...] = ()
    ident_lists: tuple[str, ...] = ()
    prose_lists: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    model_lists: tuple[str, ...] = ()
    times: tuple[str, ...] = ()
    time_models: tuple[str, ...] = ()  # parts (or lists of parts) that hold event times
    rare: bool = False  # any field but identifiers and parts: the slower branch of `_gather`
    flat: bool = False  # identifiers and times only: read in its parent's `_gather`
    # the values of `ident`, `times` and `models` from a model's `__dict__`, as a tuple (one
    # C call each); None when there are none
    get_ident: Callable[[dict[str, Any]], tuple[Any, ...]] | None = field(default=None)
    get_times: Callable[[dict[str, Any]], tuple[Any, ...]] | None = field(default=None)
    get_models: Callable[[dict[str, Any]], tuple[Any, ...]] | None = field(default=None)


def _getter(names: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]] | None:
    """The values of `names` in a dict, always as a tuple (`itemgetter` of one name is not)."""
    if not names:
        return None
    if len(names) == 1:
        name = names[0]
        return lambda values: (values[name],)
    return itemgetter(*names)


def _classify(tp: Any, screen: str = "ident") -> tuple[str, str] | None:
    """("text"|"texts"|"model"|"models", screen kind) for an annotation, None if not screened."""
    origin = get_origin(tp)
    if origin is Annotated:
        base, *meta = get_args(tp)
        marks = [m.kind for m in meta if isinstance(m, Screen)]
        return _classify(base, marks[-1] if marks else screen)
    if origin is Union or origin is types.UnionType:
        for arg in get_args(tp):
            found = _classify(arg, screen)
            if found is not None:
                return found
        return None
    if origin is list:
        inner = _classify(get_args(tp)[0], screen)
        if inner is None or inner[0] not in ("text", "model"):
            return None
        return inner[0] + "s", inner[1]
    if tp is str:
        return ("text", screen) if screen != "none" else None
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "model", tp.__qualname__
    if tp is datetime or tp is AwareDatetime:
        return "time", ""
    return None


_PLANS: dict[type[BaseModel], _Plan] = {}


def _part_class(tp: Any) -> type[BaseModel] | None:
    """The model class a field holds (alone, optional or in a list), if any."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in get_args(tp):
        found = _part_class(arg)
        if found is not None:
            return found
    return None


def _holds_times(cls: type[BaseModel]) -> bool:
    plan = _plan(cls)
    return bool(plan.times or plan.time_models)


def _plan(cls: type[BaseModel]) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is not None:
        return plan
    slots: dict[str, list[str]] = {
        name: [] for name in _Plan.__slots__ if name not in ("rare", "flat") and name[:4] != "get_"
    }
    for name, info in cls.model_fields.items():
        part = _part_class(info.annotation)
        if part is not None and _holds_times(part):
            slots["time_models"].append(name)
        marks = [m.kind for m in info.metadata if isinstance(m, Screen)]
        found = _classify(info.annotation, marks[-1] if marks else "ident")
        if found is None:
            continue
        shape, screen = found
        if shape == "time":
            slots["times"].append(name)
        elif shape == "model":
            slots["models"].append(name)
        elif shape == "models":
            slots["model_lists"].append(name)
        elif shape == "texts":
            slots["prose_lists" if screen == "prose" else "ident_lists"].append(name)
        else:
            slots[screen].append(name)
    rare = any(
        slots[name] for name in slots if name not in ("ident", "models", "times", "time_models")
    )
    flat = not rare and not slots["models"]
    fields = {name: tuple(names) for name, names in slots.items()}
    plan = _Plan(
        **fields,
        rare=rare,
        flat=flat,
        get_ident=_getter(fields["ident"]),
        get_times=_getter(fields["times"]),
        get_models=_getter(fields["models"]),
    )
    _PLANS[cls] = plan
    return plan


def _free_json(value: Any, texts: list[str]) -> int:
    """The texts (and numbers, as text) of an unknown field's value, names included; returns
    how many keys its objects hold."""
    if isinstance(value, str):
        texts.append(value)
    elif isinstance(value, dict):
        keys = len(value)
        for key, inner in value.items():
            texts.append(key)
            keys += _free_json(inner, texts)
        return keys
    elif isinstance(value, list):
        return sum(_free_json(inner, texts) for inner in value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        texts.append(repr(value))
    return 0


def _gather(
    model: BaseModel,
    ident: list[str],
    prose: list[str],
    times: list[datetime],
    unknown: list[int],
) -> int:
    """The texts of `model` and its parts, by how they are screened, and its event times;
    returns how many keys the message had (for `schemas.decode`'s check of keys given twice).

    Parts without parts of their own (a consumer, a payment, an item) are read here rather
    than by a call each: this runs once per message.
    """
    plan = _PLANS.get(type(model)) or _plan(type(model))
    values = model.__dict__
    keys = len(model.__pydantic_fields_set__)  # the names of unknown fields included
    # filter(None): a missing part or an empty text holds nothing to find
    if plan.get_ident is not None:
        ident.extend(filter(None, plan.get_ident(values)))
    if plan.get_times is not None:
        times.extend(filter(None, plan.get_times(values)))
    extra = model.__pydantic_extra__
    if extra:
        keys += _free_json(extra, prose) - len(extra)
        unknown.append(len(extra))
    parts: list[BaseModel] = (
        list(filter(None, plan.get_models(values))) if plan.get_models is not None else []
    )
    if plan.rare:
        for name in plan.ip:
            value = values[name]
            if value and not _is_ip(value):
                ident.append(value)
        if plan.prose:
            prose.extend(filter(None, map(values.__getitem__, plan.prose)))
        for name in plan.ident_lists:
            ident.extend(values[name] or ())
        for name in plan.prose_lists:
            prose.extend(values[name] or ())
        for name in plan.model_lists:
            parts.extend(values[name] or ())
    plans = _PLANS
    for part in parts:
        inner = plans.get(type(part)) or _plan(type(part))
        if not inner.flat:
            keys += _gather(part, ident, prose, times, unknown)
            continue
        keys += len(part.__pydantic_fields_set__)
        got = part.__dict__
        if inner.get_ident is not None:
            ident.extend(filter(None, inner.get_ident(got)))
        if inner.get_times is not None:
            times.extend(filter(None, inner.get_times(got)))
        extra = part.__pydantic_extra__
        if extra:
            keys += _free_json(extra, prose) - len(extra)
            unknown.append(len(extra))
    return keys


def _in_window(times: list[datetime], window: TimeWindow) -> bool:
    # A local year two inside the window's is inside whatever the offset (under a day): the
    # common case costs no conversion to UTC.
    start, end = window.start, window.end
    low, high = start.year + 2, end.year - 2
    for at in times:
        if not (low <= at.year <= high or start <= at < end):
            return False
    return True


def _check_times(model: BaseModel, window: Any, path: str = "") -> None:
    plan = _PLANS.get(type(model)) or _plan(type(model))
    values = model.__dict__
    for name in plan.times:
        value = values[name]
        if value is not None and not (window.start <= value < window.end):
            check_time(value, window, f"{path}{name}")
    for name in plan.time_models:
        part = values[name]
        if isinstance(part, list):
            for n, each in enumerate(part):
                _check_times(each, window, f"{path}{name}.{n}.")
        elif part is not None:
            _check_times(part, window, f"{path}{name}.")


def _free_fields(value: Any, path: str) -> list[tuple[str, str, str]]:
    """The slow walk over an unknown field's value; a key is named by where it is, not by
    itself (it may be what is refused)."""
    if isinstance(value, dict):
        out: list[tuple[str, str, str]] = []
        for n, (key, inner) in enumerate(value.items()):
            name = f"{path}.{key}" if path else key
            out.append((f"{path or '(message)'}: name of unknown field {n + 1}", "prose", key))
            out += _free_fields(inner, name)
        return out
    if isinstance(value, list):
        return [f for i, inner in enumerate(value) for f in _free_fields(inner, f"{path}.{i}")]
    texts: list[str] = []
    _free_json(value, texts)
    return [(path, "prose", text) for text in texts]


def _fields(model: BaseModel, path: str = "") -> list[tuple[str, str, str]]:
    """(path, screen kind, text) of every screened text: the slow walk that names a field."""
    plan = _plan(type(model))
    values = model.__dict__
    out: list[tuple[str, str, str]] = []

    def at(name: str) -> str:
        return f"{path}.{name}" if path else name

    for kind, names in (("ident", plan.ident), ("prose", plan.prose), ("ip", plan.ip)):
        out += [(at(n), kind, values[n]) for n in names if values[n] is not None]
    for kind, names in (("ident", plan.ident_lists), ("prose", plan.prose_lists)):
        for n in names:
            out += [(f"{at(n)}.{i}", kind, v) for i, v in enumerate(values[n] or ())]
    out += _free_fields(model.__pydantic_extra__ or {}, path)
    for n in plan.models:
        if values[n] is not None:
            out += _fields(values[n], at(n))
    for n in plan.model_lists:
        for i, part in enumerate(values[n] or ()):
            out += _fields(part, f"{at(n)}.{i}")
    return out


def _refuse_controls(model: BaseModel) -> None:
    for path, kind, text in _fields(model):
        found = _FORBIDDEN["prose" if kind == "prose" else "ident"].search(text)
        if found is not None:
            raise PydanticCustomError(
                "control_character",
                "{field}: contains a control or invisible formatting character (U+{code})",
                {"field": path, "code": f"{ord(found[0]):04X}"},
            )
    raise _unplaced("control_character")


def _refuse_identifiers(model: BaseModel) -> None:
    for path, kind, text in _fields(model):
        if kind == "ip" and _is_ip(text):
            continue
        found = raw_identifier_kind(text)
        if found is not None:
            raise PydanticCustomError(
                "raw_identifier",
                "{field}: holds what looks like a raw {kind}; identifiers must be "
                "pseudonymised before they are sent",
                {"field": path, "kind": found},
            )
    raise _unplaced("raw_identifier")


def _unplaced(reason: str) -> PydanticCustomError:
    # The joined texts showed something no single text does: refuse rather than let it by.
    return PydanticCustomError(
        reason, "a text of the message is refused ({reason})", {"reason": reason}
    )


def screen(model: BaseModel, context: Any = None) -> None:
    """Refuse `model` if it breaks the rules above (`PydanticCustomError`)."""
    if isinstance(context, dict) and context.get(SCREENED):
        return
    ident: list[str] = []
    prose: list[str] = []
    times: list[datetime] = []
    unknown: list[int] = []
    keys = _gather(model, ident, prose, times, unknown)
    if isinstance(context, dict):
        context[KEYS] = keys
        context[UNKNOWN] = sum(unknown)
    window = window_of(context)
    if not _in_window(times, window):
        _check_times(model, window)
    joined = _JOIN.join(ident)
    # in ASCII, the forbidden characters are the C0 controls and DEL: what `isprintable`
    # refuses there (a loop in C rather than the pattern's character class per character)
    if not joined.isprintable() if joined.isascii() else _IDENT_FORBIDDEN(joined):
        _refuse_controls(model)
    if prose:
        joined_prose = _JOIN.join(prose)
        if _FORBIDDEN["prose"].search(joined_prose):
            _refuse_controls(model)
        joined = f"{joined}{_JOIN}{joined_prose}"
    if raw_identifier_kind(joined) is not None:
        _refuse_identifiers(model)


class ScreenedMessage(WireModel):
    """A whole input message (not a part of one): screened once it is valid field by field."""

    @model_validator(mode="after")
    def _screened(self, info: ValidationInfo) -> Self:
        screen(self, info.context)
        return self


__all__ = ["KEYS", "SCREENED", "UNKNOWN", "ScreenedMessage", "screen"]
