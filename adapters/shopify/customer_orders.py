"""A renewal's start order found among the customer's earlier orders, when its subscription contract cannot be read.

LineItem.contract shows only this app's own contracts (read_own_subscription_contracts), and the connector is no
subscription app, so for Shopify Subscriptions, Recharge on Shopify Checkout, Loop, Skio … the contract is null or
refused. What `read_orders` does show: the customer's orders (`orders(query: "customer_id:…")`, newest first by
`sortKey: CREATED_AT, reverse: true`), each with its `sourceName`, `tags` and its lines' `sellingPlan` and
`variant`. The start is the latest of them placed before the renewal that is no recurring order itself
(renewals.py's markers) and started a subscription (a selling-plan line, or Recharge's first-order tag);
one whose selling plan, else whose variant, is one of the renewal's comes first, so a customer with two
subscriptions gets the right one.

The search leaves recurring orders out where Shopify can (`-source_name:`, `tag_not:`), so the page of
ORDERS_READ is not filled with a long subscription's renewals; every answer is checked here all the same (Shopify
ignores a filter it does not understand rather than refusing it). Search syntax: shopify.dev/docs/api/usage/
search-syntax (terms ANDed, `-` negates, `:<` compares, "Date values must be a string surrounded by quotes");
the filters are those the schema lists for QueryRoot.orders(query:).

Anything unreadable raises MalformedPayload; order_context.py turns it into the renewal's lookup_error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Iterable

from connector.core.platform import OrderEvent, Renewal
from connector.errors import MalformedPayload

from . import renewals
from .normalise import ASCII_DIGITS, _id, _time
from .normalise_graphql import gid_tail

log = logging.getLogger("connector.shopify.renewals")

#: customerOrders: orders(first: 10) and each order's lineItems(first: 5) in order_context.graphql
ORDERS_READ = 10
LINES_READ = 5
ALL_ORDERS_SCOPE = "read_all_orders"


@dataclass(frozen=True)
class Lines:
    """What an order's lines say of its subscription: the selling plans and the variants on it."""

    plans: frozenset[str] = frozenset()
    variants: frozenset[str] = frozenset()
    #: a line has a selling plan (LineItem.sellingPlan not null), even one without an id
    selling_plan: bool = False


@dataclass(frozen=True)
class Candidate:
    order_id: str
    created_at: datetime
    lines: Lines
    #: not a recurring order, and it started a subscription (renewals.starts_subscription)
    starts: bool


def customer_id(value: str | None) -> str | None:
    """The customer's id as a search term takes it: digits only, so nothing else reaches the query."""
    return value.strip() if isinstance(value, str) and ASCII_DIGITS.fullmatch(value.strip()) else None


def search(customer: str, before: datetime) -> str:
    """The `query` for the customer's orders placed before `before`, recurring ones left out where Shopify can."""
    stamp = before.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    terms = [f"customer_id:{customer}", f"created_at:<'{stamp}'"]
    terms += [f"-source_name:{source}" for source in renewals.RENEWAL_SOURCES]
    terms.append(f"tag_not:'{renewals.RECURRING_TAG}'")
    return " ".join(terms)


def read_lines(connection: Any, where: str) -> Lines:
    """The selling plans and variants of one page of an order's lineItems."""
    if not isinstance(connection, dict) or not isinstance(connection.get("nodes"), list):
        raise MalformedPayload(f"{where}.nodes is missing")
    plans, variants, selling_plan = set(), set(), False
    for index, node in enumerate(connection["nodes"]):
        at = f"{where}.nodes[{index}]"
        if not isinstance(node, dict):
            raise MalformedPayload(f"{at} is not an object")
        plan, variant = node.get("sellingPlan"), node.get("variant")
        if plan is not None:
            if not isinstance(plan, dict):
                raise MalformedPayload(f"{at}.sellingPlan is not an object")
            selling_plan = True
            found = gid_tail(plan.get("sellingPlanId"), f"{at}.sellingPlan.sellingPlanId")
            plans |= {found} if found else set()
        if variant is not None:
            if not isinstance(variant, dict):
                raise MalformedPayload(f"{at}.variant is not an object")
            found = gid_tail(variant.get("id"), f"{at}.variant.id")
            variants |= {found} if found else set()
    return Lines(frozenset(plans), frozenset(variants), selling_plan)


def read_candidates(connection: Any) -> tuple[list[Candidate], bool]:
    """The customer's orders as answered, and whether Shopify has more than the page read."""
    if not isinstance(connection, dict) or not isinstance(connection.get("nodes"), list):
        raise MalformedPayload("customerOrders.nodes is missing")
    found = []
    for index, node in enumerate(connection["nodes"]):
        at = f"customerOrders.nodes[{index}]"
        if not isinstance(node, dict):
            raise MalformedPayload(f"{at} is not an object")
        lines = read_lines(node.get("lineItems"), f"{at}.lineItems")
        tags = renewals.graphql_tags(node.get("tags"))
        recurring = renewals.renewal(node.get("sourceName"), tags)
        found.append(Candidate(_id(node.get("legacyResourceId"), f"{at}.legacyResourceId"),
                               _time(node.get("createdAt"), f"{at}.createdAt"), lines,
                               renewals.starts_subscription(recurring, tags, lines.selling_plan)))
    page = connection.get("pageInfo")
    return found, isinstance(page, dict) and page.get("hasNextPage") is True


def choose(candidates: Iterable[Candidate], event: OrderEvent, renewal_lines: Lines) -> tuple[Candidate, str] | None:
    """The start among the customer's orders, and how it was told apart; None when none started a subscription."""
    starts = sorted((c for c in candidates if c.starts and c.order_id != event.order_id
                     and c.created_at < event.occurred_at),
                    key=lambda c: (c.created_at, int(c.order_id)), reverse=True)
    variants = renewal_lines.variants | {item.variant_id for item in event.items if item.variant_id}
    for how, matches in (("its selling plan is the renewal's", lambda c: c.lines.plans & renewal_lines.plans),
                         ("a product variant of the renewal is on it", lambda c: c.lines.variants & variants),
                         ("the latest that started a subscription", lambda c: True)):
        chosen = next((c for c in starts if matches(c)), None)
        if chosen is not None:
            return chosen, how
    return None


def not_found(read: int, more: bool, granted: tuple[str, ...] | None) -> str:
    """Why the customer's orders named no start, with what limited the search."""
    why = (f"none of the customer's {read} latest earlier orders that Shopify shows (recurring ones left out) started "
           f"a subscription (a line with a selling plan, or the tag {renewals.FIRST_ORDER_TAG})")
    if more:
        why += f"; only the latest {ORDERS_READ} were read, {LINES_READ} lines each"
    if granted is None or ALL_ORDERS_SCOPE not in granted:
        why += f"; without {ALL_ORDERS_SCOPE} Shopify shows only the last 60 days of orders"
    return why


def also(renewal: Renewal, why: str) -> Renewal:
    """The renewal with `why` added to the reason its start could not be read (the contract's, then this)."""
    return replace(renewal, lookup_error=f"{renewal.lookup_error}; {why}" if renewal.lookup_error else why)


def found_start(renewal: Renewal, event: OrderEvent, renewal_lines: Lines, connection: Any,
                granted: tuple[str, ...] | None, shop: str) -> Renewal:
    """The renewal with its start order read from the customer's orders, or the reason there is none."""
    candidates, more = read_candidates(connection)
    chosen = choose(candidates, event, renewal_lines)
    if chosen is None:
        return also(renewal, not_found(len(candidates), more, granted))
    start, how = chosen
    # The seam has no field for how the start was found: the log keeps it (the record says "origin").
    log.info("%s: renewal %s: start %s found by the customer's orders (%s; the contract could not be read: %s)",
             shop, event.order_id, start.order_id, how, renewal.lookup_error)
    return replace(renewal, origin_order_id=start.order_id, lookup_error=None, found_by="customer_orders")
