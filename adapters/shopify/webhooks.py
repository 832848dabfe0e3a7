"""The daily check of the app's subscriptions in one shop: one list query, and a mutation only for what is wrong.

Shopify deletes a subscription made through the Admin API once a delivery has failed through all its retries
(8 over 4 hours, PLATFORMS.md A3), so a few hours' outage of the connector leaves the shop silent; and one still
pointing at an older CONNECTOR_PUBLIC_URL delivers where nobody listens. Both are mended as setup mends them,
with the same diagnosis (remote.diagnose). Shopify has no disabled state for a subscription: it is there or gone.

Cost: one `webhookSubscriptions` page per shop a day (requested at `first: 100`, charged a point per subscription
returned) and 10 points per mutation, a sliver of any plan's bucket; throttling is AdminApi's to wait out. The
app-specific subscriptions (shopify.app.toml: app/uninstalled and the privacy topics) are not in the list and
are Shopify's to keep: nothing here sees or mends them.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from connector.core.platform import WebhookHealth, WebhookRepair
from connector.errors import PlatformAuthError, PlatformError
from connector.settings import Settings

from .admin_api import AdminApi
from .remote import TOPICS, diagnose, list_subscriptions, shop_of, subscribe, topic_name, webhook_uri


def check(settings: Settings, sessions: sessionmaker[Session], store_id: int, **api_options) -> WebhookHealth:
    """Read the shop's subscriptions; create the missing ones and point back the ones that deliver elsewhere."""
    api = AdminApi(settings, sessions, store_id, shop_of(sessions, store_id), **api_options)
    uri = webhook_uri(settings)
    existing = list_subscriptions(api)
    repairs = []
    for topic in TOPICS:
        problem, mine = diagnose(existing, topic, uri)
        if problem is not None:
            repairs.append(_mend(api, topic, problem, mine, uri))
    return WebhookHealth(len(TOPICS), tuple(repairs))


def _mend(api: AdminApi, topic: str, problem: str, mine: dict | None, uri: str) -> WebhookRepair:
    try:
        refused = subscribe(api, topic, uri, mine)
    except PlatformAuthError:
        raise  # the token is refused: the store needs the merchant, not another try
    except PlatformError as exc:
        # Still failing after AdminApi's own retries (an outage, throttling): worth another try soon.
        return WebhookRepair(topic_name(topic), problem, str(exc)[:300], retryable=True)
    if refused:
        # Shopify said no (no protected customer data access, an address it will not take): asking again in a
        # few minutes gets the same answer, so tomorrow's check asks again.
        return WebhookRepair(topic_name(topic), problem, f"Shopify refused: {refused}"[:300])
    return WebhookRepair(topic_name(topic), problem)
