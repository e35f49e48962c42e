"""Shared field types and the base configuration of every wire model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from schemas.times import Timestamp

SCHEMA_VERSION: Literal[1] = 1


@dataclass(frozen=True, slots=True)
class Screen:
    """How `schemas.screening` checks a text field (in the field's `Annotated` metadata).

    Every text field of an input message is screened as an identifier unless marked: no
    control or invisible formatting character, no raw ID or mobile number in any disguise.
    """

    kind: Literal["ident", "prose", "ip", "none"]


IDENT = Screen("ident")
PROSE = Screen("prose")
"""Written by a person: tabs and line breaks allowed, bidirectional overrides still refused."""
IP = Screen("ip")
"""An IP address is not scanned for phone numbers (139.200.123.45 has a mobile's 11 digits)."""
UNSCREENED = Screen("none")
"""A field whose pattern already admits no control character and no identifier."""

SchemaVersion = Literal[1]
Hash64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$"), UNSCREENED]
"""A keyed pseudonym: HMAC-SHA256, 64 lowercase hex characters."""
Region = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$"), UNSCREENED]
Ident = Annotated[str, StringConstraints(min_length=1, max_length=128), IDENT]
"""An identifier of ours or the platform's (event, order, merchant, SKU...)."""
ShortText = Annotated[str, StringConstraints(max_length=256), IDENT]
IpText = Annotated[str, StringConstraints(min_length=1, max_length=64), IP]


class WireModel(BaseModel):
    """Strict and frozen; unknown fields are kept (and counted) for forward compatibility."""

    model_config = ConfigDict(strict=True, frozen=True, extra="allow")


class OutputModel(BaseModel):
    """Output records: strict and frozen, and no field we did not define."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


def count_extra(model: BaseModel) -> int:
    """Unknown fields on a model and on the models it holds."""
    extra = model.__pydantic_extra__
    n = len(extra) if extra else 0
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            n += count_extra(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, BaseModel):
                    n += count_extra(item)
    return n


__all__ = [
    "SCHEMA_VERSION",
    "IDENT",
    "IP",
    "PROSE",
    "UNSCREENED",
    "Hash64",
    "Ident",
    "IpText",
    "OutputModel",
    "Region",
    "SchemaVersion",
    "Screen",
    "ShortText",
    "Timestamp",
    "WireModel",
    "count_extra",
]
