"""Which store a merchant app request may see: the one its platform credentials prove, and only that one.

The proof is the platform's (Shopify: the session token App Bridge adds to the page's fetches), read by
the adapter through `merchant_store_key`; the store is then looked up by that key alone, so no parameter
of the request can point at another store. No proof, or a proof that does not hold: 401 and nothing else.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from flask import request
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import registry
from connector.errors import MerchantAuthError
from connector.models import Store
from connector.web import services
from connector.web.app.blueprint import AppError

log = logging.getLogger("connector.web.app")
#: App Bridge fetches again with a fresh token when a 401 carries this (Shopify's libraries send it)
RETRY_HEADER = {"X-Shopify-Retry-Invalid-Session-Request": "1"}


def _unauthorized(reason: str) -> AppError:
    log.info("merchant app request refused: %s", reason)
    return AppError(401, "unauthorized", "a valid session token is required", headers=RETRY_HEADER)


def merchant_store(session: Session) -> Store:
    """The request's store, in `session`; AppError 401 without a valid proof, 403 when it is not installed."""
    settings = services().settings
    for adapter in registry.adapters().values():
        find = getattr(adapter, "merchant_store_key", None)
        if find is None:
            continue
        try:
            key = find(settings, request.headers)
        except MerchantAuthError as exc:
            raise _unauthorized(str(exc)) from None
        if key is None:
            continue
        store = session.scalar(select(Store).where(Store.platform == adapter.name, Store.domain == key))
        if store is None or store.status != "active" or store.access_token_encrypted is None:
            raise AppError(403, "not_installed", "the app is not installed in this store, or needs to be "
                           "authorised again: open it from the admin", extra={
                               "reinstall_url": f"/{adapter.name}/app?shop={quote(key)}"})
        return store
    raise _unauthorized("no credentials")
