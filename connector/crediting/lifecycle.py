"""The core's side of the lifecycle events: uninstall, data requests, customer and store erasure.

Called by the worker inside the transaction that marks the lifecycle event handled, whatever the store's
status. Platform-neutral: stored events are read back through the registry's adapters, never parsed here.
Every handler is idempotent, so a replayed event changes nothing more.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Iterable, Iterator

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from connector import registry
from connector.core.payload import format_amount
from connector.core.attribution import SIGNAL_KINDS
from connector.errors import ConnectorError
from connector.models import (
    AttributionRecord,
    Campaign,
    Click,
    Conversion,
    ConversionCredit,
    Customer,
    DeliveryAttempt,
    Discount,
    Event,
    Influencer,
    Order,
    PrivacyRequest,
    Store,
    StorefrontReport,
)
from connector.core.platform import (
    AppUninstalled,
    CustomerCreated,
    CustomerDataRequest,
    CustomerRedact,
    LifecycleEvent,
    OrderDeleted,
    OrderEvent,
    RefundEvent,
    StoreRedact,
)
from connector.core.rules import email_sha256

#: what an erased event's body becomes; the row stays, so its delivery id still deduplicates redeliveries
REDACTED_CUSTOMER = b'{"redacted": true, "reason": "customers/redact"}'
REDACTED_STORE = b'{"redacted": true, "reason": "shop/redact"}'
SCAN_PAGE = 500
ID_CHUNK = 500  # ids per IN (...) list, well under SQLite's bound-parameter limit


def apply_lifecycle(
    session: Session,
    store: Store,
    event: LifecycleEvent,
    *,
    now: datetime,
    current_event_id: int | None,
    secret_key: str,
) -> str:
    """Apply one lifecycle event to the store; returns a one-line note for the log.

    `secret_key` is part of the seam for handlers that need credentials; today's handlers only drop
    them, never decrypt them.
    """
    if isinstance(event, AppUninstalled):
        return _uninstall(session, store, now, current_event_id)
    if isinstance(event, CustomerDataRequest):
        return _data_request(session, store, event, now, current_event_id)
    if isinstance(event, CustomerRedact):
        return _customer_redact(session, store, event, now, current_event_id)
    if isinstance(event, StoreRedact):
        return _store_redact(session, store, current_event_id)
    raise TypeError(f"not a lifecycle event: {type(event).__name__}")


# -- uninstall ------------------------------------------------------------------------------------


def _drop_credentials(store: Store) -> None:
    store.access_token_encrypted = store.access_token_expires_at = None
    store.refresh_token_encrypted = store.refresh_token_expires_at = None
    store.webhook_secret_encrypted = None
    store.setup_pending = False


def _happened_at(session: Session, event_id: int | None) -> datetime | None:
    if event_id is None:
        return None
    row = session.execute(select(Event.triggered_at, Event.received_at).where(Event.id == event_id)).first()
    return (row.triggered_at or row.received_at) if row else None


def _received_at(session: Session, event_id: int | None) -> datetime | None:
    return session.scalar(select(Event.received_at).where(Event.id == event_id)) if event_id is not None else None


def _uninstall(session: Session, store: Store, now: datetime, current_event_id: int | None) -> str:
    if store.status in ("uninstalled", "redacted"):
        return f"app/uninstalled: the store is {store.status} already; nothing to do"
    # When Shopify says the uninstall happened, else when it arrived: a delivery retried for hours can
    # arrive after the merchant installed the app again, and must not uninstall the new installation.
    received = _happened_at(session, current_event_id)
    if received is not None and store.installed_at is not None and received < store.installed_at:
        # A late or replayed delivery from before the merchant installed the app again.
        return f"app/uninstalled: received before the install of {store.installed_at.isoformat()}; ignored"
    store.status, store.status_reason, store.uninstalled_at = "uninstalled", "app uninstalled", now
    _drop_credentials(store)
    # Conversions already queued are left alone: they were earned and are still delivered.
    return "app/uninstalled: store uninstalled, credentials dropped; its later events are skipped"


# -- finding what the connector holds about a customer --------------------------------------------


@dataclass(frozen=True)
class _Target:
    customer_id: str | None
    email_hash: str | None
    email_bytes: bytes | None
    order_ids: frozenset[str]

    @classmethod
    def of(cls, event: CustomerDataRequest | CustomerRedact) -> "_Target":
        email = event.email.strip().lower() if event.email and event.email.strip() else None
        return cls(
            customer_id=event.customer_id or None,
            email_hash=email_sha256(email),
            email_bytes=email.encode() if email else None,
            order_ids=frozenset(event.order_ids),
        )

    def is_customer(self, customer_id: str | None, email: str | None) -> bool:
        if self.customer_id and customer_id and str(customer_id) == self.customer_id:
            return True
        return bool(self.email_hash and email and email_sha256(email) == self.email_hash)

    def in_raw(self, body: bytes) -> bool:
        """A body no adapter could read: does it name the customer (their email, or their id as an id)?"""
        if self.email_bytes and self.email_bytes in body.lower():
            return True
        if self.customer_id:
            pattern = rb'"(?:customer_)?id"\s*:\s*"?' + re.escape(self.customer_id.encode()) + rb'(?![0-9])'
            return re.search(pattern, body) is not None
        return False


@dataclass(frozen=True)
class _Seen:
    """One stored event as the scan saw it, without its body."""

    id: int
    status: str
    #: the order the event is about, if any
    order_id: str | None
    #: the event names the customer (an order of theirs, their own request) or its unreadable body does
    names_customer: bool


def _neutral(platform: str, topic: str, body: bytes) -> Any:
    """The stored body as its adapter reads it; None when it cannot (malformed, or no adapter any more)."""
    try:
        return registry.get(platform).normalise(topic, body)
    except ConnectorError:
        return None


def _see(target: _Target, event_id: int, status: str, platform: str, topic: str, body: bytes) -> _Seen:
    neutral = _neutral(platform, topic, body)
    if isinstance(neutral, OrderEvent):
        names = target.is_customer(neutral.customer.id, neutral.customer.email)
        return _Seen(event_id, status, neutral.order_id, names)
    if isinstance(neutral, (RefundEvent, OrderDeleted)):
        return _Seen(event_id, status, neutral.order_id, False)
    if isinstance(neutral, (CustomerDataRequest, CustomerRedact, CustomerCreated)):
        return _Seen(event_id, status, None, target.is_customer(neutral.customer_id, neutral.email))
    if isinstance(neutral, (AppUninstalled, StoreRedact)):
        return _Seen(event_id, status, None, False)
    # Unreadable, or a topic its adapter has nothing to do with: look for the customer in the bytes.
    return _Seen(event_id, status, None, target.in_raw(body))


def _scan_events(session: Session, store: Store, target: _Target) -> list[_Seen]:
    """Every event of the store as seen by its adapter, a page at a time so bodies are not all held at once."""
    seen: list[_Seen] = []
    last_id = 0
    while True:
        rows = session.execute(
            select(Event.id, Event.status, Event.platform, Event.topic, Event.body)
            .where(Event.store_id == store.id, Event.id > last_id)
            .order_by(Event.id)
            .limit(SCAN_PAGE)
        ).all()
        if not rows:
            return seen
        seen += [_see(target, row.id, row.status, row.platform, row.topic, bytes(row.body)) for row in rows]
        last_id = rows[-1].id


def _chunks(values: Iterable, size: int = ID_CHUNK) -> Iterator[list]:
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


@dataclass(frozen=True)
class _Found:
    orders: list[Order]
    #: ids of the events about the customer or their orders
    event_ids: list[int]
    #: ids of those that were still waiting for a worker
    pending_ids: list[int]


def _find(session: Session, store: Store, target: _Target) -> _Found:
    """The customer's orders (by customer id, email hash or order id) and the stored events about them."""
    seen = _scan_events(session, store, target)
    order_ids = set(target.order_ids) | {s.order_id for s in seen if s.names_customer and s.order_id}
    conditions = []
    if target.customer_id:
        conditions.append(Order.customer_id == target.customer_id)
    if target.email_hash:
        conditions.append(Order.customer_email_sha256 == target.email_hash)
    orders: dict[int, Order] = {}
    queries = [or_(*conditions)] if conditions else []
    queries += [Order.platform_order_id.in_(chunk) for chunk in _chunks(sorted(order_ids))]
    for condition in queries:
        for order in session.scalars(select(Order).where(Order.store_id == store.id, condition)):
            orders[order.id] = order
    order_ids |= {order.platform_order_id for order in orders.values()}
    matched = [s for s in seen if s.names_customer or (s.order_id is not None and s.order_id in order_ids)]
    return _Found(
        orders=sorted(orders.values(), key=lambda o: o.id),
        event_ids=[s.id for s in matched],
        pending_ids=[s.id for s in matched if s.status == "pending"],
    )


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
    for chunk in _chunks(event_ids):
        rows = session.execute(
            select(Event.id, Event.topic, Event.received_at, Event.body).where(Event.id.in_(chunk)).order_by(Event.id)
        )
        exported += [
            {"event_id": row.id, "topic": row.topic, "received_at": _iso(row.received_at), **_body_export(bytes(row.body))}
            for row in rows
        ]
    return exported


def _data_request(
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
    target = _Target.of(event)
    found = _find(session, store, target)
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


def _earlier_exports(session: Session, store: Store, target: _Target) -> list[PrivacyRequest]:
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


def _customer_redact(
    session: Session, store: Store, event: CustomerRedact, now: datetime, current_event_id: int | None
) -> str:
    target = _Target.of(event)
    found = _find(session, store, target)
    order_ids = [order.id for order in found.orders]
    for chunk in _chunks(order_ids):
        session.execute(
            update(Order).where(Order.id.in_(chunk)).values(customer_id=None, customer_email_sha256=None)
        )
        for record in session.scalars(select(AttributionRecord).where(AttributionRecord.order_id.in_(chunk))):
            signals = _without_identity(record.signals)
            if signals != record.signals:
                record.signals = signals  # a new list, so the JSON column is seen as changed

    # The request's own delivery carries the customer's email and phone: it goes too. Its status is the
    # worker's to set.
    event_ids = sorted(set(found.event_ids) | ({current_event_id} if current_event_id is not None else set()))
    for chunk in _chunks(event_ids):
        session.execute(update(Event).where(Event.id.in_(chunk)).values(body=REDACTED_CUSTOMER))
    # A waiting event of theirs has nothing left to handle: closing it keeps a worker from reading the marker.
    pending = [i for i in found.pending_ids if i != current_event_id]
    for chunk in _chunks(pending):
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
    session.add(PrivacyRequest(
        store_id=store.id, kind="customer_redact", request_id=None, customer_id=None,
        received_at=_received_at(session, current_event_id) or now, completed_at=now,
        summary={"orders": len(order_ids), "events": erased_events, "exports": len(exports), "signups": signups},
    ))
    note = f"customers/redact: {len(order_ids)} orders and {erased_events} events erased"
    if exports:
        note += f", {len(exports)} earlier exports dropped"
    if pending:
        note += f"; {len(pending)} of those events were still pending and are closed unhandled"
    return note


def _erase_signups(session: Session, store: Store, target: _Target) -> int:
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


# -- store erasure --------------------------------------------------------------------------------


#: Shopify sends shop/redact this long after the uninstall it follows
SHOP_REDACT_DELAY = timedelta(hours=48)


def _store_redact(session: Session, store: Store, current_event_id: int | None) -> str:
    received = _happened_at(session, current_event_id)
    if (store.status == "active" and store.installed_at is not None and received is not None
            and store.installed_at > received - SHOP_REDACT_DELAY):
        # The merchant installed the app again after the uninstall this redaction follows: the store is
        # in use, and erasing it now would silently stop it. (An install older than that means the
        # uninstall came after it, its webhook perhaps missed: the redaction applies.)
        return f"shop/redact: the store was installed again on {store.installed_at.isoformat()}; ignored"
    conversions = select(Conversion.id).where(Conversion.store_id == store.id).scalar_subquery()
    orders = select(Order.id).where(Order.store_id == store.id).scalar_subquery()
    # Children first, by hand: not every SQLite connection enforces the foreign keys' cascades.
    counts = {}
    session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.conversion_id.in_(conversions)))
    counts["conversions"] = session.execute(delete(Conversion).where(Conversion.store_id == store.id)).rowcount
    session.execute(delete(AttributionRecord).where(AttributionRecord.order_id.in_(orders)))
    counts["orders"] = session.execute(delete(Order).where(Order.store_id == store.id)).rowcount
    for table in (ConversionCredit, Click, StorefrontReport, Customer, Discount, Campaign):
        session.execute(delete(table).where(table.store_id == store.id))
    counts["influencers"] = session.execute(delete(Influencer).where(Influencer.store_id == store.id)).rowcount
    session.execute(delete(PrivacyRequest).where(PrivacyRequest.store_id == store.id))
    others = delete(Event).where(Event.store_id == store.id)
    if current_event_id is not None:
        others = others.where(Event.id != current_event_id)
        # The request's own row stays (the worker marks it handled, and its delivery id dedupes a redelivery).
        session.execute(update(Event).where(Event.id == current_event_id).values(body=REDACTED_STORE))
    counts["events"] = session.execute(others).rowcount

    # A tombstone: platform and domain, so a reinstall finds and reuses the row.
    _drop_credentials(store)
    store.status, store.status_reason = "redacted", "shop/redact"
    store.scopes = store.installed_at = None
    store.setup_error = store.setup_at = store.reconciled_at = store.maintenance_lease_until = None
    store.last_event_at = None
    store.credit_on, store.forward_test_orders = "paid", False
    store.precedence = ",".join(SIGNAL_KINDS)
    store.attribution_model, store.attribution_window_days, store.half_life_days = "last_click", 30, 7
    store.storefront_url = store.currency = store.codes_due_at = None
    return "shop/redact: erased " + ", ".join(f"{count} {name}" for name, count in counts.items())
