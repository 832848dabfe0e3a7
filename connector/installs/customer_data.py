"""What the connector holds about one customer: their orders and the stored events that name them or their orders.

Stored events are read back through the registry's adapters, never parsed here; a body no adapter can
read is searched for the customer's email and id as bytes. Used by the privacy requests (data export,
erasure), which must find everything, including what a worker has not handled yet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from connector import registry
from connector.core.platform import (AppUninstalled, CustomerCreated, CustomerDataRequest, CustomerRedact, OrderDeleted,
                                     OrderEvent, RefundEvent, StoreRedact)
from connector.core.rules import email_sha256
from connector.errors import ConnectorError
from connector.models import Event, Order, Store

SCAN_PAGE = 500
ID_CHUNK = 500  # ids per IN (...) list, well under SQLite's bound-parameter limit


@dataclass(frozen=True)
class Target:
    customer_id: str | None
    email_hash: str | None
    email_bytes: bytes | None
    order_ids: frozenset[str]

    @classmethod
    def of(cls, event: CustomerDataRequest | CustomerRedact) -> "Target":
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


def _see(target: Target, event_id: int, status: str, platform: str, topic: str, body: bytes) -> _Seen:
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


def _scan_events(session: Session, store: Store, target: Target) -> list[_Seen]:
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


def chunks(values: Iterable, size: int = ID_CHUNK) -> Iterator[list]:
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


@dataclass(frozen=True)
class Found:
    orders: list[Order]
    #: ids of the events about the customer or their orders
    event_ids: list[int]
    #: ids of those that were still waiting for a worker
    pending_ids: list[int]


def find_customer_data(session: Session, store: Store, target: Target) -> Found:
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
    queries += [Order.platform_order_id.in_(chunk) for chunk in chunks(sorted(order_ids))]
    for condition in queries:
        for order in session.scalars(select(Order).where(Order.store_id == store.id, condition)):
            orders[order.id] = order
    order_ids |= {order.platform_order_id for order in orders.values()}
    matched = [s for s in seen if s.names_customer or (s.order_id is not None and s.order_id in order_ids)]
    return Found(
        orders=sorted(orders.values(), key=lambda o: o.id),
        event_ids=[s.id for s in matched],
        pending_ids=[s.id for s in matched if s.status == "pending"],
    )

