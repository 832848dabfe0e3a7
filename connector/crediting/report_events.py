"""The worker's side of a browser report: keep it, and credit what it proves if nothing credited it yet.

The edge stores a report in the inbox like a webhook (topic `storefront/purchase` or `storefront/signup`).
Order events and reports come in any order: an order handled first waited a grace period, or was
handled without the report; either way the report re-applies the order's last event with the touches
now joined. Crediting stays once per order (the order row is locked, and its purchase recorded).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import registry
from connector.campaigns import reports
from connector.crediting.conversions import apply_event
from connector.crediting.facts import lock_order_id
from connector.crediting.writes import Applied
from connector.crediting.leads import decide_lead
from connector.models import Customer, Event, Order, Store
from connector.core.platform import OrderEvent


def apply_report(session: Session, store: Store, body: bytes, received_at: datetime, now: datetime, *,
                 grace: timedelta = timedelta(0)) -> Applied:
    """Keep the report (the event's body, as the inbox holds it); credit the order or sign-up it proves when
    that is still possible."""
    report = reports.keep(session, store.id, body, received_at)
    if report.kind == reports.SIGNUP:
        return _signup(session, store, report, now, grace)
    # The order id's lock: a worker handling the order's webhook at this moment takes the same one, so one
    # of the two always sees the other's work. A report never makes an order row: only the store does.
    lock_order_id(session, store.id, report.platform_order_id)
    order = session.scalars(select(Order).where(Order.store_id == store.id,
                                                Order.platform_order_id == report.platform_order_id)
                            .with_for_update()).one_or_none()
    if order is None or order.proof_sha256 is None:
        return Applied((), f"report {report.id}: kept until order {report.platform_order_id} arrives")
    reports.join_order_reports(session, order)
    if report.status == "rejected":
        return Applied((), f"report {report.id}: rejected, {report.note}")
    if order.purchase_conversion_id is not None or order.cancelled:
        return Applied((), f"report {report.id}: joined; order {order.platform_order_id} was decided already")
    source = session.get(Event, order.last_event_id) if order.last_event_id else None
    if source is None:
        return Applied((), f"report {report.id}: joined; waiting for the order's event")
    event = registry.get(source.platform).normalise(source.topic, source.body)
    if not isinstance(event, OrderEvent):
        return Applied((), f"report {report.id}: joined")
    applied = apply_event(session, store, event, now, event_id=source.id)
    return Applied(applied.conversions, f"report {report.id}: joined; {applied.note}")


def _signup(session: Session, store: Store, report, now: datetime, grace: timedelta) -> Applied:
    # Only the email's hash ties a report to a sign-up (connector/crediting/leads.py): a customer id proves nothing.
    if not report.email_sha256:
        return Applied((), f"report {report.id}: kept, but it names no email hash and so can earn no lead")
    customers = list(session.scalars(select(Customer).where(
        Customer.store_id == store.id, Customer.lead_conversion_id.is_(None),
        Customer.email_sha256 == report.email_sha256).with_for_update()))
    if not customers:
        return Applied((), f"report {report.id}: kept until the sign-up arrives")
    created, notes = [], []
    for customer in customers:
        applied = decide_lead(session, store, customer, now, grace=grace)
        created += applied.conversions
        notes.append(applied.note)
    return Applied(tuple(created), f"report {report.id}: " + "; ".join(notes))
