"""The WooCommerce adapter: everything the core needs to know about WooCommerce, behind the PlatformAdapter seam."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Iterator, Mapping, Sequence

from connector import crypto
from connector.core import storable
from connector.db import transaction
from connector.errors import ConnectorError, PlatformAuthError, PlatformError, UnknownStore, UnsafeStoreUrl
from connector.models import Store
from connector.core.platform import (CodeBatch, CodeRemoval, CodeRequest, Delivery, DeliveryHeaders, NeutralEvent,
                                OrderDeleted, StoreView)
from connector.settings import Settings

from . import binding as _binding
from . import coupons as _coupons
from . import normalise as _normalise
from . import store_url as _store_url
from . import verify as _verify
from .rest_api import WooCommerceClient
from .views import bp as _blueprint

if TYPE_CHECKING:
    from sqlalchemy.orm import sessionmaker

NAME = "woocommerce"
log = logging.getLogger("connector.woocommerce")
RECONCILE_TOPIC = "order.updated"
RECONCILE_ID = re.compile(r"[\x21-\x7e]{1,255}")  # what the events table's delivery_id holds


@dataclass(frozen=True)
class _Credentials:
    store_url: str
    consumer_key: str
    consumer_secret: str
    webhook_secret: str | None


def _load(settings: Settings, store: Store) -> _Credentials:
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
    return _Credentials(store.domain, consumer_key, consumer_secret, webhook_secret)


def _store(session, store_id: int) -> Store:
    store = session.get(Store, store_id)
    if store is None:
        raise UnknownStore(str(store_id))
    return store


def _reconcile_id(order: dict, body: bytes) -> str:
    """Stable for one state of one order, so reading the same state again stores nothing new."""
    delivery_id = f"reconcile:{order.get('id')}:{order.get('date_modified_gmt')}"
    if RECONCILE_ID.fullmatch(delivery_id):
        return delivery_id
    return f"reconcile:{hashlib.sha256(body).hexdigest()[:32]}"  # an id the edge's column could not hold


class WooCommerceAdapter:
    name = NAME
    handled_topics = _normalise.HANDLED_TOPICS
    #: /woocommerce/install, /woocommerce/callback, /woocommerce/return
    blueprint = _blueprint
    #: WooCommerce coupons have an expiry date but no start date: the core holds such codes back until they start
    supports_start_date = False

    def read_headers(self, headers: Mapping[str, str], body: bytes) -> DeliveryHeaders | None:
        return _verify.read_headers(headers, body)

    def webhook_secrets(self, settings: Settings, store: StoreView | None) -> Sequence[str]:
        # Each store's webhooks carry the secret the connector gave them; an unknown store has none.
        return (store.webhook_secret,) if store is not None and store.webhook_secret else ()

    def verify(self, body: bytes, signature: str, secrets: Sequence[str]) -> None:
        _verify.verify(body, signature, secrets)

    def normalise_store_key(self, key: str) -> str | None:
        return _store_url.normalise_store_url(key)

    def check_body(self, topic: str, body: bytes, store_key: str | None, store: StoreView | None) -> None:
        _binding.check(topic, body)  # the store's own secret signed it: the topic is what remains to bind

    def confirm(self, settings: Settings, sessions: "sessionmaker", store_id: int, event) -> str | None:
        """A deletion is believed only when the store no longer has the order, or has it in the trash."""
        if not isinstance(event, OrderDeleted):
            return None
        try:
            status = self._client_for(settings, sessions, store_id).order_status(event.order_id)
        except PlatformAuthError as exc:
            return f"the deletion could not be confirmed: {exc}"
        if status is None or status == "trash":
            return None
        return f"the store still has order {event.order_id} (status {status}): it was not deleted"

    def normalise(self, topic: str, body: bytes) -> NeutralEvent | None:
        # Every value is checked storable here, so a lone surrogate or a year-1 date is rejected at once.
        return storable.checked(_normalise.normalise(topic, body))

    def setup(self, settings: Settings, sessions: "sessionmaker", store_id: int) -> str:
        """Create or repair the store's webhooks; the webhook secret is made (and committed) first if missing.

        Also records the storefront (the store URL, unless one is set) and the store's currency.
        """
        with transaction(sessions) as session:
            store = _store(session, store_id)
            credentials = _load(settings, store)
            if credentials.webhook_secret is None:
                # Hex only: WooCommerce HTML-decodes a stored secret before signing with it.
                webhook_secret = secrets.token_hex(24)
                store.webhook_secret_encrypted = crypto.encrypt(settings.secret_key, store.id, webhook_secret)
                credentials = _Credentials(credentials.store_url, credentials.consumer_key,
                                           credentials.consumer_secret, webhook_secret)
        # Committed before any call: deliveries signed with the new secret can be verified as soon as
        # the store has it. No transaction is held open across the HTTP calls below.
        # ensure_webhooks starts with an authenticated read, so keys the store refuses fail there
        # (PlatformAuthError) before anything is written; no separate check is needed.
        client = self._client(settings, credentials)
        report = client.ensure_webhooks(f"{settings.public_url.rstrip('/')}/webhooks/woocommerce",
                                        credentials.webhook_secret)
        try:
            currency = client.current_currency()
        except PlatformError as exc:  # leads name a currency but do not need one: setup is done without it
            log.warning("store %s: currency not read: %s", store_id, exc)
            currency = None
        with transaction(sessions) as session:
            store = _store(session, store_id)
            store.storefront_url = store.storefront_url or credentials.store_url  # one set by hand is kept
            if currency:
                store.currency = currency
        return str(report)

    def reconcile(
        self, settings: Settings, sessions: "sessionmaker", store_id: int, since: datetime
    ) -> Iterator[Delivery]:
        """Orders modified since `since`, each as an order.updated delivery keyed by its modification time."""
        client = self._client_for(settings, sessions, store_id)
        for order in client.orders_modified_since(since):
            body = json.dumps(order).encode()
            yield Delivery(topic=RECONCILE_TOPIC, delivery_id=_reconcile_id(order, body), body=body,
                           order_id=str(order.get("id")) if order.get("id") is not None else None)

    def create_codes(self, settings: Settings, sessions: "sessionmaker", store_id: int,
                     requests: Sequence[CodeRequest], discounts: Mapping[str, str]) -> CodeBatch:
        """One coupon per code, in batches of 100; ours are adopted. `discounts` is unused: no shared discounts."""
        if not requests:
            return CodeBatch(results=())
        client = self._client_for(settings, sessions, store_id)
        return _coupons.create(client, requests, app_name=settings.app_name, collision=settings.code_collision)

    def remove_codes(self, settings: Settings, sessions: "sessionmaker", store_id: int,
                     removals: Sequence[CodeRemoval]) -> CodeBatch:
        """Expire the codes' coupons now, in batches of 100 (not deleted: the store keeps their history)."""
        if not removals:
            return CodeBatch(results=())
        client = self._client_for(settings, sessions, store_id)
        return _coupons.remove(client, removals, datetime.now(timezone.utc))

    def _client_for(self, settings: Settings, sessions: "sessionmaker", store_id: int) -> WooCommerceClient:
        """A client for the store's REST API with its stored keys (PlatformAuthError when it has none)."""
        with sessions() as session:
            credentials = _load(settings, _store(session, store_id))
        return self._client(settings, credentials)

    @staticmethod
    def _client(settings: Settings, credentials: _Credentials) -> WooCommerceClient:
        """A client for the store, once its URL is known to be safe to call."""
        try:
            _store_url.check_store_url(credentials.store_url, allow_private=settings.woocommerce_allow_private)
        except UnsafeStoreUrl as exc:
            # A PlatformError, so setup stays pending and is retried (DNS may point elsewhere later) and the
            # reason is recorded on the store, instead of an unexpected error in the worker.
            raise PlatformError(f"{credentials.store_url} was not called: {exc}") from exc
        return WooCommerceClient(credentials.store_url, credentials.consumer_key, credentials.consumer_secret,
                                 timeout=settings.http_timeout)


adapter = WooCommerceAdapter()
