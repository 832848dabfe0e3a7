"""/api/v1, the tracking backend's API: influencers in, conversions and figures out, over real requests.

Orders go through the real pipeline (a signed webhook, then the worker), clicks through the real
tracking link, codes through the real code sync against the stand-in Shopify; the database is the
real one. Only Shopify and the tracking backend are stood in for.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from sqlalchemy import inspect, select

from standins.shopify import samples
from standins.shopify.store import StandinShopify
from connector import create_app
from connector.campaigns import directory
from connector.campaigns.codes import sync_codes
from connector.db import transaction
from connector.installs.setup import mark_needs_reauth
from connector.models import Conversion, Influencer, Store, utcnow
from standins.backend import Behaviour, StandinBackend
from connector.worker import Worker

from .conftest import BACKEND_SECRET, SHOP, SHOPIFY_SECRET
from .helpers import drain, post_shopify

TOKEN = "api-token-for-the-tests-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
COMMISSION_BASE = Decimal("59.50")  # the sample order's, in EUR
REFUNDED = Decimal("12.75")  # the sample refund's


@pytest.fixture
def api_settings(settings):
    return settings.with_overrides(api_token=TOKEN)


@pytest.fixture
def api_app(api_settings, engine):
    app = create_app(api_settings, engine=engine)
    app.config["TESTING"] = True
    return app


class Api:
    """The test client of the app with the token, speaking JSON under /api/v1."""

    def __init__(self, client):
        self.client = client

    def __call__(self, method: str, path: str, body=None, *, headers=AUTH, **kwargs):
        if body is not None:
            kwargs["json"] = body
        return self.client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs):
        return self("GET", path, **kwargs)

    def put(self, path: str, body=None, **kwargs):
        return self("PUT", path, body, **kwargs)

    def post(self, path: str, body=None, **kwargs):
        return self("POST", path, body, **kwargs)

    def delete(self, path: str, **kwargs):
        return self("DELETE", path, **kwargs)


@pytest.fixture
def api(api_app):
    return Api(api_app.test_client())


def order(order_id: int, **fields) -> dict:
    """The sample order (commission base 59.50 EUR) with only the signals asked for."""
    defaults = dict(codes=(), cart_ref="", landing_site="/", landing_site_ref="")
    return samples.order(order_id=order_id, name=f"#{order_id}", **{**defaults, **fields})


def seed(client, settings, sessions, store) -> None:
    """Clicks and credited orders, handled by the worker (no backend: they stay pending).

    alice: 4 clicks (from 4 browsers); #1001 by her code, refunded 12.75; #1002 by her code, where bob's
    click lost. bob: 1 click; #1003 by his click (cart attribute _ref). carol: nothing.
    """
    for browser in range(4):
        assert client.get(f"/t/alice?s={store.id}", environ_base={"REMOTE_ADDR": f"198.51.100.{browser + 1}"}) \
            .status_code == 302
    assert client.get(f"/t/bob?s={store.id}").status_code == 302
    for order_id, fields in ((1001, dict(codes=("ALICE15",))), (1002, dict(codes=("alice15",), cart_ref="bob")),
                             (1003, dict(cart_ref="bob"))):
        assert post_shopify(client, "orders/paid", order(order_id, **fields)).status_code == 200
    assert post_shopify(client, "refunds/create", samples.refund(order_id=1001)).status_code == 200
    Worker(settings, sessions).handle_events()


def error_of(response, status: int, code: str, field: str | None = None) -> dict:
    """The error body, after checking it is the API's JSON error with this status, code and field."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    assert error["field"] == field, error
    return error


def row(sessions, store, tracking_id: str) -> Influencer | None:
    with sessions() as session:
        return session.scalar(select(Influencer).where(Influencer.store_id == store.id,
                                                       Influencer.tracking_id == tracking_id))


def columns(instance) -> dict:
    return {attr.key: getattr(instance, attr.key) for attr in inspect(instance).mapper.column_attrs}


DAVE = {
    "campaign_id": "spring-26",
    "email": "  Dave@Example.COM ",
    "promo_code": "DAVE20",
    "discount": {"type": "percentage", "value": "20", "starts_at": "2026-12-01T00:00:00+01:00",
                 "ends_at": "2026-12-31T23:00:00Z", "usage_limit": 100, "once_per_customer": True},
}


# -- stores ----------------------------------------------------------------------------------------------


def test_stores_are_listed_with_their_state(api, sessions, settings, store):
    with transaction(sessions) as session:
        woo = directory.add_store(session, settings.secret_key, "woocommerce", "https://wp.example",
                                  webhook_secret="woo-secret")
        mark_needs_reauth(woo, "the REST keys were revoked")
    answer = api.get("/stores")
    assert answer.status_code == 200
    shopify, woocommerce = answer.get_json()["stores"]
    assert (shopify["id"], shopify["platform"], shopify["domain"], shopify["status"]) == (
        store.id, "shopify", SHOP, "active")
    assert shopify["attribution"] == {"model": "last_click", "window_days": 30, "half_life_days": 7,
                                      "precedence": ["renewal", "promo_code", "click", "landing_page", "customer"],
                                      "lifetime_days": 0, "renewals": "credit"}
    assert shopify["storefront_script"] is None  # Shopify's web pixel needs no line in the theme
    assert (woocommerce["platform"], woocommerce["status"]) == ("woocommerce", "needs_reauth")
    assert woocommerce["status_reason"] == "the REST keys were revoked"
    assert "/storefront.js" in woocommerce["storefront_script"]
    assert api.get(f"/stores/{store.id}").get_json() == shopify
    error_of(api.get("/stores/999"), 404, "not_found")


def test_the_attribution_settings_of_a_store_are_set(api, store):
    answer = api.put(f"/stores/{store.id}/attribution",
                     {"model": "linear", "window_days": 14, "half_life_days": 3, "precedence": ["click", "promo_code"],
                      "lifetime_days": 180, "renewals": "ignore"})
    assert answer.status_code == 200
    assert answer.get_json()["attribution"] == {"model": "linear", "window_days": 14, "half_life_days": 3,
                                                "precedence": ["click", "promo_code"], "lifetime_days": 180,
                                                "renewals": "ignore"}
    assert api.get(f"/stores/{store.id}").get_json()["attribution"]["model"] == "linear"
    error_of(api.put(f"/stores/{store.id}/attribution", {"precedence": ["click", "click"]}), 422,
             "validation_error", "precedence")
    error_of(api.put(f"/stores/{store.id}/attribution", {"lifetime_days": -1}), 422, "validation_error",
             "lifetime_days")
    error_of(api.put(f"/stores/{store.id}/attribution", {"renewals": "sometimes"}), 422, "validation_error",
             "renewals")
    # A PUT sets the whole: leaving the new fields out turns returning customers off and renewals back on.
    answer = api.put(f"/stores/{store.id}/attribution", {"precedence": ["customer", "promo_code"]})
    assert answer.get_json()["attribution"]["lifetime_days"] == 0
    assert answer.get_json()["attribution"]["renewals"] == "credit"
    assert answer.get_json()["attribution"]["precedence"] == ["customer", "promo_code"]


# -- campaigns and influencers ---------------------------------------------------------------------------


def test_a_put_creates_an_influencer_with_its_discount_keeping_only_a_hash_of_the_email(api, sessions, store):
    answer = api.put(f"/stores/{store.id}/influencers/dave", DAVE)
    assert answer.status_code == 201
    body = answer.get_json()
    assert (body["tracking_id"], body["campaign_id"], body["active"], body["has_email"]) == (
        "dave", "spring-26", True, True)
    assert body["promo_code"]["status"] == "pending"  # the worker creates it in the store
    assert body["promo_code"]["requested"] == "DAVE20"
    assert body["discount"] == {"type": "percentage", "value": "20", "starts_at": "2026-11-30T23:00:00Z",
                                "ends_at": "2026-12-31T23:00:00Z", "usage_limit": 100, "once_per_customer": True}
    assert body["tracking_url"].endswith(f"/t/dave?s={store.id}")

    stored = row(sessions, store, "dave")
    assert stored.email_sha256 == hashlib.sha256(b"dave@example.com").hexdigest()
    # The address itself is nowhere in the row...
    assert not any("dave@" in str(value).lower() for value in columns(stored).values())
    with sessions() as session:
        assert session.get(Store, store.id).codes_due_at is not None  # the worker was told
    # ...nor in anything the API answers.
    for path in ("/stores/1/influencers/dave", "/stores/1/influencers"):
        text = api.get(path).get_data(as_text=True).lower()
        assert "dave@example.com" not in text and "email_sha256" not in text
    assert "dave@example.com" not in answer.get_data(as_text=True).lower()


def test_a_fixed_amount_discount_is_kept_to_the_cent(api, sessions, store):
    answer = api.put(f"/stores/{store.id}/influencers/erin", {
        "promo_code": "ERIN-10", "discount": {"type": "fixed_amount", "value": "10.50"}})
    assert answer.status_code == 201
    assert answer.get_json()["discount"] == {"type": "fixed_amount", "value": "10.50", "starts_at": None,
                                             "ends_at": None, "usage_limit": None, "once_per_customer": False}
    stored = row(sessions, store, "erin")
    assert (stored.discount_kind, stored.discount_value) == ("fixed_amount", Decimal("10.50"))
    # 150 is no percentage, but a fine amount off
    assert api.put(f"/stores/{store.id}/influencers/erin", {
        "promo_code": "ERIN-10", "discount": {"type": "fixed_amount", "value": "150"}}).status_code == 200


def test_a_second_identical_put_answers_200_and_changes_nothing(api, sessions, store):
    first = api.put(f"/stores/{store.id}/influencers/dave", DAVE)
    assert first.status_code == 201
    before = columns(row(sessions, store, "dave"))
    time.sleep(0.01)  # so that a needless write would show in updated_at

    again = api.put(f"/stores/{store.id}/influencers/dave", DAVE)
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    assert columns(row(sessions, store, "dave")) == before
    # The tracking id is matched whatever its case: the same influencer, not a new one.
    assert api.put(f"/stores/{store.id}/influencers/DAVE", DAVE).status_code == 200
    # The same amount written differently is the same discount.
    same = {**DAVE, "discount": {**DAVE["discount"], "value": "20.00", "starts_at": "2026-11-30T23:00:00Z"}}
    assert api.put(f"/stores/{store.id}/influencers/dave", same).status_code == 200
    assert columns(row(sessions, store, "dave")) == before

    changed = api.put(f"/stores/{store.id}/influencers/dave", {**DAVE, "campaign_id": "autumn-26"})
    assert changed.status_code == 200 and changed.get_json()["campaign_id"] == "autumn-26"
    assert changed.get_json()["updated_at"] > first.get_json()["updated_at"]
    # A PUT replaces: what it leaves out is cleared.
    cleared = api.put(f"/stores/{store.id}/influencers/dave", {"promo_code": "DAVE20"}).get_json()
    assert (cleared["campaign_id"], cleared["has_email"], cleared["discount"]) == (None, False, None)


def test_campaigns_are_created_and_updated_idempotently(api, store):
    body = {"name": "Spring 2026", "starts_at": "2026-03-01T00:00:00Z", "ends_at": "2026-06-01T00:00:00Z"}
    first = api.put(f"/stores/{store.id}/campaigns/spring-26", body)
    assert first.status_code == 201
    again = api.put(f"/stores/{store.id}/campaigns/spring-26", body)
    assert again.status_code == 200 and again.get_json() == first.get_json()
    renamed = api.put(f"/stores/{store.id}/campaigns/spring-26", {**body, "name": "Spring"})
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "Spring"
    assert renamed.get_json()["updated_at"] >= first.get_json()["updated_at"]
    assert [c["campaign_id"] for c in api.get(f"/stores/{store.id}/campaigns").get_json()["campaigns"]] == [
        "spring-26"]
    error_of(api.put(f"/stores/{store.id}/campaigns/spring-26", {**body, "ends_at": body["starts_at"]}), 422,
             "validation_error", "ends_at")
    error_of(api.put(f"/stores/{store.id}/campaigns/spring-26", {"starts_at": "2026-03-01T00:00:00"}), 422,
             "validation_error", "starts_at")  # no time zone
    error_of(api.put(f"/stores/{store.id}/campaigns/spring-26", {"starts_at": 0}), 422,
             "validation_error", "starts_at")  # a number is not a time
    error_of(api.put(f"/stores/{store.id}/campaigns/{'x' * 101}", body), 422, "validation_error", "campaign_id")


def test_influencers_are_listed_a_page_at_a_time(api, store):
    for n in range(5):
        assert api.put(f"/stores/{store.id}/influencers/extra{n}", {}).status_code == 201
    seen, cursor = [], None
    while True:
        page = api.get(f"/stores/{store.id}/influencers", query_string={"limit": 3, **(
            {"cursor": cursor} if cursor else {})}).get_json()
        seen += [i["tracking_id"] for i in page["influencers"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["alice", "bob", "carol"] + [f"extra{n}" for n in range(5)]
    error_of(api.get(f"/stores/{store.id}/influencers?cursor=bm90LWEtbnVtYmVy"), 422, "validation_error", "cursor")
    error_of(api.get(f"/stores/{store.id}/influencers?limit=0"), 422, "validation_error", "limit")
    error_of(api.get(f"/stores/{store.id}/influencers?limit=²"), 422, "validation_error", "limit")


# -- removal ---------------------------------------------------------------------------------------------


def test_removal_stops_crediting_and_keeps_the_history(api, api_app, settings, sessions, store):
    seed(api_app.test_client(), settings, sessions, store)
    answer = api.delete(f"/stores/{store.id}/influencers/alice")
    assert answer.status_code == 200
    removed = answer.get_json()
    assert removed["active"] is False and removed["removed_at"] is not None
    # A code the connector did not make in the store is not its to delete: it is only no longer matched.
    assert removed["promo_code"]["status"] == "removed"

    stored = row(sessions, store, "alice")
    assert stored is not None and stored.active is False  # the row stays
    assert api.get(f"/stores/{store.id}/influencers/alice").get_json() == removed
    history = api.get("/conversions?tracking_id=alice").get_json()["conversions"]
    assert len(history) == 3  # two purchases and a refund, still listed
    assert api.get(f"/stores/{store.id}/influencers/alice/stats").get_json()["orders"] == 2

    # Her code no longer credits anyone...
    post_shopify(api_app.test_client(), "orders/paid", order(1004, codes=("ALICE15",)))
    Worker(settings, sessions).handle_events()
    assert len(api.get("/conversions?tracking_id=alice").get_json()["conversions"]) == 3
    # ...her link no longer records clicks (it lands on the store's home page, with no ref)...
    before = api.get(f"/stores/{store.id}/influencers/alice/stats").get_json()["clicks"]
    clicked = api_app.test_client().get(f"/t/alice?s={store.id}", environ_base={"REMOTE_ADDR": "192.0.2.77"})
    assert clicked.status_code == 302 and "ref=" not in clicked.headers["Location"]
    assert api.get(f"/stores/{store.id}/influencers/alice/stats").get_json()["clicks"] == before
    # ...and removing her again changes nothing.
    again = api.delete(f"/stores/{store.id}/influencers/alice")
    assert again.status_code == 200 and again.get_json() == removed
    # Her code is free for someone else.
    assert api.put(f"/stores/{store.id}/influencers/dave", {"promo_code": "ALICE15"}).status_code == 201


def test_removing_an_influencer_whose_code_was_never_made_marks_it_removed(api, store):
    assert api.put(f"/stores/{store.id}/influencers/dave", DAVE).get_json()["promo_code"]["status"] == "pending"
    removed = api.delete(f"/stores/{store.id}/influencers/dave").get_json()
    assert (removed["active"], removed["promo_code"]["status"]) == (False, "removed")


STANDIN_SHOP = "api-shop.myshopify.com"
STANDIN_KEY = "api-tests-key"


def _standin_token(standin: StandinShopify) -> str:
    """A lasting access token from the stand-in's code grant, as a custom app holds."""
    base = standin.admin_url.format(shop=STANDIN_SHOP)
    location = requests.get(f"{base}/admin/oauth/authorize", allow_redirects=False, timeout=5, params={
        "client_id": STANDIN_KEY, "scope": "read_orders,write_discounts",
        "redirect_uri": "https://connector.example/shopify/callback"}).headers["Location"]
    code = dict(parse_qsl(urlsplit(location).query))["code"]
    return requests.post(f"{base}/admin/oauth/access_token", timeout=5, json={
        "client_id": STANDIN_KEY, "client_secret": SHOPIFY_SECRET, "code": code}).json()["access_token"]


def test_removing_an_influencer_whose_code_was_made_in_the_store_takes_it_down(api, settings, sessions):
    with StandinShopify(STANDIN_KEY, SHOPIFY_SECRET) as shopify:
        with transaction(sessions) as session:
            store_id = directory.add_store(session, settings.secret_key, "shopify", STANDIN_SHOP,
                                           access_token=_standin_token(shopify)).id
        worker_settings = settings.with_overrides(shopify_api_key=STANDIN_KEY, shopify_admin_url=shopify.admin_url)
        assert api.put(f"/stores/{store_id}/influencers/dave", DAVE).status_code == 201
        sync_codes(worker_settings, sessions, store_id, utcnow())  # what the worker does next
        made = api.get(f"/stores/{store_id}/influencers/dave").get_json()["promo_code"]
        assert made["status"] == "active" and made["code"] == "DAVE20"
        assert "dave20" in shopify.codes(STANDIN_SHOP)

        answer = api.delete(f"/stores/{store_id}/influencers/dave")
        assert answer.get_json()["promo_code"]["status"] == "removing"  # the worker takes it down
        sync_codes(worker_settings, sessions, store_id, utcnow())
        assert api.get(f"/stores/{store_id}/influencers/dave").get_json()["promo_code"]["status"] == "removed"
        assert "dave20" not in shopify.codes(STANDIN_SHOP)


# -- batch -----------------------------------------------------------------------------------------------


def test_a_batch_stores_the_good_entries_and_reports_each_bad_one(api, sessions, store):
    entries = [
        {"tracking_id": "erin", "promo_code": "ERIN10", "discount": {"type": "percentage", "value": "10"}},
        {"tracking_id": "bad", "promo_code": "BAD CODE"},
        {"tracking_id": "gina", "promo_code": "alice15"},  # alice's
        {"tracking_id": "hugo", "promo_code": "HUGO", "discount": {"type": "percentage", "value": "150"}},
        {"tracking_id": "ivy", "nickname": "ivy"},
        "not an object",
        {"tracking_id": "frank", "campaign_id": "spring-26"},
    ]
    answer = api.post(f"/stores/{store.id}/influencers/batch", {"influencers": entries})
    assert answer.status_code == 200
    results = answer.get_json()["results"]
    assert [(r["tracking_id"], r["outcome"]) for r in results] == [
        ("erin", "created"), ("bad", "error"), ("gina", "error"), ("hugo", "error"), ("ivy", "error"),
        (None, "error"), ("frank", "created")]
    assert [(r["error"]["code"], r["error"]["field"]) for r in results if r["outcome"] == "error"] == [
        ("validation_error", "promo_code"), ("conflict", "promo_code"), ("validation_error", "discount.value"),
        ("validation_error", "nickname"), ("validation_error", None)]
    assert results[0]["influencer"]["promo_code"]["status"] == "pending"
    assert row(sessions, store, "erin") and row(sessions, store, "frank")
    assert not any(row(sessions, store, t) for t in ("bad", "gina", "hugo", "ivy"))

    again = api.post(f"/stores/{store.id}/influencers/batch", {"influencers": [entries[0], entries[-1]]})
    assert [r["outcome"] for r in again.get_json()["results"]] == ["unchanged", "unchanged"]


def test_a_batch_envelope_that_is_wrong_is_refused_whole(api, store):
    error_of(api.post(f"/stores/{store.id}/influencers/batch", {"influencers": []}), 422, "validation_error",
             "influencers")
    error_of(api.post(f"/stores/{store.id}/influencers/batch", {"influencers": [{}] * 1001}), 422,
             "validation_error", "influencers")
    error_of(api.post(f"/stores/{store.id}/influencers/batch", data="[{", content_type="application/json"), 400,
             "bad_request")


# -- conversions, attribution records, replay ------------------------------------------------------------


def _purchase_of(conversions: list[dict], order_id: str) -> dict:
    [found] = [c for c in conversions if c["order_id"] == order_id and c["type"] == "conversion.purchase"]
    return found


def test_conversions_are_listed_by_store_influencer_and_time_with_their_delivery_state(
        api, api_app, settings, sessions, store):
    start = datetime.now(timezone.utc) - timedelta(seconds=1)
    seed(api_app.test_client(), settings, sessions, store)
    listed = api.get("/conversions").get_json()["conversions"]
    assert sorted((c["order_id"], c["type"]) for c in listed) == [
        ("1001", "conversion.purchase"), ("1001", "conversion.refund"), ("1002", "conversion.purchase"),
        ("1003", "conversion.purchase")]
    assert [c["id"] for c in listed] == sorted((c["id"] for c in listed), reverse=True)  # newest first
    assert all(c["status"] == "pending" and c["attempts"] == 0 and c["next_attempt_at"] for c in listed)
    purchase = _purchase_of(listed, "1001")
    assert (purchase["amount"], purchase["currency"], purchase["tracking_id"], purchase["store_id"]) == (
        "59.50", "EUR", "alice", store.id)
    assert purchase["payload"]["data"]["conversion_id"] == purchase["id"]  # the exact body sent

    def ids(query: str | dict) -> set[str]:
        answer = api.get("/conversions", query_string=query)
        assert answer.status_code == 200, answer.get_json()
        return {c["id"] for c in answer.get_json()["conversions"]}

    everything = {c["id"] for c in listed}
    alices = {c["id"] for c in listed if c["order_id"] in ("1001", "1002")}
    assert ids("tracking_id=alice") == ids("tracking_id=ALICE") == alices
    assert ids("tracking_id=bob") == everything - alices
    assert ids("tracking_id=carol") == set()
    assert ids(f"store_id={store.id}") == everything and ids("store_id=999") == set()
    now = datetime.now(timezone.utc)
    assert ids({"since": start.isoformat()}) == everything
    assert ids(f"since={(now + timedelta(hours=1)).strftime('%Y-%m-%dT%H:%M:%SZ')}") == set()
    assert ids(f"until={start.strftime('%Y-%m-%dT%H:%M:%SZ')}") == set()
    [refund] = api.get("/conversions?type=conversion.refund").get_json()["conversions"]
    assert refund["reverses"] == purchase["id"] and refund["amount"] == "12.75"
    assert ids("status=delivered") == set()

    # Two at a time, by cursor: every conversion once.
    pages, cursor = [], None
    while True:
        page = api.get("/conversions", query_string={"limit": 2, **({"cursor": cursor} if cursor else {})})
        pages.append([c["id"] for c in page.get_json()["conversions"]])
        cursor = page.get_json()["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [2, 2] and sum(pages, []) == [c["id"] for c in listed]

    for query, field in (("since=yesterday", "since"), ("since=2026-11-01T00:00:00", "since"),
                         ("type=sale", "type"), ("status=lost", "status"), ("store_id=abc", "store_id"),
                         ("tracking_id=a%20b", "tracking_id"), ("trackingid=alice", "trackingid")):
        error_of(api.get(f"/conversions?{query}"), 422, "validation_error", field)


def test_delivered_conversions_show_their_attempts(api, api_app, settings, sessions, store, backend,
                                                   delivering_settings):
    seed(api_app.test_client(), settings, sessions, store)
    drain(delivering_settings, sessions)
    listed = api.get("/conversions?status=delivered").get_json()["conversions"]
    assert len(listed) == 4 and all(c["delivered_at"] and c["attempts"] == 1 for c in listed)
    assert all(c["next_attempt_at"] is None for c in listed)
    detail = api.get(f"/conversions/{listed[0]['id']}").get_json()
    [attempt] = detail["delivery_attempts"]
    assert attempt["status_code"] == 200 and attempt["error"] is None
    error_of(api.get("/conversions/cv_" + "0" * 28), 404, "not_found")


def test_the_attribution_record_of_an_order_names_every_signal_the_winner_and_why_the_others_lost(
        api, api_app, settings, sessions, store):
    client = api_app.test_client()
    post_shopify(client, "orders/paid", order(1005, codes=("CAROL10",), cart_ref="bob", landing_site="/?ref=alice"))
    Worker(settings, sessions).handle_events()
    record = api.get(f"/stores/{store.id}/orders/1005/attribution").get_json()
    assert (record["order_id"], record["order_name"], record["outcome"], record["method"]) == (
        "1005", "#1005", "credit", "promo_code")
    assert record["credits"] == [{"tracking_id": "carol", "share": "1"}]
    signals = {s["kind"]: s for s in record["signals"]}
    assert set(signals) == {"promo_code", "click", "landing_page"}
    assert (signals["promo_code"]["tracking_id"], signals["promo_code"]["status"]) == ("carol", "won")
    for kind, who in (("click", "bob"), ("landing_page", "alice")):
        assert signals[kind]["tracking_id"] == who and signals[kind]["status"] == "lost"
        assert signals[kind]["reason"]  # why it lost, in words
    [purchase] = api.get("/conversions?type=conversion.purchase").get_json()["conversions"]
    assert record["purchase_conversion_id"] == purchase["id"]

    error_of(api.get(f"/stores/{store.id}/orders/999/attribution"), 404, "not_found")


def test_replaying_a_conversion_sends_it_again_with_the_same_id_and_body(api, api_app, settings, sessions, store):
    failing = [True]
    behaviour = Behaviour(status_for=lambda number, webhook_id: 500 if failing[0] else 200)
    with StandinBackend(BACKEND_SECRET, behaviour=behaviour) as backend:
        worker_settings = settings.with_overrides(tracking_backend_url=backend.url,
                                                  tracking_backend_secret=BACKEND_SECRET)
        post_shopify(api_app.test_client(), "orders/paid", order(1001, codes=("ALICE15",)))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # every retry fails (waits of 0.05 s): then it is failed
            drain(worker_settings, sessions)
            [conversion] = api.get("/conversions").get_json()["conversions"]
            if conversion["status"] == "failed":
                break
            time.sleep(0.05)
        # the first attempt and one per wait of the schedule
        assert conversion["status"] == "failed" and conversion["attempts"] == len(settings.retry_schedule) + 1
        with sessions() as session:
            body = session.get(Conversion, conversion["id"]).body

        failing[0] = False
        answer = api.post(f"/conversions/{conversion['id']}/replay")
        assert answer.status_code == 202
        replayed = answer.get_json()
        assert (replayed["id"], replayed["status"], replayed["attempts"]) == (conversion["id"], "pending", 0)
        assert replayed["payload"] == conversion["payload"]
        assert len(replayed["delivery_attempts"]) == conversion["attempts"]  # the history stays
        drain(worker_settings, sessions)
        [delivered] = backend.wait_for(1)
        assert delivered.webhook_id == conversion["id"] and delivered.body == json.loads(body)
        assert {r.webhook_id for r in backend.received} == {conversion["id"]}  # one id on every attempt
        assert api.get(f"/conversions/{conversion['id']}").get_json()["status"] == "delivered"
    error_of(api.post("/conversions/cv_" + "0" * 28 + "/replay"), 404, "not_found")


# -- stats -----------------------------------------------------------------------------------------------


def test_stats_count_clicks_orders_revenue_after_refunds_conversion_rate_and_code_uses(
        api, api_app, settings, sessions, store):
    seed(api_app.test_client(), settings, sessions, store)
    alice = api.get(f"/stores/{store.id}/influencers/alice/stats").get_json()
    assert alice == {"tracking_id": "alice", "since": None, "until": None, "clicks": 4, "orders": 2, "leads": 0,
                     "revenue": [{"currency": "EUR", "amount": str(2 * COMMISSION_BASE - REFUNDED)}],
                     "conversion_rate": "0.5000", "promo_code_uses": 2}
    bob = api.get(f"/stores/{store.id}/influencers/bob/stats").get_json()
    assert (bob["clicks"], bob["orders"], bob["promo_code_uses"], bob["conversion_rate"]) == (1, 1, 0, "1.0000")
    assert bob["revenue"] == [{"currency": "EUR", "amount": "59.50"}]
    carol = api.get(f"/stores/{store.id}/influencers/carol/stats").get_json()
    assert (carol["clicks"], carol["orders"], carol["revenue"], carol["conversion_rate"]) == (0, 0, [], None)

    # an hour from now, as a backend two hours east of UTC would write it
    later = (datetime.now(timezone.utc) + timedelta(hours=1)).astimezone(timezone(timedelta(hours=2)))
    later = later.isoformat(timespec="seconds")
    window = api.get(f"/stores/{store.id}/influencers/alice/stats", query_string={"since": later}).get_json()
    assert (window["clicks"], window["orders"], window["revenue"]) == (0, 0, [])
    assert window["since"].endswith("Z")  # echoed in UTC
    window = api.get(f"/stores/{store.id}/influencers/alice/stats", query_string={"until": later}).get_json()
    assert (window["clicks"], window["orders"]) == (4, 2)
    error_of(api.get(f"/stores/{store.id}/influencers/alice/stats?since=0001-01-01T00:00:00%2B01:00"), 422,
             "validation_error", "since")


def test_a_cancelled_order_leaves_the_stats_and_its_amount_leaves_the_revenue(api, api_app, settings, sessions,
                                                                              store):
    client = api_app.test_client()
    assert post_shopify(client, "orders/paid", order(2001, codes=("CAROL10",))).status_code == 200
    Worker(settings, sessions).handle_events()
    assert api.get(f"/stores/{store.id}/influencers/carol/stats").get_json()["orders"] == 1
    cancelled = {**order(2001, codes=("CAROL10",)), "cancelled_at": "2026-11-22T15:00:00Z",
                 "cancel_reason": "customer"}
    assert post_shopify(client, "orders/cancelled", cancelled).status_code == 200
    Worker(settings, sessions).handle_events()
    carol = api.get(f"/stores/{store.id}/influencers/carol/stats").get_json()
    assert (carol["orders"], carol["promo_code_uses"]) == (0, 1)
    assert carol["revenue"] == [{"currency": "EUR", "amount": "0.00"}]


# -- bad input -------------------------------------------------------------------------------------------


def test_an_unknown_influencer_or_store_is_not_found(api, store):
    for method, path in (("GET", "/influencers/zoe"), ("DELETE", "/influencers/zoe"),
                         ("GET", "/influencers/zoe/stats")):
        error_of(api(method, f"/stores/{store.id}{path}"), 404, "not_found")
    error_of(api.put("/stores/999/influencers/zoe", {}), 404, "not_found")
    error_of(api.get("/stores/²"), 404, "not_found")  # a digit to str.isdigit(), not to int()


@pytest.mark.parametrize("value", ["-5", "0", "150", "100.01", "1.234", "15%", 15])
def test_a_percentage_that_is_no_percentage_is_refused(api, sessions, store, value):
    body = {"promo_code": "DAVE20", "discount": {"type": "percentage", "value": value}}
    error_of(api.put(f"/stores/{store.id}/influencers/dave", body), 422, "validation_error", "discount.value")
    assert row(sessions, store, "dave") is None


def test_a_negative_amount_is_refused(api, store):
    body = {"promo_code": "DAVE20", "discount": {"type": "fixed_amount", "value": "-10"}}
    error_of(api.put(f"/stores/{store.id}/influencers/dave", body), 422, "validation_error", "discount.value")
    body["discount"]["type"] = "bogof"
    error_of(api.put(f"/stores/{store.id}/influencers/dave", body), 422, "validation_error", "discount.type")
    error_of(api.put(f"/stores/{store.id}/influencers/dave", {"discount": {"type": "percentage", "value": "5"}}),
             422, "validation_error", "promo_code")  # a discount comes with a code
    body = {"promo_code": "DAVE20", "discount": {"type": "percentage", "value": "5", "starts_at": "2026-12-02T00:00:00Z",
                                                 "ends_at": "2026-12-01T00:00:00Z"}}
    error_of(api.put(f"/stores/{store.id}/influencers/dave", body), 422, "validation_error", "discount.ends_at")


@pytest.mark.parametrize("code", ["ALICE 15", "ALICE%", "ÄLICE", "A" * 51, "-ALICE", "A", "ALICE\n"])
def test_a_code_shopify_would_refuse_is_refused(api, sessions, store, code):
    error = error_of(api.put(f"/stores/{store.id}/influencers/dave", {"promo_code": code}), 422,
                     "validation_error", "promo_code")
    assert "letters" in error["message"]  # said for people, not as a regular expression
    assert row(sessions, store, "dave") is None


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": f"Bearer {TOKEN}x"},
], ids=["missing", "wrong", "no-scheme", "basic", "longer"])
def test_a_wrong_or_missing_token_is_refused_and_changes_nothing(api, sessions, store, headers):
    error_of(api.put(f"/stores/{store.id}/influencers/dave", DAVE, headers=headers), 401, "unauthorized")
    error_of(api.delete(f"/stores/{store.id}/influencers/alice", headers=headers), 401, "unauthorized")
    error_of(api.get("/stores", headers=headers), 401, "unauthorized")
    assert row(sessions, store, "dave") is None and row(sessions, store, "alice").active is True


def test_a_tracking_id_of_ten_thousand_characters_is_refused_cleanly(api, sessions, store):
    huge = "a" * 10_000
    error_of(api.put(f"/stores/{store.id}/influencers/{huge}", {}), 422, "validation_error", "tracking_id")
    error_of(api.get(f"/stores/{store.id}/influencers/{huge}"), 404, "not_found")
    error_of(api.delete(f"/stores/{store.id}/influencers/{huge}"), 404, "not_found")
    error_of(api.get(f"/conversions?tracking_id={huge}"), 422, "validation_error", "tracking_id")
    with sessions() as session:
        assert session.scalar(select(Influencer.id).where(Influencer.tracking_id == huge)) is None


def test_malformed_json_is_a_bad_request(api, store):
    for data in ("{", "", "not json", '{"promo_code": "DAVE20",}'):
        error_of(api.put(f"/stores/{store.id}/influencers/dave", data=data, content_type="application/json"), 400,
                 "bad_request")
    error_of(api.put(f"/stores/{store.id}/influencers/dave", ["promo_code"]), 422, "validation_error")


def test_an_unknown_field_is_refused_by_name(api, store):
    error = error_of(api.put(f"/stores/{store.id}/influencers/dave", {**DAVE, "nickname": "D"}), 422,
                     "validation_error", "nickname")
    assert "unknown" in error["message"]
    body = {**DAVE, "discount": {**DAVE["discount"], "colour": "red"}}
    error_of(api.put(f"/stores/{store.id}/influencers/dave", body), 422, "validation_error", "discount.colour")
    error_of(api.get(f"/stores/{store.id}/influencers?sort=name"), 422, "validation_error", "sort")


def test_the_api_is_disabled_without_a_token(client, store):
    """The conftest app has no CONNECTOR_API_TOKEN: nothing under /api/v1 answers but the document."""
    for headers in ({}, AUTH):
        error_of(client.get("/api/v1/stores", headers=headers), 404, "api_disabled")
        error_of(client.put(f"/api/v1/stores/{store.id}/influencers/dave", json=DAVE, headers=headers), 404,
                 "api_disabled")
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_a_code_another_influencer_of_the_store_uses_is_a_conflict(api, sessions, store):
    for code in ("CAROL10", "carol10"):  # codes match whatever their case
        error_of(api.put(f"/stores/{store.id}/influencers/dave", {"promo_code": code}), 409, "conflict", "promo_code")
    error_of(api.put(f"/stores/{store.id}/influencers/alice", {"promo_code": "CAROL10"}), 409, "conflict",
             "promo_code")
    assert row(sessions, store, "dave") is None and row(sessions, store, "alice").promo_code == "ALICE15"
    # Its own code again is no conflict.
    assert api.put(f"/stores/{store.id}/influencers/carol", {"promo_code": "CAROL10"}).status_code == 200


def test_batch_is_not_a_tracking_id(api, store):
    """/influencers/batch is the batch endpoint: it never reads, writes or removes an influencer."""
    for method in ("GET", "PUT", "DELETE"):
        answer = api(method, f"/stores/{store.id}/influencers/batch")
        error_of(answer, 405, "method_not_allowed")
        assert set(answer.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
    error_of(api.put(f"/stores/{store.id}/influencers/Batch", {}), 422, "validation_error", "tracking_id")


def test_unknown_paths_and_methods_answer_in_the_api_error_shape(api, client, store):
    error_of(api.get("/nothing-here"), 404, "not_found")
    error_of(api.delete("/stores"), 405, "method_not_allowed")
    assert not client.get("/no-such-page").is_json  # outside /api/v1 nothing changes


def test_a_body_over_the_limit_is_refused(api, store):
    big = {"influencers": [{"tracking_id": f"t{n}", "email": "x" * 300} for n in range(8000)]}
    error_of(api.post(f"/stores/{store.id}/influencers/batch", big), 413, "too_large")


def test_the_document_describes_every_route(api_app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}
    served = set()
    for rule in api_app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.endpoint not in ("api.openapi",):
            path = rule.rule.removeprefix("/api/v1")
            for part in rule.arguments:
                path = path.replace(f"<tracking_id:{part}>", f"{{{part}}}").replace(f"<{part}>", f"{{{part}}}")
            served |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented


def test_a_validation_error_lists_every_wrong_field_not_only_the_first(api, store):
    body = {"promo_code": "has spaces", "campaign_id": "-bad", "email": 42,
            "discount": {"type": "percentage", "value": "150"}, "surprise": True}
    error = error_of(api.put(f"/stores/{store.id}/influencers/dora", body), 422, "validation_error", "campaign_id")
    fields = [e["field"] for e in error["errors"]]
    assert fields[0] == error["field"] and error["message"] == f"campaign_id: {error['errors'][0]['message']}"
    assert {"promo_code", "campaign_id", "email", "discount.value", "surprise"} <= set(fields)
    assert len(fields) == len(set(fields))  # each once
    assert next(e for e in error["errors"] if e["field"] == "surprise")["message"] == "unknown field"
    # the batch reports each entry's every wrong field the same way
    results = api.post(f"/stores/{store.id}/influencers/batch", {"influencers": [{"tracking_id": "ed", **body}]}
                       ).get_json()["results"]
    assert {"promo_code", "surprise"} <= {e["field"] for e in results[0]["error"]["errors"]}


def test_stores_and_campaigns_are_listed_a_page_at_a_time(api, store, sessions, settings):
    with transaction(sessions) as session:
        for n in range(4):
            directory.add_store(session, settings.secret_key, "shopify", f"shop-{n}.myshopify.com", access_token="t")
    for n in range(3):
        assert api.put(f"/stores/{store.id}/campaigns/c{n}", {"name": f"C{n}"}).status_code in (200, 201)
    for path, key, total in (("/stores", "stores", 5), (f"/stores/{store.id}/campaigns", "campaigns", 3)):
        seen, cursor = [], None
        while True:
            page = api.get(path, query_string={"limit": 2, **({"cursor": cursor} if cursor else {})}).get_json()
            assert len(page[key]) <= 2
            seen += page[key]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == total and len({json.dumps(s, sort_keys=True) for s in seen}) == total, path
        error_of(api.get(path, query_string={"cursor": "bm90LWEtbnVtYmVy"}), 422, "validation_error", "cursor")
