"""Shopify end to end, through real HTTP: install (OAuth grant, or embedded token exchange) → token →
webhooks registered at the stand-in → an order webhook → a conversion at the stand-in backend; token
refresh; uninstall; the privacy topics with the data really gone; reconcile picking up a missed order."""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import urlencode

import pytest
import requests
from sqlalchemy import func, select, text

from standins.shopify import samples
from standins.shopify.store import StandinShopify, query_hmac
from adapters.shopify.app_config import app_toml
from connector import create_app
from connector.campaigns import directory
from connector.db import transaction
from connector.errors import PlatformAuthError
from standins.live_server import LiveServer
from connector.models import Base, Conversion, Event, Store
from connector.intake.reconcile import reconcile_store
from connector.worker import Worker

from ..conftest import BACKEND_SECRET, SHOPIFY_SECRET

API_KEY = "e2e-api-key"
SHOP = "e2e-boutique.myshopify.com"


@pytest.fixture
def shopify():
    with StandinShopify(API_KEY, SHOPIFY_SECRET) as standin:
        yield standin


@pytest.fixture
def live(settings, engine, shopify, backend):
    server = LiveServer()
    live_settings = settings.with_overrides(
        public_url=server.url, shopify_api_key=API_KEY, shopify_admin_url=shopify.admin_url,
        tracking_backend_url=backend.url, tracking_backend_secret=BACKEND_SECRET,
    )
    server.start(create_app(live_settings, engine=engine))
    shopify.deploy_app_config(app_toml(live_settings))  # what `shopify app deploy` does with the app's TOML
    yield server, live_settings
    server.stop()


def _signed_query(**params) -> str:
    params = {"shop": SHOP, "timestamp": str(int(time.time())), **params}
    return urlencode({**params, "hmac": query_hmac(params, SHOPIFY_SECRET)})


def _install(live, sessions) -> requests.Response:
    """The merchant's browser: the install link from the Shopify admin, redirects followed into the admin,
    which opens the app; then the worker's setup of the shop, which the install queued."""
    server, settings = live
    page = requests.get(f"{server.url}/shopify/install?{_signed_query()}", timeout=10)
    _set_up(settings, sessions)
    return page


def _set_up(settings, sessions) -> None:
    """The worker's maintenance step, which takes up a store whose setup is pending."""
    while _store(sessions).setup_pending and Worker(settings, sessions, worker_id="e2e-setup").maintain():
        pass


def _drain(settings, sessions) -> None:
    """The worker's burst: events, deliveries, and any setup or reconciliation due."""
    Worker(settings, sessions, worker_id="e2e").run(burst=True)


def _handle_and_deliver(settings, sessions) -> None:
    """Events and deliveries only, so a test decides when reconciliation runs."""
    worker = Worker(settings, sessions, worker_id="e2e-no-maintenance")
    while worker.handle_events() + worker.deliver_due():
        pass


def _store(sessions) -> Store:
    with sessions() as session:
        return session.scalars(select(Store).where(Store.domain == SHOP)).one()


def _add_alice(sessions) -> None:
    with transaction(sessions) as session:
        store = directory.find_store(session, SHOP)
        directory.add_influencer(session, store, "alice", code="ALICE15", campaign_id="spring-26")


def _order(order_id: int, **fields) -> dict:
    return samples.order(order_id=order_id, name=f"#{order_id}", codes=("ALICE15",), cart_ref="", landing_site="/",
                         landing_site_ref="", **fields)


def test_oauth_install_registers_webhooks_and_an_order_becomes_a_conversion(live, shopify, sessions, backend):
    server, settings = live
    page = _install(live, sessions)
    assert page.status_code == 200 and 'name="shopify-api-key"' in page.text  # the app, opened in the admin
    kinds = [(c.kind, c.detail) for c in shopify.calls]
    assert ("authorize", None) in kinds or any(k == "authorize" for k, _ in kinds)
    subscriptions = shopify.subscriptions(SHOP)
    # app/uninstalled comes from the app's configuration: subscribed here too, it would arrive twice
    assert sorted(s["topic"] for s in subscriptions) == sorted(
        ["ORDERS_CREATE", "ORDERS_UPDATED", "ORDERS_PAID", "ORDERS_CANCELLED", "REFUNDS_CREATE", "CUSTOMERS_CREATE"])
    assert {s["uri"] for s in subscriptions} == {f"{server.url}/webhooks/shopify"}
    store = _store(sessions)
    assert store.status == "active" and store.access_token_expires_at and store.refresh_token_encrypted

    _add_alice(sessions)
    answers = shopify.place_order(SHOP, _order(5001))
    assert [status for status, _ in answers] == [200, 200]
    _drain(settings, sessions)
    purchases = [r.body["data"] for r in backend.delivered() if r.body["type"] == "conversion.purchase"]
    assert [(p["order_id"], p["tracking_id"], p["store"]) for p in purchases] == [("5001", "alice", SHOP)]
    assert all(r.verified for r in backend.delivered())

    # A reinstall (the merchant installs again) reuses the row and registers nothing twice.
    assert _install(live, sessions).status_code == 200
    assert len(shopify.subscriptions(SHOP)) == 6
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Store)) == 1


def test_embedded_install_by_token_exchange_answers_at_once_and_the_worker_sets_the_shop_up(live, shopify, sessions):
    server, settings = live
    token = shopify.session_token(SHOP)
    started = time.monotonic()
    page = requests.get(f"{server.url}/shopify/app?shop={SHOP}&id_token={token}", timeout=10)
    seconds = time.monotonic() - started
    assert page.status_code == 200 and 'name="shopify-api-key"' in page.text
    # One call to Shopify in the request (the token exchange); webhooks, shop details and the pixel wait
    assert [(c.kind, c.detail) for c in shopify.calls] == [("token", "urn:ietf:params:oauth:grant-type:token-exchange")]
    assert seconds < 1.0, seconds
    store = _store(sessions)
    assert store.status == "active" and store.setup_pending and store.refresh_token_encrypted
    assert shopify.subscriptions(SHOP) == []
    _set_up(settings, sessions)
    assert len(shopify.subscriptions(SHOP)) == 6
    assert not _store(sessions).setup_pending


def test_the_onboarding_list_reads_what_the_shop_holds_and_a_missing_step_says_what_to_do(live, shopify, sessions):
    server, settings = live
    shopify.set_protected_data_access(SHOP, False)
    _install(live, sessions)

    def onboarding() -> dict:
        headers = {"Authorization": f"Bearer {shopify.session_token(SHOP)}"}
        answer = requests.get(f"{server.url}/admin/api/onboarding", headers=headers, timeout=10)
        assert answer.status_code == 200
        return {s["key"]: s for s in answer.json()["steps"]}

    steps = onboarding()
    assert (steps["protected_data"]["state"], steps["webhooks"]["state"], steps["web_pixel"]["state"]) == (
        "todo", "todo", "done")
    assert "Partner Dashboard" in steps["protected_data"]["action"]
    assert steps["protected_data"]["action_url"].startswith("https://shopify.dev/")
    assert shopify.subscriptions(SHOP) == []  # Shopify refused every order and customer topic
    # The developer is granted access; the merchant chooses Check again and the worker reads the shop again.
    shopify.set_protected_data_access(SHOP, True)
    headers = {"Authorization": f"Bearer {shopify.session_token(SHOP)}"}
    assert requests.post(f"{server.url}/admin/api/onboarding/check", headers=headers, timeout=10).status_code == 202
    _set_up(settings, sessions)
    steps = onboarding()
    assert {k: s["state"] for k, s in steps.items() if k in ("webhooks", "protected_data", "web_pixel")} == {
        "webhooks": "done", "protected_data": "done", "web_pixel": "done"}
    assert "orders/create" in steps["webhooks"]["detail"] and steps["webhooks"]["checked_at"]
    # A subscription removed in the shop is found missing by the next check, and put back.
    shopify.remove_subscription(SHOP, "ORDERS_PAID")
    requests.post(f"{server.url}/admin/api/onboarding/check", headers=headers, timeout=10)
    _set_up(settings, sessions)
    assert "ORDERS_PAID" in {s["topic"] for s in shopify.subscriptions(SHOP)}


def test_an_uninstall_arrives_once_from_the_app_configuration_and_an_old_shop_copy_is_removed(live, shopify,
                                                                                              sessions):
    server, settings = live
    # An install by an earlier version also subscribed app/uninstalled for the shop.
    requests.get(f"{server.url}/shopify/install?{_signed_query()}", timeout=10)
    shopify.add_subscription(SHOP, "APP_UNINSTALLED", f"{server.url}/webhooks/shopify")
    _set_up(settings, sessions)
    assert "APP_UNINSTALLED" not in {s["topic"] for s in shopify.subscriptions(SHOP)}
    answers = shopify.uninstall(SHOP)
    assert [status for status, _ in answers] == [200]  # one delivery, from the app's configuration


def test_a_short_lived_token_is_refreshed_and_a_refused_refresh_loses_nothing(live, shopify, sessions, backend):
    server, settings = live
    shopify.set_token_lifetime(60)  # under the 5-minute margin: every use refreshes first
    assert _install(live, sessions).status_code == 200
    first_refresh = shopify.refresh_tokens(SHOP)
    result = reconcile_store(settings, sessions, _store(sessions).id, _now())
    assert result.fetched == 0
    assert [c.detail for c in shopify.calls if c.kind == "token"][-1] == "refresh_token"
    assert shopify.refresh_tokens(SHOP) != first_refresh  # rotated, and the new one was kept
    assert _store(sessions).status == "active"

    shopify.refuse_refresh(SHOP)
    with pytest.raises(PlatformAuthError):
        reconcile_store(settings, sessions, _store(sessions).id, _now())
    store = _store(sessions)
    assert store.status == "needs_reauth" and "revoked" in store.status_reason
    # Webhooks keep coming and are still credited: nothing is lost while the merchant re-authorises.
    _add_alice(sessions)
    shopify.place_order(SHOP, _order(5002))
    _drain(settings, sessions)
    assert [r.body["data"]["order_id"] for r in backend.delivered()] == ["5002"]
    # Opening the app again authorises it again.
    shopify.refuse_refresh(SHOP, False)
    page = requests.get(f"{server.url}/shopify/app?shop={SHOP}&id_token={shopify.session_token(SHOP)}", timeout=10)
    assert page.status_code == 200 and _store(sessions).status == "active"


def test_reconcile_picks_up_a_missed_order_and_does_not_double_one_that_arrived(live, shopify, sessions, backend):
    server, settings = live
    assert _install(live, sessions).status_code == 200
    _add_alice(sessions)
    shopify.place_order(SHOP, _order(6001))  # its webhooks arrive
    shopify.place_order(SHOP, _order(6002), deliver=False)  # its webhooks never come
    _handle_and_deliver(settings, sessions)
    assert [r.body["data"]["order_id"] for r in backend.delivered()] == ["6001"]

    since = _now().replace(year=2020)
    first = reconcile_store(settings, sessions, _store(sessions).id, _now(), since=since)
    assert (first.fetched, first.stored, first.unseen) == (2, 2, 1)  # 6002 was never seen
    again = reconcile_store(settings, sessions, _store(sessions).id, _now(), since=since)
    assert (again.fetched, again.stored) == (2, 0)  # the same states: nothing new stored
    _handle_and_deliver(settings, sessions)
    delivered = sorted(r.body["data"]["order_id"] for r in backend.delivered())
    assert delivered == ["6001", "6002"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Conversion)) == 2


def test_the_worker_reconciles_installed_stores_on_its_own(live, shopify, sessions, backend):
    server, settings = live
    assert _install(live, sessions).status_code == 200
    _add_alice(sessions)
    shopify.place_order(SHOP, _order(6101), deliver=False)
    with transaction(sessions) as session:  # the last reconciliation was long ago
        store = session.scalars(select(Store)).one()
        store.reconciled_at = store.installed_at = _now().replace(year=2020)
    _drain(settings, sessions)
    assert [r.body["data"]["order_id"] for r in backend.delivered()] == ["6101"]
    assert _store(sessions).reconciled_at > _now().replace(year=2025)


def test_uninstall_stops_the_store_and_queued_conversions_are_still_delivered(live, shopify, sessions, backend):
    server, settings = live
    assert _install(live, sessions).status_code == 200
    _add_alice(sessions)
    shopify.place_order(SHOP, _order(7001))
    Worker(settings.with_overrides(tracking_backend_url=None), sessions).handle_events()  # credited, not sent
    shopify.uninstall(SHOP)
    _drain(settings, sessions)
    store = _store(sessions)
    assert store.status == "uninstalled" and store.access_token_encrypted is None
    assert store.refresh_token_encrypted is None
    assert [r.body["data"]["order_id"] for r in backend.delivered()] == ["7001"]  # the queued one went out
    shopify.send_webhook(SHOP, "orders/paid", _order(7002))
    _drain(settings, sessions)
    assert len(backend.delivered()) == 1
    with sessions() as session:
        assert session.scalars(select(Event.status).where(Event.topic == "orders/paid").order_by(Event.id)).all()[-1] \
            == "skipped"


def test_privacy_topics_erase_the_data_for_real(live, shopify, sessions, backend):
    server, settings = live
    assert _install(live, sessions).status_code == 200
    _add_alice(sessions)
    email = "jane.customer@example.com"
    order = _order(8001, email=email)
    order["customer"] = {**order.get("customer", {}), "id": 990001, "email": email, "first_name": "Jane",
                         "last_name": "Customer", "phone": "+15550001111"}
    shopify.place_order(SHOP, order)
    _drain(settings, sessions)
    uri = f"{server.url}/webhooks/shopify"
    customer = {"id": 990001, "email": email, "phone": "+15550001111"}
    shop_id = samples.shop_number(SHOP)
    request = {"shop_id": shop_id, "shop_domain": SHOP, "orders_requested": [8001], "customer": customer,
               "data_request": {"id": 4242}}
    assert shopify.send_webhook(SHOP, "customers/data_request", request, uri=uri)[0][0] == 200
    _drain(settings, sessions)
    with sessions() as session:
        exported = session.execute(text("SELECT export FROM privacy_requests WHERE kind = 'data_request'")).scalar()
    assert email in (exported if isinstance(exported, str) else json.dumps(exported))

    redact = {"shop_id": shop_id, "shop_domain": SHOP, "customer": customer, "orders_to_redact": [8001]}
    assert shopify.send_webhook(SHOP, "customers/redact", redact, uri=uri)[0][0] == 200
    _drain(settings, sessions)
    for needle in (email, "Jane", "+15550001111", "990001"):
        assert needle not in _dump(sessions), needle

    # Shopify sends shop/redact 48 h after the merchant uninstalls.
    shopify.uninstall(SHOP)
    assert shopify.send_webhook(SHOP, "shop/redact", {"shop_id": shop_id, "shop_domain": SHOP}, uri=uri)[0][0] == 200
    _drain(settings, sessions)
    with sessions() as session:
        for table in ("orders", "conversions", "influencers", "privacy_requests"):
            assert session.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0, table
        assert session.execute(text("SELECT count(*) FROM events")).scalar() <= 1
    assert _store(sessions).status == "redacted"


def test_no_store_credential_is_logged_or_kept_in_clear_text(live, shopify, sessions, caplog):
    server, settings = live
    caplog.set_level(logging.DEBUG)
    shopify.set_token_lifetime(60)
    assert _install(live, sessions).status_code == 200
    reconcile_store(settings, sessions, _store(sessions).id, _now())  # a refresh too
    # Every access and refresh token the shop ever issued. (The one-time OAuth code and the session token
    # travel in browser URLs by Shopify's design; they are not store credentials.)
    presented = [c.token for c in shopify.calls if c.token and (c.kind == "graphql" or c.detail == "refresh_token")]
    secrets = shopify.access_tokens(SHOP) + shopify.refresh_tokens(SHOP) + presented
    assert len(set(secrets)) >= 3
    logged = "\n".join(record.getMessage() for record in caplog.records)
    stored = _dump(sessions)
    for secret in set(secrets):
        assert secret not in logged and secret not in stored


def _dump(sessions) -> str:
    """Every value of every table as text (bytes decoded loosely), to search for what must not be there."""
    parts = []
    with sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(table.select()):
                for value in row:
                    parts.append(value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value))
    return "\n".join(parts)


def _now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)
