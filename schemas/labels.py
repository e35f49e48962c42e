"""Topic `labels`: an analyst's verdict on an order, fed back to the online models."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import TypeAdapter

from schemas.common import Ident, SchemaVersion, Timestamp
from schemas.screening import ScreenedMessage

Risk = Literal["hoarding", "arbitrage", "fraud", "compliance", "budget"]
RISKS: tuple[str, ...] = get_args(Risk)


class Label(ScreenedMessage):
    schema_version: SchemaVersion
    order_id: Ident
    label: Literal["fraud", "legit"]
    risk: Risk | None = None
    labelled_at: Timestamp
    analyst: Ident


LABEL_ADAPTER: TypeAdapter[Label] = TypeAdapter(Label)
