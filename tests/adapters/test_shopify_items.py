"""An order's lines as items (adapters/shopify/lines.py), by webhook and by reconciliation: what the backend is paid
per product, adding up to the commission base exactly, after order edits and with refunds counted back in.

The template order (standins/shopify/samples/order.json): a scarf 40.00 less 6.00 and two pairs of socks 2 × 15.00
less 4.50, EUR, presentment USD at 1.10 (37.40 and 28.05). order_vat.json is a GBP shop whose prices include 20% VAT.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.shopify import normalise as rest
from adapters.shopify import normalise_graphql as gql
from adapters.shopify.lines import Line, effective_quantity, exponent, order_lines, scaled
from connector.core.platform import LineItem, Money, OrderEvent, RefundEvent
from connector.errors import MalformedPayload
from standins.shopify import samples
from standins.shopify.order_node import to_graphql_node

SCARF, SOCKS = "15873421190358", "15873421223126"


def by_webhook(order: dict, topic: str = "orders/updated") -> OrderEvent:
    event = rest.normalise(topic, samples.encode(order))
    assert isinstance(event, OrderEvent)
    return event


def by_graphql(order: dict) -> OrderEvent:
    return gql.order_event(json.loads(json.dumps(to_graphql_node(order), default=str)), "orders/updated")


def refund_of(order: dict, units: int = 1, refund_id: int = 509562969) -> dict:
    refund = samples.refund(refund_id=refund_id, order_id=order["id"])
    refund["refund_line_items"][0]["quantity"] = units
    return refund


def assert_same(order: dict) -> OrderEvent:
    """The webhook and the reconciliation node of one order give one event (bar what GraphQL is not asked)."""
    webhook, node = by_webhook(order), by_graphql(order)
    webhook = replace(webhook, proof=None, landing_url=node.landing_url,
                      refunds=tuple(replace(r, presentment_base=None) for r in webhook.refunds))
    assert node == webhook
    return webhook


def assert_adds_up(event: OrderEvent) -> None:
    assert sum((item.amount for item in event.items), Decimal(0)) == event.commission_base.amount


# --- the lines of an order -----------------------------------------------------------------------


def test_the_template_orders_lines_are_items_adding_up_to_the_base():
    event = by_webhook(samples.order())
    assert event.items == (
        LineItem(SCARF, "8934521907414", "47205163221206", "WS-GRY-01", "Wool Scarf", Decimal(1), Decimal("34.00")),
        LineItem(SOCKS, "8934521972950", "47205163450582", "MS-NVY-M", "Merino Socks", Decimal(2), Decimal("25.50")),
    )
    assert_adds_up(event)
    assert event.updated_at == datetime(2026, 11, 22, 14, 3, 1, tzinfo=timezone.utc)
    assert event.taxes_included is False
    assert assert_same(samples.order()).items == event.items


def test_with_taxes_included_each_line_leaves_its_tax_out():
    order = samples.order()
    order["taxes_included"] = True
    event = by_webhook(order)
    assert [item.amount for item in event.items] == [Decimal("27.20"), Decimal("20.40")]
    assert event.taxes_included and event.commission_base == Money(Decimal("47.60"), "EUR")
    assert_adds_up(event)
    assert_same(order)


def test_ids_beyond_2_53_stay_exact_text():
    order = samples.order()
    order["line_items"][0].update(id=2**63 - 3, product_id=2**62 + 1, variant_id=None)
    (scarf, _) = by_webhook(order).items
    assert (scarf.line_id, scarf.product_id, scarf.variant_id) == (str(2**63 - 3), str(2**62 + 1), None)
    assert assert_same(order).items[0] == scarf


def test_a_custom_line_has_no_product_and_a_long_title_is_cut():
    order = samples.order()
    order["line_items"][0].update(product_id=None, variant_id=None, sku="", title="T" * 300)
    (custom, _) = by_webhook(order).items
    assert (custom.product_id, custom.variant_id, custom.sku, custom.title) == (None, None, None, "T" * 255)


# --- order edits ----------------------------------------------------------------------------------


def test_units_an_edit_removed_leave_the_base_scaled_and_rounded_half_even():
    """One pair of socks removed: 25.50 × 1/2 = 12.75 EUR; 28.05 × 1/2 = 14.025 → 14.02 USD (half-even)."""
    order = samples.order()
    order["line_items"][1]["current_quantity"] = 1
    event = by_webhook(order)
    assert event.items[1].quantity == Decimal(1) and event.items[1].amount == Decimal("12.75")
    assert event.commission_base == Money(Decimal("46.75"), "EUR")
    assert event.presentment_base == Money(Decimal("37.40") + Decimal("14.02"), "USD")
    assert_adds_up(event)
    assert_same(order)


def test_a_refund_does_not_lower_the_base_it_is_reversed_on_its_own():
    """Refunded units are out of current_quantity and counted back in: the base stays 59.50."""
    order = samples.order(financial_status="partially_refunded")
    order["line_items"][1]["current_quantity"] = 1
    order["refunds"] = [refund_of(order)]
    event = by_webhook(order)
    assert event.commission_base == Money(Decimal("59.50"), "EUR")
    assert event.items[1].quantity == Decimal(2)
    (refund,) = event.refunds
    assert refund.items[0].quantity == Decimal(1) and refund.commission_base.amount == Decimal("12.75")
    assert_same(order)


def test_removed_and_refunded_units_of_one_line():
    """Three pairs, one removed by an edit, one refunded: two count, 2/3 of (45.00 − 4.50) = 27.00."""
    order = samples.order()
    order["line_items"][1].update(quantity=3, current_quantity=1)
    order["refunds"] = [refund_of(order)]
    assert [i.amount for i in by_webhook(order).items] == [Decimal("34.00"), Decimal("27.00")]
    assert_same(order)


def test_a_line_added_by_an_edit_is_an_ordinary_line():
    order = samples.order()
    order["line_items"].append(samples.line_item(15873421255894, "Beanie", "20.00", 2, sku="BN-01",
                                                 product_id=8934522005718, discount="3.00", tax="7.40"))
    event = by_webhook(order)
    assert event.items[2] == LineItem("15873421255894", "8934522005718", None, "BN-01", "Beanie", Decimal(2),
                                      Decimal("37.00"))
    assert event.commission_base == Money(Decimal("96.50"), "EUR")
    assert_same(order)


def test_a_line_an_edit_emptied_stays_with_nothing_on_it():
    order = samples.order()
    order["line_items"][0]["current_quantity"] = 0
    event = by_webhook(order)
    assert (event.items[0].quantity, event.items[0].amount) == (Decimal(0), Decimal("0.00"))
    assert event.commission_base.amount == Decimal("25.50")


def test_a_payload_without_current_quantity_counts_the_whole_line():
    order = samples.order()
    for line in order["line_items"]:
        del line["current_quantity"]
    order["refunds"] = [refund_of(order)]
    event = by_webhook(order)
    assert event.commission_base.amount == Decimal("59.50") and event.items[1].quantity == Decimal(2)
    assert_same(order)


def test_more_current_and_refunded_units_than_the_line_has_is_read_as_nothing_removed():
    """A refund sample that did not lower current_quantity: removed units cannot be negative."""
    order = samples.order()
    order["refunds"] = [refund_of(order)]  # current_quantity still 2
    assert by_webhook(order).commission_base.amount == Decimal("59.50")


@pytest.mark.parametrize("amounts, places", [(["40.00", "-6.00"], -2), (["4000", "-100"], 0), (["12.345"], -3),
                                             (["1E+2"], 0), (["0.5", "-0.25"], -2)])
def test_the_minor_unit_is_read_from_the_lines_own_amounts(amounts, places):
    assert exponent([Decimal(a) for a in amounts]) == places


def test_scaling_rounds_half_even_only_when_units_differ():
    assert scaled(Decimal("28.05"), 1, 2, -2) == Decimal("14.02")
    assert scaled(Decimal("28.15"), 1, 2, -2) == Decimal("14.08")
    assert scaled(Decimal("2900"), 2, 3, 0) == Decimal("1933")
    assert scaled(Decimal("10.0001"), 3, 3, -2) == Decimal("10.0001")  # unchanged: nothing to scale


def test_effective_quantity():
    line = Line("1", None, None, None, None, 3, 1, ((Decimal(3), None),))
    assert [effective_quantity(line, n) for n in (0, 1, 2, 5)] == [1, 2, 3, 3]
    assert effective_quantity(replace(line, current_quantity=None), 2) == 3


# --- refunds --------------------------------------------------------------------------------------


def test_a_refunds_lines_are_items_with_their_tax_beside_them():
    event = rest.normalise("refunds/create", samples.encode(samples.refund()))
    assert isinstance(event, RefundEvent)
    assert event.items == (LineItem(SOCKS, "8934521972950", "47205163450582", "MS-NVY-M", "Merino Socks",
                                    Decimal(1), Decimal("12.75")),)
    assert event.included_tax == {SOCKS: Decimal("2.55")}


def test_an_amount_only_refund_has_no_item_and_a_mixed_one_items_for_its_lines_only():
    body = samples.refund()
    body["order_adjustments"] = [{"kind": "refund_discrepancy", "amount": "-5.00"}]
    mixed = rest.normalise("refunds/create", samples.encode(body))
    assert mixed.commission_base.amount == Decimal("17.75") and sum(i.amount for i in mixed.items) == Decimal("12.75")
    body["refund_line_items"] = []
    alone = rest.normalise("refunds/create", samples.encode(body))
    assert alone.items == () and alone.included_tax == {} and alone.commission_base.amount == Decimal("5.00")


def test_a_line_refunded_in_two_parts_of_one_refund_sums_its_tax():
    body = samples.refund()
    body["refund_line_items"].append(copy.deepcopy(body["refund_line_items"][0]))
    event = rest.normalise("refunds/create", samples.encode(body))
    assert len(event.items) == 2 and event.included_tax == {SOCKS: Decimal("5.10")}


def test_a_refund_line_without_its_tax_or_its_line_id_gives_no_included_tax():
    body = samples.refund()
    line = body["refund_line_items"][0]
    del line["total_tax"], line["total_tax_set"]
    assert rest.normalise("refunds/create", samples.encode(body)).included_tax == {}
    body = samples.refund()
    del body["refund_line_items"][0]["line_item_id"], body["refund_line_items"][0]["line_item"]
    event = rest.normalise("refunds/create", samples.encode(body))
    assert event.items[0].line_id is None and event.included_tax == {}


def test_the_order_refunds_by_graphql_take_the_refunded_lines_product_from_the_order():
    order = samples.order(financial_status="partially_refunded")
    order["line_items"][1]["current_quantity"] = 1
    order["refunds"] = [refund_of(order)]
    (refund,) = by_graphql(order).refunds
    assert refund.items == by_webhook(order).refunds[0].items
    assert refund.included_tax == {SOCKS: Decimal("2.55")}


# --- a shop whose prices include tax (order_vat.json, refund_vat.json) -----------------------------


def test_the_tax_inclusive_order_leaves_its_vat_out():
    event = by_webhook(samples.order_vat())
    assert event.taxes_included
    assert event.commission_base == Money(Decimal("63.00"), "GBP") == event.presentment_base
    assert [(i.title, i.quantity, i.amount) for i in event.items] == [
        ("Linen Shirt", Decimal(1), Decimal("45.00")), ("Cotton Socks", Decimal(2), Decimal("18.00"))]
    assert_adds_up(event)
    assert_same(samples.order_vat())


def test_the_tax_inclusive_refund_keeps_its_vat_in_and_names_it():
    """The adapter does not take the tax out (refunds/create does not say prices include it): the core does."""
    event = rest.normalise("refunds/create", samples.encode(samples.refund_vat()))
    (item,) = event.items
    assert event.commission_base == Money(Decimal("10.80"), "GBP") and item.amount == Decimal("10.80")
    assert event.included_tax == {"16002311491722": Decimal("1.80")}
    # What the core then credits back: half the socks' base, as the purchase counted it.
    purchase = by_webhook(samples.order_vat()).items[1]
    assert item.amount - event.included_tax[item.line_id] == purchase.amount / 2


def test_the_tax_inclusive_order_refunded_is_the_same_event_both_ways():
    order = samples.order_vat()
    order["financial_status"] = "partially_refunded"
    order["line_items"][1]["current_quantity"] = 1
    order["refunds"] = [samples.refund_vat()]
    event = assert_same(order)
    assert event.commission_base.amount == Decimal("63.00")
    assert event.refunds[0].included_tax == {"16002311491722": Decimal("1.80")}


# --- malformed ------------------------------------------------------------------------------------


def _line(change):
    def apply(order):
        change(order["line_items"][1])
    return apply


def _refund_line(change):
    def apply(order):
        order["refunds"] = [refund_of(order)]
        change(order["refunds"][0]["refund_line_items"][0])
    return apply


MALFORMED = {
    "current_quantity a string": _line(lambda line: line.update(current_quantity="1")),
    "current_quantity negative": _line(lambda line: line.update(current_quantity=-1)),
    "current_quantity true": _line(lambda line: line.update(current_quantity=True)),
    "current_quantity huge": _line(lambda line: line.update(current_quantity=10**12)),
    "line id not a number": _line(lambda line: line.update(id="abc")),
    "product_id a float": _line(lambda line: line.update(product_id=8.9e12)),
    "variant_id junk": _line(lambda line: line.update(variant_id={"id": 1})),
    "updated_at not a time": lambda order: order.update(updated_at="later"),
    "updated_at without offset": lambda order: order.update(updated_at="2026-11-22T15:03:01"),
    "refund line without quantity": _refund_line(lambda line: line.pop("quantity")),
    "refund line quantity a string": _refund_line(lambda line: line.update(quantity="1")),
    "refund line_item_id junk": _refund_line(lambda line: line.update(line_item_id="socks")),
    "refund line total_tax junk": _refund_line(lambda line: line["total_tax_set"]["shop_money"].update(amount="x")),
    "refund line's product id junk": _refund_line(lambda line: line["line_item"].update(product_id="?")),
}


@pytest.mark.parametrize("change", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_lines_and_refund_lines_raise_malformed_payload(change):
    order = samples.order()
    change(order)
    with pytest.raises(MalformedPayload):
        rest.normalise("orders/updated", samples.encode(order))


@pytest.mark.parametrize("change", [lambda line: line.pop("quantity"), lambda line: line.update(line_item_id=-4),
                                    lambda line: line.update(total_tax="lots", total_tax_set=None)])
def test_a_malformed_refunds_create_line_raises_malformed_payload(change):
    body = samples.refund()
    change(body["refund_line_items"][0])
    with pytest.raises(MalformedPayload):
        rest.normalise("refunds/create", samples.encode(body))


# --- property: any lines, quantities, discounts, taxes, currencies ---------------------------------

CURRENCIES = [("JPY", 0), ("EUR", 2), ("KWD", 3)]


def _amount(minor: int, places: int) -> str:
    return f"{Decimal(minor).scaleb(-places):f}"


@st.composite
def orders(draw) -> dict:
    currency, places = draw(st.sampled_from(CURRENCIES))
    present, present_places = draw(st.sampled_from(CURRENCIES))
    taxes_included = draw(st.booleans())
    order = samples.order(financial_status="partially_refunded")
    order.update(currency=currency, presentment_currency=present, taxes_included=taxes_included)

    def money(shop_minor: int, present_minor: int) -> dict:
        return {"shop_money": {"amount": _amount(shop_minor, places), "currency_code": currency},
                "presentment_money": {"amount": _amount(present_minor, present_places), "currency_code": present}}

    lines, refunded = [], []
    for index in range(draw(st.integers(1, 4))):
        quantity = draw(st.integers(0, 6))
        price, price_p = draw(st.integers(0, 10**6)), draw(st.integers(0, 10**6))
        allocations = draw(st.lists(st.tuples(st.integers(0, 10**5), st.integers(0, 10**5)), max_size=2))
        taxes = draw(st.lists(st.tuples(st.integers(0, 10**5), st.integers(0, 10**5)), max_size=2))
        current = draw(st.none() | st.integers(0, quantity))
        back = draw(st.integers(0, quantity - (current or 0)))
        line = {"id": 9000 + index, "product_id": 100 + index, "variant_id": None, "sku": f"S{index}",
                "title": f"Line {index}", "quantity": quantity, "price": _amount(price, places),
                "price_set": money(price, price_p),
                "discount_allocations": [{"amount": _amount(a, places), "amount_set": money(a, b)} for a, b in allocations],
                "tax_lines": [{"price": _amount(a, places), "price_set": money(a, b)} for a, b in taxes]}
        if current is not None:
            line["current_quantity"] = current
        lines.append(line)
        if back:
            refunded.append({"id": 1 + index, "quantity": back, "line_item_id": line["id"], "subtotal": "1",
                             "subtotal_set": money(1, 1), "total_tax": "0", "total_tax_set": money(0, 0),
                             "line_item": {"id": line["id"], "product_id": 100 + index, "title": f"Line {index}",
                                           "sku": f"S{index}", "variant_id": None}})
    order["line_items"] = lines
    order["refunds"] = [{"id": 77, "created_at": "2026-11-29T10:14:03+01:00", "refund_line_items": refunded,
                         "order_adjustments": []}] if refunded else []
    return order


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=orders())
def test_items_add_up_to_the_base_and_both_normalisers_agree(order):
    event = by_webhook(order)
    assert_adds_up(event)
    assert all(item.quantity <= line["quantity"] for item, line in zip(event.items, order["line_items"]))
    if event.presentment_base is not None:
        assert event.presentment_base.currency == order["presentment_currency"]
    assert_same(order)


@settings(max_examples=200, deadline=None)
@given(terms=st.lists(st.tuples(st.integers(-10**7, 10**7), st.integers(0, 3)), min_size=1, max_size=4),
       quantity=st.integers(1, 9), data=st.data())
def test_order_lines_totals_are_the_sums_of_their_items(terms, quantity, data):
    lines = [Line(str(n), None, None, None, None, quantity, data.draw(st.integers(0, quantity)),
                  ((Decimal(minor).scaleb(-places), Decimal(minor).scaleb(-places)),))
             for n, (minor, places) in enumerate(terms)]
    counted = order_lines(lines, {})
    assert counted.shop_total == sum(item.amount for item in counted.items)
    for item, line in zip(counted.items, lines):
        assert item.amount.as_tuple().exponent >= min(0, line.terms[0][0].as_tuple().exponent)
