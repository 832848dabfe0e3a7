"""Reconciliation: webhooks can be missed, so read what changed in the store and feed it in like webhooks.

What the platform returns is stored in the inbox under a delivery id that names the order and its
update time, and the worker handles it exactly as it handles a webhook. An order whose webhook did
arrive is therefore handled twice at most, and crediting is idempotent per order: nothing doubles.

The worker also claims stores that need maintenance (setup to finish, reconciliation due) here, one
at a time under a lease, so several workers never work on one store at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from connector.intake import inbox
from connector import registry
from connector.db import transaction
from connector.models import Order, Store
from connector.settings import Settings

log = logging.getLogger("connector.reconcile")

#: read a little before the last reconciled time: clocks differ, and an update may commit late
OVERLAP = timedelta(minutes=5)
#: how often each store's webhook subscriptions are checked (connector/installs/webhooks.py)
WEBHOOK_CHECK_INTERVAL = timedelta(hours=24)


@dataclass(frozen=True)
class Reconciled:
    since: datetime
    fetched: int
    #: deliveries stored (a state of an order not read before); the worker handles them like webhooks
    stored: int
    #: orders the connector had never seen: their webhooks were missed
    unseen: int = 0

    def __str__(self) -> str:
        return (f"{self.fetched} orders updated since {self.since:%Y-%m-%d %H:%M:%S}Z; {self.unseen} never seen "
                f"before; {self.stored} queued (orders already credited are never credited twice)")


def default_since(store: Store) -> datetime:
    """From where the last reconciliation got to; before the first, from the last event or the install."""
    start = store.reconciled_at or store.last_event_at or store.installed_at or store.created_at
    return start - OVERLAP


def reconcile_store(settings: Settings, sessions: sessionmaker[Session], store_id: int, now: datetime,
                    since: datetime | None = None, progress: Callable[[int], None] | None = None) -> Reconciled:
    """Read the store's orders updated since `since` and queue the ones not stored in that state yet
    (`progress(1)` after each order read: the command line's bar).

    Raises PlatformError / PlatformAuthError when the store cannot be read; nothing is marked done then.
    """
    with sessions() as session:
        store = session.get(Store, store_id)
        scheduled = default_since(store)
        platform, since = store.platform, since or scheduled
    engine = sessions.kw["bind"]
    fetched = stored = unseen = 0
    for delivery in registry.get(platform).reconcile(settings, sessions, store_id, since):
        fetched += 1
        if delivery.order_id is not None:
            with sessions() as session:
                known = session.scalar(select(Order.id).where(Order.store_id == store_id,
                                                              Order.platform_order_id == delivery.order_id))
            unseen += known is None
        outcome = inbox.store_delivery(engine, store_id=store_id, platform=platform, delivery_id=delivery.delivery_id,
                                       topic=delivery.topic, body=delivery.body, now=now)
        stored += outcome == inbox.STORED
        if progress is not None:
            progress(1)
    with transaction(sessions) as session:
        store = session.get(Store, store_id)
        # Only when this run covered everything the schedule would have read (a manual --since later than
        # that leaves a gap the schedule must still read), and only forward.
        if since <= scheduled and (store.reconciled_at is None or store.reconciled_at < now):
            store.reconciled_at = now
    return Reconciled(since, fetched, stored, unseen)


def webhook_check_due(now: datetime):
    """Stores whose webhooks were last checked a day ago; never checked, a day after setup (which read them)."""
    due = now - WEBHOOK_CHECK_INTERVAL
    return and_(Store.setup_at.is_not(None), or_(
        Store.webhooks_checked_at <= due, and_(Store.webhooks_checked_at.is_(None), Store.setup_at <= due)))


def claim_store_for_maintenance(session: Session, now: datetime, settings: Settings) -> int | None:
    """One store whose setup is pending, whose promo codes, webhook check or reconciliation is due, under a lease.

    Only stores set up by the connector (an install, or `stores add` without --no-setup) are
    maintained; a store added with --no-setup is left alone (reconcile it by hand).
    """
    due_reconcile = now - timedelta(seconds=settings.reconcile_interval)
    candidate = (
        select(Store.id)
        .where(
            Store.status == "active",
            or_(Store.maintenance_lease_until.is_(None), Store.maintenance_lease_until <= now),
            or_(
                Store.setup_pending.is_(True),
                and_(Store.codes_due_at.is_not(None), Store.codes_due_at <= now),
                webhook_check_due(now),
                and_(Store.setup_at.is_not(None), or_(Store.reconciled_at.is_(None), Store.reconciled_at <= due_reconcile)),
            ),
        )
        .order_by(Store.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return session.execute(
        update(Store)
        .where(Store.id.in_(candidate.scalar_subquery()))
        .values(maintenance_lease_until=now + timedelta(seconds=max(settings.lease_seconds, 300)))
        .returning(Store.id)
        .execution_options(synchronize_session=False)
    ).scalar()


def release_store(session: Session, store_id: int) -> None:
    session.execute(update(Store).where(Store.id == store_id).values(maintenance_lease_until=None)
                    .execution_options(synchronize_session=False))
