"""A shop's offline access token: kept encrypted, refreshed before it expires, one refresh at a time.

Each refresh returns a new refresh token, so two workers refreshing the same store at once would
race to keep theirs. The refresh is therefore a per-store lease taken under a moment's row lock:
one worker refreshes, the others wait and then use the token it saved. No database lock is held
across the HTTP call, so a slow token endpoint never delays a webhook being stored.

A refresh that Shopify refuses marks the store `needs_reauth`: loud in the log and in
`connector stores list`, and nothing is lost, since webhooks keep arriving and being handled;
only calls into the shop wait for the merchant to open the app again.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Callable

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connector import crypto, outbound
from connector.db import transaction
from connector.errors import PlatformAuthError, PlatformError
from connector.installs.setup import mark_needs_reauth, mark_reauthorized
from connector.models import Store
from connector.settings import Settings

from . import oauth

log = logging.getLogger("connector.shopify.tokens")

#: refresh this long before the access token expires, so no call goes out with a dying token
REFRESH_MARGIN = timedelta(minutes=5)
#: how long a worker may hold the refresh (the token endpoint's timeout is 13 s); others wait that long at most
LEASE = timedelta(seconds=30)
WAIT_STEP = 0.1
USABLE = ("active", "needs_reauth")


def save_grant(session: Session, secret_key: str, store: Store, grant: oauth.Grant) -> None:
    store.access_token_encrypted = crypto.encrypt(secret_key, store.id, grant.access_token)
    store.access_token_expires_at = grant.expires_at
    if grant.refresh_token:
        store.refresh_token_encrypted = crypto.encrypt(secret_key, store.id, grant.refresh_token)
        store.refresh_token_expires_at = grant.refresh_expires_at
    else:  # a non-expiring token (custom apps): nothing to refresh with
        store.refresh_token_encrypted = store.refresh_token_expires_at = None
    if grant.scopes:
        store.scopes = ",".join(grant.scopes)


def _fresh(store: Store, now: datetime) -> bool:
    return store.access_token_encrypted is not None and (
        store.access_token_expires_at is None or store.access_token_expires_at - REFRESH_MARGIN > now
    )


def access_token(
    sessions: sessionmaker[Session],
    settings: Settings,
    store_id: int,
    *,
    http: requests.Session,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    stale: str | None = None,
) -> str:
    """A usable access token for the store, refreshed first when it is about to expire.

    `stale` is a token the platform just refused (a 401): it is refreshed even if it looks fresh,
    unless another worker has replaced it meanwhile.
    """
    with sessions() as session:
        store = session.get(Store, store_id)
        if store is None:
            raise PlatformAuthError(f"no store {store_id}")
        if store.status in USABLE and _fresh(store, clock()):
            token = crypto.decrypt(settings.secret_keys, store.id, store.access_token_encrypted)
            if token != stale:
                return token
    return _refresh(sessions, settings, store_id, http=http, clock=clock, stale=stale)


def _refresh(sessions, settings: Settings, store_id: int, *, http, clock, stale: str | None) -> str:
    """Refresh under the store's refresh lease; the HTTP call holds no database lock.

    The lease is taken and given back in short transactions (a row lock for a moment), so a slow
    token endpoint never holds up webhooks being stored, even on SQLite where a write transaction
    locks the whole database. A worker that finds the lease taken waits for the new token.
    """
    waited_until = time.monotonic() + LEASE.total_seconds()
    while True:
        with transaction(sessions) as session:
            # FOR NO KEY UPDATE: edge inserts of events (whose foreign key takes KEY SHARE) are not blocked.
            store = session.scalars(select(Store).where(Store.id == store_id).with_for_update(key_share=True)).one()
            if store.status not in USABLE:
                raise PlatformAuthError(f"{store.domain} is {store.status}: no calls into the shop")
            now = clock()
            current = (crypto.decrypt(settings.secret_keys, store.id, store.access_token_encrypted)
                       if store.access_token_encrypted else None)
            if current is not None and current != stale and _fresh(store, now):
                return current  # refreshed by another worker meanwhile
            domain = store.domain
            if store.refresh_token_encrypted is None or (
                store.refresh_token_expires_at is not None and store.refresh_token_expires_at <= now
            ):
                refused = PlatformAuthError(f"{domain}: the access token expired and there is no usable refresh token")
                mark_needs_reauth(store, refused, settings.backend_events)
            elif store.token_refresh_until is not None and store.token_refresh_until > now:
                refused = None  # another worker is refreshing: wait for its token
            else:
                store.token_refresh_until = now + LEASE
                refresh_token = crypto.decrypt(settings.secret_keys, store.id, store.refresh_token_encrypted)
                break
        if refused is not None:
            raise refused
        if time.monotonic() > waited_until:
            raise PlatformError(f"{domain}: another worker's token refresh did not finish")
        left = outbound.remaining_budget()
        if left is not None and left <= WAIT_STEP:  # a web request's budget is spent: the worker retries
            raise PlatformError(f"{domain}: another token refresh is under way; left for later")
        time.sleep(WAIT_STEP)
        stale = None  # whatever token the other worker saves is new

    try:
        grant = oauth.refresh(http, settings, domain, refresh_token, clock())
    except PlatformError as exc:
        with transaction(sessions) as session:
            store = session.get(Store, store_id)
            store.token_refresh_until = None
            if isinstance(exc, PlatformAuthError):
                mark_needs_reauth(store, exc, settings.backend_events)
        raise
    with transaction(sessions) as session:
        store = session.scalars(select(Store).where(Store.id == store_id).with_for_update(key_share=True)).one()
        save_grant(session, settings.secret_key, store, grant)
        store.token_refresh_until = None
        mark_reauthorized(store, settings.backend_events)  # a store that needed authorising again: active
    log.info("%s: access token refreshed, valid until %s", domain, grant.expires_at)
    return grant.access_token
