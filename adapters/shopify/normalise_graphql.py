"""A Shopify order read through GraphQL (reconciliation) → the same neutral OrderEvent as its webhook.

The node is one entry of `orders_updated_since.graphql`. Every rule is the REST normaliser's
(adapters/shopify/normalise.py), whose helpers are reused, so an order seen by webhook and by
reconciliation is one event: ids stay text (they exceed 2**53), money is Decimal from the
shop-money side of each MoneyBag, the commission base is line items after their discounts with
shipping, tips and (even when prices include it) tax left out. Two things differ, both to keep
the query under Shopify's cost limit:

- the base comes from order-level amounts (subtotal, less the lines' tax when prices include it)
  rather than from line items, which the query does not read;
- refunds are read in shop money only, so a refund's presentment base is None.

The query reads one page of each nested list. An order whose page says there is more (or whose
refunds fill the list) is refused with MalformedPayload rather than credited a wrong amount: its
delivery is kept and flagged for an operator, and its webhooks are authoritative.
Anything unreadable raises MalformedPayload, never another exception.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connector.errors import MalformedPayload
from connector.core.json_body import load
from connector.core.platform import Customer, Money, OrderEvent, RefundEvent
from connector.core.shapes import list_field, objects_field, text_or_none

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
    _time,
)

RECONCILE_TOPIC = "reconcile/order"

Term = tuple[Decimal, Decimal | None]

#: how many refunds orders_updated_since.graphql reads of an order (`refunds(first: 5)`, a plain list
#: without pageInfo): an order showing this many may have more, and is refused rather than under-read
REFUNDS_READ = 5


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


def _presentment(terms: list[Term], currency: Any, *, empty: bool) -> Money | None:
    """The presentment total, only when every term has its presentment amount and the currency is known.

    As in REST, an order without lines has a zero presentment base but a refund without terms has none.
    """
    if (terms or empty) and all(p is not None for _, p in terms) \
            and isinstance(currency, str) and CURRENCY.fullmatch(currency):
        return Money(sum((p for _, p in terms), Decimal(0)), currency)
    return None


def commission_base(node: dict, order_id: str) -> tuple[Money, Money | None]:
    """The line items after all their discounts, from the order's subtotal.

    subtotalPriceSet is "the sum of the prices for all line items after discounts and before
    returns"; shipping, duties and tips are not in it, nor taxes unless prices include them. When
    they do (taxesIncluded), the lines' tax is taken out: the order's total tax less the tax of its
    shipping lines. This equals the REST normaliser's Σ price × quantity − allocations (− line taxes).
    """
    currency = node.get("currencyCode")
    if not isinstance(currency, str) or not CURRENCY.fullmatch(currency):
        raise MalformedPayload(f"currencyCode is missing or not an ISO 4217 code: {currency!r}")
    terms: list[Term] = [_bag(node, "subtotalPriceSet", "order")[0]]
    if node.get("taxesIncluded") is True:  # the subtotal holds the lines' tax: take it out
        terms.append(_negated(_bag(node, "totalTaxSet", "order")[0]))
        for index, line in enumerate(_page(node, "shippingLines", "", order_id, "shipping lines")):
            # Shipping tax is in the total tax, not in the subtotal.
            for tax in objects_field(line, "taxLines", empty=EMPTY):
                terms.append(_bag(tax, "priceSet", f"shippingLines[{index}].taxLines")[0])
    shop_total = sum((shop for shop, _ in terms), Decimal(0))
    if shop_total and shop_total.adjusted() >= MAX_BASE_DIGITS:
        raise MalformedPayload(f"commission base {shop_total} is out of range")
    return Money(shop_total, currency), _presentment(terms, node.get("presentmentCurrencyCode"), empty=True)


def refund_event(refund: dict, order_id: str, order_currency: Any, where: str = "") -> RefundEvent:
    """One of the order's `refunds`: refunded line subtotals plus amount-only refunds.

    Amount-only refunds are order adjustments carrying a discrepancy `reason` (GraphQL's deprecated
    `kind` is not asked for; shipping refunds have no reason). They are negative on the order, so
    they are subtracted, as the REST normaliser does with `refund_discrepancy` adjustments.
    The document reads refund amounts in shop money only (to keep its cost down), so a refund's
    presentment base is None here where the webhook's has one; crediting works in shop money.
    """
    refund_id = _id(refund.get("legacyResourceId"), "refund legacyResourceId")
    occurred_at = _time(refund.get("createdAt"), "refund createdAt")
    terms: list[Term] = []
    currencies: list[tuple[Any, Any]] = []
    lines = _page(refund, "refundLineItems", where, order_id, f"lines in refund {refund_id}")
    for index, line in enumerate(lines):
        term, shop_currency, present_currency = _bag(line, "subtotalSet", f"{where}refundLineItems[{index}]")
        terms.append(term)
        currencies.append((shop_currency, present_currency))
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
        presentment_base=_presentment(terms, present_currency, empty=False),
    )


def _refunds(node: dict, order_id: str) -> tuple[RefundEvent, ...]:
    """The order's refunds; a list as long as the document reads may have been cut, so it is refused."""
    entries = list_field(node, "refunds", empty=EMPTY)
    if len(entries) >= REFUNDS_READ:
        raise MalformedPayload(f"order {order_id} has {len(entries)} refunds, as many as one reconciliation "
                               "page reads, so some may be missing; its webhooks are authoritative")
    return tuple(refund_event(entry, order_id, node.get("currencyCode"), f"refunds[{index}].")
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
    base, presentment = commission_base(node, order_id)
    status = text_or_none(node.get("displayFinancialStatus"))
    financial_status = status.lower() if status else None
    cancelled_at = _optional_time(node.get("cancelledAt"), "cancelledAt")
    refunds = _refunds(node, order_id)
    visit = _last_visit(node)
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
    )


def normalise(topic: str, body: bytes) -> OrderEvent | None:
    """A stored reconciliation delivery (the node's JSON) as an OrderEvent; None for any other topic."""
    if topic == RECONCILE_TOPIC:
        return order_event(load(body), topic)
    return None
