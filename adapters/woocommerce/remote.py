"""What the connector does inside a WooCommerce store: set up its webhooks (and check them daily), read recently
modified orders, and ask whether a deleted order is really gone.

Setup makes the store's webhook secret (and commits it) before any call, so deliveries signed with it can
be verified as soon as the store has it; no transaction is held open across an HTTP call.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Iterator

from connector import crypto
from connector.db import transaction
from connector.errors import PlatformAuthError, PlatformError
from connector.core.platform import Delivery, OrderDeleted, WebhookHealth, WebhookRepair
from connector.settings import Settings

from .credentials import Credentials, client, client_for, load, store_row
from .rest_api import NAME_PREFIX, TOPICS, WooCommerceClient, may_pass
from .webhooks import Finding, diagnose

if TYPE_CHECKING:
    from sqlalchemy.orm import sessionmaker

log = logging.getLogger("connector.woocommerce")
RECONCILE_TOPIC = "order.updated"
RECONCILE_ID = re.compile(r"[\x21-\x7e]{1,255}")  # what the events table's delivery_id holds


def confirm_deleted(settings: Settings, sessions: "sessionmaker", store_id: int, event: OrderDeleted) -> str | None:
    """None when the store no longer has the order, or has it in the trash; otherwise why it is not believed."""
    try:
        status = client_for(settings, sessions, store_id).order_status(event.order_id)
    except PlatformAuthError as exc:
        return f"the deletion could not be confirmed: {exc}"
    if status is None or status == "trash":
        return None
    return f"the store still has order {event.order_id} (status {status}): it was not deleted"


def webhook_url(settings: Settings) -> str:
    return f"{settings.public_url.rstrip('/')}/webhooks/woocommerce"


def _credentials(settings: Settings, sessions: "sessionmaker", store_id: int) -> Credentials:
    """The store's credentials, its webhook secret made (and committed) first if it has none."""
    with transaction(sessions) as session:
        store = store_row(session, store_id)
        credentials = load(settings, store)
        if credentials.webhook_secret is None:
            # Hex only: WooCommerce HTML-decodes a stored secret before signing with it.
            webhook_secret = secrets.token_hex(24)
            store.webhook_secret_encrypted = crypto.encrypt(settings.secret_key, store.id, webhook_secret)
            credentials = Credentials(credentials.store_url, credentials.consumer_key,
                                      credentials.consumer_secret, webhook_secret)
    return credentials


def setup(settings: Settings, sessions: "sessionmaker", store_id: int) -> str:
    """Create or repair the store's webhooks; the webhook secret is made (and committed) first if missing.

    Also records the storefront (the store URL, unless one is set) and the store's currency.
    """
    # Committed before any call: deliveries signed with the new secret can be verified as soon as
    # the store has it. No transaction is held open across the HTTP calls below.
    credentials = _credentials(settings, sessions, store_id)
    # ensure_webhooks starts with an authenticated read, so keys the store refuses fail there
    # (PlatformAuthError) before anything is written; no separate check is needed.
    store_client = client(settings, credentials)
    report = store_client.ensure_webhooks(webhook_url(settings), credentials.webhook_secret)
    try:
        currency = store_client.current_currency()
    except PlatformError as exc:  # leads name a currency but do not need one: setup is done without it
        log.warning("store %s: currency not read: %s", store_id, exc)
        currency = None
    with transaction(sessions) as session:
        store = store_row(session, store_id)
        store.storefront_url = store.storefront_url or credentials.store_url  # one set by hand is kept
        if currency:
            store.currency = currency
    return str(report)


def check_webhooks(settings: Settings, sessions: "sessionmaker", store_id: int) -> WebhookHealth:
    """The worker's daily check: one paged read of the store's webhooks; a PUT or POST only for one that is wrong.

    Mends what setup mends (webhooks.diagnose): a webhook WooCommerce disabled after failed deliveries or a
    merchant paused is set active again, one pointing elsewhere is pointed here, a missing one is created.
    """
    credentials = _credentials(settings, sessions, store_id)
    store_client = client(settings, credentials)
    findings = diagnose(store_client.webhooks(), webhook_url(settings), credentials.webhook_secret, TOPICS,
                        NAME_PREFIX)
    return WebhookHealth(len(TOPICS), tuple(_mend(store_client, finding) for finding in findings))


def _mend(store_client: WooCommerceClient, finding: Finding) -> WebhookRepair:
    try:
        store_client.mend(finding)
    except PlatformAuthError:
        raise  # the keys are refused: the store needs the merchant, not another try
    except PlatformError as exc:
        # An outage may pass within minutes; a refusal (400: a value the store will not take) will not.
        return WebhookRepair(finding.topic, finding.problem, str(exc)[:300], retryable=may_pass(exc))
    return WebhookRepair(finding.topic, finding.problem)


def reconcile(settings: Settings, sessions: "sessionmaker", store_id: int, since: datetime) -> Iterator[Delivery]:
    """Orders modified since `since`, each as an order.updated delivery keyed by its modification time."""
    store_client = client_for(settings, sessions, store_id)
    for order in store_client.orders_modified_since(since):
        body = json.dumps(order).encode()
        yield Delivery(topic=RECONCILE_TOPIC, delivery_id=_reconcile_id(order, body), body=body,
                       order_id=str(order.get("id")) if order.get("id") is not None else None)


def _reconcile_id(order: dict, body: bytes) -> str:
    """Stable for one state of one order, so reading the same state again stores nothing new."""
    delivery_id = f"reconcile:{order.get('id')}:{order.get('date_modified_gmt')}"
    if RECONCILE_ID.fullmatch(delivery_id):
        return delivery_id
    return f"reconcile:{hashlib.sha256(body).hexdigest()[:32]}"  # an id the edge's column could not hold
