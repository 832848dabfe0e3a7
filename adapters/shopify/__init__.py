"""The Shopify adapter: everything the core needs to know about Shopify, behind the PlatformAdapter seam."""

from __future__ import annotations

from datetime import datetime
from typing import Iterator, Mapping, Sequence

from connector.core import storable
from connector.core.platform import (AppUninstalled, BackfillItem, CodeBatch, CodeRemoval, CodeRequest, CustomerCreated, Delivery,
                                DeliveryHeaders, LifecycleEvent, Needs, NeutralEvent, OrderEvent, SetupReport,
                                StoreView, WebhookHealth)
from connector.settings import Settings

from . import backfill as _backfill
from . import binding as _binding
from . import compliance as _compliance
from . import discounts as _discounts
from . import merchant_session as _merchant_session
from . import normalise as _normalise
from . import order_context as _order_context
from . import remote as _remote
from . import verify as _verify
from . import webhooks as _webhooks
from .views import bp as _blueprint


class ShopifyAdapter:
    name = "shopify"
    handled_topics = (_normalise.ORDER_TOPICS | _normalise.REFUND_TOPICS | _normalise.CUSTOMER_TOPICS
                      | _compliance.LIFECYCLE_TOPICS)
    #: a code discount has its own startsAt, so codes can be made before their campaign starts
    supports_start_date = True
    #: /shopify/install, /shopify/callback, /shopify/app
    blueprint = _blueprint

    @property
    def cli(self):
        """`connector shopify ...` commands (loaded on use: they need the main command defined first)."""
        from .cli import shopify

        return shopify

    def read_headers(self, headers: Mapping[str, str], body: bytes) -> DeliveryHeaders | None:
        return _verify.read_headers(headers)

    def webhook_secrets(self, settings: Settings, store: StoreView | None) -> Sequence[str]:
        # Shopify signs every shop's webhooks with the app's secret, so no store is needed to verify.
        return settings.shopify_api_secrets

    def verify(self, body: bytes, signature: str, secrets: Sequence[str]) -> None:
        _verify.verify(body, signature, secrets)

    def normalise_store_key(self, key: str) -> str | None:
        return _verify.normalise_shop_domain(key)

    def check_body(self, topic: str, body: bytes, store_key: str | None, store: StoreView | None) -> None:
        _binding.check(topic, body, store_key, store)

    def confirm(self, settings: Settings, sessions, store_id: int, event) -> str | None:
        if isinstance(event, AppUninstalled):
            return _remote.confirm_uninstalled(settings, sessions, store_id)
        if isinstance(event, CustomerCreated):
            return _remote.confirm_customer(settings, sessions, store_id, event.customer_id)
        return None

    def normalise(self, topic: str, body: bytes) -> NeutralEvent | LifecycleEvent | None:
        # Every value is checked storable here, so a lone surrogate or a year-1 date is rejected at once.
        if topic in _compliance.LIFECYCLE_TOPICS:
            return storable.checked(_compliance.normalise_lifecycle(topic, body))
        if topic == _backfill.TOPIC:
            return _backfill.normalise(body)
        if topic == _remote.RECONCILE_TOPIC:
            from . import normalise_graphql

            return storable.checked(normalise_graphql.normalise(topic, body))
        return storable.checked(_normalise.normalise(topic, body))

    def merchant_store_key(self, settings: Settings, headers: Mapping[str, str]) -> str | None:
        return _merchant_session.store_key(settings, headers)

    def setup(self, settings: Settings, sessions, store_id: int) -> SetupReport:
        return _remote.setup(settings, sessions, store_id)

    def check_webhooks(self, settings: Settings, sessions, store_id: int) -> WebhookHealth:
        return _webhooks.check(settings, sessions, store_id)

    def enrich(self, settings: Settings, sessions, store_id: int, event: OrderEvent, needs: Needs) -> OrderEvent:
        return _order_context.enrich(settings, sessions, store_id, event, needs)

    def reconcile(self, settings: Settings, sessions, store_id: int, since: datetime) -> Iterator[Delivery]:
        return _remote.reconcile(settings, sessions, store_id, since)

    def backfill_orders(self, settings: Settings, sessions, store_id: int, since: datetime,
                        resume: str | None) -> Iterator[BackfillItem]:
        """One bulk operation over the orders created since `since`, polled, its JSONL file read back."""
        return _backfill.backfill_orders(settings, sessions, store_id, since, resume)

    def create_codes(self, settings: Settings, sessions, store_id: int, requests: Sequence[CodeRequest],
                     discounts: Mapping[str, str]) -> CodeBatch:
        return _discounts.create_codes(settings, sessions, store_id, requests, discounts)

    def remove_codes(self, settings: Settings, sessions, store_id: int, removals: Sequence[CodeRemoval]) -> CodeBatch:
        return _discounts.remove_codes(settings, sessions, store_id, removals)


adapter = ShopifyAdapter()
