"""Topic `catalog`: the registry of eligible products (补贴商品信息预录入), keyed by `sku`."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from schemas.common import Ident, SchemaVersion, ShortText, Timestamp
from schemas.money import PositiveMoney
from schemas.screening import ScreenedMessage


class CatalogEntry(ScreenedMessage):
    """One registered SKU; a later record for the same SKU replaces the earlier one."""

    schema_version: SchemaVersion
    sku: Ident
    category: Annotated[str, Field(min_length=1, max_length=64)]
    brand: ShortText
    model: ShortText
    energy_grade: Annotated[int, Field(ge=1, le=5)] | None
    reference_price: PositiveMoney
    programmes: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=16)
    ]
    merchant_id: Ident
    registered_at: Timestamp
    withdrawn_at: Timestamp | None


CATALOG_ADAPTER: TypeAdapter[CatalogEntry] = TypeAdapter(CatalogEntry)
