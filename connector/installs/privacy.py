"""The mandatory privacy requests about one customer: their data exported, or erased.

Each runs in the transaction that marks its event handled, whatever the store's status, and is idempotent:
a replayed request changes nothing more.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any, Collection

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from connector.backend_events import queue as queue_event
from connector.core import backend_events as told
from connector.core.payload import format_amount
from connector.core.platform import CustomerDataRequest, CustomerRedact
from connector.installs.customer_data import Target, chunks, find_customer_data
from connector.models import (AttributionRecord, Conversion, Customer, Event, Order, PrivacyRequest, Store,
                              StorefrontReport)

#: what an erased event's body becomes; the row stays, so its delivery id still deduplicates redeliveries
REDACTED_CUSTOMER = b'{"redacted": true, "reason": "customers/redact"}'


def _received_at(session: Session, event_id: int | None) -> datetime | None:
    return session.scalar(select(Event.received_at).where(Event.id == event_id)) if event_id is not None else None


# -- data request ---------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _text(value: Decimal | None) -> str | None:
    return format_amount(value) if value is not None else None


def _order_export(session: Session, order: Order) -> dict:
    record = session.get(AttributionRecord, order.id)
    conversions = session.scalars(
        select(Conversion).where(Conversion.order_id == order.id).order_by(Conversion.created_at, Conversion.id)
    )
    return {
        "order_id": order.platform_order_id,
        "order_name": order.order_name,
        "currency": order.currency,
        "commission_base": _text(order.commission_base),
        "test": order.test,
        "first_seen_at": _iso(order.first_seen_at),
        "credited_at": _iso(order.credited_at),
        "cancelled": order.cancelled,
        "attribution": {
            "method": record.method, "outcome": record.outcome, "credits": record.credits, "signals": record.signals,
        } if record is not None else None,
        "conversions": [
            {
                "id": c.id, "type": c.type, "amount": _text(c.amount), "currency": c.currency, "status": c.status,
                "tracking_id": c.tracking_id, "created_at": _iso(c.created_at),
            }
            for c in conversions
        ],
    }


def _body_export(body: bytes) -> dict:
    """The stored body as JSON when it is JSON (NaN and the like are not), else as text."""

    def refuse(constant: str) -> Any:
        raise ValueError(constant)

    try:
        return {"body": json.loads(body, parse_constant=refuse)}
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {"body": None, "raw": body.decode("utf-8", errors="replace")}


def _events_export(session: Session, event_ids: list[int]) -> list[dict]:
    exported = []
    for chunk in chunks(event_ids):
        rows = session.execute(
            select(Event.id, Event.topic, Event.received_at, Event.body).where(Event.id.in_(chunk)).order_by(Event.id)
        )
        exported += [
            {"event_id": row.id, "topic": row.topic, "received_at": _iso(row.received_at), **_body_export(bytes(row.body))}
            for row in rows
        ]
    return exported


def data_request(
    session: Session, store: Store, event: CustomerDataRequest, now: datetime, current_event_id: int | None
) -> str:
    if event.request_id is not None:
        answered = session.scalar(
            select(PrivacyRequest.id).where(
                PrivacyRequest.store_id == store.id,
                PrivacyRequest.kind == "data_request",
                PrivacyRequest.request_id == event.request_id,
            )
        )
        if answered is not None:
            return f"customers/data_request {event.request_id}: answered already (privacy request {answered})"
    target = Target.of(event)
    found = find_customer_data(session, store, target)
    # The request's own delivery names the customer but is not data held about them.
    event_ids = [i for i in found.event_ids if i != current_event_id]
    orders = [_order_export(session, order) for order in found.orders]
    export = {
        "store": store.domain,
        "platform": store.platform,
        "request_id": event.request_id,
        "customer_id": event.customer_id,
        "email_sha256": target.email_hash,
        "generated_at": now.isoformat(),
        "orders": orders,
        # By design this holds the customer's personal data: it is what the operator hands to the merchant.
        "events": _events_export(session, event_ids),
    }
    summary = {
        "orders": len(orders), "events": len(event_ids), "conversions": sum(len(o["conversions"]) for o in orders),
    }
    request = PrivacyRequest(
        store_id=store.id, kind="data_request", request_id=event.request_id, customer_id=event.customer_id,
        received_at=_received_at(session, current_event_id) or now, completed_at=now, export=export, summary=summary,
    )
    session.add(request)
    session.flush()
    return (f"customers/data_request: export in privacy request {request.id} "
            f"({summary['orders']} orders, {summary['events']} events, {summary['conversions']} conversions)")


# -- customer erasure -----------------------------------------------------------------------------

SELF_REFERRAL = "self-referral"


def _without_identity(signals: list) -> list:
    """A self-referral signal says who the customer is (the influencer): keep that it was ignored, not whom."""
    kept = []
    for signal in signals or []:
        if isinstance(signal, dict) and str(signal.get("reason", "")).startswith(SELF_REFERRAL):
            signal = {**signal, "value": None, "tracking_id": None,
                      "reason": "self-referral (details erased by customers/redact)"}
        kept.append(signal)
    return kept


def _earlier_exports(session: Session, store: Store, target: Target) -> list[PrivacyRequest]:
    rows = session.scalars(
        select(PrivacyRequest).where(PrivacyRequest.store_id == store.id, PrivacyRequest.kind == "data_request")
    )
    found = []
    for row in rows:
        header = row.export if isinstance(row.export, dict) else {}
        if (target.customer_id and row.customer_id == target.customer_id) or (
            target.email_hash and header.get("email_sha256") == target.email_hash
        ):
            found.append(row)
    return found


def customer_redact(
    session: Session, store: Store, event: CustomerRedact, now: datetime, current_event_id: int | None,
    backend_events: Collection[str] = (),
) -> str:
    """Erase what is held about the customer, and tell the backend whose data it must erase too (customer.redacted:
    their id and email hash, never the email)."""
    target = Target.of(event)
    found = find_customer_data(session, store, target)
    order_ids = [order.id for order in found.orders]
    for chunk in chunks(order_ids):
        session.execute(
            update(Order).where(Order.id.in_(chunk)).values(customer_id=None, customer_email_sha256=None)
        )
        for record in session.scalars(select(AttributionRecord).where(AttributionRecord.order_id.in_(chunk))):
            signals = _without_identity(record.signals)
            if signals != record.signals:
                record.signals = signals  # a new list, so the JSON column is seen as changed
            manual = (record.details or {}).get("manual")
            if manual and manual.get("note"):
                # A note typed by whoever credited the order by hand may name the customer: free text goes.
                record.details = {**record.details, "manual": {**manual, "note": None}}

    # The request's own delivery carries the customer's email and phone: it goes too. Its status is the
    # worker's to set.
    event_ids = sorted(set(found.event_ids) | ({current_event_id} if current_event_id is not None else set()))
    for chunk in chunks(event_ids):
        session.execute(update(Event).where(Event.id.in_(chunk)).values(body=REDACTED_CUSTOMER))
    # A waiting event of theirs has nothing left to handle: closing it keeps a worker from reading the marker.
    pending = [i for i in found.pending_ids if i != current_event_id]
    for chunk in chunks(pending):
        session.execute(
            update(Event)
            .where(Event.id.in_(chunk), Event.status == "pending")
            .values(status="handled", error="redacted", handled_at=now, lease_until=None, claimed_by=None)
        )

    exports = _earlier_exports(session, store, target)
    for row in exports:
        row.export, row.customer_id = None, None  # the copy was handed over; ours goes
    signups = _erase_signups(session, store, target)

    erased_events = len([i for i in event_ids if i != current_event_id])
    received = _received_at(session, current_event_id) or now
    session.add(PrivacyRequest(
        store_id=store.id, kind="customer_redact", request_id=None, customer_id=None,
        received_at=received, completed_at=now,
        summary={"orders": len(order_ids), "events": erased_events, "exports": len(exports), "signups": signups},
    ))
    # Once per request: a replayed delivery (same event row) finds it told already.
    queue_event(session, store, told.CUSTOMER_REDACTED, backend_events, now, occurred_at=received,
                key=f"event:{current_event_id}" if current_event_id is not None else None,
                customer_id=target.customer_id, email_sha256=target.email_hash)
    note = f"customers/redact: {len(order_ids)} orders and {erased_events} events erased"
    if exports:
        note += f", {len(exports)} earlier exports dropped"
    if pending:
        note += f"; {len(pending)} of those events were still pending and are closed unhandled"
    return note


def _erase_signups(session: Session, store: Store, target: Target) -> int:
    """Their sign-up (a lead's customer row) and the browser reports that named them lose who they are."""
    names, report_names = [], []
    if target.customer_id:
        names.append(Customer.platform_customer_id == str(target.customer_id))
        report_names.append(StorefrontReport.customer_id == str(target.customer_id))
    if target.email_hash:
        names.append(Customer.email_sha256 == target.email_hash)
        report_names.append(StorefrontReport.email_sha256 == target.email_hash)
    if not names:
        return 0
    session.execute(update(StorefrontReport).where(StorefrontReport.store_id == store.id, or_(*report_names))
                    .values(customer_id=None, email_sha256=None))
    # The lead conversion (an opaque id) stays; the row that ties it to the person goes.
    return session.execute(delete(Customer).where(Customer.store_id == store.id, or_(*names))).rowcount

