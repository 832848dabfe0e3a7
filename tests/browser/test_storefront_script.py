"""The WooCommerce storefront script (connector/web/static/storefront.js) in Chromium: touches kept in the
first-party cookie, the purchase reported from the order-received page with the order key as proof, the
sign-up reported with the email's hash, and nothing ever thrown into the page."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest

from .conftest import COOKIE, STOREFRONT_JS, dead_origin, needs_browser, touches_cookie, wait_until

# The script's behaviour does not depend on the database: once is enough (test_click_to_credit.py runs on both).
pytestmark = [needs_browser, pytest.mark.only_database("sqlite")]

AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _visit(page, url: str) -> None:
    page.goto(url)
    page.wait_for_function("window.__cnx === 1 && window.__pageOk === true")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _set_touches(page, shop, touches) -> None:
    page.context.add_cookies([{"name": COOKIE, "value": quote(json.dumps(touches), safe=""), "url": shop.url}])


def test_script_is_small_and_self_contained():
    source = STOREFRONT_JS.read_text()
    assert len(source.encode()) < 4096
    assert "import " not in source and "require(" not in source


def test_ref_is_kept_in_a_cookie_and_reported_with_the_order(page, shop, connector):
    _visit(page, f"{shop.url}/?ref=alice&click_id=ck_1")
    cookie = touches_cookie(page, shop.url)
    assert cookie is not None
    [touch] = cookie["touches"]
    assert touch["ref"] == "alice" and touch["click_id"] == "ck_1" and AT.match(touch["at"])
    at = datetime.strptime(touch["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - at).total_seconds()) < 60
    assert cookie["path"] == "/" and cookie["sameSite"] == "Lax" and cookie["secure"] is False
    assert cookie["httpOnly"] is False
    assert abs(cookie["expires"] - (datetime.now(timezone.utc).timestamp() + 30 * 86400)) < 120

    _visit(page, f"{shop.url}/shop/product-1/")
    assert touches_cookie(page, shop.url)["value"] == cookie["value"]

    _visit(page, f"{shop.url}/checkout/order-received/42/?key=wc_order_abc")
    [post] = wait_until(connector.posts, message="the purchase report")
    assert json.loads(post["body"]) == {
        "v": 1, "store": shop.url, "kind": "purchase", "order_id": "42", "proof": "wc_order_abc",
        "touches": [{"ref": "alice", "click_id": "ck_1", "at": touch["at"]}],
    }
    assert post["content_type"].split(";")[0] == "text/plain"
    assert post["origin"] == shop.url
    assert post["cookie"] is None
    assert connector.preflights() == []
    # the connector took it: stored for the worker, for the WooCommerce store the page belongs to
    assert connector.statuses() == [202]
    [event] = connector.wait_for_events(1, "storefront/purchase")
    assert event.store_id == connector.stores["woocommerce"] and b"wc_order_abc" not in event.body

    # once per order in this browser session: a reload of the thank-you page sends nothing more
    page.reload()
    page.wait_for_function("window.__cnx === 1")
    _visit(page, f"{shop.url}/?page_id=7&order-received=43&key=wc_order_def")  # plain permalinks
    reports = connector.wait_for_reports(2)
    assert [(r["order_id"], r["proof"]) for r in reports] == [("42", "wc_order_abc"), ("43", "wc_order_def")]
    assert len(connector.wait_for_events(2, "storefront/purchase")) == 2


def test_no_touches_no_report_and_a_ref_without_click_id(page, shop, connector):
    _visit(page, f"{shop.url}/checkout/order-received/50/?key=wc_order_none")
    _visit(page, f"{shop.url}/checkout/order-received/51/")  # no key: not an order-received page
    _visit(page, f"{shop.url}/landing/?ref=bob")
    # a ref the connector would refuse (not a tracking id) is not kept: it would void the whole report;
    # a click id longer than the connector takes is dropped, the touch kept
    _visit(page, f"{shop.url}/?ref=not%20a%20tracking%20id!")
    _visit(page, f"{shop.url}/?ref={'x' * 101}")
    _visit(page, f"{shop.url}/?ref=cleo&click_id={'c' * 65}")
    _visit(page, f"{shop.url}/checkout/order-received/52/?key=wc_order_bob")
    [report] = connector.wait_for_reports(1)
    assert report["order_id"] == "52" and report["proof"] == "wc_order_bob"
    assert [(t["ref"], t["click_id"]) for t in report["touches"]] == [("bob", None), ("cleo", None)]
    assert len(connector.posts()) == 1


def test_at_most_five_touches_within_the_window_oldest_first(page, shop, connector):
    now = datetime.now(timezone.utc)
    old = {"ref": "stale", "click_id": "ck_0", "at": _iso(now - timedelta(days=31))}
    recent = [{"ref": f"r{i}", "click_id": f"ck_{i}", "at": _iso(now - timedelta(hours=10 - i))} for i in range(1, 6)]
    _set_touches(page, shop, [old, *recent])

    _visit(page, f"{shop.url}/?ref=new&click_id=ck_new")
    touches = touches_cookie(page, shop.url)["touches"]
    assert [t["ref"] for t in touches] == ["r2", "r3", "r4", "r5", "new"]

    # the same touch again moves to the end instead of crowding out the others
    _visit(page, f"{shop.url}/?ref=r3&click_id=ck_3")
    assert [t["ref"] for t in touches_cookie(page, shop.url)["touches"]] == ["r2", "r4", "r5", "new", "r3"]

    # a shorter window (data-window-days) drops what falls out of it, in the cookie and in the report
    shop.window_days = 2
    _set_touches(page, shop, [{"ref": "three-days", "click_id": None, "at": _iso(now - timedelta(days=3))},
                              {"ref": "yesterday", "click_id": None, "at": _iso(now - timedelta(days=1))}])
    _visit(page, f"{shop.url}/checkout/order-received/60/?key=wc_order_win")
    [report] = connector.wait_for_reports(1)
    assert [t["ref"] for t in report["touches"]] == ["yesterday"]
    _visit(page, f"{shop.url}/?ref=today")
    cookie = touches_cookie(page, shop.url)
    assert [t["ref"] for t in cookie["touches"]] == ["yesterday", "today"]
    assert abs(cookie["expires"] - (datetime.now(timezone.utc).timestamp() + 2 * 86400)) < 120


def test_registration_sends_the_email_hash_without_blocking_the_submit(page, shop, connector):
    _visit(page, f"{shop.url}/?ref=alice&click_id=ck_1")
    touches = touches_cookie(page, shop.url)["touches"]
    _visit(page, f"{shop.url}/my-account/")
    page.fill("#reg_email", "  Alice@Example.COM ")
    page.fill("#reg_password", "secret-pass-1")
    with page.expect_navigation():
        page.click("button[name=register]")
    assert page.locator("#registered").is_visible()
    assert shop.registrations == [{"email": "Alice@Example.COM", "password": "secret-pass-1",
                                   "register": "Register"}]

    [post] = wait_until(connector.posts, message="the sign-up report")
    assert json.loads(post["body"]) == {
        "v": 1, "store": shop.url, "kind": "signup", "customer_id": None,
        "email_sha256": hashlib.sha256(b"alice@example.com").hexdigest(), "touches": touches,
    }
    assert post["content_type"].split(";")[0] == "text/plain"
    assert post["origin"] == shop.url
    assert "example.com" not in post["body"].lower()  # the hash only, never the address
    assert connector.preflights() == []
    assert connector.statuses() == [202]  # sent by sendBeacon as the page went away, and still taken
    [event] = connector.wait_for_events(1, "storefront/signup")
    assert json.loads(event.body)["email_sha256"] == hashlib.sha256(b"alice@example.com").hexdigest()


def test_registration_without_touches_or_without_webcrypto_reports_nothing(page, shop, connector, page_errors):
    _visit(page, f"{shop.url}/my-account/")
    page.fill("#reg_email", "carol@example.com")
    with page.expect_navigation():
        page.click("button[name=register]")

    page.context.add_init_script(
        "Object.defineProperty(Crypto.prototype, 'subtle', {get: () => undefined, configurable: true});")
    _visit(page, f"{shop.url}/?ref=carol")
    _visit(page, f"{shop.url}/my-account/")
    page.fill("#reg_email", "carol@example.com")
    with page.expect_navigation():
        page.click("button[name=register]")
    assert len(shop.registrations) == 2

    # a purchase afterwards is the only report
    _visit(page, f"{shop.url}/checkout/order-received/70/?key=wc_order_carol")
    connector.wait_for_reports(1)
    assert [r["kind"] for r in connector.reports()] == ["purchase"]
    assert page_errors == []


def test_unreachable_connector_and_a_bad_cookie_raise_nothing_in_the_page(page, shop, page_errors):
    shop.script_origin = dead_origin()  # nothing listens there: the report cannot be delivered
    page.route(f"{shop.script_origin}/storefront.js",
               lambda route: route.fulfill(path=str(STOREFRONT_JS), content_type="text/javascript"))
    page.context.add_cookies([{"name": COOKIE, "value": "%E0%A4%A{not json", "url": shop.url}])

    _visit(page, f"{shop.url}/checkout/order-received/80/?key=wc_order_x")  # unreadable cookie: no touches
    _visit(page, f"{shop.url}/?ref=dave&click_id=ck_d")
    assert [t["ref"] for t in touches_cookie(page, shop.url)["touches"]] == ["dave"]

    with page.expect_event("requestfailed", lambda r: r.url.endswith("/storefront/events")):
        _visit(page, f"{shop.url}/checkout/order-received/81/?key=wc_order_y")
    page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 50))")
    assert page.evaluate("window.__pageOk") is True
    assert page_errors == []
