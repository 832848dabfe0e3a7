"""What the connector does inside a shop: register its webhooks and web pixel, and read recently updated orders.

Which topics are subscribed where (each exactly once; a topic in both is delivered twice):
- shopify.app.toml (`connector shopify app-config`, deployed with `shopify app deploy`): the mandatory
  privacy topics, which only the app's configuration can declare, and app/uninstalled, which then reaches the
  connector from every shop even when this shop's registration never ran.
- per shop, by GraphQL here: the order, refund and customer topics. Shopify's `webhookSubscriptions` lists
  only shop-specific subscriptions, so only these can be checked against the shop (the onboarding list says
  what was found) and put back when one goes missing; and Shopify refuses these topics, shop by shop, to an
  app without protected customer data access, which is how the merchant learns of that missing step.

Registration is idempotent: it reads the app's subscriptions, creates the missing ones, points any that go
elsewhere (a moved CONNECTOR_PUBLIC_URL, an old deployment) back here, and removes a shop-specific
app/uninstalled an earlier version made. The shop's details and the web pixel follow (pixel.py). The worker's
daily check (webhooks.py) reads and mends the same subscriptions with the same diagnosis.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator

from sqlalchemy.orm import Session, sessionmaker

from connector.errors import CredentialsRevoked, PlatformAuthError, PlatformError
from connector.models import Store
from connector.core.platform import ELSEWHERE, MISSING, Delivery, SetupReport, SetupStep
from connector.settings import Settings

from . import pixel
from .admin_api import AdminApi, user_errors

#: what the product needs per shop; customers/create is registered for sign-up (lead) conversions
TOPICS = ("ORDERS_CREATE", "ORDERS_UPDATED", "ORDERS_PAID", "ORDERS_CANCELLED", "REFUNDS_CREATE",
          "CUSTOMERS_CREATE")
#: declared in shopify.app.toml (app_config.py): a shop-specific copy is removed
APP_CONFIG_TOPICS = ("APP_UNINSTALLED",)
RECONCILE_TOPIC = "reconcile/order"
#: what Shopify answers webhookSubscriptionCreate for an order or customer topic without protected customer data
#: access ("This app is not approved to subscribe to webhook topics containing protected customer data"): its
#: userErrors carry no code, so the words are all there is to go by
PROTECTED_DATA = ("protected customer data", "not approved to subscribe")
PROTECTED_DATA_DOCS = "https://shopify.dev/docs/apps/launch/protected-customer-data"


@dataclass(frozen=True)
class Registration:
    created: int
    updated: int
    unchanged: int
    removed: int = 0
    #: topics Shopify would not subscribe the app to: it has no protected customer data access
    refused: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"webhooks: {self.created} created, {self.updated} updated, {self.unchanged} unchanged"
        text += f", {self.removed} duplicate removed" if self.removed else ""
        return text + (f", {len(self.refused)} refused (no protected customer data access)" if self.refused else "")


def webhook_uri(settings: Settings) -> str:
    return f"{settings.public_url}/webhooks/shopify"


def list_subscriptions(api: AdminApi) -> list[dict]:
    """The app's shop-specific subscriptions in the shop, every page."""
    found, after = [], None
    while True:
        page = api.execute("webhook_subscriptions", {"after": after})["webhookSubscriptions"]
        found += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def diagnose(existing: list[dict], topic: str, uri: str) -> tuple[str | None, dict | None]:
    """What is wrong with the app's subscription to `topic`: (None, it) when one delivers to `uri`;
    (ELSEWHERE, one of them) when the app's deliver elsewhere; (MISSING, None) when there is none.

    The list holds only this app's subscriptions, so one of the topic that delivers elsewhere is ours (an older
    CONNECTOR_PUBLIC_URL, another deployment of the app) and is pointed back rather than duplicated.
    """
    mine = [s for s in existing if s.get("topic") == topic]
    here = next((s for s in mine if s.get("uri") == uri), None)
    if here is not None:
        return None, here
    return (ELSEWHERE, mine[0]) if mine else (MISSING, None)


def subscribe(api: AdminApi, topic: str, uri: str, existing: dict | None) -> str | None:
    """Point `existing` at `uri`, or create the subscription; Shopify's userErrors as one line, None when done."""
    subscription = {"uri": uri, "format": "JSON"}
    if existing is not None:
        payload = api.execute("webhook_subscription_update", {"id": existing["id"], "subscription": subscription})
        return user_errors(payload["webhookSubscriptionUpdate"])
    payload = api.execute("webhook_subscription_create", {"topic": topic, "subscription": subscription})
    return user_errors(payload["webhookSubscriptionCreate"])


def refused_for_protected_data(problem: str) -> bool:
    """Shopify's refusal of a topic to an app without protected customer data access (setup's todo step)."""
    return any(words in problem.lower() for words in PROTECTED_DATA)


def _remove_app_config_copies(api: AdminApi, existing: list[dict], uri: str) -> int:
    removed = 0
    for subscription in existing:
        if subscription.get("topic") in APP_CONFIG_TOPICS and subscription.get("uri") == uri:
            problem = user_errors(api.execute("webhook_subscription_delete",
                                              {"id": subscription["id"]})["webhookSubscriptionDelete"])
            if problem:
                raise PlatformError(f"{api.shop}: could not remove the duplicate {subscription['topic']}: {problem}")
            removed += 1
    return removed


def register_webhooks(api: AdminApi, uri: str) -> Registration:
    existing = list_subscriptions(api)
    created = updated = unchanged = 0
    refused: list[str] = []
    for topic in TOPICS:
        wrong, mine = diagnose(existing, topic, uri)
        if wrong is None:
            unchanged += 1
            continue
        problem = subscribe(api, topic, uri, mine)
        if problem and refused_for_protected_data(problem):
            refused.append(topic)
        elif problem:
            raise PlatformError(f"{api.shop}: could not subscribe to {topic}: {problem}")
        elif mine is not None:
            updated += 1
        else:
            created += 1
    removed = _remove_app_config_copies(api, existing, uri)
    return Registration(created, updated, unchanged, removed, tuple(refused))


def topic_name(topic: str) -> str:
    """A topic as merchants and the webhook headers write it: ORDERS_PAID → orders/paid."""
    return topic.lower().replace("_", "/", 1)


def _webhook_steps(registration: Registration) -> tuple[SetupStep, ...]:
    topics = ", ".join(topic_name(t) for t in TOPICS if t not in registration.refused)
    if registration.refused:
        webhooks = SetupStep("webhooks", "Order webhooks", "todo",
                             f"Shopify refused {len(registration.refused)} of {len(TOPICS)} subscriptions: the app "
                             "has no access to protected customer data yet. Until it has, Shopify gives the "
                             "connector none of this store's orders (not by webhook, nor when it reads the store), "
                             "and none can be credited.",
                             "See the protected customer data step.")
        protected = SetupStep("protected_data", "Protected customer data", "todo",
                              "Shopify does not yet let this app receive orders and customer emails from this store.",
                              "The app's developer requests protected customer data access in the Partner "
                              "Dashboard (App setup, API access, Protected customer data): order and customer "
                              "data, with the email field. Shopify reviews the request; then open this page "
                              "and choose Check again.", PROTECTED_DATA_DOCS)
    else:
        webhooks = SetupStep("webhooks", "Order webhooks", "done",
                             f"Shopify sends {topics} to the connector (read back from the store); app/uninstalled "
                             "and the privacy topics come through the app's configuration.")
        protected = SetupStep("protected_data", "Protected customer data", "done",
                              "Shopify accepted the order webhooks, which it refuses to apps without protected "
                              "customer data access.")
    return webhooks, protected


def shop_of(sessions: sessionmaker[Session], store_id: int) -> str:
    """The shop domain of a Shopify store row; PlatformError when there is no such store."""
    with sessions() as session:
        store = session.get(Store, store_id)
        if store is None or store.platform != "shopify":
            raise PlatformError(f"no Shopify store {store_id}")
        return store.domain


def setup(settings: Settings, sessions: sessionmaker[Session], store_id: int, **api_options) -> SetupReport:
    """Webhooks, then the shop's details and the web pixel: one line saying what was done, and what was found."""
    api = AdminApi(settings, sessions, store_id, shop_of(sessions, store_id), **api_options)
    registration = register_webhooks(api, webhook_uri(settings))
    storefront = pixel.setup_storefront(api, settings, sessions, store_id)
    return SetupReport(f"{registration}; {storefront.summary}", (*_webhook_steps(registration), storefront.pixel_step))


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
