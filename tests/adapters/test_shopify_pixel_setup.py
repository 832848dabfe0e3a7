"""Setup reads the shop's storefront and currency and activates the web pixel, idempotently, at the stand-in.

The stand-in checks the pixel's settings against extensions/connector-pixel/shopify.extension.toml
and each field's scope against the token's, as Shopify does. The database is real.
"""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from sqlalchemy import update

from adapters.shopify import adapter, remote
from standins.shopify.store import StandinShopify
from connector.campaigns import directory
from connector.db import transaction
from connector.installs.setup import run_setup
from connector.models import Store

from ..conftest import SHOPIFY_SECRET

API_KEY = "pixel-api-key"
SHOP = "pixel-shop.myshopify.com"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
ALL_SCOPES = "read_orders,read_customers,write_discounts,write_pixels,read_customer_events"


@pytest.fixture
def shopify():
    with StandinShopify(API_KEY, SHOPIFY_SECRET) as standin:
        yield standin


def grant(standin: StandinShopify, scope: str) -> str:
    base = standin.admin_url.format(shop=SHOP)
    location = requests.get(f"{base}/admin/oauth/authorize", allow_redirects=False, timeout=5, params={
        "client_id": API_KEY, "scope": scope, "redirect_uri": "https://connector.example/shopify/callback"},
    ).headers["Location"]
    code = dict(parse_qsl(urlsplit(location).query))["code"]
    return requests.post(f"{base}/admin/oauth/access_token", timeout=5, json={
        "client_id": API_KEY, "client_secret": SHOPIFY_SECRET, "code": code}).json()["access_token"]


@pytest.fixture
def shop_settings(settings, shopify):
    return settings.with_overrides(shopify_api_key=API_KEY, shopify_admin_url=shopify.admin_url,
                                   public_url="https://connector.example")


def add_store(sessions, settings, token: str, scopes: str | None = ALL_SCOPES) -> int:
    with transaction(sessions) as session:
        store = directory.add_store(session, settings.secret_key, "shopify", SHOP, access_token=token)
        store.scopes, store.attribution_window_days = scopes, 14
        return store.id


def stored(sessions, store_id: int) -> Store:
    with sessions() as session:
        return session.get(Store, store_id)


def test_setup_stores_the_storefront_and_currency_and_creates_the_pixel(shopify, sessions, shop_settings):
    shopify.set_shop_details(SHOP, url="https://wool-and-co.example/", currency="GBP")
    store_id = add_store(sessions, shop_settings, grant(shopify, ALL_SCOPES))
    report = adapter.setup(shop_settings, sessions, store_id)
    assert report.summary == ("webhooks: 6 created, 0 updated, 0 unchanged; storefront https://wool-and-co.example, "
                              "currency GBP; web pixel created")
    assert {step.key: step.state for step in report.steps} == {"webhooks": "done", "protected_data": "done",
                                                               "web_pixel": "done"}
    store = stored(sessions, store_id)
    assert (store.storefront_url, store.currency) == ("https://wool-and-co.example", "GBP")
    assert shopify.pixel(SHOP)["settings"] == {"endpoint": "https://connector.example", "store": SHOP,
                                               "windowDays": "14"}


def test_setup_again_changes_nothing_and_a_moved_deployment_updates_the_pixel(shopify, sessions, shop_settings):
    store_id = add_store(sessions, shop_settings, grant(shopify, ALL_SCOPES))
    adapter.setup(shop_settings, sessions, store_id)
    pixel = shopify.pixel(SHOP)
    assert adapter.setup(shop_settings, sessions, store_id).summary.endswith("; web pixel unchanged")
    assert shopify.graphql_counts(SHOP)["webPixelCreate"] == 1 and "webPixelUpdate" not in shopify.graphql_counts(SHOP)

    moved = shop_settings.with_overrides(public_url="https://moved.example")
    with transaction(sessions) as session:
        session.execute(update(Store).where(Store.id == store_id).values(attribution_window_days=30))
    summary = adapter.setup(moved, sessions, store_id).summary
    assert summary.startswith("webhooks: 0 created, 6 updated") and summary.endswith("; web pixel updated")
    assert shopify.pixel(SHOP) == {"id": pixel["id"], "settings": {
        "endpoint": "https://moved.example", "store": SHOP, "windowDays": "30"}}
    assert shopify.graphql_counts(SHOP)["webPixelCreate"] == 1


def test_a_shop_that_has_not_granted_write_pixels_still_gets_its_webhooks(shopify, sessions, shop_settings):
    old_scopes = "read_orders,read_customers,write_discounts"
    store_id = add_store(sessions, shop_settings, grant(shopify, old_scopes), scopes=old_scopes)
    outcome = run_setup(shop_settings, sessions, store_id, now=NOW)
    assert outcome.done and "web pixel not set up (the shop has not granted write_pixels" in outcome.summary
    assert len(shopify.subscriptions(SHOP)) == 6 and shopify.pixel(SHOP) is None
    assert not {"webPixel", "webPixelCreate"} & set(shopify.graphql_counts(SHOP))
    store = stored(sessions, store_id)
    assert not store.setup_pending
    pixel_step = next(step for step in store.setup_report if step["key"] == "web_pixel")
    assert pixel_step["state"] == "todo" and "approve the permissions" in pixel_step["action"]


def test_a_token_without_the_pixel_scope_is_reported_not_failed(shopify, sessions, shop_settings):
    """Scopes not recorded on the store: Shopify's ACCESS_DENIED says it instead."""
    store_id = add_store(sessions, shop_settings, grant(shopify, "read_orders,write_discounts"), scopes=None)
    report = remote.setup(shop_settings, sessions, store_id)
    assert "web pixel not set up (Access denied for webPixel field" in report.summary
    assert shopify.pixel(SHOP) is None and len(shopify.subscriptions(SHOP)) == 6
    pixel_step = next(step for step in report.steps if step.key == "web_pixel")
    assert pixel_step.state == "todo" and "shopify app deploy" in pixel_step.action


def test_settings_shopify_refuses_are_reported_not_retried(sessions, shop_settings):
    """An extension declaring other settings (an old deployment of it): Shopify refuses ours."""
    with StandinShopify(API_KEY, SHOPIFY_SECRET, pixel_fields={"accountID": True}) as other:
        settings = shop_settings.with_overrides(shopify_admin_url=other.admin_url)
        store_id = add_store(sessions, settings, grant(other, ALL_SCOPES))
        outcome = run_setup(settings, sessions, store_id, now=NOW)
        assert outcome.done and "web pixel not created (webPixel.settings: Settings has fields" in outcome.summary
        assert other.pixel(SHOP) is None
