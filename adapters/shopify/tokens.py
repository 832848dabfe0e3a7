"""A shop's offline access token: kept encrypted, refreshed before it expires, one refresh at a time.

Each refresh returns a new refresh token, so two workers refreshing the same store at once would
race to keep theirs. The refresh therefore happens under a lock on the store's row (FOR UPDATE on
PostgreSQL; SQLite's write transactions are serialised already), and whoever gets the lock second
finds the token fresh and uses it. A refresh that Shopify refuses marks the store `needs_reauth`:
loud in the log and in `connector stores list`, and nothing is lost, since webhooks keep arriving
and being handled; only calls into the shop wait for the merchant to open the app again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Callable

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connector import crypto
from connector.db import transaction
from connector.errors import PlatformAuthError
from connector.models import Store
from connector.settings import Settings

from . import oauth

log = logging.getLogger("connector.shopify.tokens")

#: refresh this long before the access token expires, so no call goes out with a dying token
REFRESH_MARGIN = timedelta(minutes=5)
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
            token = crypto.decrypt(settings.secret_key, store.id, store.access_token_encrypted)
            if token != stale:
                return token
    return _refresh(sessions, settings, store_id, http=http, clock=clock, stale=stale)


def _refresh(sessions, settings: Settings, store_id: int, *, http, clock, stale: str | None) -> str:
    refused: PlatformAuthError | None = None
    with transaction(sessions) as session:
        store = session.scalars(select(Store).where(Store.id == store_id).with_for_update()).one()
        if store.status not in USABLE:
            raise PlatformAuthError(f"{store.domain} is {store.status}: no calls into the shop")
        now = clock()
        current = (crypto.decrypt(settings.secret_key, store.id, store.access_token_encrypted)
                   if store.access_token_encrypted else None)
        if current is not None and current != stale and _fresh(store, now):
            return current  # refreshed by another worker while we waited for the lock
        if store.refresh_token_encrypted is None or (
            store.refresh_token_expires_at is not None and store.refresh_token_expires_at <= now
        ):
            refused = PlatformAuthError(f"{store.domain}: the access token expired and there is no usable refresh token")
        else:
            refresh_token = crypto.decrypt(settings.secret_key, store.id, store.refresh_token_encrypted)
            try:
                grant = oauth.refresh(http, settings, store.domain, refresh_token, now)
            except PlatformAuthError as exc:
                refused = exc
            else:
                save_grant(session, settings.secret_key, store, grant)
                if store.status == "needs_reauth":
                    store.status, store.status_reason = "active", None
                log.info("%s: access token refreshed, valid until %s", store.domain, grant.expires_at)
                return grant.access_token
        store.status, store.status_reason = "needs_reauth", str(refused)[:500]
        log.error("%s NEEDS RE-AUTHORISATION: %s. Webhooks are still handled; calls into the shop wait until "
                  "the merchant opens the app again.", store.domain, refused)
    raise refused
