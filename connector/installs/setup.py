"""Installs end here, whatever the platform or path: one store row, then the same setup.

Setup (registering webhooks in the store) is tried at once, and if the store cannot be reached it
stays pending and the worker tries again, so nobody has to touch anything by hand.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session, sessionmaker

from connector import registry
from connector.backend_events import queue as queue_event
from connector.core import backend_events as told
from connector.core.attribution import SIGNAL_KINDS
from connector.core.platform import SetupReport, SetupStep
from connector.db import insert, transaction
from connector.campaigns.directory import canonical_store_key
from connector.errors import PlatformAuthError, PlatformError
from connector.models import Store
from connector.settings import Settings

log = logging.getLogger("connector.installs")
#: how long setup a request started keeps the worker's maintenance away from the store
SETUP_LEASE = timedelta(minutes=5)


def record_install(session: Session, platform: str, key: str, now: datetime, *, setup_inline: bool = True,
                   backend_events: Collection[str] = ()) -> Store:
    """The store's row, created or reused (a reinstall keeps its influencers and history), set active.

    The caller stores the credentials on it in the same transaction. `setup_inline`: the caller runs setup
    itself next; otherwise setup is left to the worker, which takes the store up at once. The backend is told
    (`backend_events`, the setting's types): store.installed for a new, uninstalled or erased store,
    store.reauthorized for one that needed authorising again; an install of an active store changes nothing it
    needs to know.
    """
    domain = canonical_store_key(platform, key)
    # Insert-if-absent, then lock: two installs of a new store at once (a callback and an embedded
    # load) both end on the one row instead of one of them failing on the unique constraint.
    created = session.execute(
        insert(session, Store.__table__)
        .values(platform=platform, domain=domain, created_at=now, status="active", credit_on="paid",
                forward_test_orders=False, precedence=",".join(SIGNAL_KINDS), setup_pending=True)
        .on_conflict_do_nothing(index_elements=["platform", "domain"])
        .returning(Store.__table__.c.id)  # a row only when it was inserted (rowcount is no answer on psycopg)
    ).first() is not None
    store = session.scalars(
        select(Store).where(Store.platform == platform, Store.domain == domain)
        .with_for_update().execution_options(populate_existing=True)
    ).one()
    if created or store.status in ("uninstalled", "redacted"):
        queue_event(session, store, told.STORE_INSTALLED, backend_events, now)
    elif store.status == "needs_reauth":
        queue_event(session, store, told.STORE_REAUTHORIZED, backend_events, now)
    store.status, store.status_reason = "active", None
    store.installed_at, store.uninstalled_at = now, None
    store.setup_pending, store.setup_error = True, None
    # An install that runs setup itself holds the store: the worker's maintenance must not run it at the same
    # moment (both would create the same webhooks, and one would fail). Done, the lease goes; failed, the worker
    # retries once it ends. An install that queues setup leaves the lease as it is: a worker holding the store
    # now (a second install a moment ago, a reconciliation) keeps it, and the next one takes setup up after.
    if setup_inline:
        store.maintenance_lease_until = now + SETUP_LEASE
    return store


def mark_needs_reauth(store: Store, reason: object, backend_events: Collection[str] = ()) -> None:
    """The platform refused the store's credentials: say so loudly, in the log and on the store, and tell the
    backend (store.needs_reauth, in the transaction the store row is changed in) when it was active until now.

    Its webhooks are still handled; only calls into the store wait until the merchant authorises again.
    """
    if store.status not in ("active", "needs_reauth"):
        return  # uninstalled or redacted: nothing to re-authorise
    if store.status == "active":
        queue_event(object_session(store), store, told.STORE_NEEDS_REAUTH, backend_events, reason=str(reason))
    store.status, store.status_reason = "needs_reauth", str(reason)[:500]
    log.error("%s NEEDS RE-AUTHORISATION: %s. Its webhooks are still handled; calls into the store wait until "
              "the merchant authorises the app again.", store.domain, reason)


def mark_reauthorized(store: Store, backend_events: Collection[str] = ()) -> None:
    """The platform takes the store's credentials again (a refresh went through): active, and the backend told."""
    if store.status != "needs_reauth":
        return
    queue_event(object_session(store), store, told.STORE_REAUTHORIZED, backend_events)
    store.status, store.status_reason = "active", None


@dataclass(frozen=True)
class SetupOutcome:
    done: bool
    summary: str


def run_setup(settings: Settings, sessions: sessionmaker[Session], store_id: int, now: datetime) -> SetupOutcome:
    """Register what the store needs; record the result on the store. Never raises a platform error."""
    with sessions() as session:
        store = session.get(Store, store_id)
        platform, domain = store.platform, store.domain
    try:
        report = registry.get(platform).setup(settings, sessions, store_id)
    except PlatformAuthError as exc:
        _record(sessions, store_id, now, error=str(exc), needs_reauth=True, backend_events=settings.backend_events)
        return SetupOutcome(False, f"refused: {exc}")
    except PlatformError as exc:
        _record(sessions, store_id, now, error=str(exc))
        log.warning("setup of %s failed, will retry: %s", domain, exc)
        return SetupOutcome(False, f"will retry: {exc}")
    if isinstance(report, str):
        report = SetupReport(report)
    _record(sessions, store_id, now, error=None, steps=report.steps)
    log.info("setup of %s done: %s", domain, report.summary)
    return SetupOutcome(True, report.summary)


def _record(sessions, store_id: int, now: datetime, *, error: str | None, needs_reauth: bool = False,
            steps: tuple[SetupStep, ...] = (), backend_events: Collection[str] = ()) -> None:
    with transaction(sessions) as session:
        store = session.get(Store, store_id)
        store.setup_at, store.setup_error = now, error[:1000] if error else None
        if error is None:
            store.setup_pending, store.maintenance_lease_until = False, None
            # What the store was found to hold, for the merchant's onboarding list (kept from the last success).
            store.setup_report = [asdict(step) for step in steps]
        if needs_reauth:
            # setup stays pending: the worker only maintains active stores, and takes it up again once the
            # merchant has authorised the app again.
            mark_needs_reauth(store, error, backend_events)
