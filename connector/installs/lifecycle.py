"""The store's lifecycle after its install: uninstall, and the erasure of a store (shop/redact).

Called by the worker inside the transaction that marks the lifecycle event handled, whatever the store's
status; the privacy requests about one customer are `connector.installs.privacy`'s. Every handler is
idempotent, so a replayed event changes nothing more.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Collection

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from connector.backend_events import erased_by_store_redact, queue as queue_event
from connector.core import backend_events as told
from connector.core.attribution import SIGNAL_KINDS
from connector.core.platform import AppUninstalled, CustomerDataRequest, CustomerRedact, LifecycleEvent, StoreRedact
from connector.installs.privacy import REDACTED_CUSTOMER, customer_redact, data_request
from connector.models import (AttributionRecord, Campaign, Click, Conversion, ConversionCredit, Customer,
                              DeliveryAttempt, Discount, Event, Influencer, Order, PrivacyRequest, Store,
                              StorefrontReport)

__all__ = ["REDACTED_CUSTOMER", "REDACTED_STORE", "apply_lifecycle"]

REDACTED_STORE = b'{"redacted": true, "reason": "shop/redact"}'


def apply_lifecycle(
    session: Session,
    store: Store,
    event: LifecycleEvent,
    *,
    now: datetime,
    current_event_id: int | None,
    secret_key: str,
    backend_events: Collection[str] = (),
) -> str:
    """Apply one lifecycle event to the store; returns a one-line note for the log.

    `secret_key` is part of the seam for handlers that need credentials; today's handlers only drop
    them, never decrypt them. `backend_events` (the setting's types): what the backend is told of, in this
    transaction, when the event changed something (an uninstall, an erasure).
    """
    if isinstance(event, AppUninstalled):
        return _uninstall(session, store, now, current_event_id, backend_events)
    if isinstance(event, CustomerDataRequest):
        return data_request(session, store, event, now, current_event_id)
    if isinstance(event, CustomerRedact):
        return customer_redact(session, store, event, now, current_event_id, backend_events)
    if isinstance(event, StoreRedact):
        return _store_redact(session, store, now, current_event_id, backend_events)
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


def _caused_by(event_id: int | None) -> str | None:
    """The dedupe key of what a webhook delivery caused: a replay of the same delivery tells the backend nothing new."""
    return f"event:{event_id}" if event_id is not None else None


def _uninstall(session: Session, store: Store, now: datetime, current_event_id: int | None,
               backend_events: Collection[str]) -> str:
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
    queue_event(session, store, told.STORE_UNINSTALLED, backend_events, now, occurred_at=received,
                key=_caused_by(current_event_id))
    # Conversions already queued are left alone: they were earned and are still delivered.
    return "app/uninstalled: store uninstalled, credentials dropped; its later events are skipped"

# -- store erasure --------------------------------------------------------------------------------


#: Shopify sends shop/redact this long after the uninstall it follows
SHOP_REDACT_DELAY = timedelta(hours=48)


def _store_redact(session: Session, store: Store, now: datetime, current_event_id: int | None,
                  backend_events: Collection[str]) -> str:
    received = _happened_at(session, current_event_id)
    if (store.status == "active" and store.installed_at is not None and received is not None
            and store.installed_at > received - SHOP_REDACT_DELAY):
        # The merchant installed the app again after the uninstall this redaction follows: the store is
        # in use, and erasing it now would silently stop it. (An install older than that means the
        # uninstall came after it, its webhook perhaps missed: the redaction applies.)
        return f"shop/redact: the store was installed again on {store.installed_at.isoformat()}; ignored"
    # The store's own lifecycle events stay (store.installed, …: nothing personal in them): one not yet delivered
    # still reaches the backend, and a replayed shop/redact finds its store.redacted told already.
    erased = (Conversion.store_id == store.id, erased_by_store_redact())
    conversions = select(Conversion.id).where(*erased).scalar_subquery()
    orders = select(Order.id).where(Order.store_id == store.id).scalar_subquery()
    # Children first, by hand: not every SQLite connection enforces the foreign keys' cascades.
    counts = {}
    session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.conversion_id.in_(conversions)))
    counts["conversions"] = session.execute(delete(Conversion).where(*erased)).rowcount
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
    queue_event(session, store, told.STORE_REDACTED, backend_events, now, occurred_at=received,
                key=_caused_by(current_event_id))
    return "shop/redact: erased " + ", ".join(f"{count} {name}" for name, count in counts.items())
