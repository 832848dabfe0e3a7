"""The Shopify adapter: everything the core needs to know about Shopify, behind the PlatformAdapter seam."""

from __future__ import annotations

from typing import Mapping, Sequence

from connector.platform import DeliveryHeaders, NeutralEvent, StoreView
from connector.settings import Settings

from . import normalise as _normalise
from . import samples as _samples
from . import verify as _verify


class ShopifyAdapter:
    name = "shopify"
    handled_topics = _normalise.ORDER_TOPICS | _normalise.REFUND_TOPICS
    #: sample deliveries shaped like Shopify's, for the demo and the benchmarks
    samples = _samples

    def read_headers(self, headers: Mapping[str, str], body: bytes) -> DeliveryHeaders:
        return _verify.read_headers(headers)

    def webhook_secrets(self, settings: Settings, store: StoreView | None) -> Sequence[str]:
        # Shopify signs every shop's webhooks with the app's secret, so no store is needed to verify.
        return settings.shopify_api_secrets

    def verify(self, body: bytes, signature: str, secrets: Sequence[str]) -> None:
        _verify.verify(body, signature, secrets)

    def normalise_store_key(self, key: str) -> str | None:
        return _verify.normalise_shop_domain(key)

    def normalise(self, topic: str, body: bytes) -> NeutralEvent | None:
        return _normalise.normalise(topic, body)


adapter = ShopifyAdapter()
