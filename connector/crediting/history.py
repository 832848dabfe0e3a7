"""What the store's earlier orders say about an order: new or returning, the customer's first credited order, and
the order that started a renewal's subscription. Read in the order's transaction, by index, however many orders
and customers the store has (ix_orders_store_customer, ix_orders_store_email).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.core.attribution import (RENEWALS_IGNORE, Directory, Inherited, PastCredit, RenewalContext,
                                        match_key)
from connector.core.platform import OrderEvent
from connector.core.rules import email_sha256
from connector.models import ConversionCredit, Order, Store

#: an earlier order's own time, else when the connector first saw it (orders from before this was kept)
_PLACED = func.coalesce(Order.ordered_at, Order.first_seen_at)


def _by_customer(customer_id: str | None, email_hash: str | None) -> list:
    """One condition per way the customer is known (platform customer id, email hash), each queried on its own
    index: an OR of the two would make SQLite and PostgreSQL read one of them whole."""
    return [column == value for column, value in ((Order.customer_id, customer_id),
                                                  (Order.customer_email_sha256, email_hash)) if value]


def first_order(session: Session, store: Store, order: Order, event: OrderEvent) -> tuple[bool | None, str]:
    """New or returning, and what said so. The platform wins when it says; then the connector's own sightings.

    The connector can only ever prove "returning" (it has seen an earlier order of this customer here): it was not
    there before the install, so having seen none proves nothing, and that stays unknown (None).
    """
    if event.customer.first_order is not None:
        return event.customer.first_order, "platform: the customer's order count"
    journey = event.journey
    if journey is not None and journey.customer_order_index is not None:
        return journey.customer_order_index <= 1, "platform: the order's place among the customer's orders"
    who = _by_customer(event.customer.id, email_sha256(event.customer.email))
    if not who:
        return None, "unknown: the order names no customer"
    for condition in who:
        earlier = session.scalar(select(Order.id).where(Order.store_id == store.id, condition, Order.id != order.id,
                                                        Order.test.is_(False), _PLACED < event.occurred_at).limit(1))
        if earlier is not None:
            return False, "connector: an earlier order of this customer was seen in this store"
    return None, "unknown: the platform does not say, and the connector has seen no earlier order of this customer"


def _credits(session: Session, conversion_id: str) -> list[tuple[str, Decimal]]:
    return list(session.execute(select(ConversionCredit.tracking_key, ConversionCredit.share)
                                .where(ConversionCredit.conversion_id == conversion_id)).all())


def _past(session: Session, store: Store, row: Order, found_by: str) -> tuple[PastCredit, set[str]]:
    credits = _credits(session, row.purchase_conversion_id)
    past = PastCredit(order_id=row.platform_order_id, order_name=row.order_name,
                      at=row.ordered_at or row.credited_at or row.first_seen_at,
                      credits=tuple((None, key, share) for key, share in credits), found_by=found_by)
    return past, {key for key, _ in credits}


def with_influencers(past: PastCredit | None, directory: Directory) -> PastCredit | None:
    """The past order's credits with the store's current influencers (None where one is gone)."""
    if past is None:
        return None
    credits = []
    for _, key, share in past.credits:
        influencer = directory.by_tracking_id.get(match_key(key))
        credits.append((influencer, influencer.tracking_id if influencer else key, share))
    return PastCredit(past.order_id, past.order_name, past.at, tuple(credits), past.found_by)


def first_credited(session: Session, store: Store, order: Order, event: OrderEvent) -> PastCredit | None:
    """The customer's first credited order in the store (by customer id, else by email hash), not cancelled."""
    for found_by, value, column in (("customer_id", event.customer.id, Order.customer_id),
                                    ("email_sha256", email_sha256(event.customer.email), Order.customer_email_sha256)):
        if not value:
            continue
        row = session.scalars(
            select(Order).where(Order.store_id == store.id, Order.id != order.id, column == value,
                                Order.purchase_conversion_id.is_not(None), Order.cancelled.is_(False))
            .order_by(_PLACED, Order.id).limit(1)
        ).first()
        if row is not None:
            return _past(session, store, row, found_by)[0]
    return None


def renewal_origin(session: Session, store: Store, order: Order, event: OrderEvent) -> RenewalContext:
    """The order that started the renewal's subscription, credited, or why there is none."""
    renewal = event.renewal
    context = RenewalContext(marker=renewal.marker, policy=store.renewals)
    if store.renewals == RENEWALS_IGNORE:
        return context
    # "origin": the delivery named the start; else how the platform's answer did (its subscription record, or a
    # search of the customer's orders there)
    start, found_by = None, renewal.found_by or "origin"
    if renewal.origin_order_id:
        start = session.scalars(select(Order).where(Order.store_id == store.id,
                                                    Order.platform_order_id == renewal.origin_order_id)).first()
        if start is None:
            return _missing(context, f"the order that started it ({renewal.origin_order_id}) is unknown to the "
                                     "connector (placed before the install, or never delivered)")
    else:
        for condition in _by_customer(event.customer.id, email_sha256(event.customer.email)):
            start = session.scalars(select(Order).where(Order.store_id == store.id, condition, Order.id != order.id,
                                                        Order.starts_subscription.is_(True),
                                                        _PLACED < event.occurred_at)
                                    .order_by(_PLACED.desc(), Order.id.desc()).limit(1)).first()
            if start is not None:
                break
        found_by = "customer_subscription"
        if start is None:
            why = f" ({renewal.lookup_error})" if renewal.lookup_error else ""
            return _missing(context, f"the platform does not name the order that started it{why}, and the "
                                     "connector knows no earlier subscription order of this customer")
    name = start.order_name or start.platform_order_id
    if start.cancelled:
        return _missing(context, f"the order that started it, {name}, was cancelled")
    if start.purchase_conversion_id is None:
        return _missing(context, f"the order that started it, {name}, was not credited")
    return RenewalContext(context.marker, context.policy, _past(session, store, start, found_by)[0])


def _missing(context: RenewalContext, why: str) -> RenewalContext:
    return RenewalContext(context.marker, context.policy, None, why)


def inherited(session: Session, store: Store, order: Order, event: OrderEvent) -> tuple[Inherited, set[str]]:
    """What the order may inherit, with the tracking keys its past credits name (for the directory)."""
    renewal = renewal_origin(session, store, order, event) if event.renewal is not None else None
    customer = None
    lifetime = timedelta(days=store.lifetime_days) if store.lifetime_days else None
    if lifetime is not None and event.renewal is None:
        customer = first_credited(session, store, order, event)
    keys = {key for past in (customer, renewal.origin if renewal else None) if past for _, key, _ in past.credits}
    return Inherited(customer=customer, lifetime=lifetime, renewal=renewal), keys


def resolve(found: Inherited, directory: Directory) -> Inherited:
    """The inherited credits with the store's current influencers."""
    renewal = found.renewal
    if renewal is not None and renewal.origin is not None:
        renewal = RenewalContext(renewal.marker, renewal.policy, with_influencers(renewal.origin, directory),
                                 renewal.missing)
    return Inherited(customer=with_influencers(found.customer, directory), lifetime=found.lifetime, renewal=renewal)
