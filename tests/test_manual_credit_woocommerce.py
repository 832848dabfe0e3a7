"""A WooCommerce order credited by hand through the API after it was refunded: the refund is reversed exactly.

WooCommerce's order JSON lists a refund with its gross total only; the worker reads the order's refunds from the
store (the adapter's `enrich`) before reversing one. A credit by hand of an order whose last event lists refunds
queues that event again, so the worker reverses them exactly as for any purchase, never an estimate. Over real
HTTP: the stand-in store's signed webhooks → the app's edge → the worker → conversions at the stand-in backend.
"""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from connector import create_app
from connector.campaigns import directory
from connector.db import transaction
from connector.models import Store
from connector.worker import Worker
from standins.live_server import LiveServer
from standins.woocommerce import samples

from .conftest import BACKEND_SECRET
from .test_api import AUTH, TOKEN

SITE = "manual-woo"
ORDER = 5301  # the tax-inclusive sample: lines 8001 (45.00) and 8002 (2 totes, 27.00), tax out


@pytest.fixture
def live(settings, engine, backend):
    server = LiveServer()
    live_settings = settings.with_overrides(public_url=server.url, woocommerce_allow_private=True, api_token=TOKEN,
                                            tracking_backend_url=backend.url, tracking_backend_secret=BACKEND_SECRET)
    server.start(create_app(live_settings, engine=engine))
    yield server, live_settings
    server.stop()


def _work(settings, sessions) -> None:
    worker = Worker(settings, sessions, worker_id="manual-woo")
    while worker.handle_events() + worker.deliver_due():
        pass


def _of(backend, kind: str) -> list[dict]:
    return [r.body["data"] for r in backend.delivered() if r.body["type"] == f"conversion.{kind}"]


def test_a_refunded_woocommerce_order_credited_by_hand_has_its_refund_reversed_exactly(live, woo, sessions, backend):
    server, settings = live
    page = requests.get(f"{server.url}/woocommerce/install", params={"store_url": woo.site_url(SITE) + "/"}, timeout=20)
    assert page.status_code == 200, page.text
    with transaction(sessions) as session:
        store = session.scalars(select(Store).where(Store.platform == "woocommerce")).one()
        directory.add_influencer(session, store, "bea", code="BEA10", campaign_id="autumn-26")
        store_id = store.id
    order = samples.tax_inclusive_order() | {"refunds": [], "coupon_lines": []}
    order["meta_data"] = [m for m in order.get("meta_data", []) if not m["key"].startswith("_wc_order_attribution_")]
    woo.place_order(SITE, order)
    _work(settings, sessions)
    woo.refund(SITE, ORDER, {8002: 1})  # one tote back: its order.updated lists the refund's gross total only
    _work(settings, sessions)
    assert backend.delivered() == []  # never credited: the refund reversed nothing

    answer = requests.put(f"{server.url}/api/v1/stores/{store_id}/orders/{ORDER}/credit", headers=AUTH, timeout=10,
                          json={"credits": [{"tracking_id": "bea"}], "note": "the shopper named bea at the till"})
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert (made["amount"], made["currency"], made["reversals"], made["refunds_queued"]) == ("72.00", "GBP", [], True)
    _work(settings, sessions)

    [purchase] = _of(backend, "purchase")
    [refund] = _of(backend, "refund")
    assert (purchase["method"], purchase["platform"], purchase["conversion_id"]) == (
        "manual", "woocommerce", made["conversion_id"])
    # the tote without its tax, as the store's refund says: the order JSON alone would have estimated 12.62
    assert (refund["amount"], refund["reverses"], refund["method"]) == ("13.50", made["conversion_id"], "manual")
    assert [(item["line_id"], item["amount"]) for item in refund["items"]] == [("8002", "13.50")]
    assert all(r.verified for r in backend.delivered())

    woo.refund(SITE, ORDER, {8001: 1})  # a refund after the credit: the order.updated that lists both
    _work(settings, sessions)
    assert [r["amount"] for r in _of(backend, "refund")] == ["13.50", "45.00"]
