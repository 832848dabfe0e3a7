"""An order read through GraphQL (reconciliation) is the same neutral event as its webhook.

The nodes are made from the REST sample orders by the stand-in's converter (to_graphql_node), so
each comparison is one order seen both ways. The template order (adapters/shopify/samples): two
lines, 40.00 + 2 × 15.00 EUR, a 15% code allocated 6.00 + 4.50 (subtotal 59.50), 20% tax on top
(11.90 on the lines, 0.98 on shipping: 12.88), presentment USD.

Both normalisers read the base from the lines with the same arithmetic (adapters/shopify/lines.py),
so they agree on items and base whatever the order-level totals say. Refunds are read in shop money
only, so their presentment base is None by GraphQL. A list the query reads only one page of and that
has more is refused (MalformedPayload), never credited short.
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
from standins.shopify import samples
from standins.shopify.order_node import DEFAULT_SHOP, page_sizes, to_graphql_node
from connector.core.attribution import ref_from_url
from connector.errors import MalformedPayload
from connector.core.platform import Money, OrderEvent


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
    """Without a line's presentment price the order cannot state its subtotal in presentment either."""
    del order["line_items"][1]["price_set"]
    del order["subtotal_price_set"]
    return order


def _add(money_set: dict, shop: str, presentment: str) -> None:
    for side, amount in (("shop_money", shop), ("presentment_money", presentment)):
        money_set[side]["amount"] = str(Decimal(money_set[side]["amount"]) + Decimal(amount))


def _tax_line(shop: str, presentment: str) -> dict:
    return {"price": shop, "rate": 0.2, "title": "FR TVA", "price_set": set_money(shop, presentment)}


def second_shipping_line(order: dict) -> dict:
    """A second, taxed shipping line: its tax is in the order's total tax, never in the base."""
    line = copy.deepcopy(order["shipping_lines"][0])
    line.update(id=5209431773399, title="Express", tax_lines=[_tax_line("0.50", "0.55"), _tax_line("0.25", "0.28")])
    order["shipping_lines"].append(line)
    _add(order["total_tax_set"], "0.75", "0.83")
    order["total_tax"] = order["total_tax_set"]["shop_money"]["amount"]
    return order


def no_shipping(order: dict) -> dict:
    """Nothing shipped (a digital order): all the tax is the lines'."""
    order["shipping_lines"] = []
    _add(order["total_tax_set"], "-0.98", "-1.08")
    order["total_tax"] = order["total_tax_set"]["shop_money"]["amount"]
    return order


def with_refunds(order: dict, count: int) -> dict:
    order["refunds"] = [samples.refund(refund_id=509562969 + n, order_id=order["id"]) for n in range(count)]
    order["financial_status"] = "partially_refunded"
    return order


def plain_amounts_only(order: dict) -> dict:
    """No `_set` anywhere the base is read from: amounts in shop money only, no presentment base."""
    for line in order["line_items"]:
        for item in [line, *line["discount_allocations"], *line["tax_lines"]]:
            item.pop("price_set", None)
            item.pop("amount_set", None)
    for line in order["shipping_lines"]:
        for tax in line["tax_lines"]:
            tax.pop("price_set")
    del order["subtotal_price_set"], order["total_tax_set"]
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
    "taxes included, a line without presentment": lambda: taxes_included(no_presentment_on_a_line(samples.order())),
    "taxes included, two shipping lines": lambda: taxes_included(second_shipping_line(samples.order())),
    "taxes included, nothing shipped": lambda: taxes_included(no_shipping(samples.order())),
    "taxes included, refunded": lambda: taxes_included(with_refund(samples.order(), DISCREPANCY)),
    "four refunds, one fewer than a page reads": lambda: with_refunds(samples.order(), 4),
    "amounts without their sets": lambda: plain_amounts_only(samples.order()),
    "taxes included, amounts without their sets": lambda: taxes_included(plain_amounts_only(samples.order())),
}


@pytest.mark.parametrize("topic", ["orders/updated", "orders/paid", "orders/cancelled", "reconcile/order"])
@pytest.mark.parametrize("build", SAMPLE_ORDERS.values(), ids=SAMPLE_ORDERS.keys())
def test_graphql_node_gives_the_same_event_as_the_webhook(build, topic):
    order = build()
    by_webhook = rest.order_event(topic, json.loads(samples.encode(order), parse_float=Decimal))
    by_graphql = gql.order_event(to_graphql_node(order), topic)
    # The query reads refunds in shop money only: by GraphQL a refund has no presentment base.
    assert all(refund.presentment_base is None for refund in by_graphql.refunds)
    by_webhook = replace(by_webhook, refunds=tuple(replace(r, presentment_base=None) for r in by_webhook.refunds))
    # The Admin API's Order has no checkout token: only the webhook carries the order's proof.
    assert by_graphql.proof is None and by_webhook.proof == order.get("checkout_token")
    by_webhook = replace(by_webhook, proof=None)
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
    node = to_graphql_node(taxes_included(samples.order()))
    node["lineItems"]["nodes"][1]["taxLines"][0]["priceSet"]["shopMoney"]["amount"] = "5.11"
    by_webhook = rest.order_event("orders/updated", taxes_included(samples.order()))
    assert gql.order_event(node).commission_base != by_webhook.commission_base
    assert gql.order_event(node).items != by_webhook.items


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
    """The lines' tax lines, 6.80 + 5.10 (7.48 + 5.61 USD), come out; shipping's tax was never in."""
    event = gql.order_event(node(taxesIncluded=True))
    assert event.commission_base == Money(Decimal("59.50") - Decimal("11.90"), "EUR")
    assert event.presentment_base == Money(Decimal("65.45") - Decimal("13.09"), "USD")
    assert [item.amount for item in event.items] == [Decimal("27.20"), Decimal("20.40")]


def line_node(line_id: int, price: tuple, quantity: int = 1, allocations: tuple = (), taxes: tuple = (),
              current: int | None = None) -> dict:
    """A lineItems node: each amount a (shop, presentment) pair."""
    return {"id": f"gid://shopify/LineItem/{line_id}", "quantity": quantity,
            "currentQuantity": quantity if current is None else current, "title": f"Line {line_id}", "sku": None,
            "product": {"id": f"gid://shopify/Product/{line_id + 1}"}, "variant": None, "sellingPlan": None,
            "originalUnitPriceSet": bag(*price),
            "discountAllocations": [{"allocatedAmountSet": bag(*a)} for a in allocations],
            "taxLines": [{"priceSet": bag(*t)} for t in taxes]}


def lines_node(*lines: dict, more: bool = False, **changes) -> dict:
    return node(lineItems={"nodes": list(lines), "pageInfo": {"hasNextPage": more}}, **changes)


def test_tax_inclusive_prices_leave_the_lines_net_of_tax():
    """2 × 60.00 holding 20.00 tax, less a 12.00 allocation holding 2.00 (18.00 tax left): base 90.00."""
    body = lines_node(line_node(1, ("60.00", "66.00"), 2, [("12.00", "13.20")], [("18.00", "19.80")]),
                      taxesIncluded=True)
    event = gql.order_event(body)
    assert event.commission_base == Money(Decimal("90.00"), "EUR")
    assert event.presentment_base == Money(Decimal("99.00"), "USD")
    (item,) = event.items
    assert (item.line_id, item.product_id, item.variant_id, item.quantity, item.amount) == (
        "1", "2", None, Decimal(2), Decimal("90.00"))


def test_tax_is_not_read_when_prices_exclude_it():
    body = lines_node(line_node(1, ("60.00", "66.00"), 2, taxes=[("24.00", "26.40")]))
    assert gql.order_event(body).commission_base == Money(Decimal("120.00"), "EUR")


def test_presentment_base_needs_every_presentment_amount():
    body = node()
    body["lineItems"]["nodes"][0]["originalUnitPriceSet"]["presentmentMoney"] = None
    event = gql.order_event(body)
    assert event.commission_base == Money(Decimal("59.50"), "EUR")
    assert event.presentment_base is None
    body = node(taxesIncluded=True)
    body["lineItems"]["nodes"][1]["taxLines"][0]["priceSet"]["presentmentMoney"] = None
    event = gql.order_event(body)
    assert event.commission_base == Money(Decimal("47.60"), "EUR") and event.presentment_base is None
    body = node()  # prices without tax: a tax without presentment does not matter
    body["lineItems"]["nodes"][1]["taxLines"][0]["priceSet"]["presentmentMoney"] = None
    assert gql.order_event(body).presentment_base == Money(Decimal("65.45"), "USD")


def test_an_edited_line_counts_its_current_units_and_its_refunded_ones():
    """Of 3 × 10.00 (less 3.00), an edit removed one and one was refunded: 2 units count, 27.00 × 2/3 = 18.00."""
    refund = refund_node(lines=[refund_line(12.75, line_id=1)])
    body = lines_node(line_node(1, ("10.00", "11.00"), 3, [("3.00", "3.30")], current=1), refunds=[refund])
    event = gql.order_event(body)
    (item,) = event.items
    assert (item.quantity, item.amount) == (Decimal(2), Decimal("18.00"))
    assert event.commission_base == Money(Decimal("18.00"), "EUR")
    assert event.presentment_base == Money(Decimal("19.80"), "USD")


def shop(amount: str) -> dict:
    """A MoneyBag as the query reads refund amounts: shop money only."""
    return {"shopMoney": {"amount": amount, "currencyCode": "EUR"}}


SOCKS = 15873421223126  # the template's second line: 2 × 15.00 less 4.50


def refund_line(subtotal: float | str, quantity: int = 1, line_id: int = SOCKS, tax: str | None = "2.55") -> dict:
    """A refundLineItems node as the query reads it: shop money only."""
    return {"quantity": quantity, "lineItem": {"id": f"gid://shopify/LineItem/{line_id}"},
            "subtotalSet": shop(str(subtotal)), "totalTaxSet": None if tax is None else shop(tax)}


def refund_node(*adjustments: dict, lines: list | None = None, more_lines: bool = False,
                more_adjustments: bool = False, refund_id: str = "1028743659734") -> dict:
    return {
        "legacyResourceId": refund_id,
        "createdAt": "2026-11-29T10:14:03+01:00",
        "refundLineItems": {"nodes": [refund_line("12.75")] if lines is None else lines,
                            "pageInfo": {"hasNextPage": more_lines}},
        "orderAdjustments": {"nodes": list(adjustments), "pageInfo": {"hasNextPage": more_adjustments}},
    }


def test_refund_adds_amount_only_discrepancies_and_ignores_shipping_adjustments():
    refunds = [refund_node({"reason": "REFUND_DISCREPANCY", "amountSet": shop("-5.00")},
                           {"reason": None, "amountSet": shop("-4.90")})]
    (refund,) = gql.order_event(node(refunds=refunds)).refunds
    assert refund.refund_id == "1028743659734"
    assert refund.order_id == "820982911946154508"
    assert refund.occurred_at.isoformat() == "2026-11-29T09:14:03+00:00"
    assert refund.commission_base == Money(Decimal("17.75"), "EUR")
    assert refund.presentment_base is None  # refund amounts are read in shop money only


def test_amount_only_refund_takes_the_order_currency():
    refunds = [refund_node({"reason": "REFUND_DISCREPANCY", "amountSet": shop("-5.00")}, lines=[])]
    (refund,) = gql.order_event(node(refunds=refunds)).refunds
    assert refund.commission_base == Money(Decimal("5.00"), "EUR")
    assert refund.presentment_base is None


def test_refund_lines_with_presentment_amounts_still_give_a_presentment_base():
    """Not what the query asks for, but a node that has them is read as the webhook's would be."""
    refunds = [refund_node(lines=[{**refund_line("12.75"), "subtotalSet": bag("12.75", "14.03")}])]
    (refund,) = gql.order_event(node(refunds=refunds)).refunds
    assert refund.presentment_base == Money(Decimal("14.03"), "USD")


# --- one page of each list: more is refused, never credited short ---------------------------------


def test_the_normaliser_knows_how_many_refunds_the_document_reads():
    assert gql.REFUNDS_READ == page_sizes()["refunds"]


def _refused(body: dict) -> str:
    with pytest.raises(MalformedPayload) as caught:
        gql.order_event(body)
    return str(caught.value)


def test_more_line_items_than_a_page_is_refused():
    body = node()
    body["lineItems"]["pageInfo"]["hasNextPage"] = True
    message = _refused(body)
    assert "order 820982911946154508 has more line items" in message and "webhooks are authoritative" in message


def test_more_refund_lines_than_a_page_is_refused():
    message = _refused(node(refunds=[refund_node(), refund_node(more_lines=True, refund_id="77")]))
    assert "order 820982911946154508 has more lines in refund 77" in message and "webhooks are authoritative" in message


def test_more_refund_adjustments_than_a_page_is_refused():
    message = _refused(node(refunds=[refund_node(more_adjustments=True)]))
    assert "more adjustments in refund 1028743659734" in message


@pytest.mark.parametrize("count", [gql.REFUNDS_READ, gql.REFUNDS_READ + 1])
def test_a_full_list_of_refunds_is_refused_as_perhaps_cut(count):
    body = node(refunds=[refund_node(refund_id=str(100 + n)) for n in range(count)])
    message = _refused(body)
    assert f"order 820982911946154508 has {count} refunds" in message and "webhooks are authoritative" in message


def test_one_refund_fewer_than_a_page_is_read():
    body = node(refunds=[refund_node(refund_id=str(100 + n)) for n in range(gql.REFUNDS_READ - 1)])
    assert len(gql.order_event(body).refunds) == gql.REFUNDS_READ - 1


def _refused_from_rest(order: dict) -> str:
    """The converter cuts the REST order where the document does: the normaliser then refuses it."""
    with pytest.raises(MalformedPayload) as caught:
        gql.normalise("reconcile/order", json.dumps(to_graphql_node(order)).encode())
    rest.order_event("orders/updated", order)  # the webhook of the same order is read in full
    return str(caught.value)


def _extra(items: list, count: int) -> list:
    return [copy.deepcopy(items[0]) for _ in range(count)]


def test_truncation_from_a_rest_order_too_many_line_items():
    order = samples.order()
    order["line_items"] += _extra(order["line_items"], page_sizes()["lineItems"])
    converted = to_graphql_node(order)
    assert len(converted["lineItems"]["nodes"]) == page_sizes()["lineItems"]
    assert converted["lineItems"]["pageInfo"]["hasNextPage"] is True
    assert "more line items" in _refused_from_rest(order)


def test_truncation_from_a_rest_order_too_many_refund_lines():
    order = with_refund(samples.order())
    lines = order["refunds"][0]["refund_line_items"]
    lines += _extra(lines, page_sizes()["refundLineItems"])
    assert len(to_graphql_node(order)["refunds"][0]["refundLineItems"]["nodes"]) == page_sizes()["refundLineItems"]
    assert "more lines in refund" in _refused_from_rest(order)


def test_truncation_from_a_rest_order_too_many_adjustments():
    order = with_refund(samples.order(), *[{**DISCREPANCY, "id": n} for n in range(page_sizes()["orderAdjustments"] + 1)])
    assert "more adjustments in refund" in _refused_from_rest(order)


@pytest.mark.parametrize("count", [gql.REFUNDS_READ, gql.REFUNDS_READ + 3])
def test_truncation_from_a_rest_order_too_many_refunds(count):
    order = with_refunds(samples.order(), count)
    assert len(to_graphql_node(order)["refunds"]) == min(count, page_sizes()["refunds"])
    assert f"has {gql.REFUNDS_READ} refunds" in _refused_from_rest(order)


def test_normalise_reads_a_stored_reconciliation_body():
    raw = json.dumps(node()).encode()
    event = gql.normalise("reconcile/order", raw)
    assert isinstance(event, OrderEvent) and event.order_id == "820982911946154508"
    assert gql.normalise("orders/create", raw) is None


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1]", b"null", b'"order"', b"[" * 100_000])
def test_body_that_is_not_a_json_object_is_malformed(raw):
    with pytest.raises(MalformedPayload):
        gql.normalise("reconcile/order", raw)


def _tax_included(change):
    def apply(body):
        body["taxesIncluded"] = True
        change(body)
    return apply


def _first_line(change):
    return lambda body: change(body["lineItems"]["nodes"][0])


MALFORMED = {
    "legacyResourceId missing": lambda b: b.pop("legacyResourceId"),
    "legacyResourceId a float": lambda b: b.update(legacyResourceId=8.2e17),
    "legacyResourceId a gid": lambda b: b.update(legacyResourceId="gid://shopify/Order/1"),
    "currencyCode missing": lambda b: b.update(currencyCode=None),
    "currencyCode not ISO": lambda b: b.update(currencyCode="EURO"),
    "lineItems missing": lambda b: b.pop("lineItems"),
    "lineItems a list": lambda b: b.update(lineItems=[]),
    "lineItems nodes missing": lambda b: b["lineItems"].pop("nodes"),
    "lineItems pageInfo missing": lambda b: b["lineItems"].pop("pageInfo"),
    "lineItems hasNextPage not a boolean": lambda b: b["lineItems"]["pageInfo"].update(hasNextPage="false"),
    "a line not an object": lambda b: b["lineItems"]["nodes"].append(1),
    "line price missing": _first_line(lambda line: line.pop("originalUnitPriceSet")),
    "line price not an amount": _first_line(lambda line: line["originalUnitPriceSet"]["shopMoney"].update(amount="x")),
    "line price shopMoney missing": _first_line(lambda line: line["originalUnitPriceSet"].update(shopMoney=None)),
    "line presentment price junk": _first_line(
        lambda line: line["originalUnitPriceSet"]["presentmentMoney"].update(amount="forty")),
    "line price huge": _first_line(lambda line: line["originalUnitPriceSet"]["shopMoney"].update(amount="1E+999999999")),
    "base out of range": _first_line(
        lambda line: line["originalUnitPriceSet"]["shopMoney"].update(amount="100000000000000")),
    "line quantity a string": _first_line(lambda line: line.update(quantity="1")),
    "line quantity negative": _first_line(lambda line: line.update(quantity=-1)),
    "line currentQuantity a float": _first_line(lambda line: line.update(currentQuantity=1.0)),
    "line id not a gid": _first_line(lambda line: line.update(id="15873421190358")),
    "line id of junk": _first_line(lambda line: line.update(id="gid://shopify/LineItem/abc")),
    "line product an id": _first_line(lambda line: line.update(product="gid://shopify/Product/1")),
    "line product id junk": _first_line(lambda line: line.update(product={"id": 8934521907414})),
    "allocations an object": _first_line(lambda line: line.update(discountAllocations={"nodes": []})),
    "allocation without amount": _first_line(lambda line: line.update(discountAllocations=[{}])),
    "prices with tax, tax not an amount": _tax_included(
        _first_line(lambda line: line["taxLines"][0]["priceSet"]["shopMoney"].update(amount="?"))),
    "prices with tax, tax priceSet missing": _tax_included(_first_line(lambda line: line["taxLines"][0].pop("priceSet"))),
    "prices with tax, taxLines an object": _tax_included(_first_line(lambda line: line.update(taxLines={"nodes": []}))),
    "createdAt missing": lambda b: b.update(processedAt=None, createdAt=None),
    "processedAt without offset": lambda b: b.update(processedAt="2026-11-22T15:02:59"),
    "cancelledAt junk": lambda b: b.update(cancelledAt="yesterday"),
    "discountCodes a string": lambda b: b.update(discountCodes="ALICE15"),
    "customAttributes an object": lambda b: b.update(customAttributes={"key": "_ref"}),
    "refunds an object": lambda b: b.update(refunds={"nodes": []}),
    "refund without id": lambda b: b.update(refunds=[{**refund_node(), "legacyResourceId": None}]),
    "refund line without subtotal": lambda b: b.update(refunds=[refund_node(lines=[{"quantity": 1}])]),
    "refund line without quantity": lambda b: b.update(refunds=[refund_node(lines=[
        {**refund_line("12.75"), "quantity": None}])]),
    "refund line's line a string": lambda b: b.update(refunds=[refund_node(lines=[
        {**refund_line("12.75"), "lineItem": "gid://shopify/LineItem/1"}])]),
    "refund line tax junk": lambda b: b.update(refunds=[refund_node(lines=[{**refund_line("12.75"), "totalTaxSet": shop("x")}])]),
    "refund lines missing": lambda b: b.update(refunds=[{**refund_node(), "refundLineItems": None}]),
    "refund lines a list": lambda b: b.update(refunds=[{**refund_node(), "refundLineItems": []}]),
    "refund lines without pageInfo": lambda b: b.update(refunds=[{**refund_node(), "refundLineItems": {"nodes": []}}]),
    "refund adjustments missing": lambda b: b.update(refunds=[{**refund_node(), "orderAdjustments": None}]),
    "refund adjustments hasNextPage null": lambda b: b.update(
        refunds=[{**refund_node(), "orderAdjustments": {"nodes": [], "pageInfo": {"hasNextPage": None}}}]),
    "refund adjustment amount junk": lambda b: b.update(
        refunds=[refund_node({"reason": "DAMAGE", "amountSet": shop("lots")})]),
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


FULL_NODE = to_graphql_node(taxes_included(with_refund(samples.order(), DISCREPANCY, SHIPPING_REFUND)))
PATHS = [path for path in _paths(FULL_NODE) if path]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20) | st.sampled_from(["12.50", "-1", "2026-11-22T15:02:59Z", "PAID", "1", "EUR"]),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(["nodes", "amount", "shopMoney", "presentmentMoney", "currencyCode",
                                       "pageInfo", "hasNextPage", "taxLines", "priceSet", "lastVisit",
                                       "reason", "id", "quantity", "currentQuantity", "lineItem",
                                       "allocatedAmountSet"]) | st.text(max_size=6),
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
