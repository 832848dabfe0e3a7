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
    yield server, live_settings
    server.stop()


def _signed_query(**params) -> str:
    params = {"shop": SHOP, "timestamp": str(int(time.time())), **params}
    return urlencode({**params, "hmac": query_hmac(params, SHOPIFY_SECRET)})


def _install(url: str) -> requests.Response:
    """The merchant's browser: the install link from the Shopify admin, redirects followed."""
    return requests.get(f"{url}/shopify/install?{_signed_query()}", timeout=10)


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
    page = _install(server.url)
    assert page.status_code == 200 and "installed" in page.text
    kinds = [(c.kind, c.detail) for c in shopify.calls]
    assert ("authorize", None) in kinds or any(k == "authorize" for k, _ in kinds)
    subscriptions = shopify.subscriptions(SHOP)
    assert sorted(s["topic"] for s in subscriptions) == sorted(
        ["ORDERS_CREATE", "ORDERS_UPDATED", "ORDERS_PAID", "ORDERS_CANCELLED", "REFUNDS_CREATE",
         "CUSTOMERS_CREATE", "APP_UNINSTALLED"])
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
    assert _install(server.url).status_code == 200
    assert len(shopify.subscriptions(SHOP)) == 7
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Store)) == 1


def test_embedded_install_by_token_exchange_ends_in_the_same_store_and_setup(live, shopify, sessions):
    server, _settings = live
    token = shopify.session_token(SHOP)
    page = requests.get(f"{server.url}/shopify/app?shop={SHOP}&id_token={token}", timeout=10)
    assert page.status_code == 200 and SHOP in page.text
    grants = [c.detail for c in shopify.calls if c.kind == "token"]
    assert grants == ["urn:ietf:params:oauth:grant-type:token-exchange"]
    assert len(shopify.subscriptions(SHOP)) == 7
    store = _store(sessions)
    assert store.status == "active" and not store.setup_pending and store.refresh_token_encrypted


def test_a_short_lived_token_is_refreshed_and_a_refused_refresh_loses_nothing(live, shopify, sessions, backend):
    server, settings = live
    shopify.set_token_lifetime(60)  # under the 5-minute margin: every use refreshes first
    assert _install(server.url).status_code == 200
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
    assert _install(server.url).status_code == 200
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
    assert _install(server.url).status_code == 200
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
    assert _install(server.url).status_code == 200
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
    assert _install(server.url).status_code == 200
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
    assert _install(server.url).status_code == 200
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
