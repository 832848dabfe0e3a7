"""The worker's daily check of each store's webhook subscriptions: the adapter mends, this records and counts.

Platforms drop subscriptions that keep failing. Shopify deletes one made through the Admin API once a delivery
has failed through all its retries (8 over 4 hours); WooCommerce sets a webhook `disabled` after repeated failed
deliveries and never sends what it missed. So an outage of the connector, or an address that moved, can leave a
store silent for good, with only reconciliation still bringing its orders in. Once a day the worker asks the
store's adapter to read the subscriptions and mend what is missing, disabled or pointing elsewhere; the store
keeps a running total of what was mended, which the merchant page and /metrics show.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from connector import registry
from connector.core.platform import DISABLED, ELSEWHERE, MISSING, OTHER_SECRET, PAUSED, WebhookHealth, WebhookRepair
from connector.db import transaction
from connector.intake.reconcile import WEBHOOK_CHECK_INTERVAL
from connector.models import Store
from connector.settings import Settings

log = logging.getLogger("connector.installs")

#: a mended subscription in the log: "store 3: webhook orders/paid was disabled; enabled again"
MENDED = {MISSING: "was missing; created again", ELSEWHERE: "delivered to another address; pointed back here",
          DISABLED: "was disabled; enabled again", PAUSED: "was paused; enabled again",
          OTHER_SECRET: "was signed with another secret; given the store's own again"}
#: one that could not be mended, in the log and on the merchant page
UNMENDED = {MISSING: "is missing", ELSEWHERE: "delivers to another address", DISABLED: "is disabled",
            PAUSED: "is paused", OTHER_SECRET: "is signed with another secret"}


def is_due(store: Store, now: datetime) -> bool:
    """The claimed row's side of reconcile.webhook_check_due: checked a day ago, or set up a day ago."""
    last = store.webhooks_checked_at or store.setup_at
    return last is not None and last <= now - WEBHOOK_CHECK_INTERVAL


def check_webhooks(settings: Settings, sessions: sessionmaker[Session], store_id: int, now: datetime) -> bool:
    """Have the store's adapter read and mend its subscriptions; record what it found. True when done for today.

    False when a repair failed in a way that may pass (an outage, throttling): the store keeps its lease, and
    the check runs again when the lease ends. Raises PlatformAuthError or PlatformError when the store's
    subscriptions cannot be read; nothing is recorded then.
    """
    with sessions() as session:
        platform = session.get(Store, store_id).platform
    check = getattr(registry.get(platform), "check_webhooks", None)
    health = check(settings, sessions, store_id) if check is not None else WebhookHealth(0)
    _log(store_id, health)
    retry = any(repair.retryable for repair in health.failed)
    with transaction(sessions) as session:
        store = session.get(Store, store_id)
        if health.repaired:
            # In SQL: the running total is never read and written back across a gap another writer could use.
            store.webhooks_repaired = Store.webhooks_repaired + health.repaired
            store.webhooks_repaired_at = now
        store.webhooks_check_error = unmended(health)
        if not retry:
            store.webhooks_checked_at = now
    return not retry


def unmended(health: WebhookHealth) -> str | None:
    """What could not be mended, in one line for the merchant page; None when nothing."""
    if not health.failed:
        return None
    return "; ".join(f"{r.topic} {UNMENDED.get(r.problem, r.problem)} ({r.error})" for r in health.failed)[:1000]


def _log(store_id: int, health: WebhookHealth) -> None:
    for repair in health.repairs:
        if repair.error is None:
            log.info("store %s: webhook %s %s", store_id, repair.topic, MENDED.get(repair.problem, repair.problem))
        else:
            log.warning("store %s: webhook %s %s and could not be mended, tried again %s: %s", store_id,
                        repair.topic, UNMENDED.get(repair.problem, repair.problem), _when(repair), repair.error)
    if not health.repairs:
        log.info("store %s: webhooks checked, all %d as they should be", store_id, health.expected)


def _when(repair: WebhookRepair) -> str:
    return "after the lease" if repair.retryable else "tomorrow"
