"""What in a Shopify order says it is a subscription's recurring order, or the first order of one.

Read the same way from a webhook and from a GraphQL order (PLATFORMS-2.md G1, G2):

- `source_name` (GraphQL `sourceName`) `subscription_contract`, or `subscription_contract_checkout_one` since
  October 2025: orders Shopify's subscription billing makes. Not documented, not an enum (Shopify staff in
  community.shopify.dev thread 23868), but set by the platform, so it comes first.
- the tags Recharge (and Skio) put on orders: `Subscription Recurring Order`, `Subscription First Order`.
  Merchants can edit tags: a hint, recorded as such in the marker.
- a line with a selling plan (GraphQL `LineItem.sellingPlan`; REST line items have no such field, nor do the
  order webhooks, community.shopify.dev thread 23920) on an order that is not a renewal: the first order.

Neither payload names the subscription contract or its start order (REST has no contract field; GraphQL
`LineItem.contract` needs the read_own_subscription_contracts scope and shows this app's contracts only): `enrich`
looks them up when asked, among the customer's orders (customer_orders.py) when the contract cannot be read.
"""

from __future__ import annotations

from typing import Any, Iterable

from connector.core.platform import Renewal

RENEWAL_SOURCES = ("subscription_contract", "subscription_contract_checkout_one")
RECURRING_TAG = "Subscription Recurring Order"
FIRST_ORDER_TAG = "Subscription First Order"


def rest_tags(value: Any) -> tuple[str, ...]:
    """REST `tags`: one comma-separated string ("Subscription, Subscription Recurring Order")."""
    if not isinstance(value, str):
        return ()
    return tuple(tag.strip() for tag in value.split(",") if tag.strip())


def graphql_tags(value: Any) -> tuple[str, ...]:
    """GraphQL `tags`: a list of strings; anything else in it is not a tag."""
    if not isinstance(value, list):
        return ()
    return tuple(tag.strip() for tag in value if isinstance(tag, str) and tag.strip())


def _has(tags: Iterable[str], wanted: str) -> bool:
    return wanted.casefold() in {tag.casefold() for tag in tags}


def renewal(source_name: Any, tags: Iterable[str]) -> Renewal | None:
    """The marker that makes the order a renewal, or None."""
    if isinstance(source_name, str) and source_name.strip() in RENEWAL_SOURCES:
        return Renewal(marker=f"source_name {source_name.strip()}")
    if _has(tags, RECURRING_TAG):
        return Renewal(marker=f"tag {RECURRING_TAG}")
    return None


def starts_subscription(found: Renewal | None, tags: Iterable[str], selling_plan_line: bool) -> bool:
    """A subscription's first order: tagged so, or a selling-plan line on an order that is no renewal.

    Renewal orders carry their lines' selling plan too, so a selling plan alone says nothing once the
    order is a renewal.
    """
    if found is not None:
        return False
    return _has(tags, FIRST_ORDER_TAG) or selling_plan_line
