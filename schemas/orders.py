"""Topic `orders`: the order events (docs/contract.md), keyed by `consumer.id_hash`."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, Self, get_args

from pydantic import Field, TypeAdapter, model_validator

from schemas.common import (
    IP,
    Hash64,
    Ident,
    IpText,
    Region,
    SchemaVersion,
    ShortText,
    Timestamp,
    WireModel,
)
from schemas.money import Money, PositiveMoney
from schemas.screening import ScreenedMessage

PaymentMethod = Literal["wechat", "alipay", "unionpay", "card", "other"]
EventType = Literal["order_paid", "order_cancelled", "order_refunded", "order_delivered"]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)


class Consumer(WireModel):
    account_id: Ident
    id_hash: Hash64
    id_region: Region
    birth_year: Annotated[int, Field(ge=1900, le=2100)]
    id_checksum_ok: bool
    phone_hash: Hash64
    real_name_verified: bool
    account_created_at: Timestamp


class ConsumerRef(WireModel):
    """The consumer on a later event: only the key is required; what is present is checked."""

    id_hash: Hash64
    account_id: Ident | None = None
    id_region: Region | None = None
    birth_year: Annotated[int, Field(ge=1900, le=2100)] | None = None
    id_checksum_ok: bool | None = None
    phone_hash: Hash64 | None = None
    real_name_verified: bool | None = None
    account_created_at: Timestamp | None = None


class Qualification(WireModel):
    code: Annotated[str, Field(min_length=1, max_length=64)]
    verified: bool


class Payment(WireModel):
    account_hash: Hash64
    method: PaymentMethod
    paid_amount: Money


class Delivery(WireModel):
    address_hash: Hash64
    region: Region
    pickup_point: bool


class Item(WireModel):
    sku: Ident
    category: Annotated[str, Field(min_length=1, max_length=64)]
    quantity: Annotated[int, Field(ge=1, le=99)]
    unit_price: PositiveMoney
    energy_grade: Annotated[int, Field(ge=1, le=5)] | None


Items = Annotated[list[Item], Field(min_length=1, max_length=200)]


def _check_amount(items: list[Item] | None, order_amount: Decimal | None) -> None:
    if items is None or order_amount is None:
        return
    total = Decimal(0)
    for item in items:
        total += item.unit_price * item.quantity
    if total != order_amount:
        raise ValueError(
            f"order_amount {order_amount} does not equal the sum of quantity * unit_price ({total})"
        )


class _EventBase(ScreenedMessage):
    schema_version: SchemaVersion
    event_id: Ident
    occurred_at: Timestamp
    order_id: Ident
    programme: Annotated[str, Field(min_length=1, max_length=64)]
    merchant_id: Ident


class _PaidFields(_EventBase):
    """The fields of a paid order, shared by `order_checkout` (contract v1.1), which asks
    before payment with the same fields (`payment.paid_amount`: what is about to be paid)."""

    consumer: Consumer
    qualification: Qualification | None
    device_id: Ident
    ip: IpText
    payment: Payment
    delivery: Delivery
    warehouse_id: Ident | None
    items: Items
    order_amount: Money
    subsidy_amount: Money
    refund_amount: None = None

    @model_validator(mode="after")
    def _amount_matches_items(self) -> Self:
        _check_amount(self.items, self.order_amount)
        return self


class OrderPaid(_PaidFields):
    event_type: Literal["order_paid"]


class OrderCheckout(_PaidFields):
    """Not an event of the `orders` topic: the authorization API's request (and its log's
    record), decoded by `schemas.decode.decode_checkout`. Not an `OrderPaid` either, so that
    nothing that handles paid orders takes one by mistake."""

    event_type: Literal["order_checkout"]


class _LaterEvent(_EventBase):
    consumer: ConsumerRef
    qualification: Qualification | None = None
    device_id: Ident | None = None
    ip: Annotated[ShortText, IP] | None = None
    payment: Payment | None = None
    delivery: Delivery | None = None
    warehouse_id: Ident | None = None
    items: Items | None = None
    order_amount: Money | None = None
    subsidy_amount: Money | None = None

    @model_validator(mode="after")
    def _amount_matches_items(self) -> Self:
        _check_amount(self.items, self.order_amount)
        return self


class OrderCancelled(_LaterEvent):
    event_type: Literal["order_cancelled"]
    refund_amount: Money | None = None


class OrderRefunded(_LaterEvent):
    event_type: Literal["order_refunded"]
    refund_amount: Money


class OrderDelivered(_LaterEvent):
    event_type: Literal["order_delivered"]
    refund_amount: Money | None = None


OrderEvent = Annotated[
    OrderPaid | OrderCancelled | OrderRefunded | OrderDelivered,
    Field(discriminator="event_type"),
]
ORDER_ADAPTER: TypeAdapter[OrderPaid | OrderCancelled | OrderRefunded | OrderDelivered] = (
    TypeAdapter(OrderEvent)
)
CHECKOUT_ADAPTER: TypeAdapter[OrderCheckout] = TypeAdapter(OrderCheckout)


def extra_fields(event: OrderPaid | OrderCancelled | OrderRefunded | OrderDelivered) -> int:
    """How many unknown fields the event carried (tolerated for forward compatibility)."""
    n = len(event.__pydantic_extra__ or ())
    for part in (event.consumer, event.qualification, event.payment, event.delivery):
        if part is not None and part.__pydantic_extra__:
            n += len(part.__pydantic_extra__)
    if event.items:
        for item in event.items:
            if item.__pydantic_extra__:
                n += len(item.__pydantic_extra__)
    return n
