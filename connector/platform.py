"""The seam between the core and the platform adapters: neutral values and the adapter Protocol.

Adapters turn platform JSON into these values; the core never sees a platform payload shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Iterator, Mapping, Protocol, Sequence

if TYPE_CHECKING:
    from sqlalchemy.orm import sessionmaker

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
    #: where the shopper came from, as the platform recorded it (utm_source, utm_campaign, source_type, ...)
    traffic: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OrderDeleted:
    """The order is gone from the store (WooCommerce order.deleted): a credited purchase is cancelled."""

    order_id: str
    occurred_at: datetime


@dataclass(frozen=True)
class AppUninstalled:
    """The merchant removed the app: its credentials are revoked already."""


@dataclass(frozen=True)
class CustomerDataRequest:
    """The merchant asks for what the connector holds about one customer (privacy law)."""

    request_id: str | None
    customer_id: str | None
    email: str | None
    order_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class CustomerRedact:
    """Erase one customer's personal data."""

    customer_id: str | None
    email: str | None
    order_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoreRedact:
    """Erase everything about the store (sent some time after an uninstall)."""


NeutralEvent = OrderEvent | RefundEvent | OrderDeleted
#: events about the store or its customers rather than an order; handled whatever the store's status
LifecycleEvent = AppUninstalled | CustomerDataRequest | CustomerRedact | StoreRedact


@dataclass(frozen=True)
class Delivery:
    """A delivery the connector fetched itself (reconciliation), stored like a webhook."""

    topic: str
    #: stable for one state of one order, so fetching it again stores nothing new
    delivery_id: str
    body: bytes
    #: the order it describes, so reconciliation can tell orders it had never seen from known ones
    order_id: str | None = None


@dataclass(frozen=True)
class DeliveryHeaders:
    """What the edge needs from a webhook's headers to verify and store it."""

    store_key: str
    topic: str
    delivery_id: str
    signature: str
    #: when the platform says the event happened (Shopify's X-Shopify-Triggered-At), if it says
    triggered_at: datetime | None = None


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

    def read_headers(self, headers: Mapping[str, str], body: bytes) -> DeliveryHeaders | None:
        """Pick the delivery's store key, topic, delivery id and signature; raise MissingHeader.

        None means a platform ping that is answered 200 and stored nowhere (WooCommerce's creation ping).
        """

    def webhook_secrets(self, settings: "Settings", store: StoreView | None) -> Sequence[str]:
        """The secrets a delivery may be signed with (current first); empty when none is configured."""

    def verify(self, body: bytes, signature: str, secrets: Sequence[str]) -> None:
        """Raise BadSignature unless `signature` is one secret's signature over the raw body."""

    def normalise_store_key(self, key: str) -> str | None:
        """The canonical form stores are kept under, or None when the key is not a valid store."""

    def normalise(self, topic: str, body: bytes) -> NeutralEvent | LifecycleEvent | None:
        """Turn a stored delivery into a neutral event (None for a topic with nothing to do); raise MalformedPayload."""

    def setup(self, settings: "Settings", sessions: "sessionmaker", store_id: int) -> str:
        """Register what the store needs (webhooks) idempotently; return a one-line summary.

        Raises PlatformAuthError when the store refuses the credentials, PlatformError when it may work later.
        """

    def reconcile(self, settings: "Settings", sessions: "sessionmaker", store_id: int, since: datetime) -> Iterator[Delivery]:
        """Orders updated since `since`, as deliveries the worker handles like webhooks."""
