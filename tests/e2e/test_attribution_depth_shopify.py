"""Attribution depth on Shopify, through the whole connector over real HTTP: an OAuth install at the stand-in Shopify,
its signed webhooks → the app's edge → the real worker (which asks the adapter's enrich for the order's visits) →
conversions verified at the stand-in backend.

Returning customers inside and outside `lifetime_days` and after their data is erased; Shopify's visits under each
model; renewals (Recharge's tags) of a credited start, of an uncredited one and with `renewals = ignore`; an edit up,
an edit down, then a refund, then a cancellation; a refund on a tax-inclusive shop with the tax taken out.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlencode

import pytest
import requests
from sqlalchemy import select

from adapters.shopify.app_config import app_toml
from connector import create_app
from connector.campaigns import directory
from connector.db import transaction
from connector.models import AttributionRecord, Order, Store
from connector.worker import Worker
from standins.live_server import LiveServer
from standins.shopify import journeys, samples
from standins.shopify.store import StandinShopify, query_hmac

from ..conftest import BACKEND_SECRET, SHOPIFY_SECRET

API_KEY = "depth-api-key"
SHOP = "depth-boutique.myshopify.com"
START = datetime(2026, 11, 22, 14, 2, 59, tzinfo=timezone.utc)


@pytest.fixture
def shopify():
    with StandinShopify(API_KEY, SHOPIFY_SECRET) as standin:
        yield standin


@pytest.fixture
def shop(settings, engine, sessions, shopify, backend):
    """The app live, installed by OAuth in the stand-in shop, with influencers alice (ALICE15), bob and carol;
    returns a function that runs the worker until nothing is left to do."""
    server = LiveServer()
    live = settings.with_overrides(public_url=server.url, shopify_api_key=API_KEY,
                                   shopify_admin_url=shopify.admin_url, tracking_backend_url=backend.url,
                                   tracking_backend_secret=BACKEND_SECRET)
    server.start(create_app(live, engine=engine))
    shopify.deploy_app_config(app_toml(live))
    params = {"shop": SHOP, "timestamp": str(int(time.time()))}
    requests.get(f"{server.url}/shopify/install?{urlencode({**params, 'hmac': query_hmac(params, SHOPIFY_SECRET)})}",
                 timeout=10)
    while _store(sessions).setup_pending and Worker(live, sessions, worker_id="depth-setup").maintain():
        pass
    with transaction(sessions) as session:
        store = session.scalars(select(Store).where(Store.domain == SHOP)).one()
        directory.add_influencer(session, store, "alice", code="ALICE15", campaign_id="spring-26")
        directory.add_influencer(session, store, "bob", campaign_id="spring-26")
        directory.add_influencer(session, store, "carol", campaign_id="spring-26")

    def work() -> None:
        worker = Worker(live, sessions, worker_id="depth")
        while worker.handle_events() + worker.deliver_due():
            pass
    work.webhooks = f"{server.url}/webhooks/shopify"  # where the app's own (TOML) topics are sent
    work.settings = live
    yield work
    server.stop()


def _store(sessions) -> Store:
    with sessions() as session:
        return session.scalars(select(Store).where(Store.domain == SHOP)).one()


def _set(sessions, **fields) -> None:
    with transaction(sessions) as session:
        store = session.scalars(select(Store).where(Store.domain == SHOP)).one()
        for name, value in fields.items():
            setattr(store, name, value)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _order(order_id: int, *, days: float = 0, codes: tuple[str, ...] = (), tags: str = "",
           customer_id: int = 7064055069302) -> dict:
    """The template order as `order_id`, `days` after the first, with only the codes given: no _ref, no landing."""
    body = samples.order(shop=SHOP, order_id=order_id, name=f"#{order_id % 10000}", codes=codes,
                         customer_id=customer_id)
    placed = _iso(START + timedelta(days=days))
    body.update(created_at=placed, processed_at=placed, updated_at=placed, tags=tags, note_attributes=[],
                landing_site=None, landing_site_ref=None)
    if not codes:
        body.update(discount_codes=[], discount_applications=[])
    return body


def _of(backend, kind: str) -> list[dict]:
    found = [r.body["data"] for r in backend.delivered() if r.body["type"] == f"conversion.{kind}"]
    return sorted(found, key=lambda data: data["order_id"])


def _record(sessions, order_id: int) -> AttributionRecord:
    with sessions() as session:
        order = session.scalars(select(Order).where(Order.platform_order_id == str(order_id))).one()
        return session.get(AttributionRecord, order.id)


def _signed_sum(backend) -> Decimal:
    signs = {"purchase": 1, "adjustment": 1, "refund": -1, "cancellation": -1}
    return sum((signs[r.body["type"].split(".")[1]] * Decimal(r.body["data"]["amount"]) for r in backend.delivered()),
               Decimal(0))


# -- returning customers ---------------------------------------------------------------------------------------

def test_a_returning_customer_is_credited_inside_the_lifetime_and_not_outside_it(shop, shopify, sessions, backend):
    _set(sessions, lifetime_days=30)
    shopify.place_order(SHOP, _order(1001, codes=("ALICE15",)))
    shopify.place_order(SHOP, _order(1002, days=12))
    shopify.place_order(SHOP, _order(1003, days=31))
    shop()
    purchases = _of(backend, "purchase")
    assert [(p["order_id"], p["method"], p["tracking_id"]) for p in purchases] == [
        ("1001", "promo_code", "alice"), ("1002", "customer", "alice")]
    assert purchases[1]["customer"]["first_order"] is False
    [signal] = _record(sessions, 1003).signals
    assert (signal["kind"], signal["status"]) == ("customer", "out_of_window")
    assert all(r.verified for r in backend.delivered())


def test_a_customer_whose_data_was_erased_is_new_again(shop, shopify, sessions, backend):
    _set(sessions, lifetime_days=30)
    shopify.place_order(SHOP, _order(1001, codes=("ALICE15",)))
    shop()
    shopify.send_webhook(SHOP, "customers/redact", {
        "shop_id": samples.shop_number(SHOP), "shop_domain": SHOP, "customer": {
            "id": 7064055069302, "email": "jon@example.com", "phone": None}, "orders_to_redact": [1001]},
        uri=shop.webhooks)
    shop()
    shopify.place_order(SHOP, _order(1002, days=3))
    shop()
    assert [p["order_id"] for p in _of(backend, "purchase")] == ["1001"]
    assert _record(sessions, 1002).outcome == "no_signal"


# -- Shopify's visits ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("model, expected", [
    ("first_click", [("alice", "1")]),
    ("last_click", [("bob", "1")]),
    ("linear", [("alice", "0.5"), ("bob", "0.5")]),
    ("time_decay", [("alice", "0.2"), ("bob", "0.8")]),  # 14 days apart at a 7-day half-life
])
def test_the_orders_visits_are_landing_signals_with_their_own_times_under_each_model(
        shop, shopify, sessions, backend, model, expected):
    _set(sessions, attribution_model=model, half_life_days=7)
    order = _order(2001) | {"landing_site": "/?ref=bob", "landing_site_ref": "bob"}
    shopify.set_journey(SHOP, 2001, journeys.summary(
        first=journeys.visit(_iso(START - timedelta(days=14)), "https://depth-boutique.com/?ref=alice",
                             referral_code="alice", source="instagram", utm={"source": "instagram"}),
        last=journeys.visit(_iso(START), "https://depth-boutique.com/?ref=bob", referral_code="bob")))
    shopify.place_order(SHOP, order)
    shop()
    [purchase] = _of(backend, "purchase")
    assert purchase["method"] == "landing_page"
    assert [(c["tracking_id"], c["share"]) for c in purchase["credits"]] == expected
    details = _record(sessions, 2001).details
    assert [v["ref"] for v in details["journey"]["visits"]] == ["alice", "bob"]
    assert details["journey"]["visits"][0]["utm"] == {"source": "instagram"}


def test_an_order_with_a_code_needs_no_visits_and_none_are_read(shop, shopify, sessions, backend):
    shopify.set_journey(SHOP, 2002, journeys.summary(
        first=journeys.visit(_iso(START - timedelta(days=3)), "https://depth-boutique.com/?ref=bob",
                             referral_code="bob")))
    shopify.place_order(SHOP, _order(2002, codes=("ALICE15",)))
    shop()
    [purchase] = _of(backend, "purchase")
    assert purchase["tracking_id"] == "alice" and "journey" not in (_record(sessions, 2002).details or {})


# -- renewals --------------------------------------------------------------------------------------------------

def test_a_recharge_renewal_of_a_credited_start_goes_to_its_influencer(shop, shopify, sessions, backend):
    shopify.place_order(SHOP, _order(3001, codes=("ALICE15",), tags="Subscription, Subscription First Order"))
    shop()
    shopify.place_order(SHOP, _order(3002, days=30, codes=("ALICE15",), tags="Subscription, Subscription Recurring Order"))
    shop()
    first, renewal = _of(backend, "purchase")
    assert (renewal["method"], renewal["renewal_of"], renewal["tracking_id"]) == ("renewal", "3001", "alice")
    assert first["renewal_of"] is None
    details = _record(sessions, 3002).details["renewal"]
    # Found at Shopify among the customer's orders (the first one's tag says it started a subscription).
    assert (details["marker"], details["found_by"]) == ("tag Subscription Recurring Order", "customer_orders")


def test_a_renewal_of_an_uncredited_start_or_in_a_store_ignoring_renewals_is_not_credited(
        shop, shopify, sessions, backend):
    shopify.place_order(SHOP, _order(3001, tags="Subscription First Order"))  # no signal: not credited
    shopify.place_order(SHOP, _order(3002, days=30, codes=("ALICE15",), tags="Subscription Recurring Order"))
    shop()
    assert _of(backend, "purchase") == []
    assert "was not credited" in _record(sessions, 3002).details["renewal"]["missing"]
    _set(sessions, renewals="ignore")
    shopify.place_order(SHOP, _order(3011, codes=("ALICE15",), tags="Subscription First Order"))
    shopify.place_order(SHOP, _order(3012, days=30, codes=("ALICE15",), tags="Subscription Recurring Order"))
    shop()
    assert [p["order_id"] for p in _of(backend, "purchase")] == ["3011"]
    assert all("renewals = ignore" in s["reason"] for s in _record(sessions, 3012).signals)


# -- edits and refunds -----------------------------------------------------------------------------------------

def test_an_edit_up_sends_the_added_line_as_an_adjustment(shop, shopify, sessions, backend):
    shopify.place_order(SHOP, _order(4001, codes=("ALICE15",)))
    shop()
    shopify.edit_order(SHOP, 4001, add=(samples.line_item(15873421300000, "Beanie", "20.00"),))
    shop()
    [purchase] = _of(backend, "purchase")
    [adjustment] = _of(backend, "adjustment")
    assert adjustment["reverses"] == purchase["conversion_id"] and adjustment["amount"] == "20.00"
    assert [(i["title"], i["amount"]) for i in adjustment["items"]] == [("Beanie", "20.00")]


def test_an_edit_down_then_a_refund_then_a_cancellation_add_up_to_nothing_never_below(shop, shopify, sessions,
                                                                                      backend):
    shopify.place_order(SHOP, _order(4002, codes=("ALICE15",)))
    shop()
    [purchase] = _of(backend, "purchase")
    scarf, socks = purchase["items"]
    steps = []
    shopify.edit_order(SHOP, 4002, quantities={int(socks["line_id"]): 1})  # one pair of socks off
    shop()
    steps.append(_signed_sum(backend))
    refund = samples.refund(refund_id=77001, order_id=4002)
    shopify.send_webhook(SHOP, "refunds/create", refund)
    shop()
    steps.append(_signed_sum(backend))
    cancelled = shopify._stored(SHOP, 4002) | {"cancelled_at": _iso(START + timedelta(days=2))}
    shopify.send_webhook(SHOP, "orders/cancelled", cancelled)
    shop()
    steps.append(_signed_sum(backend))
    assert steps[0] == Decimal(purchase["amount"]) - Decimal(socks["amount"]) / 2
    assert Decimal(0) <= steps[1] <= steps[0] and steps[2] == Decimal(0)
    for data in (d for kind in ("purchase", "adjustment", "refund", "cancellation") for d in _of(backend, kind)):
        assert sum(Decimal(i["amount"]) for i in data["items"]) == Decimal(data["amount"]), data["type"]


def test_a_refund_on_a_tax_inclusive_shop_takes_the_tax_out_as_the_purchase_did(shop, shopify, sessions, backend):
    with transaction(sessions) as session:
        directory.add_influencer(session, session.scalars(select(Store)).one(), "maya", code="MAYA10")
    shopify.place_order(SHOP, samples.order_vat(shop=SHOP))
    shop()
    [purchase] = _of(backend, "purchase")
    assert purchase["amount"] == "63.00"  # 45.00 + 2 × 9.00: the prices' 20% VAT out
    shopify.send_webhook(SHOP, "refunds/create", samples.refund_vat())
    shop()
    [refund] = _of(backend, "refund")
    assert refund["amount"] == "9.00"  # the pair of socks' 10.80 less its 1.80 VAT
    assert [(i["quantity"], i["amount"]) for i in refund["items"]] == [(1, "9.00")]


def test_an_order_whose_visits_are_not_built_yet_waits_for_them_and_then_uses_them(shop, shopify, sessions, backend):
    _set(sessions, attribution_model="first_click")
    shopify.set_journey(SHOP, 2003, journeys.summary(ready=False))
    shopify.place_order(SHOP, _order(2003) | {"landing_site": "/?ref=bob"})
    shop()
    assert _of(backend, "purchase") == [] and _record(sessions, 2003).outcome == "awaiting_visits"
    # Shopify has built the sessions by the time the worker looks again, 30 s on.
    shopify.set_journey(SHOP, 2003, journeys.summary(
        first=journeys.visit(_iso(START - timedelta(days=5)), "https://depth-boutique.com/?ref=carol",
                             referral_code="carol"),
        last=journeys.visit(_iso(START), "https://depth-boutique.com/?ref=bob", referral_code="bob")))
    later = datetime.now(timezone.utc) + timedelta(seconds=31)
    worker = Worker(shop.settings, sessions, worker_id="depth-later", clock=lambda: later)
    while worker.handle_events() + worker.deliver_due():
        pass
    [purchase] = _of(backend, "purchase")
    assert (purchase["tracking_id"], purchase["method"]) == ("carol", "landing_page")
