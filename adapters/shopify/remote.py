"""What the connector does inside a shop: register its webhooks and web pixel, and read recently updated orders.

Registration is idempotent: it reads the app's subscriptions, creates the missing ones and points
any that go elsewhere (a moved CONNECTOR_PUBLIC_URL, an old deployment) back here. The mandatory
privacy topics cannot be registered through GraphQL; they are declared in shopify.app.toml
(`connector shopify app-config`). The shop's details and the web pixel follow (adapters/shopify/pixel.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator

from sqlalchemy.orm import Session, sessionmaker

from connector.errors import CredentialsRevoked, PlatformAuthError, PlatformError
from connector.models import Store
from connector.core.platform import Delivery
from connector.settings import Settings

from . import pixel
from .admin_api import AdminApi, user_errors

#: what the product needs; customers/create is registered for sign-up (lead) conversions
TOPICS = ("ORDERS_CREATE", "ORDERS_UPDATED", "ORDERS_PAID", "ORDERS_CANCELLED", "REFUNDS_CREATE",
          "CUSTOMERS_CREATE", "APP_UNINSTALLED")
RECONCILE_TOPIC = "reconcile/order"


@dataclass(frozen=True)
class Registration:
    created: int
    updated: int
    unchanged: int

    def __str__(self) -> str:
        return f"webhooks: {self.created} created, {self.updated} updated, {self.unchanged} unchanged"


def webhook_uri(settings: Settings) -> str:
    return f"{settings.public_url}/webhooks/shopify"


def _subscriptions(api: AdminApi) -> list[dict]:
    found, after = [], None
    while True:
        page = api.execute("webhook_subscriptions", {"after": after})["webhookSubscriptions"]
        found += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def register_webhooks(api: AdminApi, uri: str) -> Registration:
    existing = _subscriptions(api)
    created = updated = unchanged = 0
    for topic in TOPICS:
        mine = [s for s in existing if s.get("topic") == topic]
        if any(s.get("uri") == uri for s in mine):
            unchanged += 1
            continue
        subscription = {"uri": uri, "format": "JSON"}
        if mine:
            payload = api.execute("webhook_subscription_update", {"id": mine[0]["id"], "subscription": subscription})
            problem, updated = user_errors(payload["webhookSubscriptionUpdate"]), updated + 1
        else:
            payload = api.execute("webhook_subscription_create", {"topic": topic, "subscription": subscription})
            problem, created = user_errors(payload["webhookSubscriptionCreate"]), created + 1
        if problem:
            raise PlatformError(f"{api.shop}: could not subscribe to {topic}: {problem}")
    return Registration(created, updated, unchanged)


def shop_of(sessions: sessionmaker[Session], store_id: int) -> str:
    """The shop domain of a Shopify store row; PlatformError when there is no such store."""
    with sessions() as session:
        store = session.get(Store, store_id)
        if store is None or store.platform != "shopify":
            raise PlatformError(f"no Shopify store {store_id}")
        return store.domain


def setup(settings: Settings, sessions: sessionmaker[Session], store_id: int, **api_options) -> str:
    """Webhooks, then the shop's details and the web pixel; one line saying what was done."""
    api = AdminApi(settings, sessions, store_id, shop_of(sessions, store_id), **api_options)
    registration = register_webhooks(api, webhook_uri(settings))
    return f"{registration}; {pixel.setup_storefront(api, settings, sessions, store_id)}"


def reconcile(settings: Settings, sessions: sessionmaker[Session], store_id: int, since: datetime,
              **api_options) -> Iterator[Delivery]:
    """Orders updated since `since`, oldest first, as deliveries of the `reconcile/order` topic.

    The delivery id names the order and its updatedAt, so reading the same state again stores nothing.
    """
    api = AdminApi(settings, sessions, store_id, shop_of(sessions, store_id), **api_options)
    stamp = since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    after = None
    while True:
        page = api.execute("orders_updated_since", {"query": f"updated_at:>='{stamp}'", "after": after})["orders"]
        for node in page["nodes"]:
            yield Delivery(
                topic=RECONCILE_TOPIC,
                delivery_id=f"reconcile:{node.get('legacyResourceId')}:{node.get('updatedAt')}"[:255],
                body=json.dumps(node, separators=(",", ":")).encode(),
                order_id=str(node["legacyResourceId"]) if node.get("legacyResourceId") is not None else None,
            )
        if not page["pageInfo"]["hasNextPage"]:
            return
        after = page["pageInfo"]["endCursor"]


#: store states in which an uninstall still has something to drop
INSTALLED = ("active", "needs_reauth")


def confirm_uninstalled(settings: Settings, sessions: sessionmaker[Session], store_id: int,
                        **api_options) -> str | None:
    """None when Shopify confirms the app is gone from the shop; otherwise why the uninstall is not believed.

    Shopify revokes the app's tokens before it sends app/uninstalled, so a call with the store's token
    must be refused (401, and the refresh token refused too). A call that succeeds means the app is still
    installed: the delivery is someone else's bytes under this shop's header. PlatformError (Shopify cannot
    be reached) leaves the event to be tried again.
    """
    with sessions() as session:
        store = session.get(Store, store_id)
        if store is None or store.status not in INSTALLED:
            return None  # nothing left to drop: applying it changes nothing
        if store.access_token_encrypted is None:
            return "the store holds no token to ask Shopify with, so the uninstall cannot be confirmed"
        shop = store.domain
    try:
        AdminApi(settings, sessions, store_id, shop, **api_options).execute("shop_details")
    except CredentialsRevoked:
        return None
    except PlatformAuthError as exc:
        return f"Shopify did not confirm it: {exc}"
    return "the app is still installed: a call with the store's token succeeded"


def confirm_customer(settings: Settings, sessions: sessionmaker[Session], store_id: int, customer_id: str,
                     **api_options) -> str | None:
    """None when the customer is one of the shop's; otherwise why the sign-up is not believed.

    A customers/create body names no shop, so another shop's signed sign-up could be sent under this one's
    header. Shopify's customer ids are unique across shops: the shop answers null for another's.
    PlatformError (the shop cannot be asked now) leaves the sign-up to be tried again.
    """
    api = AdminApi(settings, sessions, store_id, shop_of(sessions, store_id), **api_options)
    data = api.execute("customer_exists", {"id": f"gid://shopify/Customer/{customer_id}"})
    found = data.get("customer")
    if isinstance(found, dict) and found.get("id"):
        return None
    return f"the shop has no customer {customer_id}: the sign-up is not this shop's"
