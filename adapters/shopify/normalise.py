"""Shopify order, refund and customer webhooks → neutral OrderEvent / RefundEvent / CustomerCreated.

Money is read as Decimal from the shop-money side of each `*_set` (falling back to the plain field,
which is in shop currency too); the presentment side is carried alongside. Order ids exceed 2**53,
so they are kept as text and never pass through a float. An order's lines are its items and its
commission base, as they stand after edits (lines.py); a refund's lines are its items, with their tax
beside them; renewal and first-order markers are renewals.py's.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from connector.errors import MalformedPayload
from connector.core.json_body import load
from connector.core.platform import Customer, CustomerCreated, LineItem, Money, OrderEvent, RefundEvent
from connector.core.shapes import Empty, list_field, objects_field, text_or_none

from . import renewals
from .lines import Line, order_lines

ORDER_TOPICS = frozenset({"orders/create", "orders/updated", "orders/paid", "orders/cancelled"})
REFUND_TOPICS = frozenset({"refunds/create"})
#: a shopper's sign-up: a lead conversion when the shopper came through an influencer
CUSTOMER_TOPICS = frozenset({"customers/create"})
# A Shopify order in one of these states has been paid (refunded orders were paid first).
PAID_STATUSES = frozenset({"paid", "partially_paid", "partially_refunded", "refunded"})
MAX_AMOUNT_DIGITS = 15  # 10**15 and above is no price: refused before any arithmetic can overflow
MAX_BASE_DIGITS = 14  # what the connector's money columns hold before the decimal point
MAX_QUANTITY = 10**9
ASCII_DIGITS = re.compile(r"[0-9]{1,64}")  # ids are kept in 64-character columns
CURRENCY = re.compile(r"[A-Z]{3}")
MAX_NAME = 100
#: product titles and SKUs are cut here rather than refused: Shopify allows 255 characters for either
MAX_TEXT = 255
#: lenient, as this normaliser has always been: any empty value (null, "", {}, ...) where a list belongs is no entries
EMPTY = Empty.FALSY


def _id(value: Any, field: str) -> str:
    if isinstance(value, bool) or value is None:
        raise MalformedPayload(f"{field} is missing or not a number")
    if isinstance(value, int) and 0 < value < 10**64:
        return str(value)
    if isinstance(value, str) and ASCII_DIGITS.fullmatch(value.strip()):
        return value.strip()
    raise MalformedPayload(f"{field} is not a numeric id: {value!r}")


def _optional_id(value: Any, field: str) -> str | None:
    if isinstance(value, bool) or value in (None, ""):
        return None
    if len(str(value)) > 64:
        raise MalformedPayload(f"{field} is longer than 64 characters")
    return str(value)


def _optional_numeric_id(value: Any, field: str) -> str | None:
    """A numeric id that may be absent (a custom line has no product): None, or its digits as text."""
    if value is None or value == "":
        return None
    return _id(value, field)


def _quantity(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_QUANTITY:
        raise MalformedPayload(f"{field} is missing or not a whole number")
    return value


def _text(value: Any) -> str | None:
    """A title or SKU: text, cut to what the platform allows; anything else is no value."""
    found = text_or_none(value)
    return found[:MAX_TEXT] if found else None


def _amount(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise MalformedPayload(f"{field} is missing")
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise MalformedPayload(f"{field} is not an amount: {value!r}") from None
    if not amount.is_finite() or amount.adjusted() >= MAX_AMOUNT_DIGITS:
        raise MalformedPayload(f"{field} is not a plausible amount: {value!r}")
    return amount


def _money_set(obj: dict, name: str, side: str) -> tuple[Decimal, str | None] | None:
    """`obj[name + "_set"][side]` as (amount, currency), or None when the set is absent."""
    money_set = obj.get(f"{name}_set")
    if not isinstance(money_set, dict) or not isinstance(money_set.get(side), dict):
        return None
    money = money_set[side]
    return _amount(money.get("amount"), f"{name}_set.{side}.amount"), money.get("currency_code")


def _shop_amount(obj: dict, name: str, where: str) -> Decimal:
    found = _money_set(obj, name, "shop_money")
    if found is not None:
        return found[0]
    return _amount(obj.get(name), f"{where}.{name}")


def _time(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise MalformedPayload(f"{field} is missing")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise MalformedPayload(f"{field} has no UTC offset: {value!r}")
        return parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # OverflowError: year 1 shifted out of range by its offset
        raise MalformedPayload(f"{field} is not an ISO 8601 time: {value!r}") from None


def _optional_time(value: Any, field: str) -> datetime | None:
    return None if value in (None, "") else _time(value, field)


def _amounts(obj: dict, name: str, where: str) -> tuple[Decimal, Decimal | None]:
    """(shop amount, presentment amount or None) of one money field."""
    present = _money_set(obj, name, "presentment_money")
    return _shop_amount(obj, name, where), present[0] if present else None


def _line(line: Any, where: str, taxes_included: bool) -> Line:
    """One REST line item: its amounts as signed terms, its ids and its quantities."""
    if not isinstance(line, dict):
        raise MalformedPayload(f"{where} is not an object")
    quantity = _quantity(line.get("quantity"), f"{where}.quantity")
    current = line.get("current_quantity")
    shop, present = _amounts(line, "price", where)
    terms: list[tuple[Decimal, Decimal | None]] = [(shop * quantity, None if present is None else present * quantity)]
    for allocation in objects_field(line, "discount_allocations", empty=EMPTY):
        shop, present = _amounts(allocation, "amount", f"{where}.discount_allocations")
        terms.append((-shop, None if present is None else -present))
    if taxes_included:  # the line price holds its tax: take it out
        for tax in objects_field(line, "tax_lines", empty=EMPTY):
            shop, present = _amounts(tax, "price", f"{where}.tax_lines")
            terms.append((-shop, None if present is None else -present))
    return Line(
        line_id=_optional_numeric_id(line.get("id"), f"{where}.id"),
        product_id=_optional_numeric_id(line.get("product_id"), f"{where}.product_id"),
        variant_id=_optional_numeric_id(line.get("variant_id"), f"{where}.variant_id"),
        sku=_text(line.get("sku")),
        title=_text(line.get("title")),
        quantity=quantity,
        # Older payloads (API versions before 2024-01) have no current_quantity: the line counts in full.
        current_quantity=None if current is None else _quantity(current, f"{where}.current_quantity"),
        terms=tuple(terms),
    )


def refunded_units(refunds: tuple[RefundEvent, ...]) -> dict[str, int]:
    """Units refunded per line id across the order's refunds: the base counts them back in."""
    units: dict[str, int] = {}
    for refund in refunds:
        for item in refund.items:
            if item.line_id is not None:
                units[item.line_id] = units.get(item.line_id, 0) + int(item.quantity)
    return units


def commission_base(order: dict, refunds: tuple[RefundEvent, ...] = ()) -> tuple[Money, Money | None,
                                                                                tuple[LineItem, ...]]:
    """The order's lines after their discounts, as they stand after edits; shipping, taxes (even when prices
    include them) and tips out; refunds not taken out (they are reversed on their own).

    Returns the shop-currency base, the presentment one when every presentment amount is present, and the
    lines as items whose amounts add up to the base exactly (adapters/shopify/lines.py).
    """
    shop_currency = order.get("currency")
    if not isinstance(shop_currency, str) or not CURRENCY.fullmatch(shop_currency):
        raise MalformedPayload(f"currency is missing or not an ISO 4217 code: {shop_currency!r}")
    line_items = order.get("line_items")
    if not isinstance(line_items, list):
        raise MalformedPayload("line_items is missing")
    taxes_included = order.get("taxes_included") is True
    lines = order_lines([_line(line, f"line_items[{index}]", taxes_included) for index, line in enumerate(line_items)],
                        refunded_units(refunds))
    if lines.shop_total and lines.shop_total.adjusted() >= MAX_BASE_DIGITS:
        raise MalformedPayload(f"commission base {lines.shop_total} is out of range")
    presentment = None
    presentment_currency = order.get("presentment_currency")
    if lines.presentment_total is not None and isinstance(presentment_currency, str) \
            and CURRENCY.fullmatch(presentment_currency):
        presentment = Money(lines.presentment_total, presentment_currency)
    return Money(lines.shop_total, shop_currency), presentment, lines.items


def _customer(order: dict) -> Customer:
    customer = order.get("customer") if isinstance(order.get("customer"), dict) else {}
    email = customer.get("email") or order.get("email") or order.get("contact_email")
    orders_count = customer.get("orders_count")
    first_order = orders_count == 1 if isinstance(orders_count, int) and not isinstance(orders_count, bool) else None
    return Customer(
        id=_optional_id(customer.get("id"), "customer.id"),
        email=text_or_none(email),
        first_order=first_order,
    )


def _discount_codes(order: dict) -> tuple[str, ...]:
    codes: list[str] = []
    for entry in list_field(order, "discount_codes", empty=EMPTY):
        if isinstance(entry, dict) and isinstance(entry.get("code"), str):
            codes.append(entry["code"])
    for entry in list_field(order, "discount_applications", empty=EMPTY):
        if isinstance(entry, dict) and entry.get("type") == "discount_code" and isinstance(entry.get("code"), str):
            codes.append(entry["code"])
    seen: dict[str, str] = {}
    for code in codes:
        seen.setdefault(code.strip().lower(), code)
    return tuple(seen.values())


def _cart_attributes(order: dict) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for entry in list_field(order, "note_attributes", empty=EMPTY):
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry.get("value") is not None:
            attributes[entry["name"]] = str(entry["value"])
    return attributes


def refund_event(refund: dict, order_id: str | None = None) -> RefundEvent:
    """A Shopify Refund (refunds/create, or an entry of an order's `refunds`) as a RefundEvent.

    The refunded commission base is the refunded line items' subtotals (after their discounts, tax
    out) plus any amount-only refund (`refund_discrepancy` adjustment); refunded shipping is not in it.
    Each refunded line is an item; an amount-only refund has none (the core shares it out).

    On a shop whose prices include tax a line's `subtotal` holds its tax, and refunds/create does not say
    whether they do: each line's `total_tax` goes into `included_tax` for the core to take out when the
    order said `taxes_included`, as the purchase's base did.
    """
    refund_id = _id(refund.get("id"), "refund id")
    owner = _id(refund.get("order_id"), "refund order_id") if refund.get("order_id") is not None else order_id
    if owner is None:
        raise MalformedPayload("refund order_id is missing")
    occurred_at = _time(refund.get("processed_at") or refund.get("created_at"), "refund created_at")

    terms: list[tuple[Decimal, Decimal | None]] = []
    currencies: list[tuple[str | None, str | None]] = []
    items: list[LineItem] = []
    included_tax: dict[str, Decimal] = {}
    for index, line in enumerate(objects_field(refund, "refund_line_items", empty=EMPTY)):
        where = f"refund_line_items[{index}]"
        terms.append(_amounts(line, "subtotal", where))
        shop, present = _money_set(line, "subtotal", "shop_money"), _money_set(line, "subtotal", "presentment_money")
        currencies.append((shop[1] if shop else None, present[1] if present else None))
        item = _refund_item(line, where, terms[-1][0])
        items.append(item)
        if item.line_id is not None and (line.get("total_tax_set") is not None or line.get("total_tax") is not None):
            tax = _shop_amount(line, "total_tax", where)
            included_tax[item.line_id] = included_tax.get(item.line_id, Decimal(0)) + tax
    for index, adjustment in enumerate(objects_field(refund, "order_adjustments", empty=EMPTY)):
        if adjustment.get("kind") == "refund_discrepancy":
            # Adjustments are recorded as negative amounts on the order.
            shop, present = _amounts(adjustment, "amount", f"order_adjustments[{index}]")
            terms.append((-shop, None if present is None else -present))
    currencies += [(t.get("currency"), None) for t in objects_field(refund, "transactions", empty=EMPTY)]

    currency = next((shop for shop, _ in currencies if isinstance(shop, str) and shop), "")
    presentment_currency = next((p for _, p in currencies if isinstance(p, str) and p), None)
    currency = currency if CURRENCY.fullmatch(currency) else ""  # the purchase's currency is used anyway
    presentment = None
    if terms and all(p is not None for _, p in terms) and presentment_currency:
        presentment = Money(sum((p for _, p in terms), Decimal(0)), presentment_currency)
    return RefundEvent(
        refund_id=refund_id,
        order_id=owner,
        occurred_at=occurred_at,
        commission_base=Money(sum((shop for shop, _ in terms), Decimal(0)), currency),
        presentment_base=presentment,
        items=tuple(items),
        included_tax=included_tax,
    )


def _refund_item(line: dict, where: str, amount: Decimal) -> LineItem:
    """A refund line as an item: the refunded line's id and product (its `line_item` copy), the units, the subtotal."""
    refunded = line.get("line_item") if isinstance(line.get("line_item"), dict) else {}
    line_id = line.get("line_item_id") if line.get("line_item_id") is not None else refunded.get("id")
    return LineItem(
        line_id=_optional_numeric_id(line_id, f"{where}.line_item_id"),
        product_id=_optional_numeric_id(refunded.get("product_id"), f"{where}.line_item.product_id"),
        variant_id=_optional_numeric_id(refunded.get("variant_id"), f"{where}.line_item.variant_id"),
        sku=_text(refunded.get("sku")),
        title=_text(refunded.get("title")),
        quantity=Decimal(_quantity(line.get("quantity"), f"{where}.quantity")),
        amount=amount,
    )


def _name(value: Any) -> str | None:
    if value is None:
        return None
    if len(str(value)) > MAX_NAME:
        raise MalformedPayload(f"name is longer than {MAX_NAME} characters")
    return str(value)


def order_event(topic: str, order: dict) -> OrderEvent:
    """A Shopify Order resource (any orders/* topic) as an OrderEvent."""
    order_id = _id(order.get("id"), "order id")
    financial_status = text_or_none(order.get("financial_status"))
    cancelled_at = _optional_time(order.get("cancelled_at"), "cancelled_at")
    refunds = tuple(
        refund_event(entry, order_id) for entry in list_field(order, "refunds", empty=EMPTY) if isinstance(entry, dict)
    )
    base, presentment, items = commission_base(order, refunds)
    tags = renewals.rest_tags(order.get("tags"))
    renewal = renewals.renewal(order.get("source_name"), tags)
    name = order.get("name")
    return OrderEvent(
        order_id=order_id,
        order_name=_name(name),
        topic=topic,
        occurred_at=_time(order.get("processed_at") or order.get("created_at"), "created_at"),
        financial_status=financial_status,
        # From the body alone: the topic header is not signed, so a paid order re-sent as orders/cancelled
        # (or an unpaid one as orders/paid) must mean what its body says.
        paid=financial_status in PAID_STATUSES,
        cancelled=cancelled_at is not None,
        cancelled_at=cancelled_at,
        test=order.get("test") is True,
        customer=_customer(order),
        discount_codes=_discount_codes(order),
        cart_attributes=_cart_attributes(order),
        landing_url=text_or_none(order.get("landing_site")),
        landing_ref=text_or_none(order.get("landing_site_ref")),
        commission_base=base,
        presentment_base=presentment,
        refunds=refunds,
        # The web pixel's checkout_completed event carries the same token (PLATFORMS.md A8): a browser
        # report presenting it is proven to come from this order's checkout.
        proof=text_or_none(order.get("checkout_token")),
        items=items,
        updated_at=_optional_time(order.get("updated_at"), "updated_at"),
        taxes_included=order.get("taxes_included") is True,
        renewal=renewal,
        # REST line items carry no selling plan (renewals.py): only the tag says a first order here.
        starts_subscription=renewals.starts_subscription(renewal, tags, selling_plan_line=False),
    )


def customer_created(customer: dict) -> CustomerCreated:
    """A Shopify Customer resource (customers/create) as a CustomerCreated."""
    email = customer.get("email")
    return CustomerCreated(
        customer_id=_id(customer.get("id"), "customer id"),
        email=email.strip() if isinstance(email, str) and email.strip() else None,
        occurred_at=_time(customer.get("created_at"), "customer created_at"),
    )


def normalise(topic: str, body: bytes) -> OrderEvent | RefundEvent | CustomerCreated | None:
    """The neutral event for a stored delivery; None for a topic the worker has nothing to do with."""
    if topic in ORDER_TOPICS:
        return order_event(topic, load(body))
    if topic in REFUND_TOPICS:
        return refund_event(load(body))
    if topic in CUSTOMER_TOPICS:
        return customer_created(load(body))
    return None
