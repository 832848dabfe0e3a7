"""The GraphQL side of the Shopify stand-in (standins/shopify/store.py): data and answers, no HTTP, no locks.

- `to_graphql_node` re-expresses a REST order (a webhook body, as standins/shopify/samples.py builds)
  as the node `orders_updated_since.graphql` reads, so one stored order answers both the webhook and
  the reconciliation query, and tests can compare the two normalisers on the same order. Its lists
  are cut to the document's sizes (`page_sizes`), as Shopify answers them.
- `ShopData` holds one shop's webhook subscriptions, orders and details and answers the root fields
  the connector's documents use (webhookSubscriptions, webhookSubscriptionCreate/Update, orders,
  shop); discounts, codes and the web pixel are standins/shopify/discounts.py's.
- `project` cuts a full object down to a document's selection, so answers have exactly the shape
  the document asked for (aliases included).
- `requested_cost` estimates a document's cost the way Shopify's calculator does (objects 1,
  connections sized by `first`, mutations 10): an estimate, not Shopify's exact figure.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

import graphql

from adapters.shopify.admin_api import DOCUMENTS as ADAPTER_DOCUMENTS

from standins.shopify.samples import shop_number
from standins.shopify.discounts import DiscountData

DEFAULT_SHOP = "example.myshopify.com"
#: the adapter's own documents: the stand-in answers exactly what the connector sends
DOCUMENTS = ADAPTER_DOCUMENTS
#: GraphQL's discrepancy reasons (OrderAdjustmentDiscrepancyReason); REST writes them as words
DISCREPANCY_REASONS = frozenset({"CUSTOMER", "DAMAGE", "FULL_RETURN_BALANCING_ADJUSTMENT",
                                 "PENDING_REFUND_DISCREPANCY", "REFUND_DISCREPANCY", "RESTOCK"})
MUTATION_COST = 10
BUCKET, RESTORE_RATE = 2000.0, 100.0  # a Standard plan's restore rate; the connector reads both from answers
#: GraphQL topic ↔ webhook topic, for the topics the stand-in can deliver
TOPICS = {
    "ORDERS_CREATE": "orders/create", "ORDERS_PAID": "orders/paid", "ORDERS_UPDATED": "orders/updated",
    "ORDERS_CANCELLED": "orders/cancelled", "REFUNDS_CREATE": "refunds/create",
    "APP_UNINSTALLED": "app/uninstalled", "CUSTOMERS_CREATE": "customers/create",
}


# --- REST order → GraphQL order node ------------------------------------------------------------


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


def _landing_page(landing_site: Any, shop: str) -> str | None:
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


def _order_bag(order: dict, name: str, currency: str | None) -> dict | None:
    """An order-level MoneyBag; None (as GraphQL may answer) when the REST order has neither form."""
    if order.get(f"{name}_set") is None and order.get(name) is None:
        return None
    return _bag(order, name, currency)


def _shipping_line(line: dict, currency: str | None) -> dict:
    return {"taxLines": [{"priceSet": _bag(t, "price", currency)} for t in _objects_of(line, "tax_lines")]}


def _adjustment_reason(adjustment: dict) -> str | None:
    """REST `kind` refund_discrepancy (reason in words) → GraphQL `reason`; shipping refunds have none."""
    if adjustment.get("kind") != "refund_discrepancy":
        return None
    reason = re.sub(r"[^A-Z]+", "_", str(adjustment.get("reason") or "").upper()).strip("_")
    return reason if reason in DISCREPANCY_REASONS else "REFUND_DISCREPANCY"


def _refund(refund: dict, currency: str | None) -> dict:
    """A REST refund as the document reads it: shop money only, one page of lines and adjustments."""
    def shop_only(obj: dict, name: str) -> dict:
        return {"shopMoney": _bag(obj, name, currency)["shopMoney"]}

    return {
        "legacyResourceId": _text(refund.get("id")),
        # The REST normaliser dates a refund by processed_at first; GraphQL has createdAt only.
        "createdAt": refund.get("processed_at") or refund.get("created_at"),
        "refundLineItems": _connection(_objects_of(refund, "refund_line_items"), "refundLineItems",
                                       lambda line: {"subtotalSet": shop_only(line, "subtotal")}),
        "orderAdjustments": _connection(_objects_of(refund, "order_adjustments"), "orderAdjustments",
                                        lambda a: {"reason": _adjustment_reason(a), "amountSet": shop_only(a, "amount")}),
    }


def to_graphql_node(order: dict, shop: str = DEFAULT_SHOP) -> dict:
    """A REST Order (webhook body) as a node of the `orders` connection in orders_updated_since.graphql.

    Lists are cut where the document cuts them (`page_sizes`): a longer one answers its first page
    with pageInfo.hasNextPage true, and refunds (a plain list) are truncated, as Shopify would.
    """
    currency = order.get("currency")
    customer = order.get("customer") if isinstance(order.get("customer"), dict) else None
    orders_count = (customer or {}).get("orders_count")
    status = order.get("financial_status")
    landing = _landing_page(order.get("landing_site"), shop)
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
        "subtotalPriceSet": _order_bag(order, "subtotal_price", currency),
        "totalTaxSet": _order_bag(order, "total_tax", currency),
        "shippingLines": _connection(_objects_of(order, "shipping_lines"), "shippingLines",
                                     lambda line: _shipping_line(line, currency)),
        "refunds": [_refund(r, currency) for r in _objects_of(order, "refunds")[:_size("refunds")]],
    }


# --- one shop's data and the root fields answered over it ---------------------------------------


def _user_error(field_path: list[str], message: str) -> dict:
    return {"webhookSubscription": None, "userErrors": [{"field": field_path, "message": message}]}


class ShopData:
    """One shop's webhook subscriptions and REST-shaped orders; `resolve` answers a root field with full objects."""

    def __init__(self, shop: str, pixel_fields: dict[str, bool] | None = None):
        self.shop = shop
        self.subscriptions: list[dict] = []
        self.orders: dict[str, dict] = {}
        #: REST-shaped customers by id (customers/create sent through the stand-in, or added by a test)
        self.customers: dict[str, dict] = {}
        self.discounts = DiscountData(pixel_fields)
        #: what `shop` answers; tests change it to play a shop with its own domain or currency
        self.details = {"id": f"gid://shopify/Shop/{shop_number(shop)}", "name": shop.split(".")[0],
                        "myshopifyDomain": shop, "currencyCode": "EUR",
                        "primaryDomain": {"url": f"https://{shop}", "host": shop}}

    #: the root fields of the connector's documents, the only ones answered
    ROOT_FIELDS = frozenset({"webhookSubscriptions", "webhookSubscriptionCreate", "webhookSubscriptionUpdate", "orders",
                             "shop", "customer"}) | DiscountData.ROOT_FIELDS

    def resolve(self, name: str, args: dict, *, now: str, new_id: Callable[[], int]) -> Any:
        """The full object for one root field (one of ROOT_FIELDS); ValueError for a bad cursor or search."""
        if name in DiscountData.ROOT_FIELDS:
            return self.discounts.resolve(name, args, now=now, new_id=new_id)
        if name == "shop":
            return dict(self.details)
        if name == "customer":
            match = re.fullmatch(r"gid://shopify/Customer/(\d+)", str(args.get("id") or ""))
            found = self.customers.get(match.group(1)) if match else None
            return {"id": f"gid://shopify/Customer/{found['id']}"} if found else None
        if name == "webhookSubscriptions":
            return page(list(self.subscriptions), lambda s: s["id"], args.get("first"), args.get("after"))
        if name == "orders":
            return self._orders(args)
        if name == "webhookSubscriptionCreate":
            return self._create(args, now, new_id)
        if name == "webhookSubscriptionUpdate":
            return self._update(args, now)
        raise ValueError(f"the stand-in does not answer {name}")

    def _orders(self, args: dict) -> dict:
        keep = updated_after(args.get("query"))
        nodes = [to_graphql_node(o, self.shop) for o in self.orders.values() if keep(parse_time(o["updated_at"]))]
        if args.get("sortKey") == "UPDATED_AT":
            nodes.sort(key=lambda n: (parse_time(n["updatedAt"]), int(n["legacyResourceId"])))
        else:  # Shopify's default order is by id
            nodes.sort(key=lambda n: int(n["legacyResourceId"]))
        if args.get("reverse"):
            nodes.reverse()
        return page(nodes, lambda n: n["legacyResourceId"], args.get("first"), args.get("after"))

    def _taken(self, topic: str, uri: str, other_than: dict | None = None) -> bool:
        return any(s is not other_than and s["topic"] == topic and s["uri"] == uri for s in self.subscriptions)

    def _create(self, args: dict, now: str, new_id: Callable[[], int]) -> dict:
        topic, wanted = args.get("topic"), args.get("webhookSubscription") or {}
        uri = wanted.get("uri") or wanted.get("callbackUrl")
        if topic not in TOPICS:
            return _user_error(["topic"], f"Topic {topic!r} is not one the stand-in can deliver")
        if not uri:
            return _user_error(["webhookSubscription", "uri"], "Address can't be blank")
        if self._taken(topic, uri):
            return _user_error(["webhookSubscription", "callbackUrl"], "Address for this topic has already been taken")
        number = new_id()
        subscription = {"id": f"gid://shopify/WebhookSubscription/{number}", "legacyResourceId": str(number),
                        "topic": topic, "uri": uri, "callbackUrl": uri, "format": wanted.get("format") or "JSON",
                        "includeFields": wanted.get("includeFields") or [], "createdAt": now, "updatedAt": now}
        self.subscriptions.append(subscription)
        return {"webhookSubscription": dict(subscription), "userErrors": []}

    def _update(self, args: dict, now: str) -> dict:
        wanted = args.get("webhookSubscription") or {}
        found = next((s for s in self.subscriptions if s["id"] == args.get("id")), None)
        if found is None:
            return _user_error(["id"], "Webhook subscription does not exist")
        uri = wanted.get("uri") or wanted.get("callbackUrl") or found["uri"]
        if self._taken(found["topic"], uri, other_than=found):
            return _user_error(["webhookSubscription", "callbackUrl"], "Address for this topic has already been taken")
        found.update(uri=uri, callbackUrl=uri, format=wanted.get("format") or found["format"], updatedAt=now)
        return {"webhookSubscription": dict(found), "userErrors": []}


# --- answering a document ------------------------------------------------------------------------


def fields(selection_set: graphql.SelectionSetNode | None, fragments: dict) -> Iterable[graphql.FieldNode]:
    """The fields of a selection, fragments spread in (the stand-in's data has a single concrete type)."""
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, graphql.FieldNode):
            yield selection
        elif isinstance(selection, graphql.InlineFragmentNode):
            yield from fields(selection.selection_set, fragments)
        elif isinstance(selection, graphql.FragmentSpreadNode) and selection.name.value in fragments:
            yield from fields(fragments[selection.name.value].selection_set, fragments)


def project(value: Any, selection_set: graphql.SelectionSetNode | None, fragments: dict) -> Any:
    """`value` cut to the selection: only the fields asked for, under their aliases."""
    if selection_set is None or value is None:
        return value
    if isinstance(value, list):
        return [project(item, selection_set, fragments) for item in value]
    out = {}
    for field in fields(selection_set, fragments):
        key = field.alias.value if field.alias else field.name.value
        if field.name.value == "__typename":
            out[key] = value.get("__typename")
            continue
        out[key] = project(value.get(field.name.value), field.selection_set, fragments)
    return out


def operation(payload: Any) -> tuple[graphql.OperationDefinitionNode, dict]:
    """The operation a request body asks to run, and its document's fragments.

    ValueError or GraphQLError (a syntax error) when there is none to run.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        raise ValueError("the body must be JSON with a query")
    if payload.get("variables") is not None and not isinstance(payload["variables"], dict):
        raise ValueError("variables must be an object")
    document = graphql.parse(payload["query"])
    operations = [d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode)]
    name = payload.get("operationName")
    if name:
        operations = [o for o in operations if o.name and o.name.value == name]
    if len(operations) != 1:
        raise ValueError("exactly one operation (or an operationName naming one) is required")
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, graphql.FragmentDefinitionNode)}
    return operations[0], fragments


def arguments(field: graphql.FieldNode, variables: dict | None) -> dict:
    """The field's arguments with variables filled in; a variable not given is null (as GraphQL treats it)."""
    given = {arg.name.value: graphql.value_from_ast_untyped(arg.value, variables) for arg in field.arguments or ()}
    return {name: None if value is graphql.Undefined else value for name, value in given.items()}


def requested_cost(selection_set: graphql.SelectionSetNode | None, fragments: dict, variables: dict | None) -> int:
    """Objects cost 1, connections 2 plus `first` times their contents; scalars are free."""
    total = 0
    for field in fields(selection_set, fragments):
        if field.selection_set is None:
            continue
        inner = requested_cost(field.selection_set, fragments, variables)
        given = arguments(field, variables)
        size = given.get("first") or given.get("last")
        total += 2 + int(size) * inner if isinstance(size, int) else 1 + inner
    return total


def cost_extension(requested: int, actual: int | None, available: float) -> dict:
    """The `extensions` Shopify puts on every answer (actualQueryCost is null when nothing ran)."""
    return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": {
        "maximumAvailable": BUCKET, "currentlyAvailable": round(available, 1), "restoreRate": RESTORE_RATE}}}


def count_objects(value: Any) -> int:
    """What an answer actually cost: one point per object in it."""
    if isinstance(value, list):
        return sum(count_objects(item) for item in value)
    if isinstance(value, dict):
        return 1 + sum(count_objects(item) for item in value.values())
    return 0


def cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def page(items: list, key: Callable[[Any], str], first: Any, after: Any) -> dict:
    """A connection over `items` (already sorted): nodes, edges and pageInfo; ValueError for a bad cursor."""
    start = 0
    if after is not None:
        keys = [cursor(key(item)) for item in items]
        if after not in keys:
            raise ValueError(f"Invalid cursor {after!r}")
        start = keys.index(after) + 1
    size = first if isinstance(first, int) and 0 < first <= 250 else 50
    chosen = items[start:start + size]
    edges = [{"cursor": cursor(key(item)), "node": item} for item in chosen]
    return {
        "nodes": chosen,
        "edges": edges,
        "pageInfo": {
            "hasNextPage": start + size < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


SEARCH_TERM = re.compile(r"""^\s*updated_at:(>=|>)\s*(['"]?)([^'"\s]+)\2\s*$""")


def updated_after(query: Any) -> Callable[[datetime], bool]:
    """The filter of `updated_at:>'2026-11-23T10:00:00Z'` (or `>=`); no query keeps every order.

    Any other search syntax is a ValueError: the stand-in says so rather than silently ignoring it
    as Shopify does, so a test cannot pass on a filter that was never applied.
    """
    if query is None or (isinstance(query, str) and not query.strip()):
        return lambda _updated: True
    match = SEARCH_TERM.match(query) if isinstance(query, str) else None
    if match is None:
        raise ValueError(f"the stand-in reads only updated_at:>'…' or >= searches, not {query!r}")
    since = parse_time(match.group(3))
    return (lambda updated: updated >= since) if match.group(1) == ">=" else (lambda updated: updated > since)


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def json_default(value: Any) -> Any:
    """Decimals from REST samples are written as GraphQL writes money: strings."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")
