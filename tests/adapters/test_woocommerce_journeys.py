"""WooCommerce attribution depth through the whole connector, over real HTTP: the stand-in store's signed
webhooks → the app's edge → the worker (which asks the adapter's `enrich`) → conversions at the stand-in backend.

A tax-inclusive order (PROVENANCE.md) credited with its lines; a refund of one tote reversed exactly (13.50, the
line without tax, where the order JSON alone would have estimated 12.62); an amount refunded alone shared out; an
edit that takes a tote off adjusting the purchase; a renewal of WooCommerce Subscriptions credited to the influencer
of the order that started the subscription (found through the subscription's parent_id).
"""

from __future__ import annotations

from decimal import Decimal

import requests
from sqlalchemy import select

from connector.campaigns import directory
from connector.db import transaction
from connector.models import Store
from connector.worker import Worker
from standins.woocommerce import samples


SITE = "journey-woo"


def _work(settings, sessions) -> None:
    worker = Worker(settings, sessions, worker_id="journey-woo")
    while worker.handle_events() + worker.deliver_due():
        pass


def _installed(server, woo, sessions) -> None:
    page = requests.get(f"{server.url}/woocommerce/install", params={"store_url": woo.site_url(SITE) + "/"}, timeout=20)
    assert page.status_code == 200, page.text
    with transaction(sessions) as session:
        store = session.scalars(select(Store).where(Store.platform == "woocommerce")).one()
        directory.add_influencer(session, store, "bea", code="BEA10", campaign_id="autumn-26")


def _of(backend, kind: str) -> list[dict]:
    return [r.body["data"] for r in backend.delivered() if r.body["type"] == f"conversion.{kind}"]


def test_a_tax_inclusive_order_s_line_refund_is_reversed_exactly_and_an_amount_alone_is_shared(
        live, woo, sessions, backend):
    server, settings = live
    _installed(server, woo, sessions)
    woo.place_order(SITE, samples.tax_inclusive_order() | {"refunds": []})
    _work(settings, sessions)
    [purchase] = _of(backend, "purchase")
    assert (purchase["amount"], purchase["currency"], purchase["tracking_id"]) == ("72.00", "GBP", "bea")
    assert [(item["line_id"], item["amount"]) for item in purchase["items"]] == [("8001", "45.00"), ("8002", "27.00")]

    woo.refund(SITE, 5301, {8002: 1})
    _work(settings, sessions)
    [line_refund] = _of(backend, "refund")
    assert line_refund["amount"] == "13.50" and line_refund["reverses"] == purchase["conversion_id"]
    assert [(item["line_id"], Decimal(str(item["quantity"])), item["amount"]) for item in line_refund["items"]] == [
        ("8002", Decimal(1), "13.50")]

    woo.refund(SITE, 5301, amount="10.00", reason="Late delivery")
    _work(settings, sessions)
    amount_alone = _of(backend, "refund")[1]
    assert amount_alone["amount"] == "7.79"  # 10.00 × 72.00 / 92.40, as no line says more
    assert sum(Decimal(item["amount"]) for item in amount_alone["items"]) == Decimal("7.79")
    assert all(r.verified for r in backend.delivered())


def test_an_edit_of_a_credited_order_adjusts_its_purchase_by_the_lines_it_changed(live, woo, sessions, backend):
    server, settings = live
    _installed(server, woo, sessions)
    woo.place_order(SITE, samples.tax_inclusive_order() | {"refunds": []})
    _work(settings, sessions)
    [purchase] = _of(backend, "purchase")
    woo.edit_order(SITE, 5301, {8002: {"quantity": 1}})  # one tote taken off the order: 27.00 → 13.50
    _work(settings, sessions)
    [adjustment] = _of(backend, "adjustment")
    assert adjustment["amount"] == "-13.50" and adjustment["reverses"] == purchase["conversion_id"]
    assert [(item["line_id"], item["amount"]) for item in adjustment["items"]] == [("8002", "-13.50")]


def test_a_renewal_is_credited_to_the_influencer_of_the_order_that_started_its_subscription(
        live, woo, sessions, backend):
    server, settings = live
    _installed(server, woo, sessions)
    woo.place_order(SITE, samples.tax_inclusive_order() | {"refunds": []})
    _work(settings, sessions)
    [first] = _of(backend, "purchase")
    subscription = woo.add_subscription(SITE, 5301)
    renewal = woo.renew_subscription(SITE, subscription["id"])
    _work(settings, sessions)
    _, renewed = _of(backend, "purchase")
    assert (renewed["order_id"], renewed["tracking_id"]) == (str(renewal["id"]), "bea")
    assert (renewed["renewal_of"], renewed["method"], first["method"]) == ("5301", "renewal", "promo_code")
    assert renewed["amount"] == "80.00"  # the lines' full price: the one-off coupon does not recur
