"""What an order's JSON says of WooCommerce Subscriptions (PLATFORMS-2.md G3): a renewal, or the start of one.

Subscriptions links an order to a subscription with order meta named for the link, whose value is the
subscription's id (`WCS_Related_Order_Store_CPT::add_relation`): `_subscription_renewal` on the orders that pay a
subscription's next period (made by the scheduler, or by the shopper renewing early at checkout),
`_subscription_switch` on a shopper's checkout that changes a subscription's plan, `_subscription_resubscribe` on a
shopper's checkout that takes up an ended subscription again as a new one (`WCS_Cart_Resubscribe::
maybe_record_resubscribe`). Orders Subscriptions makes from a subscription have `created_via` "subscription"
(`wcs_create_order_from_subscription`).

- A renewal: `_subscription_renewal`; else `created_via` "subscription" with no switch or resubscribe link (the
  meta may have been removed by hand; `wcs_create_order_from_subscription` also makes resubscribe orders).
- A switch is not a renewal: the shopper chose a new plan at checkout, a purchase of its own, credited like one.
- A resubscribe is not a renewal either: the shopper came back and bought again at checkout, and the order is the
  parent of the new subscription it makes, so it starts a subscription.
- A subscription's first order carries no marker (Subscriptions has no `_subscription_parent` meta: the link is the
  subscription's `parent_id`), so an ordinary first order cannot be told from the order JSON: starts_subscription
  stays False for it.

Pure: no database, no network.
"""

from __future__ import annotations

from typing import Any

from connector.core.platform import Renewal

from .fields import ASCII_DIGITS

RENEWAL_KEY, SWITCH_KEY, RESUBSCRIBE_KEY = "_subscription_renewal", "_subscription_switch", "_subscription_resubscribe"
RENEWAL_MARKER, CREATED_VIA_MARKER = "meta _subscription_renewal", "created_via subscription"
CREATED_VIA_SUBSCRIPTION = "subscription"


def renewal(meta: dict[str, Any], created_via: Any) -> Renewal | None:
    """The order's renewal marker, from its meta (by key, first row first) and `created_via`; None if it has none."""
    if _linked(meta, RENEWAL_KEY):
        # The id is kept only when it is one; a marker with a garbled id is still a renewal (its start is not found).
        return Renewal(marker=RENEWAL_MARKER, subscription_id=_subscription_id(meta[RENEWAL_KEY]))
    if _linked(meta, SWITCH_KEY) or _linked(meta, RESUBSCRIBE_KEY):
        return None
    if created_via == CREATED_VIA_SUBSCRIPTION:
        return Renewal(marker=CREATED_VIA_MARKER)
    return None


def starts_subscription(meta: dict[str, Any]) -> bool:
    """A resubscribe checkout starts the new subscription; nothing in the JSON marks an ordinary first order."""
    return _linked(meta, RESUBSCRIBE_KEY) and not _linked(meta, RENEWAL_KEY)


def _linked(meta: dict[str, Any], key: str) -> bool:
    value = meta.get(key)
    return value is not None and not isinstance(value, bool) and str(value).strip() not in ("", "0")


def _subscription_id(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    text = str(value).strip()
    return text if ASCII_DIGITS.fullmatch(text) and int(text) > 0 else None
