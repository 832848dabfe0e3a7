"""The parts of an order event that crediting reads besides its totals: its lines, a renewal's marks, the shopper's
visits, and what `PlatformAdapter.enrich` may be asked to read from the platform. Neutral values, as platform.py's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Mapping


@dataclass(frozen=True)
class LineItem:
    """One line of an order, or the part of one that a refund or an edit concerns: what the backend pays per product.

    `amount` is the line's part of the commission base (after its discounts; tax, shipping and tips out), in the
    shop's currency. An order's lines add up to its commission base exactly, a refund's to its commission base.
    """

    #: the platform's id of the line, which refunds and edits name (Shopify line item id, WooCommerce item id)
    line_id: str | None
    product_id: str | None
    variant_id: str | None
    sku: str | None
    title: str | None
    #: whole units as a rule; WooCommerce plugins that sell by weight or length may give a fraction
    quantity: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Renewal:
    """The order is a subscription's recurring order, and what says so."""

    #: the marker that was read, for the attribution record: "source_name subscription_contract",
    #: "tag Subscription Recurring Order", "meta _subscription_renewal", "created_via subscription"
    marker: str
    #: the platform's id of the subscription (Shopify contract id, WooCommerce subscription id), to find its start
    subscription_id: str | None = None
    #: the order that started the subscription, when the delivery or the platform names it
    origin_order_id: str | None = None
    #: why the start order could not be read from the platform, for the record (missing scope, not found)
    lookup_error: str | None = None
    #: how the platform's answer named the start: subscription (its contract or subscription record),
    #: customer_orders (searched among the customer's orders there); None when the delivery named it
    found_by: str | None = None


@dataclass(frozen=True)
class Visit:
    """One of the shopper's sessions as the platform recorded it (Shopify customerJourneySummary)."""

    #: first or last
    position: str
    at: datetime
    #: the session's referral code (Shopify reads ref, source or r from the landing URL), else ref= of its landing page
    ref: str | None
    landing_url: str | None = None
    source: str | None = None
    utm: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Journey:
    """What the platform says of the shopper's visits before the order."""

    #: False: the platform has not built the order's sessions yet (Shopify's `ready`); read it again later
    ready: bool
    visits: tuple[Visit, ...] = ()
    #: the order's place among the customer's orders (1 = first), when the platform says
    customer_order_index: int | None = None
    #: why it could not be read (missing scope, an error), for the record
    error: str | None = None


@dataclass(frozen=True)
class Needs:
    """What crediting an order event needs that its delivery may not carry (PlatformAdapter.enrich)."""

    #: the shopper's visits (Shopify customerJourneySummary): the order has no code and no click to go by
    journey: bool = False
    #: the order that started a renewal's subscription, when the delivery does not name it
    renewal_origin: bool = False
    #: the order's refunds exactly, with their lines (WooCommerce's order JSON lists only their totals)
    refunds: bool = False

    def __bool__(self) -> bool:
        return self.journey or self.renewal_origin or self.refunds
