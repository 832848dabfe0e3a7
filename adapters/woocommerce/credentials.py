"""A WooCommerce store's stored REST keys and webhook secret, and a client for its REST API made from them.

The keys are kept encrypted on the store row as "ck_…:cs_…". A client is only made for a store whose URL
is safe to call (store_url.check_store_url): a store pointing at a private address is refused there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from connector import crypto
from connector.errors import ConnectorError, PlatformAuthError, PlatformError, UnknownStore, UnsafeStoreUrl
from connector.models import Store
from connector.settings import Settings

from . import store_url as _store_url
from .rest_api import WooCommerceClient

if TYPE_CHECKING:
    from sqlalchemy.orm import sessionmaker

NAME = "woocommerce"


@dataclass(frozen=True)
class Credentials:
    store_url: str
    consumer_key: str
    consumer_secret: str
    webhook_secret: str | None


def load(settings: Settings, store: Store) -> Credentials:
    """The store's credentials, decrypted; PlatformAuthError when it has no usable REST keys."""
    if store.platform != NAME:
        raise ConnectorError(f"store {store.id} is a {store.platform} store, not a WooCommerce one")
    if not store.access_token_encrypted:
        raise PlatformAuthError(f"store {store.domain} has no REST keys: the merchant must authorise the app again")
    keys = crypto.decrypt(settings.secret_keys, store.id, store.access_token_encrypted)
    consumer_key, separator, consumer_secret = keys.partition(":")  # "ck_…:cs_…"; neither contains ":"
    if not separator or not consumer_key or not consumer_secret:
        raise PlatformAuthError(f"store {store.domain} has malformed REST keys: the merchant must authorise again")
    webhook_secret = None
    if store.webhook_secret_encrypted:
        webhook_secret = crypto.decrypt(settings.secret_keys, store.id, store.webhook_secret_encrypted)
    return Credentials(store.domain, consumer_key, consumer_secret, webhook_secret)


def store_row(session, store_id: int) -> Store:
    store = session.get(Store, store_id)
    if store is None:
        raise UnknownStore(str(store_id))
    return store


def client_for(settings: Settings, sessions: "sessionmaker", store_id: int) -> WooCommerceClient:
    """A client for the store's REST API with its stored keys (PlatformAuthError when it has none)."""
    with sessions() as session:
        credentials = load(settings, store_row(session, store_id))
    return client(settings, credentials)


def client(settings: Settings, credentials: Credentials) -> WooCommerceClient:
    """A client for the store, once its URL is known to be safe to call."""
    try:
        _store_url.check_store_url(credentials.store_url, allow_private=settings.woocommerce_allow_private)
    except UnsafeStoreUrl as exc:
        # A PlatformError, so setup stays pending and is retried (DNS may point elsewhere later) and the
        # reason is recorded on the store, instead of an unexpected error in the worker.
        raise PlatformError(f"{credentials.store_url} was not called: {exc}") from exc
    return WooCommerceClient(credentials.store_url, credentials.consumer_key, credentials.consumer_secret,
                             timeout=settings.http_timeout)
