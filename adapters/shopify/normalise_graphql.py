"""A Shopify order read through GraphQL (reconciliation) → the same neutral OrderEvent as its webhook.

The node is one entry of `orders_updated_since.graphql`. Every rule is the REST normaliser's
(adapters/shopify/normalise.py), whose helpers are reused, so an order seen by webhook and by
reconciliation is one event: ids stay text (they exceed 2**53; gids are read for their numeric
tail), money is Decimal from the shop-money side of each MoneyBag, and the commission base is the
lines' own arithmetic (adapters/shopify/lines.py: price × quantity less allocations, less tax lines
when prices include tax, scaled to the units an edit left), shared with REST, so items and base agree.
One thing differs, to keep the query under Shopify's cost limit: refunds are read in shop money only,
so a refund's presentment base is None. A refund line's product, SKU and title come from the order's
own line of that id (REST embeds a copy of the line in each refund line).

The query reads one page of each nested list. An order whose page says there is more (or whose
refunds fill the list) is refused with MalformedPayload rather than credited a wrong amount: its
delivery is kept and flagged for an operator, and its webhooks are authoritative.
Anything unreadable raises MalformedPayload, never another exception.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from connector.errors import MalformedPayload
from connector.core.json_body import load
from connector.core.platform import Customer, LineItem, Money, OrderEvent, RefundEvent
from connector.core.shapes import list_field, objects_field, text_or_none

from . import renewals
from .lines import Line, order_lines
from .normalise import (
    ASCII_DIGITS,
    CURRENCY,
    EMPTY,
    MAX_BASE_DIGITS,
    PAID_STATUSES,
    _amount,
    _id,
    _name,
    _optional_id,
    _optional_time,
    _quantity,
    _text,
    _time,
    refunded_units,
)

RECONCILE_TOPIC = "reconcile/order"

Term = tuple[Decimal, Decimal | None]

#: how many refunds orders_updated_since.graphql reads of an order (`refunds(first: 5)`, a plain list
#: without pageInfo): an order showing this many may have more, and is refused rather than under-read
REFUNDS_READ = 5
GID = re.compile(r"gid://shopify/[A-Za-z]+/([0-9]{1,64})")


def _object(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise MalformedPayload(f"{where} is not an object")
    return value


def _page(obj: dict, name: str, where: str, order_id: str, what: str) -> list[dict]:
    """The nodes of a connection of which the document reads one page.

    A page that says there is more would give a wrong amount: the order is refused instead
    (MalformedPayload, so the delivery is kept and flagged for an operator).
    """
    connection = _object(obj.get(name), f"{where}{name}")
    if not isinstance(connection.get("nodes"), list):
        raise MalformedPayload(f"{where}{name}.nodes is missing")
    nodes = objects_field(connection, "nodes", empty=EMPTY)
    more = _object(connection.get("pageInfo"), f"{where}{name}.pageInfo").get("hasNextPage")
    if more is True:
        raise _truncated(order_id, what)
    if more is not False:
        raise MalformedPayload(f"{where}{name}.pageInfo.hasNextPage is missing")
    return nodes


def _truncated(order_id: str, what: str) -> MalformedPayload:
    return MalformedPayload(f"order {order_id} has more {what} than one reconciliation page reads; "
                            "its webhooks are authoritative")


def _bag(obj: dict, name: str, where: str) -> tuple[Term, str | None, str | None]:
    """((shop amount, presentment amount or None), shop currency, presentment currency) of a MoneyBag."""
    bag = _object(obj.get(name), f"{where}.{name}")
    shop = _object(bag.get("shopMoney"), f"{where}.{name}.shopMoney")
    amount = _amount(shop.get("amount"), f"{where}.{name}.shopMoney.amount")
    present = bag.get("presentmentMoney")
    if not isinstance(present, dict):  # as in REST: no presentment side, no presentment base
        return (amount, None), shop.get("currencyCode"), None
    present_amount = _amount(present.get("amount"), f"{where}.{name}.presentmentMoney.amount")
    return (amount, present_amount), shop.get("currencyCode"), present.get("currencyCode")


def _negated(term: Term) -> Term:
    shop, present = term
    return -shop, None if present is None else -present


def _presentment(terms: list[Term], currency: Any) -> Money | None:
    """A refund's presentment total, only when it has terms, each with its presentment amount, and the currency
    is known (as in REST, a refund of nothing has no presentment base)."""
    if terms and all(p is not None for _, p in terms) and isinstance(currency, str) and CURRENCY.fullmatch(currency):
        return Money(sum((p for _, p in terms), Decimal(0)), currency)
    return None


def gid_tail(value: Any, field: str) -> str | None:
    """The numeric id at the end of a gid ("gid://shopify/LineItem/15873421190358" → its digits); None when null."""
    if value is None:
        return None
    match = GID.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise MalformedPayload(f"{field} is not a Shopify gid: {value!r}")
    return match.group(1)


def _linked_id(obj: dict, name: str, where: str) -> str | None:
    """`obj[name].id` as a numeric id: the product or variant of a line, null when it was deleted."""
    linked = obj.get(name)
    if linked is None:
        return None
    return gid_tail(_object(linked, f"{where}.{name}").get("id"), f"{where}.{name}.id")


def _line(node: dict, where: str, taxes_included: bool) -> Line:
    """One node of the order's lineItems, as the REST normaliser reads a line item."""
    node = _object(node, where)
    quantity = _quantity(node.get("quantity"), f"{where}.quantity")
    current = node.get("currentQuantity")
    price = _bag(node, "originalUnitPriceSet", where)[0]
    terms: list[Term] = [(price[0] * quantity, None if price[1] is None else price[1] * quantity)]
    for allocation in objects_field(node, "discountAllocations", empty=EMPTY):
        terms.append(_negated(_bag(allocation, "allocatedAmountSet", f"{where}.discountAllocations")[0]))
    if taxes_included:  # the line price holds its tax: take it out
        for tax in objects_field(node, "taxLines", empty=EMPTY):
            terms.append(_negated(_bag(tax, "priceSet", f"{where}.taxLines")[0]))
    return Line(
        line_id=gid_tail(node.get("id"), f"{where}.id"),
        product_id=_linked_id(node, "product", where),
        variant_id=_linked_id(node, "variant", where),
        sku=_text(node.get("sku")),
        title=_text(node.get("title")),
        quantity=quantity,
        current_quantity=None if current is None else _quantity(current, f"{where}.currentQuantity"),
        terms=tuple(terms),
    )


def _lines(node: dict, order_id: str) -> list[tuple[Line, bool]]:
    """The order's lines, each with whether it was sold with a selling plan (a subscription line)."""
    taxes_included = node.get("taxesIncluded") is True
    return [(_line(line, f"lineItems[{index}]", taxes_included), line.get("sellingPlan") is not None)
            for index, line in enumerate(_page(node, "lineItems", "", order_id, "line items"))]


def commission_base(node: dict, lines: list[Line],
                    refunds: tuple[RefundEvent, ...]) -> tuple[Money, Money | None, tuple[LineItem, ...]]:
    """The lines after their discounts, as they stand after edits, tax out: the REST normaliser's base."""
    currency = node.get("currencyCode")
    if not isinstance(currency, str) or not CURRENCY.fullmatch(currency):
        raise MalformedPayload(f"currencyCode is missing or not an ISO 4217 code: {currency!r}")
    counted = order_lines(lines, refunded_units(refunds))
    if counted.shop_total and counted.shop_total.adjusted() >= MAX_BASE_DIGITS:
        raise MalformedPayload(f"commission base {counted.shop_total} is out of range")
    present_currency = node.get("presentmentCurrencyCode")
    presentment = None
    if counted.presentment_total is not None and isinstance(present_currency, str) \
            and CURRENCY.fullmatch(present_currency):
        presentment = Money(counted.presentment_total, present_currency)
    return Money(counted.shop_total, currency), presentment, counted.items


def _refund_item(line: dict, where: str, amount: Decimal, lines: dict[str, Line]) -> LineItem:
    """A refund line as an item; what it refunds is told by the order's own line of that id."""
    line_id = _linked_id(line, "lineItem", where)
    refunded = lines.get(line_id) if line_id is not None else None
    return LineItem(
        line_id=line_id,
        product_id=refunded.product_id if refunded else None,
        variant_id=refunded.variant_id if refunded else None,
        sku=refunded.sku if refunded else None,
        title=refunded.title if refunded else None,
        quantity=Decimal(_quantity(line.get("quantity"), f"{where}.quantity")),
        amount=amount,
    )


def refund_event(refund: dict, order_id: str, order_currency: Any, where: str = "",
                 lines: dict[str, Line] | None = None) -> RefundEvent:
    """One of the order's `refunds`: refunded line subtotals plus amount-only refunds.

    Amount-only refunds are order adjustments carrying a discrepancy `reason` (GraphQL's deprecated
    `kind` is not asked for; shipping refunds have no reason). They are negative on the order, so
    they are subtracted, as the REST normaliser does with `refund_discrepancy` adjustments.
    The document reads refund amounts in shop money only (to keep its cost down), so a refund's
    presentment base is None here where the webhook's has one; crediting works in shop money.
    Each line's `totalTaxSet` is its `included_tax`, as in REST.
    """
    refund_id = _id(refund.get("legacyResourceId"), "refund legacyResourceId")
    occurred_at = _time(refund.get("createdAt"), "refund createdAt")
    terms: list[Term] = []
    currencies: list[tuple[Any, Any]] = []
    items: list[LineItem] = []
    included_tax: dict[str, Decimal] = {}
    nodes = _page(refund, "refundLineItems", where, order_id, f"lines in refund {refund_id}")
    for index, line in enumerate(nodes):
        at = f"{where}refundLineItems[{index}]"
        term, shop_currency, present_currency = _bag(line, "subtotalSet", at)
        terms.append(term)
        currencies.append((shop_currency, present_currency))
        item = _refund_item(line, at, term[0], lines or {})
        items.append(item)
        if item.line_id is not None and line.get("totalTaxSet") is not None:
            tax = _bag(line, "totalTaxSet", at)[0][0]
            included_tax[item.line_id] = included_tax.get(item.line_id, Decimal(0)) + tax
    adjustments = _page(refund, "orderAdjustments", where, order_id, f"adjustments in refund {refund_id}")
    for index, adjustment in enumerate(adjustments):
        reason = adjustment.get("reason")
        if reason is not None:
            terms.append(_negated(_bag(adjustment, "amountSet", f"{where}orderAdjustments[{index}]")[0]))
    # REST takes the first currency a refund line names, then its transactions' (the shop currency):
    # GraphQL is not asked for transactions, so the order's currency stands in for them.
    currency = next((c for c, _ in currencies if isinstance(c, str) and c), order_currency)
    currency = currency if isinstance(currency, str) and CURRENCY.fullmatch(currency) else ""
    present_currency = next((p for _, p in currencies if isinstance(p, str) and p), None)
    return RefundEvent(
        refund_id=refund_id,
        order_id=order_id,
        occurred_at=occurred_at,
        commission_base=Money(sum((shop for shop, _ in terms), Decimal(0)), currency),
        presentment_base=_presentment(terms, present_currency),
        items=tuple(items),
        included_tax=included_tax,
    )


def _refunds(node: dict, order_id: str, lines: dict[str, Line]) -> tuple[RefundEvent, ...]:
    """The order's refunds; a list as long as the document reads may have been cut, so it is refused."""
    entries = list_field(node, "refunds", empty=EMPTY)
    if len(entries) >= REFUNDS_READ:
        raise MalformedPayload(f"order {order_id} has {len(entries)} refunds, as many as one reconciliation "
                               "page reads, so some may be missing; its webhooks are authoritative")
    return tuple(refund_event(entry, order_id, node.get("currencyCode"), f"refunds[{index}].", lines)
                 for index, entry in enumerate(entries) if isinstance(entry, dict))


def _customer(node: dict) -> Customer:
    customer = node.get("customer") if isinstance(node.get("customer"), dict) else {}
    count = customer.get("numberOfOrders")  # UnsignedInt64: a string of digits on the wire
    if isinstance(count, str) and ASCII_DIGITS.fullmatch(count.strip()):
        count = int(count)
    first_order = count == 1 if isinstance(count, int) and not isinstance(count, bool) else None
    return Customer(
        id=_optional_id(customer.get("legacyResourceId"), "customer.legacyResourceId"),
        email=text_or_none(node.get("email")),
        first_order=first_order,
    )


def _discount_codes(node: dict) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for code in list_field(node, "discountCodes", empty=EMPTY):
        if isinstance(code, str):
            seen.setdefault(code.strip().lower(), code)
    return tuple(seen.values())


def _cart_attributes(node: dict) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for entry in list_field(node, "customAttributes", empty=EMPTY):
        if isinstance(entry, dict) and isinstance(entry.get("key"), str) and entry.get("value") is not None:
            attributes[entry["key"]] = str(entry["value"])
    return attributes


def _last_visit(node: dict) -> dict:
    """Where the shopper landed; absent (or not an object) is no landing information, as in REST."""
    summary = node.get("customerJourneySummary")
    visit = summary.get("lastVisit") if isinstance(summary, dict) else None
    return visit if isinstance(visit, dict) else {}


def order_event(node: dict, topic: str = RECONCILE_TOPIC) -> OrderEvent:
    """One node of the orders_updated_since query as an OrderEvent."""
    node = _object(node, "order")
    order_id = _id(node.get("legacyResourceId"), "order legacyResourceId")
    lines = _lines(node, order_id)
    by_id = {line.line_id: line for line, _ in lines if line.line_id is not None}
    refunds = _refunds(node, order_id, by_id)
    base, presentment, items = commission_base(node, [line for line, _ in lines], refunds)
    status = text_or_none(node.get("displayFinancialStatus"))
    financial_status = status.lower() if status else None
    cancelled_at = _optional_time(node.get("cancelledAt"), "cancelledAt")
    visit = _last_visit(node)
    tags = renewals.graphql_tags(node.get("tags"))
    renewal = renewals.renewal(node.get("sourceName"), tags)
    return OrderEvent(
        order_id=order_id,
        order_name=_name(node.get("name")),
        topic=topic,
        occurred_at=_time(node.get("processedAt") or node.get("createdAt"), "createdAt"),
        financial_status=financial_status,
        # The topic rules are the webhook's, so the same order under the same topic gives the same event.
        paid=financial_status in PAID_STATUSES,
        cancelled=cancelled_at is not None,
        cancelled_at=cancelled_at,
        test=node.get("test") is True,
        customer=_customer(node),
        discount_codes=_discount_codes(node),
        cart_attributes=_cart_attributes(node),
        landing_url=text_or_none(visit.get("landingPage")),
        landing_ref=text_or_none(visit.get("referralCode")),
        commission_base=base,
        presentment_base=presentment,
        refunds=refunds,
        # The Admin API's Order has no checkout token (REST webhooks carry `checkout_token`), so a
        # reconciled order proves nothing; the one its webhook stored is kept (conversions.py).
        proof=None,
        items=items,
        updated_at=_optional_time(node.get("updatedAt"), "updatedAt"),
        taxes_included=node.get("taxesIncluded") is True,
        renewal=renewal,
        starts_subscription=renewals.starts_subscription(renewal, tags, any(plan for _, plan in lines)),
    )


def normalise(topic: str, body: bytes) -> OrderEvent | None:
    """A stored reconciliation delivery (the node's JSON) as an OrderEvent; None for any other topic."""
    if topic == RECONCILE_TOPIC:
        return order_event(load(body), topic)
    return None
