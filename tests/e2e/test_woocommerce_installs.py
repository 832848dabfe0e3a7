"""WooCommerce end to end, through real HTTP: wc-auth install → keys → webhooks created at the stand-in
(creation pings answered) → order webhooks → conversions at the stand-in backend; a refund seen on
order.updated reversed once; a deleted order cancelled; reconcile picking up a missed order."""

from __future__ import annotations

import logging

import pytest
import requests
from sqlalchemy import func, select

from standins.woocommerce import samples
from connector.campaigns import directory
from connector.db import transaction
from connector.models import Conversion, Event, Store
from connector.intake.reconcile import reconcile_store
from connector.worker import Worker

from .test_shopify_installs import _dump, _now

SITE = "e2e-woo"


def _install(server, woo) -> requests.Response:
    return requests.get(f"{server.url}/woocommerce/install", params={"store_url": woo.site_url(SITE) + "/"},
                        timeout=20)


def _events_and_deliveries(settings, sessions) -> None:
    worker = Worker(settings, sessions, worker_id="e2e-woo")
    while worker.handle_events() + worker.deliver_due():
        pass


def _store(sessions) -> Store:
    with sessions() as session:
        return session.scalars(select(Store).where(Store.platform == "woocommerce")).one()


def _add_dana(sessions, woo) -> None:
    with transaction(sessions) as session:
        store = directory.find_store(session, woo.site_url(SITE))
        directory.add_influencer(session, store, "dana", code="DANA20", campaign_id="spring-26")


def test_install_creates_webhooks_and_orders_refunds_and_deletions_become_conversions(live, woo, sessions, backend):
    server, settings = live
    page = _install(server, woo)
    assert page.status_code == 200 and "installed" in page.text
    hooks = woo.webhooks(SITE)
    assert sorted(h["topic"] for h in hooks) == ["customer.created", "order.created", "order.deleted", "order.updated"]
    assert {h["delivery_url"] for h in hooks} == {f"{server.url}/webhooks/woocommerce"}
    assert all(h["status"] == "active" for h in hooks)
    store = _store(sessions)
    assert store.domain == woo.site_url(SITE) and store.status == "active" and not store.setup_pending
    with sessions() as session:  # the creation pings were answered and stored nothing
        assert session.scalar(select(func.count()).select_from(Event)) == 0

    _add_dana(sessions, woo)
    order = samples.order(order_id=3001, number="3001", status="processing", codes=("dana20",))
    assert [a.status_code for a in woo.place_order(SITE, order)] == [200]
    _events_and_deliveries(settings, sessions)
    [purchase] = backend.delivered()
    assert (purchase.body["type"], purchase.body["data"]["tracking_id"], purchase.body["data"]["amount"]) == \
        ("conversion.purchase", "dana", "59.50")

    # A refund arrives as order.updated with refunds[]; seen again on later updates, it is reversed once.
    refunded = {"refunds": [{"id": 91, "reason": "damaged", "total": "-10.00"}]}
    woo.update_order(SITE, 3001, refunded)
    woo.update_order(SITE, 3001, {**refunded, "customer_note": "thanks"})
    _events_and_deliveries(settings, sessions)
    refunds = [r for r in backend.delivered() if r.body["type"] == "conversion.refund"]
    assert len(refunds) == 1 and refunds[0].body["data"]["reverses"] == purchase.body["data"]["conversion_id"]

    woo.delete_order(SITE, 3001)
    _events_and_deliveries(settings, sessions)
    [cancellation] = [r for r in backend.delivered() if r.body["type"] == "conversion.cancellation"]
    remaining = float(purchase.body["data"]["amount"]) - float(refunds[0].body["data"]["amount"])
    assert float(cancellation.body["data"]["amount"]) == pytest.approx(remaining)
    assert all(r.verified for r in backend.delivered())

    # A reinstall reuses the row and creates no second set of webhooks.
    assert _install(server, woo).status_code == 200
    assert len(woo.webhooks(SITE)) == 4
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Store)) == 1


def test_reconcile_picks_up_a_missed_order_without_doubling_a_delivered_one(live, woo, sessions, backend):
    server, settings = live
    assert _install(server, woo).status_code == 200
    _add_dana(sessions, woo)
    woo.place_order(SITE, samples.order(order_id=4001, number="4001", codes=("dana20",)))
    woo.place_order(SITE, samples.order(order_id=4002, number="4002", codes=("dana20",)), deliver=False)
    _events_and_deliveries(settings, sessions)
    assert [r.body["data"]["order_id"] for r in backend.delivered()] == ["4001"]
    result = reconcile_store(settings, sessions, _store(sessions).id, _now(), since=_now().replace(year=2020))
    assert (result.fetched, result.unseen) == (2, 1)
    _events_and_deliveries(settings, sessions)
    assert sorted(r.body["data"]["order_id"] for r in backend.delivered()) == ["4001", "4002"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Conversion)) == 2


def test_no_woocommerce_key_or_secret_is_logged_or_kept_in_clear_text(live, woo, sessions, caplog):
    server, settings = live
    caplog.set_level(logging.DEBUG)
    assert _install(server, woo).status_code == 200
    reconcile_store(settings, sessions, _store(sessions).id, _now())
    secrets = list(woo.keys(SITE).values()) + [h["secret"] for h in woo.webhooks(SITE)]
    assert len(secrets) >= 2
    logged = "\n".join(record.getMessage() for record in caplog.records)
    stored = _dump(sessions)
    for secret in secrets:
        assert secret not in logged and secret not in stored
