"""WooCommerce orders' lines, edits, update times and Subscriptions markers, as the normaliser reads them.

The template order (PROVENANCE.md): lines 7001 (40.00, coupon 15% → 34.00) and 7002 (2 × 15.00 → 25.50); the
tax-inclusive one: 8001 (45.00) and 8002 (2 totes, 27.00), prices entered with 20% VAT.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.woocommerce import adapter
from adapters.woocommerce.normalise import normalise
from connector.core.platform import LineItem, OrderEvent, Renewal
from connector.errors import MalformedPayload
from standins.woocommerce import orders, samples, subscriptions

CENT = Decimal("0.01")


def order_event(body: dict, topic: str = "order.updated") -> OrderEvent:
    event = adapter.normalise(topic, samples.encode(body))  # storable-checked, as the worker gets it
    assert isinstance(event, OrderEvent)
    return event


# --- lines ---------------------------------------------------------------------------------------


def test_each_line_is_an_item_and_the_items_add_up_to_the_base():
    event = order_event(samples.order())
    assert event.items == (
        LineItem(line_id="7001", product_id="301", variant_id=None, sku="SCARF-MER-GRY", title="Merino scarf",
                 quantity=Decimal(1), amount=Decimal("34.00")),
        LineItem(line_id="7002", product_id="305", variant_id="307", sku="SOCKS-WL-3942",
                 title="Wool socks - Size: 39-42", quantity=Decimal(2), amount=Decimal("25.50")),
    )
    assert sum(item.amount for item in event.items) == event.commission_base.amount == Decimal("59.50")


def test_a_tax_inclusive_shop_s_lines_are_without_tax_and_say_so():
    event = order_event(samples.tax_inclusive_order())
    assert [(item.line_id, item.amount) for item in event.items] == [("8001", Decimal("45.00")),
                                                                     ("8002", Decimal("27.00"))]
    assert event.commission_base.amount == Decimal("72.00") and event.commission_base.currency == "GBP"
    assert event.taxes_included is True
    assert order_event(samples.order()).taxes_included is False


@pytest.mark.parametrize("value", [None, "missing"])
def test_an_order_without_prices_include_tax_is_taken_as_without_tax(value):
    body = samples.order()
    if value == "missing":
        del body["prices_include_tax"]
    else:
        body["prices_include_tax"] = value
    assert order_event(body).taxes_included is False


def test_no_lines_give_no_items_and_a_zero_base():
    body = samples.order()
    body["line_items"] = []
    event = order_event(body)
    assert event.items == () and event.commission_base.amount == 0


def test_labels_are_optional_and_cut_but_never_make_an_order_malformed():
    body = samples.order()
    body["line_items"][0].update(sku="", name="x" * 1000)
    body["line_items"][1].update(sku=None, name={"rendered": "socks"})
    first, second = order_event(body).items
    assert (first.sku, len(first.title)) == (None, 255)
    assert (second.sku, second.title) == (None, None)


def test_a_line_without_an_id_has_none_and_still_counts():
    body = samples.order()
    del body["line_items"][0]["id"]
    body["line_items"][1]["product_id"] = 0  # a line whose product was deleted
    first, second = order_event(body).items
    assert first.line_id is None and second.product_id is None
    assert order_event(body).commission_base.amount == Decimal("59.50")


def _line(key, value):
    def change(body):
        body["line_items"][0][key] = value
    return change


MALFORMED_LINES = {
    "line id abc": _line("id", "abc"),
    "line id negative": _line("id", -7),
    "line id a list": _line("id", [7001]),
    "product_id text": _line("product_id", "scarf"),
    "variation_id negative": _line("variation_id", -1),
    "variation_id true": _line("variation_id", True),
    "quantity fractional text": _line("quantity", "0.5"),
    "prices_include_tax yes": lambda body: body.update(prices_include_tax="yes"),
    "prices_include_tax 1": lambda body: body.update(prices_include_tax=1),
}


@pytest.mark.parametrize("change", MALFORMED_LINES.values(), ids=MALFORMED_LINES.keys())
def test_malformed_lines_make_the_order_malformed(change):
    body = samples.order()
    change(body)
    with pytest.raises(MalformedPayload):
        normalise("order.updated", samples.encode(body))


def test_a_line_name_the_database_cannot_hold_is_refused_by_the_adapter():
    body = samples.order()
    body["line_items"][0]["name"] = "scarf \ud800"
    with pytest.raises(MalformedPayload, match="items"):
        adapter.normalise("order.updated", samples.encode(body))


# --- property: the items add up to the base exactly ----------------------------------------------

quantities = st.integers(min_value=0, max_value=500) | st.decimals(min_value=0, max_value=50, places=3)
lines = st.lists(st.tuples(quantities, st.decimals(min_value=0, max_value=5000, places=2), st.booleans()),
                 max_size=12)
coupons = st.lists(st.integers(min_value=1, max_value=100), max_size=3)


@settings(max_examples=300, deadline=None)
@given(lines=lines, coupons=coupons)
def test_items_always_add_up_to_the_base_exactly(lines, coupons):
    """Lines of any quantity (fractional ones, from weight-based plugins, included) and price, after any coupons
    taken off each line as WooCommerce does, totals written as strings or JSON numbers."""
    body = samples.order()
    template = body["line_items"][0]
    body["line_items"] = []
    for index, (quantity, unit_price, as_number) in enumerate(lines):
        total = unit_price * quantity
        for percent in coupons:
            total -= (total * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        total = total.quantize(CENT, rounding=ROUND_HALF_UP)
        body["line_items"].append({**template, "id": 9000 + index, "quantity": quantity,
                                   "total": total if as_number else str(total)})
    # Decimals go out as JSON numbers (samples.encode, as PHP writes them) and come back exact (json_body.load).
    event = normalise("order.updated", samples.encode(body))
    assert len(event.items) == len(lines)
    assert sum((item.amount for item in event.items), Decimal(0)) == event.commission_base.amount
    assert [item.quantity for item in event.items] == [Decimal(quantity) for quantity, _, _ in lines]
    assert [item.line_id for item in event.items] == [str(9000 + index) for index in range(len(lines))]


# --- edits and refunds ---------------------------------------------------------------------------


def test_an_edited_order_s_items_are_its_lines_as_they_now_stand():
    """A merchant edit (the stand-in's orders.edit_lines: one sock pair instead of two, the scarf removed, a hat added) changes
    line_items in place; the base and the items follow, and the update time moves."""
    before = samples.order()
    edited = samples.order()
    orders.edit_lines(edited, {7002: {"quantity": 1}, 7001: None},
                      [{"name": "Beanie", "product_id": 330, "quantity": 1, "total": "18.00"}],
                      new_item_id=iter(range(7100, 7200)).__next__, utc_offset=timedelta(0))
    event, original = order_event(edited), order_event(before)
    assert [(item.line_id, item.quantity, item.amount) for item in event.items] == [
        ("7002", Decimal(1), Decimal("12.75")), ("7100", Decimal(1), Decimal("18.00"))]
    assert event.commission_base.amount == Decimal("30.75")
    assert event.updated_at > original.updated_at
    assert edited["total"] == "42.78"  # 30.75 + 20% tax 6.15 + shipping 4.90 and its 0.98


def test_a_refund_leaves_the_lines_and_the_base_as_they_were():
    """WooCommerce's refund is an object of its own: the order's line_items (and so the base) do not move."""
    order = samples.tax_inclusive_order()
    order["refunds"] = []
    before = order_event(order)
    orders.refund(order, {8002: 1}, None, "", refund_id=8110, new_item_id=iter(range(8200, 8300)).__next__,
                  utc_offset=timedelta(0))
    after = order_event(order)
    assert after.items == before.items and after.commission_base == before.commission_base
    assert [refund.refund_id for refund in after.refunds] == ["8110"]
    assert after.updated_at > before.updated_at


def test_updated_at_is_the_modification_time_or_the_creation_time():
    body = samples.order(date_modified_gmt="2026-11-23T08:00:00")
    assert order_event(body).updated_at == datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
    body["date_modified_gmt"] = None
    assert order_event(body).updated_at == datetime(2026, 11, 22, 14, 2, 59, tzinfo=timezone.utc)


# --- WooCommerce Subscriptions markers -----------------------------------------------------------


def _with_meta(rows: dict, created_via: str = "checkout") -> dict:
    body = samples.order()
    body["created_via"] = created_via
    for index, (key, value) in enumerate(rows.items()):
        body["meta_data"].append({"id": 95000 + index, "key": key, "value": value})
    return body


@pytest.mark.parametrize("rows, created_via, renewal, starts", [
    ({"_subscription_renewal": "812"}, "subscription", Renewal("meta _subscription_renewal", "812"), False),
    ({"_subscription_renewal": 812}, "checkout", Renewal("meta _subscription_renewal", "812"), False),  # early renewal
    ({"_subscription_renewal": "not-an-id"}, "subscription", Renewal("meta _subscription_renewal"), False),
    ({}, "subscription", Renewal("created_via subscription"), False),
    ({"_subscription_renewal": ""}, "subscription", Renewal("created_via subscription"), False),
    ({"_subscription_switch": "812"}, "checkout", None, False),
    ({"_subscription_resubscribe": "812"}, "checkout", None, True),
    ({"_subscription_resubscribe": "812"}, "subscription", None, True),
    ({}, "checkout", None, False),
    ({"_subscription_renewal": True}, "checkout", None, False),
], ids=["renewal", "early renewal", "garbled id", "created_via only", "empty meta", "switch", "resubscribe",
        "resubscribe order made from the subscription", "ordinary", "odd value"])
def test_subscriptions_markers(rows, created_via, renewal, starts):
    event = order_event(_with_meta(rows, created_via))
    assert event.renewal == renewal
    assert event.starts_subscription is starts


def test_the_first_renewal_row_names_the_subscription():
    body = _with_meta({"_subscription_renewal": "812"}, "subscription")
    body["meta_data"].append({"id": 95100, "key": "_subscription_renewal", "value": "813"})
    assert order_event(body).renewal.subscription_id == "812"


def test_a_renewal_order_of_the_stand_in_is_a_renewal_of_its_subscription():
    ids = iter(range(3_000_000, 3_000_100)).__next__
    subscription = subscriptions.subscription_from(samples.order(), subscription_id=9001, new_item_id=ids,
                                                   utc_offset=timedelta(0))
    renewal = subscriptions.renewal_from(subscription, order_id=9002, new_item_id=ids, utc_offset=timedelta(0))
    event = order_event(renewal, "order.created")
    assert event.renewal == Renewal("meta _subscription_renewal", "9001")
    assert event.paid and not event.starts_subscription
    # No coupon recurs: the renewal charges the lines' full price (40.00 + 30.00).
    assert event.discount_codes == () and event.commission_base.amount == Decimal("70.00")
