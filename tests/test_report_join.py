"""Browser reports joined with their orders by the real worker: whichever comes first, an order is credited
by the reported click only when the report shows the order's checkout token (Shopify) or order key
(WooCommerce), once, and an order without a promo code waits the grace period for its report.

Reports go through POST /storefront/events and orders through signed webhooks, into the real database.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from standins.shopify import samples
from standins.woocommerce import samples as woo_samples
from connector.campaigns import directory
from connector.db import transaction
from connector.models import AttributionRecord, Event, Order, StorefrontReport
from connector.worker import Worker

from .helpers import bodies, conversions, drain, events, post_shopify
from .test_storefront_events import post_report

ORDER = 820982911946154508
TOKEN = "4e1d7c9b2a6f83e0d5b4c1a7f9e2d306"
GRACE = 600


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def order(*, at: datetime, order_id: int = ORDER, token: str | None = TOKEN, **fields) -> dict:
    """The sample Shopify order placed at `at`, with its checkout token and only the signals asked for."""
    body = samples.order(order_id=order_id, **{**dict(codes=(), cart_ref="", landing_site="/", landing_site_ref=""),
                                                **fields})
    body["created_at"] = body["processed_at"] = at.isoformat()
    if token is None:
        body.pop("checkout_token", None)
    else:
        body["checkout_token"] = token
    return body


def purchase_report(*touches: tuple, order_id=f"gid://shopify/OrderIdentity/{ORDER}", proof: str = TOKEN,
                    store: str = "test-shop.myshopify.com") -> dict:
    """What the web pixel sends at checkout_completed; touches are (ref, click_id, at)."""
    return {"v": 1, "store": store, "kind": "purchase", "order_id": order_id, "proof": proof,
            "touches": [{"ref": ref, "click_id": click_id, "at": _iso(at)} for ref, click_id, at in touches]}


def send(client, body: dict, **kwargs) -> None:
    answer = post_report(client, body, **kwargs)
    assert answer.status_code == 202, answer.json


def click(client, tracking_id: str) -> str:
    """A real click on the tracking link; its click id."""
    answer = client.get(f"/t/{tracking_id}?to=/products/wool-scarf")
    assert answer.status_code == 302
    return parse_qs(urlsplit(answer.headers["Location"]).query)["click_id"][0]


def stored_reports(sessions) -> list[StorefrontReport]:
    with sessions() as session:
        return list(session.scalars(select(StorefrontReport).order_by(StorefrontReport.id)))


def record(sessions, order_id: int = ORDER) -> AttributionRecord | None:
    with sessions() as session:
        row = session.scalars(select(Order).where(Order.platform_order_id == str(order_id))).one()
        return session.get(AttributionRecord, row.id)


def the_order(sessions, order_id: int = ORDER) -> Order:
    with sessions() as session:
        return session.scalars(select(Order).where(Order.platform_order_id == str(order_id))).one()


def at_later(settings, sessions, seconds: float) -> Worker:
    """A worker whose clock is `seconds` ahead: what it sees once a grace period has run out."""
    later = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    return drain(settings, sessions, clock=lambda: later)


@pytest.fixture
def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def grace_settings(settings):
    return settings.with_overrides(report_grace_seconds=GRACE)


def test_report_first_then_the_order_is_credited_by_click_to_the_reported_influencer(client, settings, sessions, store):
    click_id = click(client, "bob")
    placed = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)  # after the click
    send(client, purchase_report(("bob", click_id, placed - timedelta(minutes=5))))
    drain(settings, sessions)
    [kept] = stored_reports(sessions)
    assert (kept.status, kept.platform_order_id) == ("waiting", str(ORDER))
    assert conversions(sessions) == []

    post_shopify(client, "orders/paid", order(at=placed))
    drain(settings, sessions)
    [body] = bodies(sessions)
    data = body["data"]
    assert (body["type"], data["method"], data["tracking_id"], data["campaign_id"]) == (
        "conversion.purchase", "click", "bob", "spring-26")
    assert data["click_id"] == click_id and data["promo_code"] is None
    assert data["credits"] == [{"tracking_id": "bob", "share": "1"}]
    assert [r.status for r in stored_reports(sessions)] == ["joined"]
    assert {e.status for e in events(sessions)} == {"handled"}
    # the touch's time is the connector's own record of the click, not what the browser said
    [signal] = record(sessions).signals
    assert signal["click_id"] == click_id and signal["status"] == "won"


def test_order_first_then_the_report_credits_it_by_click_exactly_once(client, settings, sessions, store, now):
    post_shopify(client, "orders/paid", order(at=now - timedelta(minutes=1)))
    drain(settings, sessions)  # grace 0: decided without the report, and nothing to credit it with
    assert conversions(sessions) == [] and record(sessions).outcome == "no_signal"

    report = purchase_report(("bob", None, now - timedelta(hours=2)))
    send(client, report)
    drain(settings, sessions)
    [body] = bodies(sessions)
    assert (body["data"]["method"], body["data"]["tracking_id"]) == ("click", "bob")
    assert record(sessions).outcome == "credit" and record(sessions).method == "click"

    # the same report again is one stored event; another report for the order credits nothing more
    with sessions() as session:
        before = session.scalar(select(func.count()).select_from(Event))
    assert post_report(client, report).status_code == 202
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == before
    send(client, purchase_report(("carol", None, now - timedelta(hours=1))))
    drain(settings, sessions)
    assert [c.tracking_id for c in conversions(sessions)] == ["bob"]
    assert [r.status for r in stored_reports(sessions)] == ["joined", "joined"]
    assert {e.status for e in events(sessions)} == {"handled"}


def test_a_report_joined_before_payment_counts_when_the_order_is_paid(client, settings, sessions, store, now):
    post_shopify(client, "orders/create", order(at=now - timedelta(minutes=1), financial_status="pending"))
    send(client, purchase_report(("bob", None, now - timedelta(hours=2))))
    drain(settings, sessions)
    assert conversions(sessions) == []  # not paid yet
    assert [r.status for r in stored_reports(sessions)] == ["joined"]
    post_shopify(client, "orders/paid", order(at=now - timedelta(minutes=1)))
    drain(settings, sessions)
    assert [(c.tracking_id, json.loads(c.body)["data"]["method"]) for c in conversions(sessions)] == [("bob", "click")]


def test_an_order_credited_by_its_landing_page_is_not_credited_again_by_a_report(client, settings, sessions, store,
                                                                                 now):
    post_shopify(client, "orders/paid", order(at=now - timedelta(minutes=1), landing_site="/?ref=alice"))
    drain(settings, sessions)
    send(client, purchase_report(("bob", None, now - timedelta(hours=2))))
    drain(settings, sessions)
    [conversion] = conversions(sessions)
    assert conversion.tracking_id == "alice" and json.loads(conversion.body)["data"]["method"] == "landing_page"


def test_with_a_grace_period_the_order_waits_and_a_report_within_it_credits_by_click(
        client, grace_settings, sessions, store, now):
    post_shopify(client, "orders/paid", order(at=now - timedelta(minutes=1)))
    drain(grace_settings, sessions)
    assert conversions(sessions) == []
    [waiting] = events(sessions)
    assert waiting.status == "pending" and waiting.claimed_by is None
    assert waiting.lease_until >= now + timedelta(seconds=GRACE - 5)  # not taken up again before the grace ends
    assert the_order(sessions).awaiting_report_until is not None
    assert record(sessions).outcome == "awaiting_report"

    send(client, purchase_report(("bob", None, now - timedelta(hours=2))))
    drain(grace_settings, sessions)
    [body] = bodies(sessions)
    assert (body["data"]["method"], body["data"]["tracking_id"]) == ("click", "bob")
    assert the_order(sessions).awaiting_report_until is None

    # when the grace ends the waiting order event is handled: nothing more to credit
    at_later(grace_settings, sessions, GRACE + 60)
    assert len(conversions(sessions)) == 1
    assert {e.status for e in events(sessions)} == {"handled"}


def test_with_a_grace_period_an_order_without_a_report_is_decided_when_it_ends(
        client, grace_settings, sessions, store, now):
    # A landing-page ref alone waits too: a reported click would take precedence over it.
    post_shopify(client, "orders/paid", order(at=now - timedelta(minutes=1), landing_site="/?ref=alice"))
    drain(grace_settings, sessions)
    assert conversions(sessions) == [] and [e.status for e in events(sessions)] == ["pending"]
    at_later(grace_settings, sessions, GRACE / 2)
    assert conversions(sessions) == []  # still within it
    at_later(grace_settings, sessions, GRACE + 60)
    [body] = bodies(sessions)
    assert (body["data"]["method"], body["data"]["tracking_id"]) == ("landing_page", "alice")
    assert [e.status for e in events(sessions)] == ["handled"]


def test_a_promo_code_order_is_credited_at_once_even_with_a_grace_period(client, grace_settings, sessions, store, now):
    post_shopify(client, "orders/paid", order(at=now - timedelta(minutes=1), codes=("alice15",)))
    drain(grace_settings, sessions)
    [body] = bodies(sessions)
    assert (body["data"]["method"], body["data"]["tracking_id"]) == ("promo_code", "alice")
    assert [e.status for e in events(sessions)] == ["handled"]


@pytest.mark.parametrize("report_first", [True, False], ids=["report-first", "order-first"])
def test_a_report_with_the_wrong_checkout_token_is_rejected(client, settings, sessions, store, now, report_first):
    wrong = purchase_report(("bob", None, now - timedelta(hours=2)), proof="0" * 32)
    if report_first:
        send(client, wrong)
        drain(settings, sessions)
    post_shopify(client, "orders/paid", order(at=now - timedelta(minutes=1)))
    drain(settings, sessions)
    if not report_first:
        send(client, wrong)
        drain(settings, sessions)
    assert conversions(sessions) == []
    [rejected] = stored_reports(sessions)
    assert rejected.status == "rejected" and "does not match" in rejected.note
    assert record(sessions).signals == []  # its touches were never looked at

    # the shopper's own report still credits the order
    send(client, purchase_report(("carol", None, now - timedelta(hours=1))))
    drain(settings, sessions)
    assert [c.tracking_id for c in conversions(sessions)] == ["carol"]
    assert [r.status for r in stored_reports(sessions)] == ["rejected", "joined"]


def test_an_order_whose_delivery_carries_no_checkout_token_is_not_credited_by_a_report(
        client, settings, sessions, store, now):
    send(client, purchase_report(("bob", None, now - timedelta(hours=2))))
    post_shopify(client, "orders/paid", order(at=now - timedelta(minutes=1), token=None))
    drain(settings, sessions)
    assert conversions(sessions) == []
    assert [r.status for r in stored_reports(sessions)] == ["waiting"]  # nothing proven either way


def test_a_report_for_an_unknown_order_waits_and_credits_nothing(client, settings, sessions, store, now):
    send(client, purchase_report(("bob", None, now - timedelta(hours=2)), order_id="5550001"))
    drain(settings, sessions)
    post_shopify(client, "orders/paid", order(at=now - timedelta(minutes=1)))  # another order, same token
    drain(settings, sessions)
    assert conversions(sessions) == []
    [kept] = stored_reports(sessions)
    assert (kept.status, kept.platform_order_id) == ("waiting", "5550001")
    assert {e.status for e in events(sessions)} == {"handled"}


def test_the_attribution_record_lists_the_reports_touches_with_status_and_reason(
        client, settings, sessions, store, now):
    placed = now - timedelta(minutes=1)
    send(client, purchase_report(("carol", None, placed - timedelta(days=40)),
                                 ("bob", None, placed - timedelta(hours=2)),
                                 ("nobody", None, placed - timedelta(hours=1))))
    post_shopify(client, "orders/paid", order(at=placed))
    drain(settings, sessions)
    [conversion] = conversions(sessions)
    assert conversion.tracking_id == "bob"
    kept = record(sessions)
    assert (kept.method, kept.outcome, kept.credits) == ("click", "credit", [{"tracking_id": "bob", "share": "1"}])
    by_value = {s["value"]: s for s in kept.signals}
    assert set(by_value) == {"carol", "bob", "nobody"}
    assert all(s["kind"] == "click" and s["source"] == "storefront_report" and s["at"] for s in kept.signals)
    assert by_value["carol"]["status"] == "out_of_window" and "30-day" in by_value["carol"]["reason"]
    assert by_value["bob"]["status"] == "won" and by_value["bob"]["tracking_id"] == "bob"
    assert by_value["nobody"]["status"] == "ignored" and "no influencer" in by_value["nobody"]["reason"]
    assert by_value["nobody"]["tracking_id"] is None
    # oldest first, as the touches happened
    assert [s["value"] for s in kept.signals] == ["carol", "bob", "nobody"]


WOO_URL = "https://shop.example"
WOO_SECRET = "s3cretwebhooksecret"
ORDER_KEY = "wc_order_q7FzK2mWn4xLp"


@pytest.fixture
def woo_store(sessions, settings):
    with transaction(sessions) as session:
        shop = directory.add_store(session, settings.secret_key, "woocommerce", WOO_URL, access_token="ck_x:cs_y",
                                   webhook_secret=WOO_SECRET)
        directory.add_influencer(session, shop, "dana", campaign_id="wc-26")
    return shop


def _post_woo(client, body: dict, topic: str = "order.created"):
    data = woo_samples.encode(body)
    answer = client.post("/webhooks/woocommerce", data=data,
                         headers=woo_samples.headers(data, source=f"{WOO_URL}/", topic=topic, secret=WOO_SECRET))
    assert answer.status_code == 200 and answer.json["outcome"] == "stored", answer.json


@pytest.mark.parametrize("key, credited", [(ORDER_KEY, True), ("wc_order_someoneelse", False)])
def test_a_woocommerce_order_key_proves_the_report(client, settings, sessions, woo_store, now, key, credited):
    send(client, purchase_report(("dana", None, now - timedelta(hours=3)), order_id="5123", proof=key,
                                 store=WOO_URL), origin=WOO_URL)
    drain(settings, sessions)
    _post_woo(client, woo_samples.order(order_id=5123, codes=(), landing_url="", cart_ref="", order_key=ORDER_KEY,
                                        date_created_gmt=_iso(now - timedelta(minutes=1))[:-1]))
    drain(settings, sessions)
    if credited:
        [body] = bodies(sessions)
        assert (body["data"]["method"], body["data"]["tracking_id"], body["data"]["platform"]) == (
            "click", "dana", "woocommerce")
    else:
        assert conversions(sessions) == []
        assert [r.status for r in stored_reports(sessions)] == ["rejected"]


def test_a_store_that_ranks_clicks_above_codes_waits_for_the_report_even_on_a_code_order(
        client, grace_settings, sessions, store, now):
    with transaction(sessions) as session:
        directory.find_store(session, store.domain).precedence = "click,promo_code,landing_page"
    post_shopify(client, "orders/paid", order(at=now - timedelta(minutes=1), codes=("ALICE15",)))
    drain(grace_settings, sessions)
    assert conversions(sessions) == []  # a reported click would beat the code here: wait for it
    send(client, purchase_report(("bob", None, now - timedelta(hours=2))))
    drain(grace_settings, sessions)
    [body] = bodies(sessions)
    assert (body["data"]["method"], body["data"]["tracking_id"]) == ("click", "bob")


def test_a_report_that_comes_first_does_not_shorten_the_wait(client, grace_settings, sessions, store, now):
    """A (forged) report for an order id not placed yet makes its row early; the wait still starts with the order."""
    send(client, purchase_report(("bob", None, now - timedelta(hours=2)), proof="not-the-token"))
    drain(grace_settings, sessions)
    post_shopify(client, "orders/paid", order(at=now, landing_site="/?ref=alice"))
    # The real order is first handled well after the report's own grace would have run out: it still waits.
    at_later(grace_settings, sessions, GRACE + 60)
    assert conversions(sessions) == []
    assert [e.status for e in events(sessions) if e.topic == "orders/paid"] == ["pending"]
