"""Expiring offline tokens: refreshed before they expire and once on a 401, one refresh per store at a time,
and a refused refresh marks the store for re-authorisation without losing anything. Shopify is faked with
`responses`; the database is real."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
import requests
import responses

from adapters.shopify import oauth, tokens
from adapters.shopify.admin_api import AdminApi, throttle_wait
from connector import crypto, outbound
from connector.db import transaction
from connector.errors import PlatformAuthError, PlatformError
from connector.installs.setup import record_install
from connector.models import Store

SHOP = "token-shop.myshopify.com"
TOKEN_URL = f"https://{SHOP}/admin/oauth/access_token"
GRAPHQL_URL = f"https://{SHOP}/admin/api/2026-10/graphql.json"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def shop_settings(settings):
    return settings.with_overrides(shopify_api_key="test-api-key")


def _install(sessions, settings, *, expires_in: float = 3600, refresh: str | None = "shprt_1") -> int:
    grant = oauth.Grant("shpat_1", ("read_orders",), NOW + timedelta(seconds=expires_in), refresh,
                        NOW + timedelta(days=90) if refresh else None)
    with transaction(sessions) as session:
        store = record_install(session, "shopify", SHOP, NOW)
        tokens.save_grant(session, settings.secret_key, store, grant)
        return store.id


def _refreshed(n: int = 2):
    return {"access_token": f"shpat_{n}", "scope": "read_orders", "expires_in": 3600,
            "refresh_token": f"shprt_{n}", "refresh_token_expires_in": 7776000}


def _store(sessions, store_id) -> Store:
    with sessions() as session:
        return session.get(Store, store_id)


@responses.activate
def test_a_fresh_token_is_used_as_it_is(sessions, shop_settings):
    store_id = _install(sessions, shop_settings)
    token = tokens.access_token(sessions, shop_settings, store_id, http=requests.Session(), clock=lambda: NOW)
    assert token == "shpat_1" and len(responses.calls) == 0


@responses.activate
def test_a_token_about_to_expire_is_refreshed_first_and_both_new_tokens_are_kept(sessions, shop_settings):
    store_id = _install(sessions, shop_settings, expires_in=120)  # inside the 5-minute margin
    responses.add(responses.POST, TOKEN_URL, json=_refreshed())
    token = tokens.access_token(sessions, shop_settings, store_id, http=requests.Session(), clock=lambda: NOW)
    assert token == "shpat_2"
    sent = json.loads(responses.calls[0].request.body)
    assert sent["grant_type"] == "refresh_token" and sent["refresh_token"] == "shprt_1"
    store = _store(sessions, store_id)
    assert crypto.decrypt(shop_settings.secret_key, store_id, store.refresh_token_encrypted) == "shprt_2"
    assert store.access_token_expires_at == NOW + timedelta(seconds=3600)


@responses.activate
def test_a_refused_refresh_marks_the_store_for_reauthorisation_and_keeps_handling_its_orders(
        sessions, shop_settings, caplog):
    store_id = _install(sessions, shop_settings, expires_in=-10)
    responses.add(responses.POST, TOKEN_URL, status=400,
                  json={"error": "invalid_grant", "error_description": "refresh token revoked"})
    with pytest.raises(PlatformAuthError):
        tokens.access_token(sessions, shop_settings, store_id, http=requests.Session(), clock=lambda: NOW)
    store = _store(sessions, store_id)
    assert store.status == "needs_reauth" and "refresh token revoked" in store.status_reason
    assert any("NEEDS RE-AUTHORISATION" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
    # Nothing of the store is lost: its tokens stay (encrypted) for the record, and the worker still
    # handles its orders (see tests/test_pipeline.py); only calls into the shop wait.
    assert store.refresh_token_encrypted is not None


@responses.activate
def test_an_unreachable_token_endpoint_leaves_the_store_as_it_was(sessions, shop_settings):
    store_id = _install(sessions, shop_settings, expires_in=-10)
    responses.add(responses.POST, TOKEN_URL, status=503)
    with pytest.raises(PlatformError) as raised:
        tokens.access_token(sessions, shop_settings, store_id, http=requests.Session(), clock=lambda: NOW)
    assert not isinstance(raised.value, PlatformAuthError)
    assert _store(sessions, store_id).status == "active"


@responses.activate
def test_a_401_refreshes_once_and_retries(sessions, shop_settings):
    store_id = _install(sessions, shop_settings)
    responses.add(responses.POST, GRAPHQL_URL, status=401, json={"errors": "[API] Invalid API key or access token"})
    responses.add(responses.POST, GRAPHQL_URL, json={"data": {"webhookSubscriptions": {"nodes": []}}})
    responses.add(responses.POST, TOKEN_URL, json=_refreshed())
    api = AdminApi(shop_settings, sessions, store_id, SHOP, clock=lambda: NOW, sleep=lambda s: None)
    assert api.execute("webhook_subscriptions") == {"webhookSubscriptions": {"nodes": []}}
    graphql = [c for c in responses.calls if c.request.url == GRAPHQL_URL]
    assert [c.request.headers["X-Shopify-Access-Token"] for c in graphql] == ["shpat_1", "shpat_2"]


@responses.activate
def test_a_second_401_after_a_refresh_is_an_auth_error_not_a_loop(sessions, shop_settings):
    store_id = _install(sessions, shop_settings)
    responses.add(responses.POST, GRAPHQL_URL, status=401)
    responses.add(responses.POST, TOKEN_URL, json=_refreshed())
    api = AdminApi(shop_settings, sessions, store_id, SHOP, clock=lambda: NOW, sleep=lambda s: None)
    with pytest.raises(PlatformAuthError):
        api.execute("webhook_subscriptions")
    assert len([c for c in responses.calls if c.request.url == GRAPHQL_URL]) == 2


@responses.activate
def test_throttled_queries_wait_what_the_bucket_says_then_go_through(sessions, shop_settings):
    store_id = _install(sessions, shop_settings)
    cost = {"cost": {"requestedQueryCost": 52, "actualQueryCost": None,
                     "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 2, "restoreRate": 100.0}}}
    responses.add(responses.POST, GRAPHQL_URL,
                  json={"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}], "extensions": cost})
    responses.add(responses.POST, GRAPHQL_URL, status=429, headers={"Retry-After": "2.0"})
    responses.add(responses.POST, GRAPHQL_URL, json={"data": {"ok": True}})
    waits: list[float] = []
    api = AdminApi(shop_settings, sessions, store_id, SHOP, clock=lambda: NOW, sleep=waits.append)
    assert api.execute("webhook_subscriptions") == {"ok": True}
    assert waits == [0.5, 2.0]  # (52 - 2) / 100 = 0.5 s; then the 429's Retry-After


@responses.activate
def test_inside_a_web_request_a_wait_longer_than_its_budget_is_left_for_the_worker(sessions, shop_settings):
    store_id = _install(sessions, shop_settings)
    responses.add(responses.POST, GRAPHQL_URL, status=429, headers={"Retry-After": "8"})
    waits: list[float] = []
    api = AdminApi(shop_settings, sessions, store_id, SHOP, clock=lambda: NOW, sleep=waits.append)
    with outbound.budget(5.0), pytest.raises(PlatformError, match="left for later"):
        api.execute("webhook_subscriptions")
    assert waits == [] and len(responses.calls) == 1


def test_throttle_wait_is_bounded_whatever_the_bucket_reports():
    assert throttle_wait(None) == 1.0
    status = {"maximumAvailable": 1000.0, "currentlyAvailable": 0, "restoreRate": 50.0}
    assert throttle_wait({"cost": {"requestedQueryCost": 5000, "throttleStatus": status}}) == 10.0
    assert throttle_wait({"cost": {"requestedQueryCost": 1, "throttleStatus": {**status, "restoreRate": 0}}}) == 1.0


@responses.activate
def test_graphql_errors_are_platform_errors(sessions, shop_settings):
    store_id = _install(sessions, shop_settings)
    responses.add(responses.POST, GRAPHQL_URL, json={"errors": [{"message": "Field 'x' doesn't exist"}]})
    api = AdminApi(shop_settings, sessions, store_id, SHOP, clock=lambda: NOW, sleep=lambda s: None)
    with pytest.raises(PlatformError, match="doesn't exist"):
        api.execute("webhook_subscriptions")


@pytest.mark.only_database("postgresql")
def test_two_workers_refreshing_one_store_at_once_make_one_refresh(sessions, shop_settings):
    """The second waits for the row lock, then finds the new token: Shopify sees one refresh, not two."""
    store_id = _install(sessions, shop_settings, expires_in=-10)
    entered = threading.Event()
    release = threading.Event()
    calls = []

    def slow_refresh(request):
        calls.append(json.loads(request.body)["refresh_token"])
        entered.set()
        release.wait(5)
        return 200, {}, json.dumps(_refreshed(len(calls) + 1))

    results = []
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.POST, TOKEN_URL, callback=slow_refresh)

        def worker():
            results.append(tokens.access_token(sessions, shop_settings, store_id, http=requests.Session(),
                                               clock=lambda: NOW))

        first = threading.Thread(target=worker)
        first.start()
        assert entered.wait(5)
        second = threading.Thread(target=worker)
        second.start()
        second.join(0.3)
        assert second.is_alive()  # waiting on the lock, not refreshing
        release.set()
        first.join(5)
        second.join(5)
    assert calls == ["shprt_1"] and results == ["shpat_2", "shpat_2"]


def test_a_slow_refresh_never_holds_up_webhooks_being_stored(sessions, shop_settings, engine):
    """The refresh's HTTP call holds no database lock: a delivery for the same store goes in meanwhile
    (on SQLite a write transaction locks the whole file, so this is where it would show)."""
    from connector.intake.inbox import STORED, store_delivery

    store_id = _install(sessions, shop_settings, expires_in=-10)
    in_refresh, release = threading.Event(), threading.Event()

    def slow_refresh(request):
        in_refresh.set()
        release.wait(10)
        return 200, {}, json.dumps(_refreshed())

    stored = []
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.POST, TOKEN_URL, callback=slow_refresh)
        refresher = threading.Thread(target=lambda: tokens.access_token(
            sessions, shop_settings, store_id, http=requests.Session(), clock=lambda: NOW))
        refresher.start()
        assert in_refresh.wait(5)
        edge = threading.Thread(target=lambda: stored.append(store_delivery(
            engine, store_id=store_id, platform="shopify", delivery_id="during-refresh", topic="orders/paid",
            body=b"{}", now=NOW)))
        edge.start()
        edge.join(5)
        finished_during_refresh = not edge.is_alive()
        release.set()
        refresher.join(10)
        edge.join(10)
    assert finished_during_refresh and stored == [STORED]
    assert _store(sessions, store_id).token_refresh_until is None
