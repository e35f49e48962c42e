"""Shared field types and the base configuration of every wire model."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints

SCHEMA_VERSION: Literal[1] = 1

SchemaVersion = Literal[1]
Hash64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
"""A keyed pseudonym: HMAC-SHA256, 64 lowercase hex characters."""
Region = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
Ident = Annotated[str, StringConstraints(min_length=1, max_length=128)]
"""An identifier of ours or the platform's (event, order, merchant, SKU...)."""
ShortText = Annotated[str, StringConstraints(max_length=256)]
Timestamp = AwareDatetime
"""RFC 3339 with an offset: a time without one is rejected."""


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
    "Hash64",
    "Ident",
    "OutputModel",
    "Region",
    "SchemaVersion",
    "ShortText",
    "Timestamp",
    "WireModel",
    "count_extra",
]
