"""WooCommerce line items (an order's `line_items`, a refund's) → neutral LineItems, one per line.

A line's `total` is its part of the commission base: WooCommerce keeps it after coupon discounts and without tax,
even in a shop whose prices are entered with tax (the cart takes the tax out of the line total before the order
is made: `WC_Cart_Totals::calculate_item_totals`; `WC_Checkout::create_order_line_items` stores that `line_total`
as the item's `total`). An order's base is the sum of its lines' totals, so the lines add up to it exactly.

A refund's lines are copies of the refunded lines with negative `quantity` and `total` (`wc_create_refund`); the
refunded line's own id is their meta `_refunded_item_id`, and their total is without tax too (the create request's
`refund_total` is "excluding taxes"). They are read back positive. Pure: no database, no network.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connector.core.platform import LineItem
from connector.core.shapes import Empty, list_field, objects_field
from connector.errors import MalformedPayload

from .fields import MAX_AMOUNT, amount, label, optional_id, quantity

#: WooCommerce writes an empty list as [] (its schema types them as arrays): only null is no entries
EMPTY = Empty.NULL
REFUNDED_ITEM_KEY = "_refunded_item_id"


def order_lines(order: dict) -> tuple[LineItem, ...]:
    """The order's `line_items` as they stand (edits change them; refunds, separate objects, do not)."""
    if not isinstance(order.get("line_items"), list):
        raise MalformedPayload("line_items is missing or not a list")
    items = tuple(_line(line, f"line_items[{index}]", line_id=optional_id(line.get("id"), f"line_items[{index}].id"))
                  for index, line in enumerate(objects_field(order, "line_items", empty=EMPTY)))
    _check_sum(items, "the line totals")
    return items


def refund_lines(refund: dict, where: str) -> tuple[LineItem, ...]:
    """A refund's `line_items`, positive: what it gives back of each original line (named by that line's id)."""
    items = []
    for index, line in enumerate(objects_field(refund, "line_items", empty=EMPTY)):
        at = f"{where}.line_items[{index}]"
        refunded_id = _meta_value(line, REFUNDED_ITEM_KEY, at)
        items.append(_line(line, at, line_id=optional_id(refunded_id, f"{at} {REFUNDED_ITEM_KEY}"), refunded=True))
    result = tuple(items)
    _check_sum(result, f"{where}'s line totals")
    return result


def _line(line: dict, where: str, *, line_id: str | None, refunded: bool = False) -> LineItem:
    total = amount(line.get("total"), f"{where}.total")
    if refunded:
        if total > 0:  # a refund line gives money back: WooCommerce writes it negative
            raise MalformedPayload(f"{where}.total of a refund is positive: {total}")
        total = Decimal(0) - total
    return LineItem(
        line_id=line_id,
        product_id=optional_id(line.get("product_id"), f"{where}.product_id"),
        variant_id=optional_id(line.get("variation_id"), f"{where}.variation_id"),
        sku=label(line.get("sku")),
        title=label(line.get("name")),
        quantity=quantity(line.get("quantity"), f"{where}.quantity", refunded=refunded),
        amount=total,
    )


def _meta_value(line: dict, key: str, where: str) -> Any:
    """The value of the line's first meta row named `key` (None when it has none)."""
    for row in list_field(line, "meta_data", empty=EMPTY):
        if isinstance(row, dict) and row.get("key") == key:
            return row.get("value")
    return None


def _check_sum(items: tuple[LineItem, ...], what: str) -> None:
    if abs(sum((item.amount for item in items), Decimal(0))) >= MAX_AMOUNT:
        raise MalformedPayload(f"{what} add up to more than the connector holds")
