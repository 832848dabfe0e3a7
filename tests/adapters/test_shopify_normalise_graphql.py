"""An order read through GraphQL (reconciliation) is the same neutral event as its webhook.

The nodes are made from the REST sample orders by the stand-in's converter (to_graphql_node), so
each comparison is one order seen both ways. The template order (adapters/shopify/samples): two
lines, 40.00 + 2 × 15.00 EUR, a 15% code allocated 6.00 + 4.50, 20% tax on top, presentment USD.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.shopify import normalise as rest
from adapters.shopify import normalise_graphql as gql
from adapters.shopify import samples
from adapters.shopify.standin_graphql import DEFAULT_SHOP, to_graphql_node
from connector.attribution import ref_from_url
from connector.errors import MalformedPayload
from connector.platform import Money, OrderEvent


def set_money(shop: str, presentment: str) -> dict:
    return {"shop_money": {"amount": shop, "currency_code": "EUR"},
            "presentment_money": {"amount": presentment, "currency_code": "USD"}}


def bag(shop: str, presentment: str | None = None) -> dict:
    return {"shopMoney": {"amount": shop, "currencyCode": "EUR"},
            "presentmentMoney": None if presentment is None else {"amount": presentment, "currencyCode": "USD"}}


def with_refund(order: dict, *adjustments: dict) -> dict:
    refund = samples.refund(order_id=order["id"])
    refund["order_adjustments"] = list(adjustments)
    order["refunds"] = [refund]
    order["financial_status"] = "partially_refunded"
    return order


DISCREPANCY = {"id": 1, "kind": "refund_discrepancy", "reason": "Refund discrepancy", "amount": "-5.00",
               "amount_set": set_money("-5.00", "-5.50")}
SHIPPING_REFUND = {"id": 2, "kind": "shipping_refund", "amount": "-4.90", "amount_set": set_money("-4.90", "-5.39")}


def taxes_included(order: dict) -> dict:
    order["taxes_included"] = True
    return order


def first_order(order: dict) -> dict:
    order["customer"]["orders_count"] = 1
    return order


def no_customer(order: dict) -> dict:
    order["customer"] = None
    return order


def no_presentment_on_a_line(order: dict) -> dict:
    del order["line_items"][1]["price_set"]
    return order


SAMPLE_ORDERS = {
    "template": lambda: samples.order(),
    "refund with discrepancy and shipping adjustments": lambda: with_refund(samples.order(), DISCREPANCY, SHIPPING_REFUND),
    "refund with lines only": lambda: with_refund(samples.order()),
    "taxes included": lambda: taxes_included(samples.order()),
    "cancelled and pending": lambda: samples.order(cancelled_at="2026-11-23T09:00:00+01:00", financial_status="pending"),
    "codes repeated in other case": lambda: samples.order(codes=("ALICE15", "alice15", "BOB10")),
    "no codes, no cart ref, absolute landing": lambda: samples.order(
        codes=(), cart_ref="", landing_site="https://wool-and-co.com/?ref=carol", landing_site_ref=""),
    "huge id, test order, first order": lambda: first_order(samples.order(order_id=2**63 - 25, test=True)),
    "no customer": lambda: no_customer(samples.order()),
    "a line without presentment": lambda: no_presentment_on_a_line(samples.order()),
}


@pytest.mark.parametrize("topic", ["orders/updated", "orders/paid", "orders/cancelled", "reconcile/order"])
@pytest.mark.parametrize("build", SAMPLE_ORDERS.values(), ids=SAMPLE_ORDERS.keys())
def test_graphql_node_gives_the_same_event_as_the_webhook(build, topic):
    order = build()
    by_webhook = rest.order_event(topic, json.loads(samples.encode(order), parse_float=Decimal))
    by_graphql = gql.order_event(to_graphql_node(order), topic)
    # GraphQL's landingPage is absolute where REST's landing_site is a path; the ref read from it is the same.
    landing = order.get("landing_site")
    if landing and landing.startswith("/"):
        assert by_graphql.landing_url == f"https://{DEFAULT_SHOP}{landing}"
        assert ref_from_url(by_graphql.landing_url) == ref_from_url(by_webhook.landing_url)
        by_graphql = replace(by_graphql, landing_url=by_webhook.landing_url)
    assert by_graphql == by_webhook


def test_the_comparison_can_fail():
    """A node that differs from its order in one amount gives a different event."""
    order = samples.order()
    node = to_graphql_node(order)
    node["lineItems"]["nodes"][0]["originalUnitPriceSet"]["shopMoney"]["amount"] = "41.00"
    assert gql.order_event(node, "orders/updated") != rest.order_event("orders/updated", order)


# --- fields --------------------------------------------------------------------------------------


def node(**changes) -> dict:
    base = to_graphql_node(samples.order())
    base.update(changes)
    return base


def test_template_order_fields():
    event = gql.order_event(node())
    assert event.topic == "reconcile/order"
    assert event.order_id == "820982911946154508"
    assert event.order_name == "#1001"
    assert event.occurred_at.isoformat() == "2026-11-22T14:02:59+00:00"
    assert event.financial_status == "paid" and event.paid and not event.cancelled
    assert event.customer.id == "7064055069302"
    assert event.customer.email == "claire.martin@example.com"
    assert event.discount_codes == ("ALICE15",)
    assert event.cart_attributes == {"_ref": "bob", "gift_note": "Happy birthday"}
    assert event.landing_ref == "alice"
    assert event.commission_base == Money(Decimal("59.50"), "EUR")
    assert event.presentment_base == Money(Decimal("65.45"), "USD")


def test_order_id_beyond_2_53_is_kept_exactly():
    event = gql.order_event(node(legacyResourceId="18446744073709551557"))
    assert event.order_id == "18446744073709551557"


def test_created_at_is_used_without_processed_at():
    event = gql.order_event(node(processedAt=None, createdAt="2026-11-22T23:30:00-05:00"))
    assert event.occurred_at.isoformat() == "2026-11-23T04:30:00+00:00"


@pytest.mark.parametrize("status, expected, paid", [
    ("PAID", "paid", True), ("PARTIALLY_REFUNDED", "partially_refunded", True), ("REFUNDED", "refunded", True),
    ("PARTIALLY_PAID", "partially_paid", True), ("PENDING", "pending", False), ("AUTHORIZED", "authorized", False),
    ("VOIDED", "voided", False), ("EXPIRED", "expired", False), (None, None, False),
])
def test_display_financial_status(status, expected, paid):
    event = gql.order_event(node(displayFinancialStatus=status))
    assert (event.financial_status, event.paid) == (expected, paid)


def test_cancelled_at_marks_the_order_cancelled():
    event = gql.order_event(node(cancelledAt="2026-11-23T08:00:00Z"))
    assert event.cancelled and event.cancelled_at.isoformat() == "2026-11-23T08:00:00+00:00"


@pytest.mark.parametrize("count, first", [("1", True), ("3", False), (1, True), (2, False), (None, None), ("many", None)])
def test_first_order_from_number_of_orders(count, first):
    event = gql.order_event(node(customer={"legacyResourceId": "7", "numberOfOrders": count}))
    assert event.customer.first_order is first


def test_discount_codes_are_deduplicated_keeping_the_first_form():
    event = gql.order_event(node(discountCodes=["Alice15", "ALICE15", " alice15", "BOB10", 7]))
    assert event.discount_codes == ("Alice15", "BOB10")


def test_landing_page_and_referral_code_come_from_the_last_visit():
    visit = {"lastVisit": {"landingPage": "https://wool-and-co.com/?ref=dan", "referralCode": "dan"}}
    event = gql.order_event(node(customerJourneySummary=visit))
    assert (event.landing_url, event.landing_ref) == ("https://wool-and-co.com/?ref=dan", "dan")
    assert gql.order_event(node(customerJourneySummary=None)).landing_url is None
    assert gql.order_event(node(customerJourneySummary={"lastVisit": None})).landing_ref is None


def test_taxes_included_takes_the_line_tax_out():
    event = gql.order_event(node(taxesIncluded=True))
    assert event.commission_base == Money(Decimal("59.50") - Decimal("11.90"), "EUR")
    assert event.presentment_base == Money(Decimal("65.45") - Decimal("13.09"), "USD")


def test_presentment_base_needs_every_presentment_amount():
    body = node()
    body["lineItems"]["nodes"][0]["taxLines"] = []
    body["lineItems"]["nodes"][0]["discountAllocations"][0]["allocatedAmountSet"]["presentmentMoney"] = None
    event = gql.order_event(body)
    assert event.commission_base == Money(Decimal("59.50"), "EUR")
    assert event.presentment_base is None


def refund_node(*adjustments: dict, lines: list | None = None) -> dict:
    return {
        "legacyResourceId": "1028743659734",
        "createdAt": "2026-11-29T10:14:03+01:00",
        "refundLineItems": {"nodes": [{"subtotalSet": bag("12.75", "14.03")}] if lines is None else lines},
        "orderAdjustments": {"nodes": list(adjustments)},
    }


def test_refund_adds_amount_only_discrepancies_and_ignores_shipping_adjustments():
    refunds = [refund_node({"reason": "REFUND_DISCREPANCY", "amountSet": bag("-5.00", "-5.50")},
                           {"reason": "DAMAGE", "amountSet": bag("-1.00", "-1.10")},
                           {"reason": None, "amountSet": bag("-4.90", "-5.39")})]
    (refund,) = gql.order_event(node(refunds=refunds)).refunds
    assert refund.refund_id == "1028743659734"
    assert refund.order_id == "820982911946154508"
    assert refund.occurred_at.isoformat() == "2026-11-29T09:14:03+00:00"
    assert refund.commission_base == Money(Decimal("18.75"), "EUR")
    assert refund.presentment_base == Money(Decimal("20.63"), "USD")


def test_amount_only_refund_takes_the_order_currency_and_has_no_presentment_base():
    refunds = [refund_node({"reason": "REFUND_DISCREPANCY", "amountSet": bag("-5.00", "-5.50")}, lines=[])]
    (refund,) = gql.order_event(node(refunds=refunds)).refunds
    assert refund.commission_base == Money(Decimal("5.00"), "EUR")
    assert refund.presentment_base is None


def test_normalise_reads_a_stored_reconciliation_body():
    raw = json.dumps(node()).encode()
    event = gql.normalise("reconcile/order", raw)
    assert isinstance(event, OrderEvent) and event.order_id == "820982911946154508"
    assert gql.normalise("orders/create", raw) is None


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1]", b"null", b'"order"', b"[" * 100_000])
def test_body_that_is_not_a_json_object_is_malformed(raw):
    with pytest.raises(MalformedPayload):
        gql.normalise("reconcile/order", raw)


def _line(change):
    def apply(body):
        change(body["lineItems"]["nodes"][0])
    return apply


MALFORMED = {
    "legacyResourceId missing": lambda b: b.pop("legacyResourceId"),
    "legacyResourceId a float": lambda b: b.update(legacyResourceId=8.2e17),
    "legacyResourceId a gid": lambda b: b.update(legacyResourceId="gid://shopify/Order/1"),
    "currencyCode missing": lambda b: b.update(currencyCode=None),
    "currencyCode not ISO": lambda b: b.update(currencyCode="EURO"),
    "lineItems missing": lambda b: b.pop("lineItems"),
    "lineItems a list": lambda b: b.update(lineItems=[]),
    "lineItems nodes missing": lambda b: b.update(lineItems={}),
    "quantity a string": _line(lambda line: line.update(quantity="2")),
    "quantity a float": _line(lambda line: line.update(quantity=2.0)),
    "price not an amount": _line(lambda line: line["originalUnitPriceSet"]["shopMoney"].update(amount="forty")),
    "price set missing": _line(lambda line: line.pop("originalUnitPriceSet")),
    "shopMoney missing": _line(lambda line: line["originalUnitPriceSet"].update(shopMoney=None)),
    "presentment amount junk": _line(lambda line: line["originalUnitPriceSet"]["presentmentMoney"].update(amount="x")),
    "allocations not a list": _line(lambda line: line.update(discountAllocations={"nodes": []})),
    "price huge": _line(lambda line: line["originalUnitPriceSet"]["shopMoney"].update(amount="1E+999999999")),
    "createdAt missing": lambda b: b.update(processedAt=None, createdAt=None),
    "processedAt without offset": lambda b: b.update(processedAt="2026-11-22T15:02:59"),
    "cancelledAt junk": lambda b: b.update(cancelledAt="yesterday"),
    "discountCodes a string": lambda b: b.update(discountCodes="ALICE15"),
    "customAttributes an object": lambda b: b.update(customAttributes={"key": "_ref"}),
    "refunds an object": lambda b: b.update(refunds={"nodes": []}),
    "refund without id": lambda b: b.update(refunds=[{**refund_node(), "legacyResourceId": None}]),
    "refund line without subtotal": lambda b: b.update(refunds=[refund_node(lines=[{}])]),
    "name too long": lambda b: b.update(name="#" + "1" * 200),
    "customer id too long": lambda b: b.update(customer={"legacyResourceId": "9" * 65}),
}


@pytest.mark.parametrize("change", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_node_raises_malformed_payload(change):
    body = node()
    change(body)
    with pytest.raises(MalformedPayload):
        gql.order_event(body)


# --- property: any JSON anywhere gives an event or MalformedPayload ------------------------------


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, prefix + (index,))


FULL_NODE = to_graphql_node(with_refund(samples.order(), DISCREPANCY, SHIPPING_REFUND))
PATHS = [path for path in _paths(FULL_NODE) if path]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20) | st.sampled_from(["12.50", "-1", "2026-11-22T15:02:59Z", "PAID", "1", "EUR"]),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(["nodes", "amount", "shopMoney", "presentmentMoney", "currencyCode",
                                       "quantity", "lastVisit", "reason"]) | st.text(max_size=6),
                      children, max_size=3),
    max_leaves=12,
)


def _put(body, path, value):
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.lists(st.tuples(st.sampled_from(PATHS), json_values), min_size=1, max_size=3))
def test_any_json_in_any_field_gives_an_event_or_malformed_payload(changes):
    body = copy.deepcopy(FULL_NODE)
    for path, value in changes:
        try:
            _put(body, path, value)
        except (KeyError, IndexError, TypeError):  # an earlier change replaced the container
            continue
    raw = json.dumps(body).encode()
    try:
        event = gql.normalise("reconcile/order", raw)
    except MalformedPayload:
        return
    assert isinstance(event, OrderEvent)
