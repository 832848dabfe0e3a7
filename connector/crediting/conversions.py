"""Turns neutral order events into conversion rows, in the caller's transaction (the one that marks the event handled).

An order event goes one way: lock the order's row and note what the event says of it; fetch what the
decision needs, once (the store's rules, the influencers its codes and refs name, the browser's touches,
the purchase and refunds so far); make one pure call (`connector.core.crediting.decide_order`); write
what it returns. The order row's lock makes two workers holding two deliveries of one order take turns.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from connector.campaigns import reports
from connector.campaigns.directory import directory_for
from connector.core.attribution import Directory, signal_keys
from connector.core.crediting import KEEP_WAIT, OrderDecision, OrderFacts, cancellation, decide_order, refund_reversal
from connector.core.platform import NeutralEvent, OrderDeleted, OrderEvent, RefundEvent
from connector.core.rules import email_sha256
from connector.crediting import rows
from connector.crediting.rows import Applied
from connector.models import Order, Store


def apply_event(session: Session, store: Store, event: NeutralEvent, now: datetime, *, event_id: int | None = None,
                grace: timedelta = timedelta(0)) -> Applied:
    """Apply one neutral event to the store's orders; returns the conversions it created.

    `grace`: how long an order with no promo code waits for the browser's report before it is credited
    without one (the worker passes CONNECTOR_REPORT_GRACE_SECONDS); `event_id` lets a later report find it.
    """
    order = rows.locked_order(session, store, event.order_id, now)
    if isinstance(event, OrderEvent):
        facts = _order_facts(session, store, order, event, event_id)
        return _write(session, store, order, decide_order(facts, now, grace), now)
    if isinstance(event, OrderDeleted):
        # A deleted order (WooCommerce order.deleted) voids its purchase like a cancellation.
        reversal, note = cancellation(rows.purchase_of(session, order, reversible=True), order.cancelled,
                                      order.platform_order_id, event.occurred_at)
        applied = _write(session, store, order, OrderDecision(notes=(note,) if note else (), cancel=True,
                                                              reversals=(reversal,) if reversal else ()), now)
        return Applied(applied.conversions, f"order deleted; {applied.note}")
    return _apply_refund(session, store, order, event, now)


def _order_facts(session: Session, store: Store, order: Order, event: OrderEvent, event_id: int | None) -> OrderFacts:
    """Note on the order's row what the event says of it, then gather everything the decision needs."""
    order.order_name = event.order_name or order.order_name
    order.currency = event.commission_base.currency
    order.test = event.test
    order.customer_id = event.customer.id or order.customer_id
    order.customer_email_sha256 = email_sha256(event.customer.email) or order.customer_email_sha256
    order.proof_sha256 = reports.proof_hash(event.proof) or order.proof_sha256
    first_event = order.last_event_id is None
    if event_id is not None:
        order.last_event_id = event_id
    joined, touches, directory = [], [], Directory()
    if not event.cancelled and order.purchase_conversion_id is None:
        # Only an order that may still be credited is attributed: its reports are joined now.
        joined = reports.join_order_reports(session, order)
        touches = reports.touches_of(session, store.id, joined)
        directory = directory_for(session, store.id, *signal_keys(event, touches))
    deferred = rows.deferred_refunds(order)
    refunds = [*event.refunds, *deferred]
    return OrderFacts(
        event=event, rules=rows.store_rules(store), directory=directory,
        touches=tuple(touches), reported=bool(joined), first_event=first_event,
        awaiting_report_until=order.awaiting_report_until, cancelled=order.cancelled,
        purchase=rows.purchase_of(session, order, reversible=event.cancelled or bool(refunds)),
        deferred_refunds=deferred, sent_refunds=rows.sent_refunds(session, store, refunds) if refunds else frozenset(),
        customer_email_sha256=order.customer_email_sha256,
    )


def _write(session: Session, store: Store, order: Order, decision: OrderDecision, now: datetime) -> Applied:
    """Write what the decision says, in the order a reader of it expects: record, purchase, reversals."""
    if decision.cancel:
        order.cancelled = True
    if decision.awaiting_report_until != KEEP_WAIT:
        order.awaiting_report_until = decision.awaiting_report_until
    if decision.attribution is not None:
        rows.write_record(session, order, decision.attribution, decision.outcome, now)
    created, notes = [], list(decision.notes)
    if decision.purchase is not None:
        order.commission_base = decision.purchase["amount"].amount
        purchase = rows.write_conversion(session, store, order, f"purchase:{order.platform_order_id}", now,
                                         **decision.purchase)
        order.purchase_conversion_id, order.credited_at = purchase.id, now
        created.append(purchase)
    for reversal in decision.reversals:
        created.append(rows.write_reversal(session, store, order, reversal, now))
        notes.append(reversal.note(order.purchase_conversion_id))
    if decision.clear_deferred:
        order.deferred_refunds = None
    return Applied(tuple(created), "; ".join(notes), decision.retry_at)


def _apply_refund(session: Session, store: Store, order: Order, refund: RefundEvent, now: datetime) -> Applied:
    """A refund's own webhook: reverse it now, or keep it until the purchase is credited."""
    if order.purchase_conversion_id is None and not order.cancelled:
        return Applied((), rows.defer_refund(order, refund))
    reversal, note = refund_reversal(rows.purchase_of(session, order, reversible=True), order.cancelled, refund,
                                     rows.sent_refunds(session, store, [refund]))
    return _write(session, store, order, OrderDecision(notes=(note,) if note else (),
                                                       reversals=(reversal,) if reversal else ()), now)
