"""Click to credit in a real browser: a shopper follows an influencer's tracking link (the connector records
the click and sends them to the store), the storefront script or the web pixel keeps the touch and reports
it with the order, the store's order webhook comes in, and the worker credits the order by `click` to the
influencer whose click id the browser carried. Runs on both databases."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from standins.shopify import samples as shopify_samples
from standins.woocommerce import samples as woo_samples
from connector.models import Click

from ..conftest import SHOPIFY_SECRET
from ..helpers import bodies, drain
from .conftest import SHOPIFY_SHOP, WOO_SECRET, needs_browser, touches_cookie

pytestmark = needs_browser


def _follow_link(page, connector, tracking_id: str, to: str) -> dict:
    """Click the tracking link in the browser; the query it landed with on the store."""
    page.goto(f"{connector.url}/t/{tracking_id}?to={to}")
    landed = urlsplit(page.url)
    assert landed.path == to, page.content()  # a 404 page says why
    return {k: v[0] for k, v in parse_qs(landed.query).items()}


def _the_click(connector) -> Click:
    with connector.sessions() as session:
        [click] = session.scalars(select(Click))
        return click


def _placed_after(click: Click) -> datetime:
    # Order times have whole seconds: the next whole second is certainly after the click.
    return click.clicked_at.replace(microsecond=0) + timedelta(seconds=1)


def test_woocommerce_storefront_script_click_to_credit(page, shop, connector):
    landed = _follow_link(page, connector, "alice", "/product/merino-scarf/")
    page.wait_for_function("window.__cnx === 1 && window.__pageOk === true")  # the shop's page, its script ran
    click = _the_click(connector)
    assert landed == {"ref": "alice", "click_id": click.id}
    [touch] = touches_cookie(page, shop.url)["touches"]
    assert (touch["ref"], touch["click_id"]) == ("alice", click.id)

    order_key = "wc_order_Br0wS3rT3st"
    page.goto(f"{shop.url}/checkout/order-received/5123/?key={order_key}")
    [event] = connector.wait_for_events(1, "storefront/purchase")
    assert event.store_id == connector.stores["woocommerce"] and order_key.encode() not in event.body

    # the store's order webhook, with no coupon or landing ref of its own: only the report can credit it
    placed = _placed_after(click)
    body = woo_samples.encode(woo_samples.order(
        order_id=5123, codes=(), landing_url="", cart_ref="", order_key=order_key,
        date_created_gmt=placed.strftime("%Y-%m-%dT%H:%M:%S")))
    answer = connector.client.post("/webhooks/woocommerce", data=body, headers=woo_samples.headers(
        body, source=f"{shop.url}/", topic="order.created", secret=WOO_SECRET))
    assert answer.status_code == 200 and answer.json["outcome"] == "stored"
    drain(connector.settings, connector.sessions)

    [conversion] = bodies(connector.sessions)
    data = conversion["data"]
    assert (conversion["type"], data["platform"], data["store"], data["order_id"]) == (
        "conversion.purchase", "woocommerce", shop.url, "5123")
    assert (data["method"], data["tracking_id"], data["click_id"], data["campaign_id"]) == (
        "click", "alice", click.id, "wc-26")
    assert data["credits"] == [{"tracking_id": "alice", "share": "1"}]


def test_shopify_web_pixel_click_to_credit(page, shop, connector):
    landed = _follow_link(page, connector, "bob", "/products/shirt")
    click = _the_click(connector)
    assert landed == {"ref": "bob", "click_id": click.id}
    landing_url = page.url
    # The stand-in shop's pages carry the WooCommerce script too; start clean so the touch below is the pixel's.
    page.context.clear_cookies()

    config = {"settings": {"endpoint": connector.url, "store": SHOPIFY_SHOP, "windowDays": "30"}, "customer": None}
    page.context.add_init_script(f"window.__pixelConfig = {json.dumps(config)};")
    page.goto(f"{shop.url}/pixel-harness")
    page.wait_for_function("window.__pixelReady === true")
    assert page.evaluate("(href) => window.__pixel.pageViewed(href)", landing_url) == 1
    [touch] = touches_cookie(page, shop.url)["touches"]
    assert (touch["ref"], touch["click_id"]) == ("bob", click.id)

    order_id, token = 5551234, "c1e2a3b4d5f60718293a4b5c6d7e8f90"
    checkout = {"token": token, "order": {"id": f"gid://shopify/OrderIdentity/{order_id}"}, "currencyCode": "EUR"}
    assert page.evaluate("(c) => window.__pixel.checkoutCompleted(location.href + '/thank-you', c)", checkout) == 1
    assert page.evaluate("window.__pixel.errors") == []
    [event] = connector.wait_for_events(1, "storefront/purchase")
    assert event.store_id == connector.stores["shopify"] and token.encode() not in event.body

    order = shopify_samples.order(shop=SHOPIFY_SHOP, order_id=order_id, codes=(), cart_ref="", landing_site="/",
                                  landing_site_ref="")
    order["checkout_token"] = token
    order["created_at"] = order["processed_at"] = _placed_after(click).isoformat()
    body = shopify_samples.encode(order)
    answer = connector.client.post("/webhooks/shopify", data=body, headers=shopify_samples.headers(
        body, shop=SHOPIFY_SHOP, topic="orders/paid", secret=SHOPIFY_SECRET))
    assert answer.status_code == 200
    drain(connector.settings, connector.sessions)

    [conversion] = bodies(connector.sessions)
    data = conversion["data"]
    assert (data["platform"], data["store"], data["order_id"]) == ("shopify", SHOPIFY_SHOP, str(order_id))
    assert (data["method"], data["tracking_id"], data["click_id"], data["campaign_id"]) == (
        "click", "bob", click.id, "spring-26")
