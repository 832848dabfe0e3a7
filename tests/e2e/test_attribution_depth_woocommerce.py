"""Attribution depth on WooCommerce, through the whole connector over real HTTP: the stand-in store's signed
webhooks → the app's edge → the real worker → conversions verified at the stand-in backend.

Returning customers inside and outside `lifetime_days`; renewals of a credited start, of an uncredited one and
with `renewals = ignore`; an edit up; an edit down, then a refund, then a cancellation, whose conversions add up
to what the order earned and never below zero. (tests/adapters/test_woocommerce_journeys.py has the exact line
refund, the amount refunded alone and the credited renewal.)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import requests
from sqlalchemy import select

from connector.campaigns import directory
from connector.db import transaction
from connector.models import AttributionRecord, Order, Store
from connector.worker import Worker
from standins.woocommerce import samples


SITE = "depth-woo"
FIRST = 5301


@pytest.fixture
def shop(live, woo, sessions, backend):
    """An installed store with influencer bea (code BEA10), and a way to run the worker until all is done."""
    server, settings = live
    page = requests.get(f"{server.url}/woocommerce/install", params={"store_url": woo.site_url(SITE) + "/"}, timeout=20)
    assert page.status_code == 200, page.text
    with transaction(sessions) as session:
        store = session.scalars(select(Store).where(Store.platform == "woocommerce")).one()
        directory.add_influencer(session, store, "bea", code="BEA10", campaign_id="autumn-26")

    def work() -> None:
        worker = Worker(settings, sessions, worker_id="depth-woo")
        while worker.handle_events() + worker.deliver_due():
            pass
    return work


def _set(sessions, **fields) -> None:
    with transaction(sessions) as session:
        store = session.scalars(select(Store).where(Store.platform == "woocommerce")).one()
        for name, value in fields.items():
            setattr(store, name, value)


def _of(backend, kind: str) -> list[dict]:
    return [r.body["data"] for r in backend.delivered() if r.body["type"] == f"conversion.{kind}"]


def _record(sessions, order_id: int) -> AttributionRecord:
    with sessions() as session:
        order = session.scalars(select(Order).where(Order.platform_order_id == str(order_id))).one()
        return session.get(AttributionRecord, order.id)


def _gmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _bare(order: dict) -> dict:
    """The order with no signal of its own: no coupon, no landing page in WooCommerce's order attribution."""
    return order | {"coupon_lines": [], "meta_data": [m for m in order.get("meta_data", [])
                                                    if not m["key"].startswith("_wc_order_attribution_")]}


def _later_order(order_id: int, days: int) -> dict:
    """The first order's customer again, `days` later, with no signal of its own."""
    order = samples.tax_inclusive_order() | {"refunds": []}
    placed = datetime.fromisoformat(order["date_created_gmt"]) + timedelta(days=days)
    order |= {"id": order_id, "number": str(order_id), "order_key": f"wc_order_{order_id:013d}",
              "date_created_gmt": _gmt(placed), "date_modified_gmt": _gmt(placed),
              # its own self link, as WooCommerce writes it (the edge checks that the link names the order)
              "_links": {name: [{"href": link["href"].replace(f"/orders/{FIRST}", f"/orders/{order_id}")}
                                for link in links] for name, links in order.get("_links", {}).items()}}
    return _bare(order)


def _signed_sum(backend) -> Decimal:
    signs = {"purchase": 1, "adjustment": 1, "refund": -1, "cancellation": -1}
    return sum((signs[r.body["type"].split(".")[1]] * Decimal(r.body["data"]["amount"]) for r in backend.delivered()),
               Decimal(0))


def test_a_returning_customer_inside_the_lifetime_is_credited_to_their_first_orders_influencer(
        shop, woo, sessions, backend):
    _set(sessions, lifetime_days=30)
    woo.place_order(SITE, samples.tax_inclusive_order() | {"refunds": []})
    woo.place_order(SITE, _later_order(5302, days=10))
    shop()
    first, again = sorted(_of(backend, "purchase"), key=lambda d: d["order_id"])
    assert (first["method"], again["method"], again["tracking_id"]) == ("promo_code", "customer", "bea")
    assert again["credits"] == [{"tracking_id": "bea", "share": "1"}]
    # Seen before by the connector: WooCommerce says nothing, the first order is proof enough.
    assert (first["customer"]["first_order"], again["customer"]["first_order"]) == (None, False)
    details = _record(sessions, 5302).details
    assert details["customer"] == {"lifetime_days": 30, "first_credited_order": f"#{FIRST}",
                                   "first_credited_order_id": str(FIRST), "found_by": "customer_id"}
    assert details["first_order"]["source"].startswith("connector:")
    assert all(r.verified for r in backend.delivered())


def test_outside_the_lifetime_the_returning_customer_is_not_credited_and_the_record_says_why(
        shop, woo, sessions, backend):
    _set(sessions, lifetime_days=30)
    woo.place_order(SITE, samples.tax_inclusive_order() | {"refunds": []})
    woo.place_order(SITE, _later_order(5303, days=40))
    shop()
    assert [p["order_id"] for p in _of(backend, "purchase")] == [str(FIRST)]
    record = _record(sessions, 5303)
    assert record.method is None and record.outcome == "no_eligible_signal"
    [signal] = record.signals
    assert (signal["kind"], signal["status"]) == ("customer", "out_of_window")
    assert "older than the 30-day customer lifetime" in signal["reason"]


def test_with_lifetime_off_a_returning_customer_without_a_signal_is_not_credited(shop, woo, sessions, backend):
    woo.place_order(SITE, samples.tax_inclusive_order() | {"refunds": []})
    woo.place_order(SITE, _later_order(5302, days=1))
    shop()
    assert [p["order_id"] for p in _of(backend, "purchase")] == [str(FIRST)]
    assert _record(sessions, 5302).outcome == "no_signal"


def test_a_renewal_of_an_uncredited_start_is_not_credited_and_says_so(shop, woo, sessions, backend):
    woo.place_order(SITE, _bare(samples.tax_inclusive_order() | {"refunds": []}))
    subscription = woo.add_subscription(SITE, FIRST)
    renewal = woo.renew_subscription(SITE, subscription["id"])
    shop()
    assert _of(backend, "purchase") == []
    record = _record(sessions, renewal["id"])
    assert record.method is None
    assert record.details["renewal"]["missing"] == f"the order that started it, #{FIRST}, was not credited"
    assert record.details["renewal"]["marker"] == "meta _subscription_renewal"


def test_a_store_that_ignores_renewals_credits_the_first_order_only(shop, woo, sessions, backend):
    _set(sessions, renewals="ignore")
    woo.place_order(SITE, samples.tax_inclusive_order() | {"refunds": []})
    subscription = woo.add_subscription(SITE, FIRST, keep_coupons=True)  # the code rides on every renewal
    renewal = woo.renew_subscription(SITE, subscription["id"])
    shop()
    assert [p["order_id"] for p in _of(backend, "purchase")] == [str(FIRST)]
    record = _record(sessions, renewal["id"])
    assert record.method is None and record.details["renewal"]["policy"] == "ignore"
    assert all("renewals = ignore" in s["reason"] for s in record.signals)


def test_an_edit_up_adds_the_difference_with_the_line_it_changed(shop, woo, sessions, backend):
    woo.place_order(SITE, samples.tax_inclusive_order() | {"refunds": []})
    shop()
    woo.edit_order(SITE, FIRST, {8002: {"quantity": 3}})  # a third tote: 27.00 → 40.50
    shop()
    [purchase] = _of(backend, "purchase")
    [adjustment] = _of(backend, "adjustment")
    assert (adjustment["amount"], adjustment["reverses"]) == ("13.50", purchase["conversion_id"])
    assert [(i["line_id"], i["quantity"], i["amount"]) for i in adjustment["items"]] == [("8002", 1, "13.50")]
    [noted] = _record(sessions, FIRST).details["adjustments"]
    assert (noted["from"], noted["to"], noted["amount"]) == ("72.00", "85.50", "13.50")
    # The same state delivered again adjusts nothing more.
    woo.update_order(SITE, FIRST, {})
    shop()
    assert len(_of(backend, "adjustment")) == 1


def test_an_edit_down_then_a_refund_then_a_cancellation_add_up_to_nothing_and_never_go_below(
        shop, woo, sessions, backend):
    woo.place_order(SITE, samples.tax_inclusive_order() | {"refunds": []})
    shop()
    held = []
    woo.edit_order(SITE, FIRST, {8002: {"quantity": 1}})  # 72.00 → 58.50
    shop()
    held.append(_signed_sum(backend))
    woo.refund(SITE, FIRST, {8001: 1})  # the scarf: 45.00
    shop()
    held.append(_signed_sum(backend))
    woo.update_order(SITE, FIRST, {"status": "cancelled"})
    shop()
    held.append(_signed_sum(backend))
    assert held == [Decimal("58.50"), Decimal("13.50"), Decimal("0.00")]
    [cancellation] = _of(backend, "cancellation")
    assert cancellation["amount"] == "13.50"
    assert sum(Decimal(i["amount"]) for i in cancellation["items"]) == Decimal("13.50")
    for data in (d for kind in ("purchase", "adjustment", "refund", "cancellation") for d in _of(backend, kind)):
        assert sum(Decimal(i["amount"]) for i in data["items"]) == Decimal(data["amount"])
    assert all(r.verified for r in backend.delivered())
