"""The daily webhook check end to end, through real HTTP: stores installed through the live app, a subscription
Shopify deleted and one left pointing at an old address, a WooCommerce webhook WooCommerce disabled after
deliveries the connector refused; a day later the real worker's maintenance loop mends them, the merchant page
and /metrics count what it mended, and orders arrive by webhook again."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from adapters.shopify.app_config import app_toml
from connector import create_app
from connector.worker import Worker
from standins.live_server import LiveServer
from standins.shopify.store import StandinShopify
from standins.woocommerce import samples as woo_samples

from ..conftest import BACKEND_SECRET, SHOPIFY_SECRET
from . import test_shopify_installs as shop_journey
from . import test_woocommerce_installs as woo_journey

SHOPIFY_TOPICS = {"ORDERS_CREATE", "ORDERS_UPDATED", "ORDERS_PAID", "ORDERS_CANCELLED", "REFUNDS_CREATE",
                  "CUSTOMERS_CREATE"}


@pytest.fixture
def shopify():
    with StandinShopify(shop_journey.API_KEY, SHOPIFY_SECRET) as standin:
        yield standin


@pytest.fixture
def live(settings, engine, shopify, backend):
    """The real app on a live port, for Shopify (its admin the stand-in) and WooCommerce stores at once."""
    server = LiveServer()
    live_settings = settings.with_overrides(
        public_url=server.url, shopify_api_key=shop_journey.API_KEY, shopify_admin_url=shopify.admin_url,
        woocommerce_allow_private=True, tracking_backend_url=backend.url, tracking_backend_secret=BACKEND_SECRET)
    server.start(create_app(live_settings, engine=engine))
    shopify.deploy_app_config(app_toml(live_settings))
    yield server, live_settings
    server.stop()


def _a_day_later(settings, sessions) -> None:
    """The worker, its clock a day and an hour on: everything due then, the daily check included."""
    later = datetime.now(timezone.utc) + timedelta(hours=25)
    Worker(settings, sessions, worker_id="e2e-daily", clock=lambda: later).run(burst=True)


def _repaired(server) -> dict[str, float]:
    answer = requests.get(f"{server.url}/metrics", timeout=10)
    assert answer.status_code == 200
    return {sample.labels["platform"]: sample.value
            for family in text_string_to_metric_families(answer.text)
            for sample in family.samples if sample.name == "connector_webhooks_repaired_total"}


def test_a_deleted_shopify_subscription_and_one_pointing_elsewhere_are_mended_by_the_worker(
        live, shopify, sessions, backend, caplog):
    server, settings = live
    shop_journey._install(live, sessions)
    shop_journey._add_alice(sessions)
    store_id = shop_journey._store(sessions).id
    # Shopify deletes a subscription whose deliveries failed through all their retries; another still points at
    # the address an older deployment had.
    shopify.remove_subscription(shop_journey.SHOP, "ORDERS_PAID")
    shopify.move_subscription(shop_journey.SHOP, "ORDERS_CANCELLED", "https://old-connector.example/webhooks/shopify")
    before = shopify.graphql_counts(shop_journey.SHOP)
    assert _repaired(server) == {"shopify": 0, "woocommerce": 0}

    shop_journey._drain(settings, sessions)  # today: setup read them back just now, nothing is checked yet
    assert "ORDERS_PAID" not in {s["topic"] for s in shopify.subscriptions(shop_journey.SHOP)}
    with caplog.at_level(logging.INFO, logger="connector.installs"):
        _a_day_later(settings, sessions)

    subscriptions = shopify.subscriptions(shop_journey.SHOP)
    assert {s["topic"] for s in subscriptions} == SHOPIFY_TOPICS and len(subscriptions) == len(SHOPIFY_TOPICS)
    assert {s["uri"] for s in subscriptions} == {f"{server.url}/webhooks/shopify"}
    spent = shopify.graphql_counts(shop_journey.SHOP) - before
    assert (spent["webhookSubscriptions"], spent["webhookSubscriptionCreate"], spent["webhookSubscriptionUpdate"]) \
        == (1, 1, 1)
    assert f"store {store_id}: webhook orders/paid was missing; created again" in caplog.messages
    assert (f"store {store_id}: webhook orders/cancelled delivered to another address; pointed back here"
            in caplog.messages)

    # orders/paid reaches the connector again, and the order is credited
    answers = shopify.place_order(shop_journey.SHOP, shop_journey._order(5201))
    assert [status for status, _ in answers] == [200, 200]
    shop_journey._handle_and_deliver(settings, sessions)
    assert "5201" in {r.body["data"]["order_id"] for r in backend.delivered()}

    headers = {"Authorization": f"Bearer {shopify.session_token(shop_journey.SHOP)}"}
    page = requests.get(f"{server.url}/admin/api/onboarding", headers=headers, timeout=10).json()
    assert page["webhooks"]["repaired"] == 2 and page["webhooks"]["not_mended"] is None
    step = next(s for s in page["steps"] if s["key"] == "webhooks")
    assert step["state"] == "done" and "2 subscriptions repaired since install (last: " in step["detail"]
    assert _repaired(server) == {"shopify": 2, "woocommerce": 0}


def test_a_woocommerce_webhook_disabled_after_failed_deliveries_is_enabled_again_by_the_worker(
        live, woo, sessions, backend, caplog):
    server, settings = live
    assert woo_journey._install(server, woo).status_code == 200
    store_id = woo_journey._store(sessions).id
    # A shop manager pasted another secret into the order.created webhook: the connector refuses each delivery
    # (401), and WooCommerce disables the webhook on the seventh failure in a row.
    woo.set_webhook(woo_journey.SITE, "order.created", secret="pasted-by-hand-0123456789")
    for n in range(7):
        answers = woo.place_order(woo_journey.SITE, woo_samples.order(order_id=6000 + n, number=str(6000 + n)))
        assert [a.status_code for a in answers] == [401]
    [hook] = [h for h in woo.webhooks(woo_journey.SITE) if h["topic"] == "order.created"]
    assert hook["status"] == "disabled"
    assert woo.place_order(woo_journey.SITE, woo_samples.order(order_id=6100, number="6100")) == []

    with caplog.at_level(logging.INFO, logger="connector.installs"):
        _a_day_later(settings, sessions)

    hooks = {h["topic"]: h for h in woo.webhooks(woo_journey.SITE)}
    assert hooks["order.created"]["status"] == "active" and len(hooks) == 4
    assert len({h["secret"] for h in hooks.values()}) == 1  # the store's own secret again
    assert woo.calls("webhooks", site=woo_journey.SITE, method="POST") == 4  # setup's; the check made none
    assert f"store {store_id}: webhook order.created was disabled; enabled again" in caplog.messages
    answers = woo.place_order(woo_journey.SITE, woo_samples.order(order_id=6200, number="6200"))
    assert [a.status_code for a in answers] == [200]
    assert _repaired(server) == {"shopify": 0, "woocommerce": 1}
