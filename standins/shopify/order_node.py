"""A REST order (a webhook body, as standins/shopify/samples.py builds) as the GraphQL node the reconciliation
document `orders_updated_since.graphql` reads, so one stored order answers both the webhook and the query, and
tests can compare the two normalisers on the same order. Its lists are cut to the document's sizes
(`page_sizes`), as Shopify answers them.

What a REST order does not carry is given beside it: the selling plan of each line (Shopify's order webhooks
have none, GraphQL's LineItem.sellingPlan does), by line id.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Callable, Mapping

import graphql

from adapters.shopify.admin_api import DOCUMENTS as ADAPTER_DOCUMENTS

from standins.shopify.documents import fields

DEFAULT_SHOP = "example.myshopify.com"
#: the adapter's own documents: the stand-in answers exactly what the connector sends
DOCUMENTS = ADAPTER_DOCUMENTS
#: GraphQL's discrepancy reasons (OrderAdjustmentDiscrepancyReason); REST writes them as words
DISCREPANCY_REASONS = frozenset({"CUSTOMER", "DAMAGE", "FULL_RETURN_BALANCING_ADJUSTMENT",
                                 "PENDING_REFUND_DISCREPANCY", "REFUND_DISCREPANCY", "RESTOCK"})


def _text(value: Any) -> str | None:
    """Money and ids as GraphQL writes them: strings (Decimal keeps its digits; ids never meet a float)."""
    return None if value is None else str(value)


def _money(rest: dict | None) -> dict | None:
    if not isinstance(rest, dict):
        return None
    return {"amount": _text(rest.get("amount")), "currencyCode": rest.get("currency_code")}


def _bag(obj: dict, name: str, currency: str | None) -> dict:
    """REST `name_set` as a MoneyBag; from the plain field (shop money) when the set is absent."""
    rest_set = obj.get(f"{name}_set")
    if isinstance(rest_set, dict):
        return {"shopMoney": _money(rest_set.get("shop_money")),
                "presentmentMoney": _money(rest_set.get("presentment_money"))}
    # Without a set the REST order does not say the presentment amount; neither does this bag.
    return {"shopMoney": {"amount": _text(obj.get(name)), "currencyCode": currency}, "presentmentMoney": None}


def landing_page(landing_site: Any, shop: str) -> str | None:
    """`landing_site` is a path and query (or already absolute); GraphQL's landingPage is a URL."""
    if not isinstance(landing_site, str) or not landing_site.strip():
        return None
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", landing_site):
        return landing_site
    return f"https://{shop}{'' if landing_site.startswith('/') else '/'}{landing_site}"


def _discount_codes(order: dict) -> list[str]:
    """The order's codes, from discount_codes and discount-code applications, each once."""
    codes = [d.get("code") for d in order.get("discount_codes") or [] if isinstance(d, dict)]
    codes += [a.get("code") for a in order.get("discount_applications") or []
              if isinstance(a, dict) and a.get("type") == "discount_code"]
    seen: dict[str, str] = {}
    for code in codes:
        if isinstance(code, str):
            seen.setdefault(code.strip().lower(), code)
    return list(seen.values())


@lru_cache(maxsize=None)
def page_sizes(name: str = "orders_updated_since") -> dict[str, int]:
    """The `first` a document gives each field, by field name: how much of each list Shopify would answer.

    Only literal sizes count (the reconciliation document writes its nested sizes out), so the
    converter cuts lists exactly where the document does, whatever sizes the document is given.
    """
    sizes: dict[str, int] = {}

    def walk(selection_set: graphql.SelectionSetNode | None) -> None:
        for field in fields(selection_set, {}):
            for argument in field.arguments or ():
                if argument.name.value == "first" and isinstance(argument.value, graphql.IntValueNode):
                    sizes[field.name.value] = int(argument.value.value)
            walk(field.selection_set)

    for definition in graphql.parse((DOCUMENTS / f"{name}.graphql").read_text()).definitions:
        if isinstance(definition, graphql.OperationDefinitionNode):
            walk(definition.selection_set)
    return sizes


def _size(name: str) -> int:
    return page_sizes().get(name, 250)  # 250: the most Shopify answers of any connection


def _connection(items: list, name: str, make: Callable[[Any], dict]) -> dict:
    """One page of a connection, as Shopify answers the document's `name(first: n)`."""
    size = _size(name)
    return {"nodes": [make(item) for item in items[:size]], "pageInfo": {"hasNextPage": len(items) > size}}


def _objects_of(obj: dict, name: str) -> list[dict]:
    return [item for item in obj.get(name) or [] if isinstance(item, dict)]


def _adjustment_reason(adjustment: dict) -> str | None:
    """REST `kind` refund_discrepancy (reason in words) → GraphQL `reason`; shipping refunds have none."""
    if adjustment.get("kind") != "refund_discrepancy":
        return None
    reason = re.sub(r"[^A-Z]+", "_", str(adjustment.get("reason") or "").upper()).strip("_")
    return reason if reason in DISCREPANCY_REASONS else "REFUND_DISCREPANCY"


def gid(kind: str, value: Any) -> str | None:
    """A REST numeric id as the GraphQL gid of its kind (None stays None)."""
    return None if value in (None, "") else f"gid://shopify/{kind}/{value}"


def _linked(kind: str, value: Any) -> dict | None:
    found = gid(kind, value)
    return None if found is None else {"id": found}


def refunded_units(order: dict) -> dict[str, int]:
    """Units refunded per line id across the order's refunds (the REST body's own record)."""
    units: dict[str, int] = {}
    for refund in _objects_of(order, "refunds"):
        for line in _objects_of(refund, "refund_line_items"):
            key = _text(line.get("line_item_id"))
            if key is not None and isinstance(line.get("quantity"), int):
                units[key] = units.get(key, 0) + line["quantity"]
    return units


def line_nodes(order: dict, selling_plans: Mapping[str, dict] | None = None) -> list[dict]:
    """Every line of a REST order as a GraphQL LineItem (the reconciliation document's fields), none cut."""
    refunded = refunded_units(order)
    return [_line_item(line, order.get("currency"), refunded, selling_plans or {})
            for line in _objects_of(order, "line_items")]


def _line_item(line: dict, currency: str | None, refunded: dict[str, int], plans: Mapping[str, dict]) -> dict:
    """A REST line item as the document reads it."""
    quantity = line.get("quantity")
    current = line.get("current_quantity")
    if current is None and isinstance(quantity, int):
        # GraphQL always answers currentQuantity (refunded and removed units out); a REST body from before
        # 2024-01 has none, which the normalisers read as the whole line: the same units either way.
        current = quantity - refunded.get(_text(line.get("id")) or "", 0)
    return {
        "id": gid("LineItem", line.get("id")),
        "quantity": quantity,
        "currentQuantity": current,
        "title": line.get("title"),
        "sku": line.get("sku"),
        "product": _linked("Product", line.get("product_id")),
        "variant": _linked("ProductVariant", line.get("variant_id")),
        "sellingPlan": plans.get(_text(line.get("id")) or ""),
        "originalUnitPriceSet": _bag(line, "price", currency),
        "discountAllocations": [{"allocatedAmountSet": _bag(a, "amount", currency)}
                                for a in _objects_of(line, "discount_allocations")],
        "taxLines": [{"priceSet": _bag(t, "price", currency)} for t in _objects_of(line, "tax_lines")],
    }


def _refund(refund: dict, currency: str | None) -> dict:
    """A REST refund as the document reads it: shop money only, one page of lines and adjustments."""
    def shop_only(obj: dict, name: str) -> dict | None:
        if obj.get(f"{name}_set") is None and obj.get(name) is None:
            return None
        return {"shopMoney": _bag(obj, name, currency)["shopMoney"]}

    def line_of(line: dict) -> dict:
        refunded = line.get("line_item") if isinstance(line.get("line_item"), dict) else {}
        line_id = line.get("line_item_id") if line.get("line_item_id") is not None else refunded.get("id")
        return {"quantity": line.get("quantity"), "lineItem": _linked("LineItem", line_id),
                "subtotalSet": shop_only(line, "subtotal"), "totalTaxSet": shop_only(line, "total_tax")}

    return {
        "legacyResourceId": _text(refund.get("id")),
        # The REST normaliser dates a refund by processed_at first; GraphQL has createdAt only.
        "createdAt": refund.get("processed_at") or refund.get("created_at"),
        "refundLineItems": _connection(_objects_of(refund, "refund_line_items"), "refundLineItems", line_of),
        "orderAdjustments": _connection(_objects_of(refund, "order_adjustments"), "orderAdjustments",
                                        lambda a: {"reason": _adjustment_reason(a), "amountSet": shop_only(a, "amount")}),
    }


def to_graphql_node(order: dict, shop: str = DEFAULT_SHOP, selling_plans: Mapping[str, dict] | None = None) -> dict:
    """A REST Order (webhook body) as a node of the `orders` connection in orders_updated_since.graphql.

    Lists are cut where the document cuts them (`page_sizes`): a longer one answers its first page
    with pageInfo.hasNextPage true, and refunds (a plain list) are truncated, as Shopify would.
    `selling_plans` gives a line (by REST id) its LineItem.sellingPlan, `{"sellingPlanId": gid}`.
    """
    currency = order.get("currency")
    customer = order.get("customer") if isinstance(order.get("customer"), dict) else None
    orders_count = (customer or {}).get("orders_count")
    status = order.get("financial_status")
    landing = landing_page(order.get("landing_site"), shop)
    referral = order.get("landing_site_ref")
    return {
        "id": f"gid://shopify/Order/{order.get('id')}",
        "legacyResourceId": _text(order.get("id")),
        "name": order.get("name"),
        "createdAt": order.get("created_at"),
        "processedAt": order.get("processed_at"),
        "updatedAt": order.get("updated_at"),
        "test": order.get("test") is True,
        "displayFinancialStatus": status.upper() if isinstance(status, str) else None,
        "cancelledAt": order.get("cancelled_at"),
        # The address the REST normaliser would take: the customer's, then the order's.
        "email": (customer or {}).get("email") or order.get("email") or order.get("contact_email"),
        "currencyCode": currency,
        "presentmentCurrencyCode": order.get("presentment_currency"),
        "taxesIncluded": order.get("taxes_included") is True,
        "sourceName": order.get("source_name"),
        # REST writes an order's tags as one comma-separated string; GraphQL as a list.
        "tags": [t.strip() for t in order.get("tags").split(",") if t.strip()]
        if isinstance(order.get("tags"), str) else [],
        "customer": None if customer is None else {
            "legacyResourceId": _text(customer.get("id")),
            # Shopify always sends the count; a REST body without orders_count does not say it, so neither does this.
            "numberOfOrders": _text(orders_count),
        },
        "discountCodes": _discount_codes(order),
        "customAttributes": [{"key": a.get("name"), "value": _text(a.get("value"))}
                             for a in order.get("note_attributes") or [] if isinstance(a, dict)],
        "customerJourneySummary": {
            "lastVisit": None if landing is None and not referral else {"landingPage": landing, "referralCode": referral},
        },
        "lineItems": _connection(line_nodes(order, selling_plans), "lineItems", lambda line: line),
        "refunds": [_refund(r, currency) for r in _objects_of(order, "refunds")[:_size("refunds")]],
    }
