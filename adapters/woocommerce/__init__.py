"""The WooCommerce adapter: everything the core needs to know about WooCommerce, behind the PlatformAdapter seam."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Iterator, Mapping, Sequence

from connector.core import storable
from connector.core.platform import (BackfillItem, CodeBatch, CodeRemoval, CodeRequest, Delivery, DeliveryHeaders, Needs,
                                     NeutralEvent, OrderDeleted, OrderEvent, StoreView, WebhookHealth)
from connector.settings import Settings

from . import backfill as _backfill
from . import binding as _binding
from . import coupons as _coupons
from . import normalise as _normalise
from . import order_context as _order_context
from . import remote as _remote
from . import store_url as _store_url
from . import verify as _verify
from .credentials import NAME, client_for
from .views import bp as _blueprint

if TYPE_CHECKING:
    from sqlalchemy.orm import sessionmaker


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
        return _remote.confirm_deleted(settings, sessions, store_id, event)

    def normalise(self, topic: str, body: bytes) -> NeutralEvent | None:
        # Every value is checked storable here, so a lone surrogate or a year-1 date is rejected at once.
        return storable.checked(_normalise.normalise(topic, body))

    def enrich(self, settings: Settings, sessions: "sessionmaker", store_id: int, event: OrderEvent,
               needs: Needs) -> OrderEvent:
        """Exact refunds from the order's refunds endpoint; a renewal's start from its subscription's parent_id."""
        return _order_context.enrich(settings, sessions, store_id, event, needs)

    def setup(self, settings: Settings, sessions: "sessionmaker", store_id: int) -> str:
        """Create or repair the store's webhooks (its secret made first if missing); record storefront and currency."""
        return _remote.setup(settings, sessions, store_id)

    def check_webhooks(self, settings: Settings, sessions: "sessionmaker", store_id: int) -> WebhookHealth:
        """Set a disabled or paused webhook active again, point one back here, create a missing one."""
        return _remote.check_webhooks(settings, sessions, store_id)

    def reconcile(
        self, settings: Settings, sessions: "sessionmaker", store_id: int, since: datetime
    ) -> Iterator[Delivery]:
        """Orders modified since `since`, each as an order.updated delivery keyed by its modification time."""
        return _remote.reconcile(settings, sessions, store_id, since)

    def backfill_orders(self, settings: Settings, sessions: "sessionmaker", store_id: int, since: datetime,
                        resume: str | None) -> Iterator[BackfillItem]:
        """Orders placed since `since`, in REST pages of 100 by modification time, a checkpoint after each page."""
        return _backfill.backfill_orders(settings, sessions, store_id, since, resume)

    def create_codes(self, settings: Settings, sessions: "sessionmaker", store_id: int,
                     requests: Sequence[CodeRequest], discounts: Mapping[str, str]) -> CodeBatch:
        """One coupon per code, in batches of 100; ours are adopted. `discounts` is unused: no shared discounts."""
        if not requests:
            return CodeBatch(results=())
        client = client_for(settings, sessions, store_id)
        return _coupons.create(client, requests, app_name=settings.app_name, collision=settings.code_collision)

    def remove_codes(self, settings: Settings, sessions: "sessionmaker", store_id: int,
                     removals: Sequence[CodeRemoval]) -> CodeBatch:
        """Expire the codes' coupons now, in batches of 100 (not deleted: the store keeps their history)."""
        if not removals:
            return CodeBatch(results=())
        client = client_for(settings, sessions, store_id)
        return _coupons.remove(client, removals, datetime.now(timezone.utc))


adapter = WooCommerceAdapter()
