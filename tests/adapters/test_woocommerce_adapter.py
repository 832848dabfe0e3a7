"""The WooCommerce adapter's remote side on a real database: setup (webhook secret, keys check, webhooks)
and reconciliation, against the stand-in store. The connector's edge is played by a small receiver."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest

from adapters.woocommerce import adapter
from standins.woocommerce import samples
from standins.woocommerce.store import StandinWooCommerce
from connector import crypto
from connector.db import transaction
from connector.errors import ConnectorError, PlatformAuthError, PlatformError, UnknownStore
from connector.models import Store
from connector.core.platform import OrderEvent


SITE = "site-a"


@pytest.fixture
def woo_settings(settings, receiver):
    return settings.with_overrides(woocommerce_allow_private=True, public_url=receiver.url)


def add_store(sessions, settings, url: str, keys: str | None, platform: str = "woocommerce",
              webhook_secret: str | None = None) -> int:
    with transaction(sessions) as session:
        store = Store(platform=platform, domain=adapter.normalise_store_key(url) or url)
        session.add(store)
        session.flush()
        if keys is not None:
            store.access_token_encrypted = crypto.encrypt(settings.secret_key, store.id, keys)
        if webhook_secret is not None:
            store.webhook_secret_encrypted = crypto.encrypt(settings.secret_key, store.id, webhook_secret)
        return store.id


def webhook_secret(sessions, settings, store_id: int) -> str | None:
    with sessions() as session:
        blob = session.get(Store, store_id).webhook_secret_encrypted
    return crypto.decrypt(settings.secret_key, store_id, blob) if blob else None


@pytest.fixture
def store_id(sessions, woo_settings, standin):
    key, secret = standin.add_keys(SITE)
    return add_store(sessions, woo_settings, standin.site_url(SITE), f"{key}:{secret}")


# --- setup ---------------------------------------------------------------------------------------


def test_setup_makes_a_secret_and_the_webhooks_once(sessions, woo_settings, standin, receiver, store_id):
    assert adapter.setup(woo_settings, sessions, store_id) == "webhooks: 4 created, 0 updated, 0 unchanged"
    secret = webhook_secret(sessions, woo_settings, store_id)
    assert re.fullmatch(r"[0-9a-f]{48}", secret)
    hooks = standin.webhooks(SITE)
    assert sorted(h["topic"] for h in hooks) == ["customer.created", "order.created", "order.deleted", "order.updated"]
    assert {(h["delivery_url"], h["secret"], h["status"]) for h in hooks} == {
        (f"{receiver.url}/webhooks/woocommerce", secret, "active")}
    assert len(receiver.posts("/webhooks/woocommerce")) == 4  # one ping each

    assert adapter.setup(woo_settings, sessions, store_id) == "webhooks: 0 created, 0 updated, 4 unchanged"
    assert webhook_secret(sessions, woo_settings, store_id) == secret
    assert len(standin.webhooks(SITE)) == 4


def test_setup_records_the_storefront_and_currency(sessions, woo_settings, standin, store_id):
    standin.set_currency(SITE, "CHF")
    adapter.setup(woo_settings, sessions, store_id)
    with sessions() as session:
        store = session.get(Store, store_id)
        assert (store.storefront_url, store.currency) == (standin.site_url(SITE), "CHF")
    assert standin.calls("data/currencies/current") == 1


def test_a_currency_that_cannot_be_read_does_not_fail_setup(sessions, woo_settings, standin, store_id):
    standin.fail_next(SITE, "data/currencies/current", 500)
    assert adapter.setup(woo_settings, sessions, store_id) == "webhooks: 4 created, 0 updated, 0 unchanged"
    with sessions() as session:
        store = session.get(Store, store_id)
        assert (store.storefront_url, store.currency) == (standin.site_url(SITE), None)


def test_a_storefront_set_by_hand_is_kept(sessions, woo_settings, standin, store_id):
    with transaction(sessions) as session:
        session.get(Store, store_id).storefront_url = "https://www.shop.example"
    adapter.setup(woo_settings, sessions, store_id)
    with sessions() as session:
        assert session.get(Store, store_id).storefront_url == "https://www.shop.example"


def test_setup_keeps_an_existing_secret(sessions, woo_settings, standin):
    key, secret = standin.add_keys(SITE)
    store_id = add_store(sessions, woo_settings, standin.site_url(SITE), f"{key}:{secret}", webhook_secret="given-secret")
    adapter.setup(woo_settings, sessions, store_id)
    assert {h["secret"] for h in standin.webhooks(SITE)} == {"given-secret"}
    assert webhook_secret(sessions, woo_settings, store_id) == "given-secret"


def test_refused_keys_are_an_auth_error_after_the_secret_is_kept(sessions, woo_settings, standin):
    store_id = add_store(sessions, woo_settings, standin.site_url(SITE), "ck_revoked:cs_revoked")
    with pytest.raises(PlatformAuthError):
        adapter.setup(woo_settings, sessions, store_id)
    assert webhook_secret(sessions, woo_settings, store_id) is not None
    assert standin.webhooks(SITE) == []


def test_private_store_is_not_called_unless_allowed(sessions, woo_settings, standin, store_id):
    with pytest.raises(PlatformError, match="was not called"):
        adapter.setup(woo_settings.with_overrides(woocommerce_allow_private=False), sessions, store_id)
    with pytest.raises(PlatformError, match="was not called"):
        next(adapter.reconcile(woo_settings.with_overrides(woocommerce_allow_private=False), sessions, store_id,
                               datetime(2026, 11, 1, tzinfo=timezone.utc)))
    assert standin.requests_seen == []


@pytest.mark.parametrize("keys", [None, "no-colon-here", ":cs_only", "ck_only:"])
def test_missing_or_malformed_keys_are_an_auth_error_and_nothing_is_called(sessions, woo_settings, standin, keys):
    store_id = add_store(sessions, woo_settings, standin.site_url(SITE), keys)
    with pytest.raises(PlatformAuthError):
        adapter.setup(woo_settings, sessions, store_id)
    assert standin.requests_seen == []


def test_a_store_of_another_platform_or_none_is_refused(sessions, woo_settings):
    shopify_id = add_store(sessions, woo_settings, "wool-and-co.myshopify.com", "shpat_x", platform="shopify")
    with pytest.raises(ConnectorError, match="shopify"):
        adapter.setup(woo_settings, sessions, shopify_id)
    with pytest.raises(UnknownStore):
        adapter.setup(woo_settings, sessions, 987654)


# --- reconcile -----------------------------------------------------------------------------------


def test_reconcile_yields_orders_modified_since_as_deliveries(sessions, woo_settings, standin, store_id):
    for order_id, modified in ((901, "2026-11-22T10:00:00"), (902, "2026-11-22T12:30:00"), (903, "2026-11-22T11:00:00")):
        standin.place_order(SITE, samples.order(order_id=order_id, date_modified_gmt=modified), deliver=False)
    deliveries = list(adapter.reconcile(woo_settings, sessions, store_id, datetime(2026, 11, 22, 10, 30, tzinfo=timezone.utc)))
    assert [(d.topic, d.delivery_id) for d in deliveries] == [
        ("order.updated", "reconcile:903:2026-11-22T11:00:00"),
        ("order.updated", "reconcile:902:2026-11-22T12:30:00"),
    ]
    assert json.loads(deliveries[0].body)["id"] == 903
    event = adapter.normalise(deliveries[1].topic, deliveries[1].body)
    assert isinstance(event, OrderEvent) and event.order_id == "902"
    # Read again, the same states give the same delivery ids: nothing new would be stored.
    again = list(adapter.reconcile(woo_settings, sessions, store_id, datetime(2026, 11, 22, 10, 30, tzinfo=timezone.utc)))
    assert [d.delivery_id for d in again] == [d.delivery_id for d in deliveries]


def test_reconcile_with_refused_keys_is_an_auth_error(sessions, woo_settings, standin):
    store_id = add_store(sessions, woo_settings, standin.site_url(SITE), "ck_revoked:cs_revoked")
    with pytest.raises(PlatformAuthError):
        list(adapter.reconcile(woo_settings, sessions, store_id, datetime(2026, 11, 1, tzinfo=timezone.utc)))


def test_adapter_identity():
    assert adapter.name == "woocommerce"
