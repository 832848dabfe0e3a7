"""The Shopify web pixel (extensions/connector-pixel/src/index.js) in Chromium, on a harness page whose
import map points "@shopify/web-pixels-extension" at a stand-in `register` (harness/web-pixels-extension.js):
events shaped as Shopify documents them are fired at it, and what it writes (the cookie, through
browser.cookie) and sends (the reports) is checked."""

from __future__ import annotations

import hashlib
import json
import tomllib
from datetime import datetime, timezone

import pytest

from .conftest import PIXEL_JS, ROOT, SHOPIFY_SHOP, dead_origin, needs_browser, touches_cookie, wait_until

# The pixel's behaviour does not depend on the database: once is enough (test_click_to_credit.py runs on both).
pytestmark = [needs_browser, pytest.mark.only_database("sqlite")]

STORE = SHOPIFY_SHOP


def _open_pixel(page, shop, connector, customer=None, **settings):
    config = {
        "settings": {"endpoint": connector.url, "store": STORE, "windowDays": "30", **settings},
        "customer": customer,
    }
    page.context.add_init_script(f"window.__pixelConfig = {json.dumps(config)};")
    page.goto(f"{shop.url}/pixel-harness")
    page.wait_for_function("window.__pixelReady === true")
    assert page.evaluate("window.__pixel.registered") == 1


def _fire(page, script: str, *args) -> None:
    handlers = page.evaluate(f"(args) => window.__pixel.{script}(...args)", list(args))
    assert handlers == 1, f"the pixel subscribes to {script}"
    assert page.evaluate("window.__pixel.errors") == []


def _checkout(token: str, order_id: str) -> dict:
    """data.checkout of checkout_completed, as the Web Pixels API documents it (the fields used, and some)."""
    money = lambda amount: {"amount": amount, "currencyCode": "EUR"}  # noqa: E731
    return {
        "token": token,
        "order": {"id": order_id, "customer": {"id": "7001", "isFirstOrder": True}},
        "currencyCode": "EUR",
        "totalPrice": money(59.9),
        "subtotalPrice": money(59.9),
        "totalTax": money(10.0),
        "discountApplications": [],
        "lineItems": [],
        "email": "buyer@example.com",
        "attributes": [],
    }


def test_extension_declares_a_strict_web_pixel_with_the_three_settings():
    toml = tomllib.loads((PIXEL_JS.parent.parent / "shopify.extension.toml").read_text())
    assert toml["type"] == "web_pixel_extension" and toml["runtime_context"] == "strict"
    assert set(toml["customer_privacy"]) == {"analytics", "marketing", "preferences", "sale_of_data"}
    fields = toml["settings"]["fields"]
    assert set(fields) == {"endpoint", "store", "windowDays"}
    assert {f["type"] for f in fields.values()} == {"single_line_text_field"}
    package = json.loads((ROOT / "extensions" / "connector-pixel" / "package.json").read_text())
    assert "@shopify/web-pixels-extension" in package["dependencies"]
    assert 'from "@shopify/web-pixels-extension"' in PIXEL_JS.read_text()


def test_page_viewed_keeps_touches_and_checkout_completed_reports_them(page, shop, connector):
    _open_pixel(page, shop, connector)
    _fire(page, "pageViewed", f"{shop.url}/products/shirt?ref=alice&click_id=ck_1")
    cookie = touches_cookie(page, shop.url)
    [touch] = cookie["touches"]
    assert (touch["ref"], touch["click_id"]) == ("alice", "ck_1")
    at = datetime.strptime(touch["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - at).total_seconds()) < 60
    assert cookie["path"] == "/" and cookie["sameSite"] == "Lax"
    assert abs(cookie["expires"] - (datetime.now(timezone.utc).timestamp() + 30 * 86400)) < 120

    _fire(page, "pageViewed", f"{shop.url}/collections/all")
    page.reload()  # a new page: the pixel is registered afresh
    page.wait_for_function("window.__pixelReady === true")
    _fire(page, "pageViewed", f"{shop.url}/cart")
    assert touches_cookie(page, shop.url)["value"] == cookie["value"]
    assert connector.posts() == []  # no customer: nothing to report yet

    _fire(page, "checkoutCompleted", f"{shop.url}/checkouts/cn/abc/thank-you",
          _checkout("tok_0a1b2c", "gid://shopify/OrderIdentity/5551234"))
    [post] = wait_until(connector.posts, message="the purchase report")
    assert json.loads(post["body"]) == {
        "v": 1, "store": STORE, "kind": "purchase", "order_id": "gid://shopify/OrderIdentity/5551234",
        "proof": "tok_0a1b2c", "touches": [{"ref": "alice", "click_id": "ck_1", "at": touch["at"]}],
    }
    assert post["content_type"].split(";")[0] == "text/plain"
    assert post["cookie"] is None
    assert connector.preflights() == []
    # taken from the page's origin (the Shopify store's storefront), the order id as the webhooks name it
    assert post["origin"] == shop.url and connector.statuses() == [202]
    [event] = connector.wait_for_events(1, "storefront/purchase")
    assert event.store_id == connector.stores["shopify"] and b"tok_0a1b2c" not in event.body
    assert json.loads(event.body)["order_id"] == "5551234"


def test_touches_follow_the_same_rules_as_the_storefront_script(page, shop, connector):
    _open_pixel(page, shop, connector)
    for i in range(1, 7):
        _fire(page, "pageViewed", f"{shop.url}/?ref=r{i}&click_id=ck_{i}")
    _fire(page, "pageViewed", f"{shop.url}/?ref=r3&click_id=ck_3")
    _fire(page, "pageViewed", f"{shop.url}/?ref=solo")
    _fire(page, "pageViewed", f"{shop.url}/?ref=not%20a%20tracking%20id!&click_id=ck_x")  # refused by the connector
    touches = touches_cookie(page, shop.url)["touches"]
    assert [(t["ref"], t["click_id"]) for t in touches] == [
        ("r4", "ck_4"), ("r5", "ck_5"), ("r6", "ck_6"), ("r3", "ck_3"), ("solo", None)]

    _fire(page, "checkoutCompleted", f"{shop.url}/thank-you", _checkout("tok_num", "820982911946154508"))
    [report] = connector.wait_for_reports(1)
    assert report["order_id"] == "820982911946154508" and report["touches"] == touches


def test_logged_in_customer_with_touches_is_reported_once(page, shop, connector):
    _open_pixel(page, shop, connector, customer={
        "id": "7001", "email": " Bob@Example.com", "firstName": "Bob", "lastName": "B", "ordersCount": 0,
        "phone": None})
    _fire(page, "pageViewed", f"{shop.url}/account?ref=bob&click_id=ck_b")
    [post] = wait_until(connector.posts, message="the sign-up report")
    touches = touches_cookie(page, shop.url)["touches"]
    assert json.loads(post["body"]) == {
        "v": 1, "store": STORE, "kind": "signup", "customer_id": "7001",
        "email_sha256": hashlib.sha256(b"bob@example.com").hexdigest(), "touches": touches,
    }

    page.reload()
    page.wait_for_function("window.__pixelReady === true")
    _fire(page, "pageViewed", f"{shop.url}/account")
    _fire(page, "checkoutCompleted", f"{shop.url}/thank-you", _checkout("tok_bob", "1001"))
    connector.wait_for_reports(1, kind="purchase")
    assert [r["kind"] for r in connector.reports()] == ["signup", "purchase"]
    [signup] = connector.wait_for_events(1, "storefront/signup")
    assert json.loads(signup.body)["customer_id"] == "7001"


def test_nothing_to_report_and_odd_events_do_not_throw(page, shop, connector, page_errors):
    _open_pixel(page, shop, connector)
    _fire(page, "checkoutCompleted", f"{shop.url}/thank-you", _checkout("tok_none", "1"))  # no touches
    page.evaluate("""async () => {
        await window.__pixel.publish('page_viewed', location.href, null);
        await window.__pixel.publish('checkout_completed', location.href, null);
        await window.__pixel.publish('checkout_completed', location.href, {checkout: {token: 'tok'}});
        await window.__pixel.publish('checkout_completed', location.href, {checkout: {order: {id: '9'}}});
    }""")
    page.context.add_cookies([{"name": "_cnx_touches", "value": "%E0%A4%A{not json", "url": shop.url}])
    _fire(page, "pageViewed", f"{shop.url}/?ref=erin")
    assert [t["ref"] for t in touches_cookie(page, shop.url)["touches"]] == ["erin"]
    assert page.evaluate("window.__pixel.errors") == []
    _fire(page, "checkoutCompleted", f"{shop.url}/thank-you", _checkout("tok_erin", "2"))
    connector.wait_for_reports(1)
    assert [r["proof"] for r in connector.reports()] == ["tok_erin"]
    assert page_errors == []


def test_unreachable_connector_or_missing_settings_stay_quiet(page, shop, connector, page_errors):
    _open_pixel(page, shop, connector, endpoint=dead_origin())  # nothing listens there
    _fire(page, "pageViewed", f"{shop.url}/?ref=frank")
    _fire(page, "checkoutCompleted", f"{shop.url}/thank-you", _checkout("tok_f", "3"))

    page.context.add_init_script("window.__pixelConfig.settings = {};")
    page.reload()
    page.wait_for_function("window.__pixelReady === true")
    assert page.evaluate("window.__pixel.publish('page_viewed', location.href + '?ref=x', {})") == 0
    assert page.evaluate("window.__pixel.errors") == []
    assert connector.posts() == []
    assert page_errors == []
