"""Campaigns end to end, through real HTTP: the backend registers 600 influencers on a Shopify store and 250 on
a WooCommerce store through /api/v1 → the worker creates their codes in the stand-ins in bulk → a shopper
clicks a tracking link → the browser's purchase report and the order webhook arrive, in either order →
one conversion, credited to the right influencer by `click`, reaches the backend."""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from standins.shopify import samples as shopify_samples
from standins.shopify.store import StandinShopify, query_hmac
from standins.woocommerce import samples as woo_samples
from connector import create_app
from connector.campaigns import directory
from standins.live_server import LiveServer
from connector.models import Store
from connector.worker import Worker

from ..conftest import BACKEND_SECRET, SHOPIFY_SECRET
from .conftest import deploy_app

API_KEY, TOKEN = "e2e-campaign-key", "e2e-api-token-0123456789"
SHOP, SITE = "campaign-boutique.myshopify.com", "campaign-woo"
SHOPIFY_INFLUENCERS, WOO_INFLUENCERS = 600, 250


@pytest.fixture
def stores(woo):
    with StandinShopify(API_KEY, SHOPIFY_SECRET) as shopify:
        yield shopify, woo


@pytest.fixture
def live(settings, engine, stores, backend):
    shopify, _ = stores
    server = LiveServer()
    live_settings = settings.with_overrides(
        public_url=server.url, api_token=TOKEN, shopify_api_key=API_KEY, shopify_admin_url=shopify.admin_url,
        woocommerce_allow_private=True, tracking_backend_url=backend.url, tracking_backend_secret=BACKEND_SECRET,
    )
    server.start(create_app(live_settings, engine=engine))
    deploy_app(shopify, live_settings)
    yield server, live_settings
    server.stop()


class Backend:
    """The tracking backend's calls to /api/v1."""

    def __init__(self, url: str):
        self.base, self.http = f"{url}/api/v1", requests.Session()
        self.http.headers["Authorization"] = f"Bearer {TOKEN}"

    def __call__(self, method: str, path: str, **kwargs):
        return self.http.request(method, self.base + path, timeout=30, **kwargs)


def _install_both(server, shopify, woo, sessions) -> tuple[int, int]:
    params = {"shop": SHOP, "timestamp": str(int(time.time()))}
    query = urlencode({**params, "hmac": query_hmac(params, SHOPIFY_SECRET)})
    assert requests.get(f"{server.url}/shopify/install?{query}", timeout=20).status_code == 200
    page = requests.get(f"{server.url}/woocommerce/install", params={"store_url": woo.site_url(SITE)}, timeout=20)
    assert page.status_code == 200 and "storefront.js" in page.text  # the merchant is given the one line
    with sessions() as session:
        return (directory.find_store(session, SHOP).id, directory.find_store(session, woo.site_url(SITE)).id)


def _register(api: Backend, store_id: int, count: int, prefix: str) -> None:
    assert api("PUT", f"/stores/{store_id}/campaigns/launch", json={"name": "Launch"}).status_code == 201
    people = [{"tracking_id": f"{prefix}{n}", "campaign_id": "launch", "promo_code": f"{prefix.upper()}{n}OFF",
               "email": f"{prefix}{n}@creators.example", "discount": {"type": "percentage", "value": "10"}}
              for n in range(count)]
    answer = api("POST", f"/stores/{store_id}/influencers/batch", json={"influencers": people})
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert [r["outcome"] for r in results] == ["created"] * count
    # The API answers at once; the codes are the worker's job.
    assert {r["influencer"]["promo_code"]["status"] for r in results} == {"pending"}


def _worker(settings, sessions) -> None:
    Worker(settings, sessions, worker_id="e2e-campaign").run(burst=True)


def _click(server, store_id: int, tracking_id: str) -> tuple[str, str]:
    answer = requests.get(f"{server.url}/t/{tracking_id}", params={"s": store_id, "to": "/products/scarf?c=red"},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["ref"] == [tracking_id] and query["c"] == ["red"]
    return answer.headers["Location"], query["click_id"][0]


def _report(server, origin: str, store_key: str, order_id: str, proof: str, ref: str, click_id: str):
    report = {"v": 1, "store": store_key, "kind": "purchase", "order_id": order_id, "proof": proof,
              "touches": [{"ref": ref, "click_id": click_id,
                           "at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}]}
    answer = requests.post(f"{server.url}/storefront/events", json=report, headers={"Origin": origin}, timeout=10)
    assert answer.status_code == 202 and answer.headers["Access-Control-Allow-Origin"] == origin


@pytest.mark.parametrize("report_first", [True, False], ids=["report-then-webhook", "webhook-then-report"])
def test_hundreds_of_codes_in_bulk_then_a_click_credits_its_order(live, stores, sessions, backend, report_first):
    server, settings = live
    shopify, woo = stores
    shop_id, woo_id = _install_both(server, shopify, woo, sessions)
    api = Backend(server.url)
    _register(api, shop_id, SHOPIFY_INFLUENCERS, "sh")
    _register(api, woo_id, WOO_INFLUENCERS, "wo")
    _worker(settings, sessions)

    # Every code is in the stores, made in bulk: one discount for the campaign's shared terms, redeem codes
    # added 250 a call; coupons 100 a call.
    codes = shopify.codes(SHOP)
    assert {f"sh{n}off" for n in range(SHOPIFY_INFLUENCERS)} <= set(codes)
    assert len({c["discount_id"] for c in codes.values()}) == 1
    calls = shopify.graphql_counts(SHOP)
    assert calls["discountCodeBasicCreate"] == 1
    assert calls["discountRedeemCodeBulkAdd"] == math.ceil((SHOPIFY_INFLUENCERS - 1) / 250)
    assert {c["code"] for c in woo.coupons(SITE)} == {f"wo{n}off" for n in range(WOO_INFLUENCERS)}
    assert woo.calls("coupons/batch", site=SITE, method="POST") == math.ceil(WOO_INFLUENCERS / 100)
    assert api("GET", f"/stores/{shop_id}/influencers/sh417").json()["promo_code"]["status"] == "active"

    # Shopify: sh417's link, then checkout (the web pixel's report) and orders/paid, in either order.
    _, click_id = _click(server, shop_id, "sh417")
    order = shopify_samples.order(order_id=7001001, name="#7001", codes=(), cart_ref="", landing_site="/",
                                  landing_site_ref="")
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    order.update(checkout_token="chk-7001", created_at=now, processed_at=now, updated_at=now)
    send_report = lambda: _report(server, f"https://{SHOP}", SHOP, "7001001", "chk-7001", "sh417", click_id)  # noqa: E731
    send_order = lambda: shopify.place_order(SHOP, order, topics=("orders/paid",))  # noqa: E731
    # WooCommerce: wo123's link; the storefront script reports on the order-received page.
    _, woo_click = _click(server, woo_id, "wo123")
    woo_order = woo_samples.order(order_id=9001, number="9001", status="processing", codes=(),
                                  email="buyer@example.com")
    woo_order.update(order_key="wc_order_9001", date_created_gmt=now[:-1], date_paid_gmt=now[:-1],
                     date_modified_gmt=now[:-1], meta_data=[])
    site_origin = "{0.scheme}://{0.netloc}".format(urlsplit(woo.site_url(SITE)))
    send_woo_report = lambda: _report(server, site_origin, woo.site_url(SITE), "9001", "wc_order_9001", "wo123",  # noqa: E731
                                      woo_click)
    send_woo_order = lambda: woo.place_order(SITE, woo_order)  # noqa: E731

    for first, second in ((send_report, send_order), (send_woo_report, send_woo_order)):
        first_, second_ = (first, second) if report_first else (second, first)
        first_()
        _worker(settings, sessions)
        second_()
        _worker(settings, sessions)

    delivered = {e.body["data"]["order_id"]: e.body for e in backend.delivered()}
    assert set(delivered) == {"7001001", "9001"}
    for order_id, tracking_id, clicked in (("7001001", "sh417", click_id), ("9001", "wo123", woo_click)):
        data = delivered[order_id]["data"]
        assert (data["tracking_id"], data["method"], data["click_id"]) == (tracking_id, "click", clicked)
        assert data["credits"] == [{"tracking_id": tracking_id, "share": "1"}]
    assert len(backend.delivered()) == 2  # once each, whatever came first

    record = api("GET", f"/stores/{shop_id}/orders/7001001/attribution").json()
    assert record["method"] == "click" and record["reports"][0]["status"] == "joined"
    stats = api("GET", f"/stores/{shop_id}/influencers/sh417/stats").json()
    assert (stats["clicks"], stats["orders"], stats["conversion_rate"]) == (1, 1, "1.0000")
    with sessions() as session:
        assert session.get(Store, shop_id).storefront_url  # read at setup, where links land
