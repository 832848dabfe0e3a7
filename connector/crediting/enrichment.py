"""What an order event needs read from the platform before it is credited (PlatformAdapter.enrich), decided from the
order's row in one read by key, so a redelivery of an order that needs nothing more costs no call out.

- the shopper's visits (Shopify's customerJourneySummary): only for an order that may still be credited and has
  no promo code and no click of its own to go by;
- a renewal's start, when the delivery does not name it and the store credits renewals;
- the order's refunds exactly, when it lists refunds not yet reversed (WooCommerce lists only their totals).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.core.attribution import CLICK_ID_ATTRIBUTE, REF_ATTRIBUTE, RENEWALS_IGNORE
from connector.core.platform import Needs, OrderEvent
from connector.models import Conversion, Order, Store


def needs_for(session: Session, store_id: int, event: OrderEvent) -> Needs:
    """What crediting `event` would miss from its delivery alone."""
    if event.cancelled:
        return Needs()
    row = session.execute(select(Order.id, Order.purchase_conversion_id)
                          .where(Order.store_id == store_id, Order.platform_order_id == event.order_id)).first()
    creditable = row is None or row.purchase_conversion_id is None
    has_click = bool(event.cart_attributes.get(REF_ATTRIBUTE, "").strip()
                     or event.cart_attributes.get(CLICK_ID_ATTRIBUTE, "").strip())
    journey = creditable and not event.discount_codes and not has_click and event.renewal is None
    renewal_origin = False
    if creditable and event.renewal is not None and not event.renewal.origin_order_id:
        renewal_origin = session.scalar(select(Store.renewals).where(Store.id == store_id)) != RENEWALS_IGNORE
    refunds = False
    if event.refunds:
        keys = sorted(f"refund:{refund.refund_id}" for refund in event.refunds)
        sent = set(session.scalars(select(Conversion.dedupe_key).where(Conversion.store_id == store_id,
                                                                         Conversion.dedupe_key.in_(keys))))
        refunds = len(sent) < len(keys)
    return Needs(journey=journey, renewal_origin=renewal_origin, refunds=refunds)
