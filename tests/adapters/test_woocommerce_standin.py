"""The WooCommerce stand-in: the wc-auth dance, REST auth with the real library (OAuth 1.0a over http),
the webhook ping, signed deliveries, and the orders listing used by reconciliation."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from woocommerce import API
from woocommerce.oauth import OAuth

from adapters.woocommerce import adapter
from standins.woocommerce import samples
from adapters.woocommerce.normalise import normalise
from standins.woocommerce.store import StandinWooCommerce
from adapters.woocommerce.verify import read_headers, verify
from connector.core.platform import CustomerCreated, OrderDeleted, OrderEvent

from .woocommerce_helpers import Receiver


def api(standin: StandinWooCommerce, site: str, key: str, secret: str) -> API:
    return API(url=standin.site_url(site), consumer_key=key, consumer_secret=secret, version="wc/v3", timeout=10)


def authorize(standin, site: str, receiver: Receiver, **overrides) -> requests.Response:
    params = {"app_name": "Influencer Connector", "scope": "read_write", "user_id": "install-7f3a",
              "return_url": "https://connector.example/woocommerce/return",
              "callback_url": f"{receiver.url}/woocommerce/callback", **overrides}
    return requests.get(f"{standin.site_url(site)}/wc-auth/v1/authorize", params=params, allow_redirects=False,
                        timeout=10)


def hooked(standin, site: str, receiver: Receiver, topic: str, **extra) -> dict:
    """A webhook made through the REST API, as the connector makes them."""
    key, secret = standin.add_keys(site)
    answer = api(standin, site, key, secret).post("webhooks", {
        "name": f"Influencer Connector: {topic}", "topic": topic, "status": "active",
        "delivery_url": f"{receiver.url}/webhooks/woocommerce", "secret": "s3cr3t" + topic, **extra})
    assert answer.status_code == 201, answer.text
    return answer.json()


# --- wc-auth -------------------------------------------------------------------------------------


def test_authorize_posts_the_keys_to_the_callback_and_redirects_back(standin, receiver):
    answer = authorize(standin, "site-a", receiver)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://connector.example/woocommerce/return"
    assert parse_qs(location.query) == {"success": ["1"], "user_id": ["install-7f3a"]}

    [callback] = receiver.posts("/woocommerce/callback")
    assert callback.headers["Content-Type"] == "application/json;charset=UTF-8"
    keys = json.loads(callback.body)
    assert set(keys) == {"key_id", "user_id", "consumer_key", "consumer_secret", "key_permissions"}
    assert (keys["user_id"], keys["key_permissions"]) == ("install-7f3a", "read_write")
    assert keys["consumer_key"].startswith("ck_") and keys["consumer_secret"].startswith("cs_")
    assert standin.keys("site-a") == {keys["consumer_key"]: keys["consumer_secret"]}
    assert standin.callback_urls("site-a") == [f"{receiver.url}/woocommerce/callback"]
    # The keys work, on this site only.
    assert api(standin, "site-a", keys["consumer_key"], keys["consumer_secret"]).get("webhooks").status_code == 200
    assert api(standin, "site-b", keys["consumer_key"], keys["consumer_secret"]).get("webhooks").status_code == 401


def test_return_url_with_a_query_keeps_it(standin, receiver):
    answer = authorize(standin, "site-a", receiver, return_url="https://connector.example/back?store=7")
    assert parse_qs(urlsplit(answer.headers["Location"]).query) == {"store": ["7"], "success": ["1"], "user_id": ["install-7f3a"]}


@pytest.mark.parametrize("status", [201, 302, 400, 500])
def test_keys_are_deleted_when_the_callback_does_not_answer_200(standin, receiver, status):
    receiver.status = status
    answer = authorize(standin, "site-a", receiver)
    assert answer.status_code == 401
    assert "unable to send the consumer data" in answer.text
    assert len(receiver.posts()) == 1
    assert standin.keys("site-a") == {}


def test_unreachable_callback_deletes_the_keys(standin, receiver):
    answer = authorize(standin, "site-a", receiver, callback_url="http://127.0.0.1:9/woocommerce/callback")
    assert answer.status_code == 401
    assert standin.keys("site-a") == {}


def test_callback_url_without_scheme_gets_https(standin, receiver):
    answer = authorize(standin, "site-a", receiver, callback_url="127.0.0.1:9/woocommerce/callback")
    assert answer.status_code == 401  # nothing listens there
    assert standin.callback_urls("site-a") == ["https://127.0.0.1:9/woocommerce/callback"]


@pytest.mark.parametrize("overrides", [{"app_name": ""}, {"user_id": ""}, {"scope": "admin"}, {"return_url": "https://"}])
def test_bad_authorize_requests_are_refused_without_a_callback(standin, receiver, overrides):
    assert authorize(standin, "site-a", receiver, **overrides).status_code == 400
    assert receiver.posts() == [] and standin.keys("site-a") == {}


# --- REST authentication -------------------------------------------------------------------------


def test_library_over_http_signs_with_oauth_and_is_accepted(standin):
    key, secret = standin.add_keys("site-a")
    answer = api(standin, "site-a", key, secret).get("webhooks", params={"per_page": "1"})
    assert answer.status_code == 200 and answer.json() == []
    assert standin.requests_seen == [("GET", "/site-a/wp-json/wc/v3/webhooks")]


@pytest.mark.parametrize("which", ["secret", "key"])
def test_wrong_keys_get_401(standin, which):
    key, secret = standin.add_keys("site-a")
    key, secret = (key, "cs_wrong") if which == "secret" else ("ck_unknown", secret)
    answer = api(standin, "site-a", key, secret).get("webhooks")
    assert answer.status_code == 401
    assert answer.json()["code"] == "woocommerce_rest_authentication_error"


def test_no_credentials_get_401(standin):
    answer = requests.get(f"{standin.site_url('site-a')}/wp-json/wc/v3/webhooks", timeout=10)
    assert (answer.status_code, answer.json()["code"]) == (401, "woocommerce_rest_authentication_error")


def test_basic_and_query_string_keys_are_accepted(standin):
    key, secret = standin.add_keys("site-a")
    url = f"{standin.site_url('site-a')}/wp-json/wc/v3/webhooks"
    assert requests.get(url, auth=(key, secret), timeout=10).status_code == 200
    assert requests.get(url, params={"consumer_key": key, "consumer_secret": secret}, timeout=10).status_code == 200
    assert requests.get(url, auth=(key, "cs_wrong"), timeout=10).status_code == 401


def test_replayed_or_stale_oauth_requests_are_refused(standin):
    key, secret = standin.add_keys("site-a")
    url = f"{standin.site_url('site-a')}/wp-json/wc/v3/webhooks"
    signed = OAuth(url=url, consumer_key=key, consumer_secret=secret, version="wc/v3", method="GET").get_oauth_url()
    assert requests.get(signed, timeout=10).status_code == 200
    assert requests.get(signed, timeout=10).status_code == 401  # same nonce again
    stale = OAuth(url=url, consumer_key=key, consumer_secret=secret, version="wc/v3", method="GET",
                  oauth_timestamp=int(time.time()) - 3600).get_oauth_url()
    assert requests.get(stale, timeout=10).status_code == 401


def test_tampered_oauth_query_is_refused(standin):
    key, secret = standin.add_keys("site-a")
    url = f"{standin.site_url('site-a')}/wp-json/wc/v3/orders"
    signed = OAuth(url=url + "?" + urlencode({"per_page": "5"}), consumer_key=key, consumer_secret=secret,
                   version="wc/v3", method="GET").get_oauth_url()
    assert requests.get(signed.replace("per_page=5", "per_page=6"), timeout=10).status_code == 401


def test_read_only_keys_cannot_write(standin, receiver):
    key, secret = standin.add_keys("site-a", permissions="read")
    client = api(standin, "site-a", key, secret)
    assert client.get("webhooks").status_code == 200
    answer = client.post("webhooks", {"topic": "order.created", "delivery_url": f"{receiver.url}/hook"})
    assert answer.status_code == 401 and receiver.posts() == []


# --- webhooks ------------------------------------------------------------------------------------


def test_creating_a_webhook_pings_its_delivery_url(standin, receiver):
    created = hooked(standin, "site-a", receiver, "order.created")
    [ping] = receiver.posts("/webhooks/woocommerce")
    assert ping.body == f"webhook_id={created['id']}".encode()
    assert not [name for name in ping.headers if name.lower().startswith("x-wc-")]
    assert adapter.read_headers(ping.headers, ping.body) is None  # the connector's edge answers it as a ping
    assert (created["topic"], created["status"], created["secret"]) == ("order.created", "active", "s3cr3torder.created")


def test_a_ping_not_answered_200_fails_the_create(standin, receiver):
    receiver.status = 401
    key, secret = standin.add_keys("site-a")
    answer = api(standin, "site-a", key, secret).post("webhooks", {
        "topic": "order.created", "delivery_url": f"{receiver.url}/webhooks/woocommerce", "secret": "x"})
    assert answer.status_code == 400
    assert "returned response code: 401" in answer.json()["message"]
    assert standin.webhooks("site-a") == []


@pytest.mark.parametrize("data", [{"topic": "order.exploded", "delivery_url": "https://x.example/"},
                                  {"topic": "order.created", "delivery_url": "ftp://x.example/"},
                                  {"topic": "order.created"}])
def test_invalid_webhooks_are_refused(standin, receiver, data):
    key, secret = standin.add_keys("site-a")
    assert api(standin, "site-a", key, secret).post("webhooks", data).status_code == 400
    assert standin.webhooks("site-a") == [] and receiver.posts() == []


def test_listing_shows_secrets_in_edit_context_only_and_pages(standin, receiver):
    for topic in ("order.created", "order.updated", "order.deleted"):
        hooked(standin, "site-a", receiver, topic)
    key, secret = standin.add_keys("site-a")
    client = api(standin, "site-a", key, secret)
    view = client.get("webhooks", params={"per_page": "2", "page": "1"})
    assert view.headers["X-WP-Total"] == "3" and view.headers["X-WP-TotalPages"] == "2"
    assert [h.get("secret") for h in view.json()] == [None, None]
    edit = client.get("webhooks", params={"per_page": "2", "page": "2", "context": "edit"}).json()
    assert [(h["topic"], h["secret"]) for h in edit] == [("order.deleted", "s3cr3torder.deleted")]


def test_updating_a_webhook(standin, receiver):
    created = hooked(standin, "site-a", receiver, "order.created")
    key, secret = standin.add_keys("site-a")
    client = api(standin, "site-a", key, secret)
    answer = client.put(f"webhooks/{created['id']}", {"secret": "new", "status": "paused"})
    assert (answer.status_code, answer.json()["secret"], answer.json()["status"]) == (200, "new", "paused")
    assert client.put("webhooks/999999", {"secret": "new"}).status_code == 400
    assert client.put(f"webhooks/{created['id']}", {"status": "exploded"}).status_code == 400
    assert [h["status"] for h in standin.webhooks("site-a")] == ["paused"]


# --- deliveries ----------------------------------------------------------------------------------


def test_orders_are_delivered_signed_to_the_webhooks_of_their_topic(standin, receiver):
    created = hooked(standin, "site-a", receiver, "order.created")
    hooked(standin, "site-a", receiver, "order.updated")
    hooked(standin, "site-a", receiver, "order.deleted")
    pings = len(receiver.posts())

    [answer] = standin.place_order("site-a", samples.order(order_id=801))
    assert answer.status_code == 200
    standin.update_order("site-a", 801, {"status": "completed"})
    standin.delete_order("site-a", 801)
    deliveries = receiver.posts()[pings:]
    assert len(deliveries) == 3
    events = []
    for delivery, topic in zip(deliveries, ("order.created", "order.updated", "order.deleted")):
        headers = read_headers(delivery.headers, delivery.body)
        assert (headers.topic, headers.store_key) == (topic, standin.site_url("site-a") + "/")
        assert adapter.normalise_store_key(headers.store_key) == standin.site_url("site-a")
        verify(delivery.body, headers.signature, ["s3cr3t" + topic])
        assert delivery.headers["X-WC-Webhook-Resource"] == "order"
        assert delivery.headers["X-WC-Webhook-Event"] == topic.split(".")[1]
        events.append(normalise(topic, delivery.body))
    assert deliveries[0].headers["X-WC-Webhook-ID"] == str(created["id"])
    assert isinstance(events[0], OrderEvent) and events[0].order_id == "801" and events[0].financial_status == "processing"
    assert isinstance(events[1], OrderEvent) and events[1].financial_status == "completed"
    assert isinstance(events[2], OrderDeleted) and events[2].order_id == "801"
    assert deliveries[2].body == b'{"id":801}'


def test_paused_webhooks_and_deliver_false_send_nothing(standin, receiver):
    created = hooked(standin, "site-a", receiver, "order.created")
    pings = len(receiver.posts())
    assert standin.place_order("site-a", samples.order(order_id=802), deliver=False) == []
    key, secret = standin.add_keys("site-a")
    api(standin, "site-a", key, secret).put(f"webhooks/{created['id']}", {"status": "paused"})
    assert standin.place_order("site-a", samples.order(order_id=803)) == []
    assert len(receiver.posts()) == pings


def test_a_webhook_is_disabled_on_the_seventh_failed_delivery_in_a_row_and_a_success_resets_the_count(standin,
                                                                                                      receiver):
    created = hooked(standin, "site-a", receiver, "order.created")
    receiver.status = 503
    for n in range(6):  # WooCommerce counts these; none disables yet
        assert [a.status_code for a in standin.place_order("site-a", samples.order(order_id=900 + n))] == [503]
    receiver.status = 302  # 200 to 302 is a success: the count starts again
    standin.place_order("site-a", samples.order(order_id=910))
    receiver.status = 404
    for n in range(6):
        standin.place_order("site-a", samples.order(order_id=920 + n))
    assert {h["id"]: h["status"] for h in standin.webhooks("site-a")} == {created["id"]: "active"}
    standin.place_order("site-a", samples.order(order_id=930))
    assert {h["id"]: h["status"] for h in standin.webhooks("site-a")} == {created["id"]: "disabled"}
    assert standin.place_order("site-a", samples.order(order_id=931)) == []  # a disabled webhook sends nothing
    key, secret = standin.add_keys("site-a")
    answer = api(standin, "site-a", key, secret).put(f"webhooks/{created['id']}", {"status": "active"})
    assert answer.status_code == 200 and answer.json()["status"] == "active"
    # the count is not reset by the PUT, as in WooCommerce: the next failure disables it again at once
    standin.place_order("site-a", samples.order(order_id=932))
    assert {h["id"]: h["status"] for h in standin.webhooks("site-a")} == {created["id"]: "disabled"}


# --- orders listing ------------------------------------------------------------------------------


def test_orders_modified_after_are_listed_oldest_modification_first(standin):
    for order_id, modified in ((901, "2026-11-22T10:00:00"), (902, "2026-11-22T12:30:00"), (903, "2026-11-22T11:00:00")):
        standin.place_order("site-a", samples.order(order_id=order_id, date_modified_gmt=modified), deliver=False)
    key, secret = standin.add_keys("site-a")
    answer = api(standin, "site-a", key, secret).get("orders", params={
        "modified_after": "2026-11-22T10:00:00", "dates_are_gmt": "true", "orderby": "modified", "order": "asc",
        "per_page": "1", "page": "2"})
    assert answer.status_code == 200, answer.text
    assert [o["id"] for o in answer.json()] == [902]
    assert answer.headers["X-WP-Total"] == "2"


# --- coupons -------------------------------------------------------------------------------------


def coupon_api(standin, site: str = "site-a", permissions: str = "read_write") -> API:
    key, secret = standin.add_keys(site, permissions=permissions)
    return api(standin, site, key, secret)


def test_batch_creates_coupons_lower_cased_and_answers_duplicates_per_item(standin):
    client = coupon_api(standin)
    answer = client.post("coupons/batch", {"create": [
        {"code": "Alice15", "discount_type": "percent", "amount": "15", "meta_data": [{"key": "_k", "value": "v"}]},
        {"code": "ALICE15", "amount": "5"},
        {"amount": "5"},
    ]})
    assert answer.status_code == 200, answer.text
    made, duplicate, empty = answer.json()["create"]
    assert (made["code"], made["amount"], made["discount_type"], made["status"]) == ("alice15", "15.00", "percent", "publish")
    assert made["meta_data"][0]["key"] == "_k" and isinstance(made["meta_data"][0]["id"], int)
    assert duplicate == {"id": 0, "error": {"code": "woocommerce_rest_coupon_code_already_exists",
                                            "message": "The coupon code already exists", "data": {"status": 400}}}
    assert empty["error"]["code"] == "woocommerce_rest_empty_coupon_code"
    assert set(answer.json()) == {"create"}  # only the parts that were sent
    assert [c["code"] for c in standin.coupons("site-a")] == ["alice15"]


def test_a_batch_of_more_than_100_items_in_all_is_refused_with_413(standin):
    client = coupon_api(standin)
    answer = client.post("coupons/batch", {"create": [{"code": f"c{n}"} for n in range(60)],
                                           "update": [{"id": n} for n in range(41)]})
    assert answer.status_code == 413
    assert answer.json()["code"] == "woocommerce_rest_request_entity_too_large"
    assert standin.coupons("site-a") == []
    assert client.post("coupons/batch", {"create": [{"code": f"c{n}"} for n in range(100)]}).status_code == 200
    assert client.post("coupons/batch", {}).json() == []  # PHP's empty array


def test_batch_updates_and_force_deletes(standin):
    client = coupon_api(standin)
    first = standin.add_foreign_coupon("site-a", "one")
    second = standin.add_foreign_coupon("site-a", "two")
    answer = client.post("coupons/batch", {"update": [{"id": first["id"], "amount": "7.5"}, {"id": 999999, "amount": "1"},
                                                      {"id": first["id"], "code": "TWO"}],
                                           "delete": [second["id"]]}).json()
    updated, missing, clash = answer["update"]
    assert updated["amount"] == "7.50"
    assert missing == {"id": 999999, "error": {"code": "woocommerce_rest_shop_coupon_invalid_id",
                                               "message": "Invalid ID.", "data": {"status": 400}}}
    assert clash["error"]["code"] == "woocommerce_rest_coupon_code_already_exists"
    assert answer["delete"][0]["code"] == "two"
    assert [c["code"] for c in standin.coupons("site-a")] == ["one"]  # gone for good, not trashed


def test_expiry_is_written_through_date_expires_only(standin):
    client = coupon_api(standin)
    standin.set_utc_offset("site-a", 2)
    made = client.post("coupons/batch", {"create": [
        {"code": "gmt-only", "date_expires_gmt": "2026-12-31T23:59:59"},  # dropped, as WooCommerce does
        {"code": "site-time", "date_expires": "2026-12-31T23:59:59"},  # no offset: the site's time
        {"code": "utc", "date_expires": "2026-12-31T23:59:59+00:00"},
    ]}).json()["create"]
    assert [(c["date_expires"], c["date_expires_gmt"]) for c in made] == [
        (None, None), ("2026-12-31T23:59:59", "2026-12-31T21:59:59"), ("2027-01-01T01:59:59", "2026-12-31T23:59:59")]
    cleared = client.post("coupons/batch", {"update": [{"id": made[2]["id"], "date_expires": ""}]}).json()
    assert cleared["update"][0]["date_expires_gmt"] is None


def test_a_coupon_applies_until_it_expires(standin):
    client = coupon_api(standin)
    client.post("coupons", {"code": "Late", "date_expires": "2026-11-22T15:00:00Z"})
    assert standin.coupon_applies("site-a", "LATE", at=datetime(2026, 11, 22, 14, 59, tzinfo=timezone.utc))
    assert not standin.coupon_applies("site-a", "late", at=datetime(2026, 11, 22, 15, 0, 1, tzinfo=timezone.utc))
    assert not standin.coupon_applies("site-a", "unknown")


def test_single_create_and_lookup_by_code(standin):
    client = coupon_api(standin)
    made = client.post("coupons", {"code": "Bob10", "amount": "10", "discount_type": "fixed_cart"})
    assert made.status_code == 201 and made.json()["code"] == "bob10"
    again = client.post("coupons", {"code": "BOB10"})
    assert (again.status_code, again.json()["code"]) == (400, "woocommerce_rest_coupon_code_already_exists")
    assert [c["id"] for c in client.get("coupons", params={"code": "BOB10"}).json()] == [made.json()["id"]]
    assert client.get("coupons", params={"code": "nobody"}).json() == []
    bad = client.post("coupons", {"code": "x", "discount_type": "percent", "amount": "150"})
    assert (bad.status_code, bad.json()["code"]) == (400, "coupon_invalid_amount")


def test_read_only_keys_cannot_write_coupons(standin):
    client = coupon_api(standin, permissions="read")
    assert client.post("coupons/batch", {"create": [{"code": "x"}]}).status_code == 401
    assert client.get("coupons").status_code == 200
    assert standin.coupons("site-a") == []


def test_planned_failures_and_call_counts(standin):
    client = coupon_api(standin)
    standin.fail_next("site-a", "coupons/batch", 503, times=2, retry_after=5)
    first = client.post("coupons/batch", {"create": [{"code": "a"}]})
    assert (first.status_code, first.headers["Retry-After"]) == (503, "5")
    assert client.post("coupons/batch", {"create": [{"code": "a"}]}).status_code == 503
    assert client.post("coupons/batch", {"create": [{"code": "a"}]}).status_code == 200
    client.get("coupons")
    assert standin.calls("coupons/batch") == 3 == standin.calls("coupons/batch", site="site-a", method="POST")
    assert standin.calls("coupons") == 1 and standin.calls("coupons/batch", site="site-b") == 0
    assert [c["code"] for c in standin.coupons("site-a")] == ["a"]


def test_current_currency(standin):
    client = coupon_api(standin)
    assert client.get("data/currencies/current").json()["code"] == "EUR"
    standin.set_currency("site-a", "USD")
    answer = client.get("data/currencies/current").json()
    assert (answer["code"], answer["name"]) == ("USD", "United States (US) dollar")


# --- customers and order keys --------------------------------------------------------------------


def test_created_customers_are_delivered_signed(standin, receiver):
    hooked(standin, "site-a", receiver, "customer.created")
    pings = len(receiver.posts())
    [answer] = standin.create_customer("site-a", samples.customer(customer_id=90, email="new@example.com"))
    assert answer.status_code == 200
    [delivery] = receiver.posts()[pings:]
    headers = read_headers(delivery.headers, delivery.body)
    verify(delivery.body, headers.signature, ["s3cr3tcustomer.created"])
    assert (headers.topic, delivery.headers["X-WC-Webhook-Resource"]) == ("customer.created", "customer")
    event = normalise("customer.created", delivery.body)
    assert isinstance(event, CustomerCreated) and (event.customer_id, event.email) == ("90", "new@example.com")
    assert standin.create_customer("site-a", samples.customer(customer_id=91), deliver=False) == []


def test_orders_get_an_order_key_when_they_have_none(standin):
    standin.place_order("site-a", samples.order(order_id=811, order_key=""), deliver=False)
    standin.place_order("site-a", samples.order(order_id=812, order_key=""), deliver=False)
    standin.place_order("site-a", samples.order(order_id=813, order_key="wc_order_given"), deliver=False)
    keys = [standin.order("site-a", n)["order_key"] for n in (811, 812, 813)]
    assert all(re.fullmatch(r"wc_order_[A-Za-z0-9]{13}", key) for key in keys[:2]) and keys[0] != keys[1]
    assert keys[2] == "wc_order_given"
