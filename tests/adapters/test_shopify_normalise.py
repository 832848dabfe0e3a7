"""Shopify order and refund payloads → neutral events, on the realistic templates in adapters/shopify/samples.

The template order (PROVENANCE.md): two lines, 40.00 + 2 × 15.00 EUR, a 15% code allocated as
6.00 + 4.50, 20% tax on top (taxes_included false), shipping 4.90; presentment USD at 1.10.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from standins.shopify import samples
from adapters.shopify.normalise import ORDER_TOPICS, normalise
from connector.errors import MalformedPayload
from connector.core.platform import CustomerCreated, Money, OrderEvent, RefundEvent

ORDER_ID = "820982911946154508"


def order_event(body: dict | None = None, topic: str = "orders/create") -> OrderEvent:
    event = normalise(topic, samples.encode(samples.order() if body is None else body))
    assert isinstance(event, OrderEvent)
    return event


def refund_event(body: dict) -> RefundEvent:
    event = normalise("refunds/create", samples.encode(body))
    assert isinstance(event, RefundEvent)
    return event


def set_money(shop: str, presentment: str) -> dict:
    return {
        "shop_money": {"amount": shop, "currency_code": "EUR"},
        "presentment_money": {"amount": presentment, "currency_code": "USD"},
    }


# --- orders --------------------------------------------------------------------------------------


def test_commission_base_of_the_template_order():
    """Lines after their discounts; shipping and tax out: 34.00 + 25.50 = 59.50 EUR (37.40 + 28.05 USD)."""
    body = samples.order()
    event = order_event(body)
    assert event.commission_base == Money(Decimal("59.50"), "EUR")
    assert event.presentment_base == Money(Decimal("65.45"), "USD")
    assert event.commission_base.amount == Decimal(body["subtotal_price"])
    assert event.presentment_base.amount == Decimal(body["subtotal_price_set"]["presentment_money"]["amount"])


def test_taxes_included_takes_the_line_tax_out():
    """With tax inside the prices, 6.80 + 5.10 EUR (7.48 + 5.61 USD) of tax come off the base."""
    body = samples.order()
    body["taxes_included"] = True
    event = order_event(body)
    assert event.commission_base == Money(Decimal("47.60"), "EUR")
    assert event.presentment_base == Money(Decimal("52.36"), "USD")


def test_plain_price_fields_are_used_when_the_sets_are_absent():
    body = samples.order()
    for line in body["line_items"]:
        del line["price_set"]
        for allocation in line["discount_allocations"]:
            del allocation["amount_set"]
    event = order_event(body)
    assert event.commission_base == Money(Decimal("59.50"), "EUR")
    assert event.presentment_base is None


def test_order_id_is_kept_exactly_as_text():
    assert order_event().order_id == ORDER_ID
    assert order_event(samples.order(order_id=2**63 - 1)).order_id == str(2**63 - 1)
    body = samples.order()
    body["id"] = ORDER_ID
    assert order_event(body).order_id == ORDER_ID


def test_order_fields_are_carried_over():
    event = order_event()
    assert (event.order_name, event.topic, event.financial_status) == ("#1001", "orders/create", "paid")
    assert event.occurred_at == datetime(2026, 11, 22, 14, 2, 59, tzinfo=timezone.utc)
    assert event.discount_codes == ("ALICE15",)
    assert dict(event.cart_attributes) == {"_ref": "bob", "gift_note": "Happy birthday"}
    assert event.landing_url == "/products/wool-scarf?ref=alice&utm_source=instagram"
    assert event.landing_ref == "alice"
    assert (event.customer.id, event.customer.email) == ("7064055069302", "claire.martin@example.com")
    assert (event.test, event.cancelled, event.cancelled_at, event.refunds) == (False, False, None, ())


def test_several_discount_codes_are_all_kept():
    assert order_event(samples.order(codes=("ALICE15", "BOB10"))).discount_codes == ("ALICE15", "BOB10")
    assert order_event(samples.order(codes=())).discount_codes == ()


def test_blank_landing_fields_are_none():
    event = order_event(samples.order(landing_site="", landing_site_ref=""))
    assert (event.landing_url, event.landing_ref) == (None, None)


def test_customer_email_falls_back_to_the_order_email():
    body = samples.order()
    del body["customer"]
    body["email"] = "guest@example.com"
    customer = order_event(body).customer
    assert (customer.id, customer.email) == (None, "guest@example.com")


@pytest.mark.parametrize(
    "status, paid",
    [
        ("pending", False),
        ("authorized", False),
        ("partially_paid", True),
        ("paid", True),
        ("partially_refunded", True),
        ("refunded", True),
        ("voided", False),
    ],
)
def test_paid_flag_for_each_financial_status(status, paid):
    event = order_event(samples.order(financial_status=status))
    assert (event.financial_status, event.paid) == (status, paid)


def test_the_body_not_the_topic_says_paid():
    """The topic header is not signed: orders/paid over an unpaid order's body is not a payment."""
    assert not order_event(samples.order(financial_status="pending"), topic="orders/paid").paid
    assert order_event(samples.order(financial_status="paid"), topic="orders/create").paid


def test_cancelled_at_marks_the_order_cancelled():
    event = order_event(samples.order(cancelled_at="2026-11-23T09:00:00+01:00"))
    assert event.cancelled
    assert event.cancelled_at == datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
    # A paid order's body re-sent as orders/cancelled is no cancellation: cancelled_at says.
    assert not order_event(topic="orders/cancelled").cancelled


def test_test_flag():
    assert order_event(samples.order(test=True)).test


def test_order_refunds_become_refund_events():
    refund = samples.refund()
    del refund["order_id"]  # an order's own refunds[] entries belong to it
    body = samples.order(financial_status="partially_refunded")
    body["refunds"] = [refund]
    event = order_event(body, topic="orders/updated")
    assert event.paid
    [refund_seen] = event.refunds
    assert refund_seen.order_id == ORDER_ID
    assert refund_seen.refund_id == "509562969"
    assert refund_seen.commission_base == Money(Decimal("12.75"), "EUR")


def test_other_topics_have_nothing_to_do():
    assert normalise("products/update", samples.encode(samples.order())) is None
    assert normalise("app/uninstalled", b"not even json") is None


# --- refunds -------------------------------------------------------------------------------------


def test_refund_commission_base():
    """One pair of socks back: its subtotal after discount, tax out, is 12.75 EUR (14.03 USD)."""
    event = refund_event(samples.refund())
    assert (event.refund_id, event.order_id) == ("509562969", ORDER_ID)
    assert event.commission_base == Money(Decimal("12.75"), "EUR")
    assert event.presentment_base == Money(Decimal("14.03"), "USD")
    assert event.occurred_at == datetime(2026, 11, 29, 9, 14, 3, tzinfo=timezone.utc)


def test_refund_discrepancy_adds_the_amount_only_refund():
    body = samples.refund()
    body["order_adjustments"] = [
        {"id": 1, "kind": "refund_discrepancy", "reason": "Refund discrepancy", "amount": "-5.00",
         "amount_set": set_money("-5.00", "-5.50"), "tax_amount": "0.00"},
        {"id": 2, "kind": "shipping_refund", "amount": "-4.90", "amount_set": set_money("-4.90", "-5.39")},
    ]
    event = refund_event(body)
    assert event.commission_base == Money(Decimal("17.75"), "EUR")
    assert event.presentment_base == Money(Decimal("19.53"), "USD")


def test_amount_only_refund_without_lines():
    body = samples.refund()
    body["refund_line_items"] = []
    body["order_adjustments"] = [{"kind": "refund_discrepancy", "amount": "-5.00"}]
    event = refund_event(body)
    assert event.commission_base == Money(Decimal("5.00"), "EUR")
    assert event.presentment_base is None


# --- malformed payloads --------------------------------------------------------------------------


def _without(key: str):
    def change(body):
        del body[key]
    return change


def _line(change):
    def apply(body):
        change(body["line_items"][0])
    return apply


def _set(key, value):
    def change(body):
        body[key] = value
    return change


def _drop_price(line):
    del line["price"], line["price_set"]


MALFORMED_ORDERS = {
    "order id abc": _set("id", "abc"),
    "order id missing": _without("id"),
    "order id zero": _set("id", 0),
    "order id true": _set("id", True),
    "line without price": _line(_drop_price),
    "quantity a string": _line(lambda line: line.update(quantity="2")),
    "quantity negative": _line(lambda line: line.update(quantity=-1)),
    "price not an amount": _line(lambda line: line["price_set"]["shop_money"].update(amount="forty")),
    "price NaN": _line(lambda line: line["price_set"]["shop_money"].update(amount="NaN")),
    "currency missing": _without("currency"),
    "line_items missing": _without("line_items"),
    "line_items an object": _set("line_items", {"0": {}}),
    "a line not an object": _set("line_items", ["scarf"]),
    "allocation not an object": _line(lambda line: line["discount_allocations"].append("6.00")),
    "allocations not a list": _line(lambda line: line.update(discount_allocations={"amount": "6.00"})),
    "created_at without offset": lambda body: body.update(processed_at=None, created_at="2026-11-22T15:02:59"),
    "created_at missing": lambda body: body.update(processed_at=None, created_at=None),
    "cancelled_at not a time": _set("cancelled_at", "yesterday"),
    "discount_codes a string": _set("discount_codes", "ALICE15"),
    "refund entry without id": _set("refunds", [{"created_at": "2026-11-29T10:14:03+01:00"}]),
    # Values the database could not hold: flagged once up front instead of failing on every retry.
    "name too long": _set("name", "#" + "1" * 200),
    "currency not ISO 4217": _set("currency", "EURO"),
    "quantity huge": lambda body: body["line_items"][0].update(quantity=10**20),
    "customer id too long": lambda body: body["customer"].update(id="9" * 65),
    "order id huge": _set("id", int("9" * 70)),
}


@pytest.mark.parametrize("change", MALFORMED_ORDERS.values(), ids=MALFORMED_ORDERS.keys())
def test_malformed_order_raises_malformed_payload(change):
    body = samples.order()
    change(body)
    with pytest.raises(MalformedPayload):
        normalise("orders/create", samples.encode(body))


@pytest.mark.parametrize("raw", [b"", b"not json", b"\xff\xfe{}", b"[1, 2]", b'"order"', b"null", b"{"])
@pytest.mark.parametrize("topic", ["orders/create", "refunds/create"])
def test_body_that_is_not_a_json_object_raises_malformed_payload(raw, topic):
    with pytest.raises(MalformedPayload):
        normalise(topic, raw)


MALFORMED_REFUNDS = {
    "refund id missing": _without("id"),
    "order_id abc": _set("order_id", "abc"),
    "order_id missing": _without("order_id"),
    "created_at missing": lambda body: body.update(processed_at=None, created_at=None),
    "refund line not an object": _set("refund_line_items", [12.75]),
    "refund line without subtotal": _set("refund_line_items", [{"quantity": 1}]),
}


@pytest.mark.parametrize("change", MALFORMED_REFUNDS.values(), ids=MALFORMED_REFUNDS.keys())
def test_malformed_refund_raises_malformed_payload(change):
    body = samples.refund()
    change(body)
    with pytest.raises(MalformedPayload):
        normalise("refunds/create", samples.encode(body))


def test_time_out_of_range_raises_malformed_payload():
    body = samples.order()
    body["processed_at"] = "0001-01-01T00:00:00+01:00"
    with pytest.raises(MalformedPayload):
        normalise("orders/create", samples.encode(body))


def test_huge_amount_raises_malformed_payload():
    body = samples.order()
    body["line_items"][0]["price_set"]["shop_money"]["amount"] = "1E+999999999"
    with pytest.raises(MalformedPayload):
        normalise("orders/create", samples.encode(body))


def test_deeply_nested_json_raises_malformed_payload():
    with pytest.raises(MalformedPayload):
        normalise("orders/create", b"[" * 100_000)


@pytest.mark.parametrize("order_id", ["²", "١٢٣"])
def test_non_ascii_digits_are_not_an_order_id(order_id):
    body = samples.order()
    body["id"] = order_id
    with pytest.raises(MalformedPayload):
        normalise("orders/create", samples.encode(body))


# --- property: authentic junk never crashes the worker -------------------------------------------

TEMPLATE_KEYS = sorted(samples.order())
# Names the normaliser reads, so generated objects sometimes look like the real thing.
FIELD_NAMES = [
    "id", "code", "name", "value", "type", "price", "price_set", "amount", "amount_set", "shop_money",
    "presentment_money", "currency_code", "quantity", "discount_allocations", "tax_lines", "email",
    "orders_count", "created_at", "processed_at", "order_id", "refund_line_items", "subtotal", "kind",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    topic=st.sampled_from(sorted(ORDER_TOPICS)),
    changes=st.dictionaries(st.sampled_from(TEMPLATE_KEYS) | st.text(max_size=10), json_values, min_size=1, max_size=5),
)
def test_arbitrary_json_in_the_order_gives_an_event_or_malformed_payload(topic, changes):
    body = {**samples.order(), **changes}
    raw = samples.encode(body)
    json.loads(raw)  # still valid JSON
    try:
        event = normalise(topic, raw)
    except MalformedPayload:
        return
    assert isinstance(event, OrderEvent)


# --- proof and sign-ups --------------------------------------------------------------------------


def test_the_checkout_token_is_the_orders_proof():
    """PLATFORMS.md A8: the web pixel's checkout_completed carries the same token as the order's checkout_token."""
    assert order_event({**samples.order(), "checkout_token": "9c5b2e0f1d7a4b3c8e6f0a1b2c3d4e5f"}).proof == \
        "9c5b2e0f1d7a4b3c8e6f0a1b2c3d4e5f"


@pytest.mark.parametrize("token", [None, "", "  ", 123])
def test_an_order_without_a_usable_checkout_token_proves_nothing(token):
    body = samples.order()
    body.pop("checkout_token", None)
    assert order_event(body).proof is None
    assert order_event({**body, "checkout_token": token}).proof is None


def test_customers_create_is_a_sign_up():
    body = {"id": 706405506930370084, "email": "bob@biller.example", "created_at": "2026-11-23T10:15:00-05:00",
            "first_name": "Bob", "orders_count": 0, "state": "disabled"}
    event = normalise("customers/create", samples.encode(body))
    assert event == CustomerCreated(customer_id="706405506930370084", email="bob@biller.example",
                                    occurred_at=datetime(2026, 11, 23, 15, 15, tzinfo=timezone.utc))
    assert normalise("customers/create", samples.encode({**body, "email": None})).email is None


@pytest.mark.parametrize("change", [{"id": None}, {"id": "abc"}, {"created_at": None}, {"created_at": "yesterday"}])
def test_a_malformed_customer_raises_malformed_payload(change):
    body = {"id": 706405506930370084, "email": "bob@biller.example", "created_at": "2026-11-23T10:15:00Z", **change}
    with pytest.raises(MalformedPayload):
        normalise("customers/create", samples.encode(body))


def test_the_adapter_handles_sign_ups():
    from adapters.shopify import adapter

    assert "customers/create" in adapter.handled_topics
    body = {"id": 1, "email": None, "created_at": "2026-11-23T10:15:00Z"}
    assert isinstance(adapter.normalise("customers/create", samples.encode(body)), CustomerCreated)
