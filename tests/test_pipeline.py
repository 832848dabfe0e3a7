"""Order webhook → worker → conversion rows: crediting once, refunds, cancellations, and bad events kept aside."""

from __future__ import annotations

import json
from decimal import Decimal

from sqlalchemy import select

from standins.shopify import samples
from connector.db import transaction
from connector.models import AttributionRecord, Event, Order

from .helpers import bodies, conversions, drain, events, post_shopify

ORDER = 820982911946154508


def _plain_order(**fields):
    """The template order with no signals but the ones asked for."""
    defaults = dict(codes=(), cart_ref="", landing_site="/", landing_site_ref="")
    return samples.order(**{**defaults, **fields})


def test_a_paid_code_order_becomes_one_purchase_with_the_contract_body(client, settings, sessions, store):
    post_shopify(client, "orders/paid", _plain_order(codes=("  alice15 ",)))
    drain(settings, sessions)
    [body] = bodies(sessions)
    data = body["data"]
    assert body["type"] == "conversion.purchase"
    assert data["order_id"] == str(ORDER) and data["order_name"] == "#1001"
    assert (data["amount"], data["currency"]) == ("59.50", "EUR")
    assert data["presentment"] == {"amount": "65.45", "currency": "USD"}
    assert (data["tracking_id"], data["campaign_id"], data["method"], data["promo_code"]) == (
        "alice", "spring-26", "promo_code", "ALICE15")
    assert data["credits"] == [{"tracking_id": "alice", "share": "1"}]
    assert data["customer"]["email_sha256"] == __import__("hashlib").sha256(b"claire.martin@example.com").hexdigest()
    assert data["reverses"] is None and data["test"] is False
    assert data["store"] == store.domain and data["platform"] == "shopify"
    assert data["conversion_id"] == conversions(sessions)[0].id
    assert [e.status for e in events(sessions)] == ["handled"]


def test_create_paid_and_updated_of_one_order_make_one_purchase(client, settings, sessions, store):
    order = _plain_order(codes=("ALICE15",), financial_status="pending")
    post_shopify(client, "orders/create", order)
    drain(settings, sessions)
    assert conversions(sessions) == []  # not paid yet
    paid = {**order, "financial_status": "paid"}
    post_shopify(client, "orders/paid", paid)
    post_shopify(client, "orders/updated", paid)
    post_shopify(client, "orders/updated", paid)
    drain(settings, sessions)
    assert [c.type for c in conversions(sessions)] == ["conversion.purchase"]
    assert all(e.status == "handled" for e in events(sessions))


def test_the_body_not_the_topic_says_whether_an_order_is_paid(client, settings, sessions, store):
    """The topic header is not signed: an unpaid order's body under orders/paid credits nothing yet."""
    post_shopify(client, "orders/paid", _plain_order(codes=("ALICE15",), financial_status="pending"))
    drain(settings, sessions)
    assert conversions(sessions) == []
    post_shopify(client, "orders/updated", _plain_order(codes=("ALICE15",), financial_status="paid"))
    drain(settings, sessions)
    assert [c.type for c in conversions(sessions)] == ["conversion.purchase"]


def test_a_store_crediting_on_creation_credits_an_unpaid_order(client, settings, sessions, store):
    with transaction(sessions) as session:
        session.merge(store).credit_on = "creation"
    post_shopify(client, "orders/create", _plain_order(codes=("ALICE15",), financial_status="pending"))
    drain(settings, sessions)
    assert [c.type for c in conversions(sessions)] == ["conversion.purchase"]


def test_an_order_first_seen_refunded_is_credited_and_reversed(client, settings, sessions, store):
    order = _plain_order(codes=("ALICE15",), financial_status="partially_refunded")
    order["refunds"] = [samples.refund(order_id=ORDER)]
    post_shopify(client, "orders/updated", order)
    drain(settings, sessions)
    rows = conversions(sessions)
    assert [c.type for c in rows] == ["conversion.purchase", "conversion.refund"]
    assert rows[1].reverses == rows[0].id and rows[1].amount == Decimal("12.75")


def test_a_refund_reverses_the_refunded_commission_base_once(client, settings, sessions, store):
    post_shopify(client, "orders/paid", _plain_order(codes=("ALICE15",)))
    refund = samples.refund(order_id=ORDER)
    post_shopify(client, "refunds/create", refund)
    post_shopify(client, "refunds/create", refund)  # another delivery of the same refund
    # ...and the orders/updated that Shopify sends with the refund in the order's refunds[]
    post_shopify(client, "orders/updated", {**_plain_order(codes=("ALICE15",)), "refunds": [refund]})
    drain(settings, sessions)
    purchase, reversal = bodies(sessions)
    assert reversal["type"] == "conversion.refund"
    assert reversal["data"]["amount"] == "12.75"
    assert reversal["data"]["reverses"] == purchase["data"]["conversion_id"]
    assert reversal["data"]["credits"] == purchase["data"]["credits"]
    assert reversal["data"]["conversion_id"] != purchase["data"]["conversion_id"]


def test_refunds_never_reverse_more_than_was_credited(client, settings, sessions, store):
    post_shopify(client, "orders/paid", _plain_order(codes=("ALICE15",)))
    big = samples.refund(order_id=ORDER)
    big["refund_line_items"][0]["subtotal_set"]["shop_money"]["amount"] = "50.00"
    second = samples.refund(refund_id=2, order_id=ORDER)
    second["refund_line_items"][0]["subtotal_set"]["shop_money"]["amount"] = "50.00"
    post_shopify(client, "refunds/create", big)
    post_shopify(client, "refunds/create", second)
    drain(settings, sessions)
    amounts = [c.amount for c in conversions(sessions)]
    assert amounts == [Decimal("59.50"), Decimal("50.00"), Decimal("9.50")]


def test_a_refund_of_an_order_never_credited_sends_nothing(client, settings, sessions, store):
    post_shopify(client, "orders/paid", _plain_order())  # no signal: not credited
    post_shopify(client, "refunds/create", samples.refund(order_id=ORDER))
    post_shopify(client, "refunds/create", samples.refund(refund_id=3, order_id=999))  # order never seen
    drain(settings, sessions)
    assert conversions(sessions) == []
    assert all(e.status == "handled" for e in events(sessions))


def test_a_cancellation_voids_what_refunds_left(client, settings, sessions, store):
    post_shopify(client, "orders/paid", _plain_order(codes=("ALICE15",)))
    post_shopify(client, "refunds/create", samples.refund(order_id=ORDER))
    cancelled = _plain_order(codes=("ALICE15",), cancelled_at="2026-11-23T09:00:00+01:00")
    post_shopify(client, "orders/cancelled", cancelled)
    post_shopify(client, "orders/cancelled", cancelled)
    post_shopify(client, "refunds/create", samples.refund(refund_id=4, order_id=ORDER))  # after the cancellation
    drain(settings, sessions)
    purchase, refund, cancellation = bodies(sessions)
    assert cancellation["type"] == "conversion.cancellation"
    assert cancellation["data"]["reverses"] == purchase["data"]["conversion_id"]
    assert cancellation["data"]["amount"] == "46.75"  # 59.50 - 12.75
    assert cancellation["data"]["occurred_at"] == "2026-11-23T08:00:00Z"


def test_a_cancelled_order_never_credited_sends_nothing_and_is_never_credited_later(client, settings, sessions, store):
    order = _plain_order(codes=("ALICE15",), financial_status="pending")
    post_shopify(client, "orders/cancelled", {**order, "cancelled_at": "2026-11-23T09:00:00+01:00"})
    drain(settings, sessions)
    post_shopify(client, "orders/paid", order)
    drain(settings, sessions)
    assert conversions(sessions) == []


def test_test_orders_are_not_credited(client, settings, sessions, store):
    post_shopify(client, "orders/paid", _plain_order(codes=("ALICE15",), test=True))
    drain(settings, sessions)
    assert conversions(sessions) == []
    with sessions() as session:
        assert session.scalar(select(AttributionRecord.outcome)) == "test_order"


def test_a_store_forwarding_test_orders_flags_them(client, settings, sessions, store):
    with transaction(sessions) as session:
        session.merge(store).forward_test_orders = True
    post_shopify(client, "orders/paid", _plain_order(codes=("ALICE15",), test=True))
    drain(settings, sessions)
    [body] = bodies(sessions)
    assert body["data"]["test"] is True


def test_self_referral_by_email_is_not_credited(client, settings, sessions, store):
    post_shopify(client, "orders/paid", _plain_order(codes=("ALICE15",), email=" alice@creators.EXAMPLE "))
    drain(settings, sessions)
    assert conversions(sessions) == []
    with sessions() as session:
        record = session.scalar(select(AttributionRecord))
    assert record.outcome == "no_eligible_signal"
    assert record.signals[0]["status"] == "ignored" and "self-referral" in record.signals[0]["reason"]


def test_self_referral_removes_only_that_influencers_signal(client, settings, sessions, store):
    # bob is customer 4242; his landing ref is ignored, alice's code still counts.
    order = _plain_order(codes=("ALICE15",), landing_site="/?ref=bob", customer_id=4242)
    post_shopify(client, "orders/paid", order)
    drain(settings, sessions)
    [body] = bodies(sessions)
    assert body["data"]["tracking_id"] == "alice"


def test_cart_attribute_and_landing_ref_signals(client, settings, sessions, store):
    post_shopify(client, "orders/paid", _plain_order(order_id=1, cart_ref="BOB"))
    post_shopify(client, "orders/paid", _plain_order(order_id=2, landing_site="https://test-shop.myshopify.com/?ref=carol"))
    post_shopify(client, "orders/paid", _plain_order(order_id=3, landing_site_ref="alice"))
    drain(settings, sessions)
    found = {b["data"]["order_id"]: (b["data"]["tracking_id"], b["data"]["method"]) for b in bodies(sessions)}
    assert found == {"1": ("bob", "click"), "2": ("carol", "landing_page"), "3": ("alice", "landing_page")}


def test_the_store_precedence_decides_between_signals(client, settings, sessions, store):
    with transaction(sessions) as session:
        session.merge(store).precedence = "landing_page,click,promo_code"
    post_shopify(client, "orders/paid", _plain_order(codes=("ALICE15",), landing_site="/?ref=carol"))
    drain(settings, sessions)
    [body] = bodies(sessions)
    assert (body["data"]["tracking_id"], body["data"]["method"]) == ("carol", "landing_page")


def test_the_attribution_record_keeps_every_signal_and_why(client, settings, sessions, store):
    # The template carries code ALICE15, cart _ref=bob, landing ?ref=alice and landing_site_ref alice.
    post_shopify(client, "orders/paid", samples.order())
    drain(settings, sessions)
    with sessions() as session:
        record = session.scalar(select(AttributionRecord))
    assert record.outcome == "credit" and record.method == "promo_code"
    assert [(s["source"], s["status"]) for s in record.signals] == [
        ("discount_codes", "won"),
        ("note_attributes._ref", "lost"),
        ("landing_site", "lost"),
        ("landing_site_ref", "lost"),
    ]
    assert all(s["reason"] for s in record.signals)


def test_malformed_events_are_kept_flagged_and_the_worker_goes_on(client, settings, sessions, store):
    bad_id = _plain_order(codes=("ALICE15",))
    bad_id["id"] = "not-a-number"
    no_money = _plain_order(order_id=5, codes=("ALICE15",))
    for line in no_money["line_items"]:
        line.pop("price"), line.pop("price_set")
    # Signed bytes that are not even an object are no order at all: refused at the edge, stored nowhere.
    assert post_shopify(client, "orders/paid", None, raw=b'{"id": 1, "line_items": [').status_code == 401
    assert post_shopify(client, "orders/paid", None, raw=b'["an", "array"]').status_code == 401
    # An order with values that cannot be understood is stored, and the worker keeps it flagged.
    post_shopify(client, "orders/paid", bad_id)
    post_shopify(client, "orders/paid", no_money)
    post_shopify(client, "orders/paid", _plain_order(order_id=6, codes=("ALICE15",)))  # a good one after them
    drain(settings, sessions)
    statuses = [(e.status, e.error) for e in events(sessions)]
    assert [s for s, _ in statuses] == ["rejected", "rejected", "handled"]
    assert "not a numeric id" in statuses[0][1]
    assert "price" in statuses[1][1]
    assert [b["data"]["order_id"] for b in bodies(sessions)] == ["6"]


def test_an_event_whose_store_was_uninstalled_is_kept_unprocessed(client, settings, sessions, store):
    post_shopify(client, "orders/paid", _plain_order(codes=("ALICE15",)))
    with transaction(sessions) as session:
        session.merge(store).status = "uninstalled"
    drain(settings, sessions)
    assert conversions(sessions) == []
    assert [(e.status, e.error) for e in events(sessions)] == [("skipped", "store is uninstalled")]


def test_an_unexpected_error_is_retried_later_not_fatal(client, settings, sessions, store):
    """A failure that is not the payload's fault (here a platform no adapter serves, as after a bad deploy):
    the event waits and is retried, the worker lives on."""
    post_shopify(client, "orders/paid", _plain_order(codes=("ALICE15",)))
    post_shopify(client, "orders/paid", _plain_order(order_id=7, codes=("ALICE15",)))
    with transaction(sessions) as session:
        # Corrupt the first event's stored platform so its adapter cannot be found: a ConnectorError.
        first = session.scalars(select(Event).order_by(Event.id)).first()
        first.platform = "gone"
    drain(settings, sessions)
    statuses = [(e.status, e.error) for e in events(sessions)]
    assert statuses[0][0] == "pending" and "gone" in statuses[0][1]
    with sessions() as session:
        retried = session.get(Event, events(sessions)[0].id)
        assert retried.attempts == 1 and retried.lease_until is not None and retried.claimed_by is None
    assert statuses[1][0] == "handled"
    assert [b["data"]["order_id"] for b in bodies(sessions)] == ["7"]


def test_conversion_bodies_are_serialised_once_and_never_change(client, settings, sessions, store):
    post_shopify(client, "orders/paid", _plain_order(codes=("ALICE15",)))
    drain(settings, sessions)
    [before] = conversions(sessions)
    with transaction(sessions) as session:
        session.merge(store).precedence = "landing_page,click,promo_code"
    post_shopify(client, "orders/updated", _plain_order(codes=("ALICE15",), landing_site="/?ref=carol"))
    drain(settings, sessions)
    [after] = conversions(sessions)
    assert after.body == before.body
    assert json.loads(after.body)["data"]["tracking_id"] == "alice"
    with sessions() as session:
        assert session.scalar(select(Order.purchase_conversion_id)) == before.id


def test_a_refund_that_arrives_before_its_purchase_is_credited_reverses_it_once_credited(client, settings, sessions, store):
    """Webhooks come in any order: the refund waits with the order and goes out right after the purchase."""
    post_shopify(client, "refunds/create", samples.refund(order_id=ORDER))
    drain(settings, sessions)
    assert conversions(sessions) == []  # nothing credited yet, so nothing sent
    post_shopify(client, "orders/paid", _plain_order(codes=("ALICE15",)))  # its refunds[] is still empty
    post_shopify(client, "refunds/create", samples.refund(order_id=ORDER))  # a redelivery of the refund
    drain(settings, sessions)
    purchase, refund = bodies(sessions)
    assert refund["type"] == "conversion.refund" and refund["data"]["reverses"] == purchase["data"]["conversion_id"]
    assert refund["data"]["amount"] == "12.75"
    with sessions() as session:
        assert session.scalar(select(Order.deferred_refunds)) is None


def test_a_refund_of_an_order_cancelled_before_credit_is_never_sent(client, settings, sessions, store):
    post_shopify(client, "refunds/create", samples.refund(order_id=ORDER))
    post_shopify(client, "orders/cancelled", _plain_order(codes=("ALICE15",), cancelled_at="2026-11-23T09:00:00+01:00"))
    post_shopify(client, "orders/paid", _plain_order(codes=("ALICE15",)))
    drain(settings, sessions)
    assert conversions(sessions) == []
