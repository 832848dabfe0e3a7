"""One shop's data in the Shopify stand-in and the root fields answered over it: no HTTP, no locks.

`ShopData` holds the shop's webhook subscriptions, orders, customers and details and answers the root fields the
connector's documents use (webhookSubscriptions, webhookSubscriptionCreate/Update, orders, order, shop, customer);
discounts, codes and the web pixel are standins/shopify/discounts.py's, journeys journeys.py's and subscription
contracts subscriptions.py's. Lists are answered as connections
(`page`), and orders are searched the two ways the connector searches them (`order_filter`).
"""

from __future__ import annotations

import base64
import re
from datetime import datetime, timezone
from typing import Any, Callable

from standins.shopify import journeys
from standins.shopify.bulk import BulkOperations
from standins.shopify.discounts import DiscountData
from standins.shopify.order_node import line_nodes, page_sizes, to_graphql_node
from standins.shopify.samples import shop_number
from standins.shopify.subscriptions import Subscriptions

#: GraphQL topic ↔ webhook topic, for the topics the stand-in can deliver
TOPICS = {
    "ORDERS_CREATE": "orders/create", "ORDERS_PAID": "orders/paid", "ORDERS_UPDATED": "orders/updated",
    "ORDERS_CANCELLED": "orders/cancelled", "REFUNDS_CREATE": "refunds/create",
    "APP_UNINSTALLED": "app/uninstalled", "CUSTOMERS_CREATE": "customers/create",
}


#: topics carrying customer data: Shopify subscribes an app to them only once it has protected customer data access
PROTECTED_TOPICS = frozenset({"ORDERS_CREATE", "ORDERS_PAID", "ORDERS_UPDATED", "ORDERS_CANCELLED", "REFUNDS_CREATE",
                              "CUSTOMERS_CREATE"})
#: Shopify's answer then (seen in public issues; PLATFORMS.md)
PROTECTED_REFUSAL = ("This app is not approved to subscribe to webhook topics containing protected customer data. "
                     "See https://shopify.dev/docs/apps/launch/protected-customer-data for more details.")


def _user_error(field_path: list[str], message: str) -> dict:
    return {"webhookSubscription": None, "userErrors": [{"field": field_path, "message": message}]}


class ShopData:
    """One shop's webhook subscriptions and REST-shaped orders; `resolve` answers a root field with full objects."""

    def __init__(self, shop: str, pixel_fields: dict[str, bool] | None = None):
        self.shop = shop
        self.subscriptions: list[dict] = []
        #: the Partner Dashboard's protected customer data access (a test switches it off to play a store without)
        self.protected_data_approved = True
        self.orders: dict[str, dict] = {}
        #: REST-shaped customers by id (customers/create sent through the stand-in, or added by a test)
        self.customers: dict[str, dict] = {}
        self.discounts = DiscountData(pixel_fields)
        #: customerJourneySummary by order id, as a test set it (None: the order has none)
        self.journeys: dict[str, dict | None] = {}
        #: subscription contracts and their lines (not the webhook subscriptions above)
        self.contracts = Subscriptions()
        #: bulk query operations and their files (standins/shopify/bulk.py)
        self.bulk = BulkOperations(self)
        #: what `shop` answers; tests change it to play a shop with its own domain or currency
        self.details = {"id": f"gid://shopify/Shop/{shop_number(shop)}", "name": shop.split(".")[0],
                        "myshopifyDomain": shop, "currencyCode": "EUR",
                        "primaryDomain": {"url": f"https://{shop}", "host": shop}}

    #: the root fields of the connector's documents, the only ones answered
    ROOT_FIELDS = frozenset({"webhookSubscriptions", "webhookSubscriptionCreate", "webhookSubscriptionUpdate",
                             "webhookSubscriptionDelete", "orders", "order", "shop", "customer"}) | DiscountData.ROOT_FIELDS
    ROOT_FIELDS |= BulkOperations.ROOT_FIELDS

    def resolve(self, name: str, args: dict, *, now: str, new_id: Callable[[], int]) -> Any:
        """The full object for one root field (one of ROOT_FIELDS); ValueError for a bad cursor or search."""
        if name in BulkOperations.ROOT_FIELDS:
            return self.bulk.resolve(name, args, now=now, new_id=new_id)
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
        if name == "order":
            return self._order(args)
        if name == "webhookSubscriptionCreate":
            return self._create(args, now, new_id)
        if name == "webhookSubscriptionUpdate":
            return self._update(args, now)
        if name == "webhookSubscriptionDelete":
            return self._delete(args)
        raise ValueError(f"the stand-in does not answer {name}")

    def _order(self, args: dict) -> dict | None:
        """order(id:): the reconciliation node, with the journey and each line's contract (order_context.graphql)."""
        match = re.fullmatch(r"gid://shopify/Order/(\d+)", str(args.get("id") or ""))
        order = self.orders.get(match.group(1)) if match else None
        if order is None:
            return None
        node = to_graphql_node(order, self.shop, self.contracts.selling_plans)
        key = str(order["id"])
        node["customerJourneySummary"] = self.journeys[key] if key in self.journeys else journeys.from_order(
            order, self.shop)
        lines = [{**line, "contract": self.contracts.contract_of((line["id"] or "").rsplit("/", 1)[-1])}
                 for line in line_nodes(order, self.contracts.selling_plans)]
        size = page_sizes("order_context").get("lineItems", 250)
        node["lineItems"] = {"nodes": lines[:size], "pageInfo": {"hasNextPage": len(lines) > size}}
        return node

    def _orders(self, args: dict) -> dict:
        """orders(query:): reconciliation's page (orders_updated_since.graphql), or a customer's orders
        (order_context.graphql's customerOrders, their lines cut where that document cuts them)."""
        keep, customers = order_filter(args.get("query")), "customer_id:" in str(args.get("query"))
        nodes = [self._order_node(o, customers) for o in self.orders.values() if keep(o)]
        if args.get("sortKey") in ("UPDATED_AT", "CREATED_AT"):
            field = "updatedAt" if args["sortKey"] == "UPDATED_AT" else "createdAt"
            nodes.sort(key=lambda n: (parse_time(n[field]), int(n["legacyResourceId"])))
        else:  # Shopify's default order is by id
            nodes.sort(key=lambda n: int(n["legacyResourceId"]))
        if args.get("reverse"):
            nodes.reverse()
        return page(nodes, lambda n: n["legacyResourceId"], args.get("first"), args.get("after"))

    def _order_node(self, order: dict, context_sizes: bool) -> dict:
        node = to_graphql_node(order, self.shop, self.contracts.selling_plans)
        if context_sizes:
            lines = line_nodes(order, self.contracts.selling_plans)
            size = page_sizes("order_context").get("lineItems", 250)
            node["lineItems"] = {"nodes": lines[:size], "pageInfo": {"hasNextPage": len(lines) > size}}
        return node

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
        if topic in PROTECTED_TOPICS and not self.protected_data_approved:
            return _user_error(["webhookSubscription"], PROTECTED_REFUSAL)
        number = new_id()
        subscription = {"id": f"gid://shopify/WebhookSubscription/{number}", "legacyResourceId": str(number),
                        "topic": topic, "uri": uri, "callbackUrl": uri, "format": wanted.get("format") or "JSON",
                        "includeFields": wanted.get("includeFields") or [], "createdAt": now, "updatedAt": now}
        self.subscriptions.append(subscription)
        return {"webhookSubscription": dict(subscription), "userErrors": []}

    def _delete(self, args: dict) -> dict:
        found = next((s for s in self.subscriptions if s["id"] == args.get("id")), None)
        if found is None:
            return {"deletedWebhookSubscriptionId": None,
                    "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}]}
        self.subscriptions.remove(found)
        return {"deletedWebhookSubscriptionId": found["id"], "userErrors": []}

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


# --- connections and searches --------------------------------------------------------------------


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


# --- order searches (`orders(query:)`) --------------------------------------------------------------
# The connector searches two ways: reconciliation by `updated_at:>='…'`, and a renewal's start among a customer's
# orders, `customer_id:N created_at:<'…' -source_name:… tag_not:'…'`. Terms are ANDed, `-` negates a term, values
# may be quoted with ' or " (shopify.dev/docs/api/usage/search-syntax); the filter names are those the schema lists
# for QueryRoot.orders(query:). Any other term is a ValueError: the stand-in says so rather than silently ignoring
# it as Shopify does, so a test cannot pass on a filter that was never applied.

TERM = re.compile(r"""(?P<negated>-?)(?P<name>[a-z_]+):(?P<op><=|>=|<|>)?
                       (?:'(?P<single>[^']*)'|"(?P<double>[^"]*)"|(?P<bare>[^\s'"]+))""", re.VERBOSE)
#: the time filters read, each the REST field of the same name
TIMES = ("updated_at", "created_at")
COMPARE: dict[str, Callable[[datetime, datetime], bool]] = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}

Keep = Callable[[dict], bool]


def order_filter(query: Any) -> Keep:
    """Whether a REST order matches the search; no query keeps every order; ValueError for what is not read."""
    if query is None or (isinstance(query, str) and not query.strip()):
        return lambda _order: True
    if not isinstance(query, str):
        raise ValueError(f"the search must be a string, not {query!r}")
    tests: list[Keep] = []
    position, text = 0, query.strip()
    while position < len(text):
        match = TERM.match(text, position)
        if match is None:
            raise ValueError(f"the stand-in cannot read the search {query!r} from {text[position:]!r}")
        tests.append(_term(match, query))
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    return lambda order: all(test(order) for test in tests)


def _term(match: re.Match, query: str) -> Keep:
    name, op, negated = match.group("name"), match.group("op"), match.group("negated") == "-"
    value = next(v for v in (match.group("single"), match.group("double"), match.group("bare")) if v is not None)
    if name in TIMES and op and not negated:
        bound = parse_time(value)
        return lambda order: bool(order.get(name)) and COMPARE[op](parse_time(order[name]), bound)
    if name == "customer_id" and not op and not negated and value.isdigit():
        return lambda order: str((order.get("customer") or {}).get("id")) == value
    if name == "source_name" and not op:
        return lambda order: (order.get("source_name") == value) != negated
    if name == "tag_not" and not op and not negated:
        return lambda order: value.casefold() not in {tag.casefold() for tag in rest_tags(order)}
    raise ValueError(f"the stand-in does not read the search term {match.group(0)!r} (in {query!r})")


def rest_tags(order: dict) -> list[str]:
    tags = order.get("tags")
    return [tag.strip() for tag in tags.split(",") if tag.strip()] if isinstance(tags, str) else []


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
