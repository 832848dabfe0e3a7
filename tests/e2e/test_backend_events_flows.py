"""Each event the backend can be told of (CONNECTOR_BACKEND_EVENTS), from the real flow that causes it, over real HTTP:
the stand-in Shopify and WooCommerce, the app on a live port, the real worker, the stand-in backend verifying each
delivery with the official Standard Webhooks library. Every body received is checked against the OpenAPI document's
`webhooks` (tests/test_backend_events_schema.py), conversions included.

Shopify: an OAuth install, a code made by the worker's code sync, an order, the shop's tokens revoked (the worker's
reconciliation is refused: needs_reauth), the app opened again (reauthorized), customers/redact, the uninstall
webhook, shop/redact. WooCommerce: wc-auth install, codes made, refused (collision policy `refuse`) and removed by the
code sync, the REST keys refused during a sync (needs_reauth), a new authorisation (reauthorized), and an order's
purchase, adjustment, refund and cancellation. With the setting off, none of it writes a single event.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from adapters.shopify.app_config import app_toml
from connector import create_app
from connector.campaigns import directory, influencers as campaigns
from connector.core import backend_events as told
from connector.core.platform import PERCENTAGE
from connector.core.rules import email_sha256
from connector.db import transaction
from connector.models import Conversion, Store
from connector.worker import Worker
from standins.live_server import LiveServer
from standins.shopify import samples as shopify_samples
from standins.shopify.store import StandinShopify
from standins.woocommerce import samples as woo_samples

from ..conftest import BACKEND_SECRET, SHOPIFY_SECRET
from ..test_backend_events_schema import check_sent
from .test_shopify_installs import API_KEY, SHOP, _dump, _now, _order, _signed_query

ALL = frozenset(told.TYPES)
SITE = "told-woo"
FIRST = 5301  # the tax-inclusive sample order (coupon BEA10)


def _run(settings, sessions) -> None:
    """The worker in burst mode: events, deliveries, and the maintenance due (setup, codes, reconciliation)."""
    Worker(settings, sessions, worker_id="e2e-told").run(burst=True)


def _told(backend) -> list[dict]:
    """The events (not conversions) the backend received, verified, in order."""
    return [r.body for r in backend.delivered() if not r.body["type"].startswith("conversion.")]


def _of(backend, kind: str) -> list[dict]:
    return [body["data"] for body in (r.body for r in backend.delivered()) if body["type"] == kind]


def _verified_and_described(backend) -> set[str]:
    """Everything received was verified by the official library, its webhook-id is its id, and the document
    describes it; returns the types received."""
    assert backend.received and all(r.verified and 200 <= r.status < 300 for r in backend.received)
    for received in backend.received:
        data = received.body["data"]
        assert received.webhook_id == data.get("event_id", data.get("conversion_id"))
    return check_sent(r.body for r in backend.received)


def _put(sessions, store_id: int, tracking_id: str, code: str) -> None:
    """The backend registers an influencer with a code (as PUT /influencers does): the worker makes the code."""
    with transaction(sessions) as session:
        store = session.get(Store, store_id)
        campaigns.upsert_influencer(session, store, campaigns.InfluencerSpec(
            tracking_id, "launch", None, code, campaigns.discount_terms(PERCENTAGE, "10")), _now())


def _store(sessions, platform: str) -> Store:
    with sessions() as session:
        return session.scalars(select(Store).where(Store.platform == platform)).one()


# -- Shopify --------------------------------------------------------------------------------------


@pytest.fixture
def shopify():
    with StandinShopify(API_KEY, SHOPIFY_SECRET) as standin:
        yield standin


@pytest.fixture
def shop_live(settings, engine, shopify, backend):
    server = LiveServer()
    live_settings = settings.with_overrides(
        public_url=server.url, shopify_api_key=API_KEY, shopify_admin_url=shopify.admin_url,
        tracking_backend_url=backend.url, tracking_backend_secret=BACKEND_SECRET, backend_events=ALL,
    )
    server.start(create_app(live_settings, engine=engine))
    shopify.deploy_app_config(app_toml(live_settings))  # app/uninstalled comes from the app's configuration
    yield server, live_settings
    server.stop()


def test_a_shopify_stores_life_reaches_the_backend_from_the_flows_that_cause_it(shop_live, shopify, sessions, backend):
    server, settings = shop_live
    assert requests.get(f"{server.url}/shopify/install?{_signed_query()}", timeout=10).status_code == 200
    _run(settings, sessions)  # the shop's setup, queued by the install
    store = _store(sessions, "shopify")
    [installed] = _told(backend)
    assert installed["type"] == "store.installed"
    assert (installed["data"]["store"], installed["data"]["store_id"], installed["data"]["platform"]) == (
        SHOP, store.id, "shopify")

    _put(sessions, store.id, "alice", "ALICE15")
    _run(settings, sessions)  # the worker's code sync makes it at the stand-in
    assert "ALICE15" in {c.upper() for c in shopify.codes(SHOP)}
    [created] = _of(backend, "code.created")
    assert (created["tracking_id"], created["campaign_id"], created["code"], created["requested_code"]) == (
        "alice", "launch", "ALICE15", "ALICE15")

    email = "jane.customer@example.com"
    order = _order(8001, email=email)
    order["customer"] = {**order.get("customer", {}), "id": 990001, "email": email}
    shopify.place_order(SHOP, order)
    _run(settings, sessions)
    assert [p["tracking_id"] for p in _of(backend, "conversion.purchase")] == ["alice"]

    # The shop's tokens stop working: the worker's next reconciliation is refused, once and loudly.
    shopify.revoke_tokens(SHOP)
    with transaction(sessions) as session:
        session.get(Store, store.id).reconciled_at = _now() - timedelta(days=1)
    _run(settings, sessions)
    assert _store(sessions, "shopify").status == "needs_reauth"
    [refused] = _of(backend, "store.needs_reauth")
    assert refused["reason"] and refused["store_id"] == store.id
    # The merchant opens the app again: a new grant by token exchange.
    page = requests.get(f"{server.url}/shopify/app?shop={SHOP}&id_token={shopify.session_token(SHOP)}", timeout=10)
    assert page.status_code == 200 and _store(sessions, "shopify").status == "active"
    _run(settings, sessions)
    assert len(_of(backend, "store.reauthorized")) == 1

    uri = f"{server.url}/webhooks/shopify"
    shop_id = shopify_samples.shop_number(SHOP)
    redact = {"shop_id": shop_id, "shop_domain": SHOP, "customer": {"id": 990001, "email": email},
              "orders_to_redact": [8001]}
    assert shopify.send_webhook(SHOP, "customers/redact", redact, uri=uri)[0][0] == 200
    _run(settings, sessions)
    [erased] = _of(backend, "customer.redacted")
    assert (erased["customer_id"], erased["email_sha256"]) == ("990001", email_sha256(email))
    assert all(email not in json.dumps(r.body) for r in backend.received)  # never the email itself

    assert [status for status, _ in shopify.uninstall(SHOP)] == [200]  # the uninstall webhook
    _run(settings, sessions)
    assert len(_of(backend, "store.uninstalled")) == 1
    # The worker confirms an uninstall with Shopify before applying it: the refusal it must meet (the uninstall
    # revoked the tokens) marks the store needs_reauth a moment first, and the backend is told that too.
    assert len(_of(backend, "store.needs_reauth")) == 2
    assert shopify.send_webhook(SHOP, "shop/redact", {"shop_id": shop_id, "shop_domain": SHOP}, uri=uri)[0][0] == 200
    _run(settings, sessions)
    assert len(_of(backend, "store.redacted")) == 1

    # (Those sent in one round of deliveries may arrive in any order: compared as a whole.)
    assert sorted(body["type"] for body in _told(backend)) == sorted([
        "store.installed", "code.created", "store.needs_reauth", "store.reauthorized", "customer.redacted",
        "store.needs_reauth", "store.uninstalled", "store.redacted"])
    assert _verified_and_described(backend) == {*(body["type"] for body in _told(backend)), "conversion.purchase"}
    # The store's erasure left its own lifecycle in the outbox (nothing personal), and nothing else.
    with sessions() as session:
        kept = session.scalars(select(Conversion.type)).all()
    assert sorted(kept) == sorted(["store.installed", "store.needs_reauth", "store.reauthorized",
                                   "store.needs_reauth", "store.uninstalled", "store.redacted"])
    assert email_sha256(email) not in _dump(sessions) and "990001" not in _dump(sessions)


# -- WooCommerce ----------------------------------------------------------------------------------


@pytest.fixture
def woo_live(request, settings, engine, backend):
    """The app on a live port; the types told are ALL unless the test passes others (indirect parametrisation)."""
    server = LiveServer()
    live_settings = settings.with_overrides(public_url=server.url, woocommerce_allow_private=True,
                                            tracking_backend_url=backend.url, tracking_backend_secret=BACKEND_SECRET,
                                            code_collision="refuse", backend_events=getattr(request, "param", ALL))
    server.start(create_app(live_settings, engine=engine))
    yield server, live_settings
    server.stop()


def _authorise(server, woo) -> None:
    page = requests.get(f"{server.url}/woocommerce/install", params={"store_url": woo.site_url(SITE) + "/"},
                        timeout=20)
    assert page.status_code == 200 and "installed" in page.text, page.text


def test_woocommerce_codes_keys_and_an_orders_life_reach_the_backend(woo_live, woo, sessions, backend):
    server, settings = woo_live
    _authorise(server, woo)
    store = _store(sessions, "woocommerce")
    woo.add_foreign_coupon(SITE, "merchant10")  # the merchant's own code
    _put(sessions, store.id, "erin", "ERIN10")
    _put(sessions, store.id, "mallory", "MERCHANT10")
    _run(settings, sessions)
    [made] = _of(backend, "code.created")
    assert (made["tracking_id"], made["code"]) == ("erin", "ERIN10") and woo.coupon_applies(SITE, "erin10")
    [failed] = _of(backend, "code.failed")
    assert (failed["tracking_id"], failed["code"], failed["action"]) == ("mallory", "MERCHANT10", "create")
    assert failed["reason"]

    with transaction(sessions) as session:
        row = session.get(Store, store.id)
        campaigns.remove_influencer(session, row, campaigns.find_influencer(session, row, "erin"), _now())
    _run(settings, sessions)
    [removed] = _of(backend, "code.removed")
    assert (removed["tracking_id"], removed["code"]) == ("erin", "ERIN10")

    # The store refuses the REST keys while the worker makes a code: it needs authorising again ...
    woo.fail_next(SITE, "coupons/batch", 401)
    _put(sessions, store.id, "nina", "NINA10")
    _run(settings, sessions)
    assert _store(sessions, "woocommerce").status == "needs_reauth"
    [refused] = _of(backend, "store.needs_reauth")
    assert "REST keys" in refused["reason"]
    # ... and the merchant authorises the app again: the code is made after all.
    _authorise(server, woo)
    _run(settings, sessions)
    assert len(_of(backend, "store.reauthorized")) == 1
    assert [c["tracking_id"] for c in _of(backend, "code.created")] == ["erin", "nina"]

    # An order's whole life, so every conversion type but the lead is checked against the document here too.
    with transaction(sessions) as session:
        directory.add_influencer(session, session.get(Store, store.id), "bea", code="BEA10", campaign_id="autumn-26")
    woo.place_order(SITE, woo_samples.tax_inclusive_order() | {"refunds": []})
    _run(settings, sessions)
    woo.edit_order(SITE, FIRST, {8002: {"quantity": 3}})
    _run(settings, sessions)
    woo.refund(SITE, FIRST, {8001: 1})
    _run(settings, sessions)
    woo.update_order(SITE, FIRST, {"status": "cancelled"})
    _run(settings, sessions)

    assert sorted(body["type"] for body in _told(backend)) == sorted([
        "store.installed", "code.created", "code.failed", "code.removed", "store.needs_reauth", "store.reauthorized",
        "code.created"])
    assert _verified_and_described(backend) == {
        "store.installed", "code.created", "code.failed", "code.removed", "store.needs_reauth", "store.reauthorized",
        "conversion.purchase", "conversion.adjustment", "conversion.refund", "conversion.cancellation"}


@pytest.mark.parametrize("woo_live", [frozenset()], indirect=True, ids=["CONNECTOR_BACKEND_EVENTS unset"])
def test_with_the_setting_off_the_same_flows_write_no_event(woo_live, woo, sessions, backend):
    server, settings = woo_live
    assert settings.backend_events == frozenset()  # the deployment's default
    _authorise(server, woo)
    store = _store(sessions, "woocommerce")
    woo.add_foreign_coupon(SITE, "merchant10")
    _put(sessions, store.id, "erin", "ERIN10")
    _put(sessions, store.id, "mallory", "MERCHANT10")
    with transaction(sessions) as session:
        directory.add_influencer(session, session.get(Store, store.id), "bea", code="BEA10")
    woo.place_order(SITE, woo_samples.tax_inclusive_order() | {"refunds": []})
    _run(settings, sessions)
    woo.fail_next(SITE, "coupons/batch", 401)
    _put(sessions, store.id, "nina", "NINA10")
    _run(settings, sessions)
    assert _store(sessions, "woocommerce").status == "needs_reauth"
    _authorise(server, woo)
    _run(settings, sessions)
    with sessions() as session:
        assert session.scalars(select(Conversion.type)).all() == ["conversion.purchase"]
    assert [r.body["type"] for r in backend.delivered()] == ["conversion.purchase"]
    assert woo.coupon_applies(SITE, "nina10")  # the codes were made all the same: only the telling is off
