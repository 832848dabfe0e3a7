"""The seam between the core and the platform adapters: neutral values and the adapter Protocol.

Adapters turn platform JSON into these values; the core never sees a platform payload shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Mapping, Protocol, Sequence

if TYPE_CHECKING:
    from .settings import Settings


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Customer:
    id: str | None
    email: str | None
    #: True/False when the platform says whether this is the customer's first order, None when it does not.
    first_order: bool | None = None


@dataclass(frozen=True)
class RefundEvent:
    """A refund of part or all of an order."""

    refund_id: str
    order_id: str
    occurred_at: datetime
    #: the refunded part of the commission base, shop currency
    commission_base: Money
    presentment_base: Money | None = None


@dataclass(frozen=True)
class OrderEvent:
    """The state of one order as one delivery described it."""

    order_id: str
    order_name: str | None
    topic: str
    occurred_at: datetime
    financial_status: str | None
    #: the platform says the order is paid (or was paid and is now partly or wholly refunded)
    paid: bool
    cancelled: bool
    cancelled_at: datetime | None
    test: bool
    customer: Customer
    discount_codes: tuple[str, ...]
    cart_attributes: Mapping[str, str]
    landing_url: str | None
    landing_ref: str | None
    #: subtotal after discounts; shipping, taxes and tips out; shop currency
    commission_base: Money
    presentment_base: Money | None = None
    refunds: tuple[RefundEvent, ...] = ()


NeutralEvent = OrderEvent | RefundEvent


@dataclass(frozen=True)
class DeliveryHeaders:
    """What the edge needs from a webhook's headers to verify and store it."""

    store_key: str
    topic: str
    delivery_id: str
    signature: str


@dataclass(frozen=True)
class StoreView:
    """What an adapter may know about a store when it verifies a delivery."""

    id: int
    domain: str
    webhook_secret: str | None


class PlatformAdapter(Protocol):
    """What the core asks of a platform. Adapters are found through the `connector.platforms` entry points."""

    name: str
    #: topics the worker turns into neutral events; other authentic topics are answered 200 and dropped
    handled_topics: frozenset[str]
    #: a module of sample deliveries (order(), refund(), encode(), headers()) for the demo and benchmarks
    samples: object

    def read_headers(self, headers: Mapping[str, str]) -> DeliveryHeaders:
        """Pick the delivery's store key, topic, delivery id and signature; raise MissingHeader."""

    def webhook_secrets(self, settings: "Settings", store: StoreView | None) -> Sequence[str]:
        """The secrets a delivery may be signed with (current first); empty when none is configured."""

    def verify(self, body: bytes, signature: str, secrets: Sequence[str]) -> None:
        """Raise BadSignature unless `signature` is one secret's signature over the raw body."""

    def normalise_store_key(self, key: str) -> str | None:
        """The canonical form stores are kept under, or None when the key is not a valid store."""

    def normalise(self, topic: str, body: bytes) -> NeutralEvent | None:
        """Turn a stored delivery into a neutral event (None for a topic with nothing to do); raise MalformedPayload."""
