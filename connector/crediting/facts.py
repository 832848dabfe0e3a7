"""What crediting reads before it decides: the order's row (locked), the store's rules, the purchase so far.

`gather` notes on the order's row what the event says of the order, then fetches, once, every fact
`connector.core.crediting.decide` needs for the event, and hands them over as one value.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from connector.campaigns import reports
from connector.campaigns.directory import directory_for
from connector.core import items as lines
from connector.core import payload
from connector.core.attribution import Directory, Inherited, signal_keys
from connector.core.credit_models import ModelSettings
from connector.core.crediting import JOURNEY_WAIT, OrderFacts, Purchase, StoreRules
from connector.core.platform import LineItem, Money, NeutralEvent, OrderEvent, RefundEvent
from connector.core.rules import StorePolicy, email_sha256
from connector.crediting import history
from connector.db import insert
from connector.models import Conversion, Order, Store


def gather(session: Session, store: Store, event: NeutralEvent, now: datetime,
           event_id: int | None) -> tuple[Order, OrderFacts]:
    """The order's row, locked (made if new), and everything known about the order that the event needs."""
    order = locked_order(session, store, event.order_id, now)
    rules = store_rules(store)
    if not isinstance(event, OrderEvent):
        # A refund or a deletion reverses what the purchase still holds: that is all it needs.
        refunds = [event] if isinstance(event, RefundEvent) else []
        return order, OrderFacts(event, rules, Directory(), cancelled=order.cancelled,
                                 purchase=purchase_of(session, order, reversible=True),
                                 sent_refunds=sent_refunds(session, store, refunds),
                                 taxes_included=order.taxes_included)
    first_event = _note(order, event, event_id)
    # None of the reads below depends on what _note changed: it reaches the database with the rest of the
    # order's changes, in one UPDATE, rather than on the first read.
    with session.no_autoflush:
        joined, touches, directory, inherited = [], [], Directory(), Inherited()
        first_order, first_order_source = event.customer.first_order, "platform"
        if not event.cancelled and order.purchase_conversion_id is None:
            # Only an order that may still be credited is attributed: its reports are joined now.
            joined = reports.join_order_reports(session, order)
            touches = reports.touches_of(session, store.id, joined)
            found, keys = history.inherited(session, store, order, event)
            codes, refs = signal_keys(event, touches)
            directory = directory_for(session, store.id, codes, refs | keys)
            inherited = history.resolve(found, directory)
            first_order, first_order_source = history.first_order(session, store, order, event)
        deferred = deferred_refunds(order)
        refunds = [*event.refunds, *deferred]
        purchase = purchase_of(session, order, reversible=event.cancelled or bool(refunds) or _may_adjust(order, event))
        return order, OrderFacts(
            event=event, rules=rules, directory=directory, touches=tuple(touches), reported=bool(joined),
            first_event=first_event, awaiting_report_until=order.awaiting_report_until, cancelled=order.cancelled,
            purchase=purchase, deferred_refunds=deferred, sent_refunds=sent_refunds(session, store, refunds),
            customer_email_sha256=order.customer_email_sha256, inherited=inherited, first_order=first_order,
            first_order_source=first_order_source, taxes_included=order.taxes_included,
            journey_wait_until=order.first_seen_at + JOURNEY_WAIT,
        )


def _may_adjust(order: Order, event: OrderEvent) -> bool:
    """A newer state of a credited order with another base: an edit may adjust it (its lines are read then)."""
    if order.purchase_conversion_id is None or order.commission_base is None or event.updated_at is None:
        return False
    if order.base_as_of is not None and event.updated_at < order.base_as_of:
        return False
    return event.commission_base.amount != order.commission_base + (order.adjusted_base or 0)


def _note(order: Order, event: OrderEvent, event_id: int | None) -> bool:
    """Keep on the order's row what the event says of the order; True when it is the order's first event."""
    order.order_name = event.order_name or order.order_name
    order.currency = event.commission_base.currency
    order.test = event.test
    order.customer_id = event.customer.id or order.customer_id
    order.customer_email_sha256 = email_sha256(event.customer.email) or order.customer_email_sha256
    order.proof_sha256 = reports.proof_hash(event.proof) or order.proof_sha256
    order.ordered_at = order.ordered_at or event.occurred_at
    order.taxes_included = event.taxes_included
    order.starts_subscription = order.starts_subscription or event.starts_subscription
    first_event = order.last_event_id is None
    if event_id is not None:
        order.last_event_id = event_id
    return first_event


def model_settings(store: Store) -> ModelSettings:
    """The store's attribution model, window and half-life."""
    return ModelSettings(store.attribution_model, timedelta(days=store.attribution_window_days),
                         timedelta(days=store.half_life_days))


def store_rules(store: Store) -> StoreRules:
    """The store's settings that crediting follows."""
    return StoreRules(StorePolicy(credit_on=store.credit_on, forward_test_orders=store.forward_test_orders),
                      tuple(store.precedence.split(",")), model_settings(store))


def lock_order_id(session: Session, store_id: int, order_id: str) -> None:
    """Take the order id's lock for this transaction, whether or not a row exists for it yet.

    An order's event and a browser report of it, handled at once by two workers, take turns on it, so
    one of them always sees the other's work, without the report having to make an order row (anyone
    can post reports; only the platform's own deliveries make orders). SQLite needs nothing: its
    writers queue for the whole database.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:store, hashtext(:order))"),
                        {"store": store_id, "order": order_id})


def locked_order(session: Session, store: Store, order_id: str, now: datetime) -> Order:
    """The order's row, made if it is new, locked so two workers holding two of its deliveries take turns."""
    lock_order_id(session, store.id, order_id)
    made = session.scalars(
        insert(session, Order)
        .values(store_id=store.id, platform_order_id=order_id, first_seen_at=now, test=False, cancelled=False)
        .on_conflict_do_nothing(index_elements=["store_id", "platform_order_id"])
        .returning(Order)
    ).one_or_none()
    if made is not None:
        return made  # new, and this transaction's insert holds its row: no second read needed
    return session.scalars(
        select(Order)
        .where(Order.store_id == store.id, Order.platform_order_id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def purchase_of(session: Session, order: Order, *, reversible: bool) -> Purchase | None:
    """The order's credited purchase, or None; with what refunds reversed of it and its lines when the event can
    reverse or adjust it.

    Only an event that can reverse or adjust something (a cancellation, refunds, an edit) needs the sum and the
    lines, and it is the one read here that is not by key, so an order's every other redelivery skips it.
    """
    if order.purchase_conversion_id is None:
        return None
    adjusted = order.adjusted_base or Decimal(0)
    if not reversible and order.commission_base is not None:
        # Nothing to reverse: the amount it was credited on is on the order's row (set with the purchase).
        return Purchase(order.purchase_conversion_id, order.commission_base, adjusted=adjusted,
                        base_as_of=order.base_as_of)
    purchase = session.get(Conversion, order.purchase_conversion_id)
    if not reversible:
        return Purchase(purchase.id, purchase.amount, adjusted=adjusted, base_as_of=order.base_as_of)
    later = session.execute(select(Conversion.type, Conversion.amount, Conversion.body)
                            .where(Conversion.reverses == purchase.id).order_by(Conversion.created_at)).all()
    reversed_ = sum((amount for kind, amount, _ in later if kind in payload.REVERSING), Decimal(0))
    held = [_items(purchase.body)] + [_items(body) for kind, _, body in later if kind == payload.ADJUSTMENT]
    return Purchase(purchase.id, purchase.amount, reversed_, adjusted=adjusted, base_as_of=order.base_as_of,
                    items=lines.held(held))


def _items(body: str) -> list[LineItem]:
    """The lines a conversion body carries (none in bodies from before lines were sent)."""
    return [LineItem(i.get("line_id"), i["product_id"], i["variant_id"], i["sku"], i["title"], Decimal(str(i["quantity"])),
                     Decimal(i["amount"])) for i in json.loads(body)["data"].get("items", [])]


def sent_refunds(session: Session, store: Store, refunds: list[RefundEvent]) -> frozenset[str]:
    """The dedupe keys among these refunds' that the store has sent already."""
    keys = {f"refund:{refund.refund_id}" for refund in refunds}
    if not keys:
        return frozenset()
    return frozenset(session.scalars(select(Conversion.dedupe_key).where(
        Conversion.store_id == store.id, Conversion.dedupe_key.in_(sorted(keys)))))


def deferred_refunds(order: Order) -> tuple[RefundEvent, ...]:
    """The refunds `defer_refund` kept on the order."""
    return tuple(
        RefundEvent(
            refund_id=entry["refund_id"],
            order_id=order.platform_order_id,
            occurred_at=datetime.fromisoformat(entry["occurred_at"]),
            commission_base=Money(Decimal(entry["amount"]), entry["currency"]),
            presentment_base=Money(Decimal(entry["presentment"][0]), entry["presentment"][1])
            if entry["presentment"] else None,
        )
        for entry in order.deferred_refunds or []
    )
