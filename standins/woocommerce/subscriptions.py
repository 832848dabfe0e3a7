"""WooCommerce Subscriptions in the stand-in: a subscription made from its first order, and its renewal orders.

Plain functions over dicts, no HTTP: the caller holds `Sites.lock`. They follow Subscriptions 9.0.0
(PLATFORMS-2.md G3): a subscription is order-shaped (`shop_subscription`) with `parent_id` = the order that started
it and the v2 controller's extra fields (`billing_period`, `billing_interval`, `*_date_gmt`, `resubscribed_from`,
`removed_line_items`; no `refunds`, `transaction_id` or `cart_hash`). A renewal order
(`wcs_create_order_from_subscription`) copies the subscription's lines with new item ids, has `created_via`
"subscription" and `parent_id` 0, and carries meta `_subscription_renewal` = the subscription's id
(`WCS_Related_Order_Store_CPT::add_relation`; read back from the database, the value is text). Only recurring
coupons stay on a subscription, so by default its lines are the first order's before its coupons.
"""

from __future__ import annotations

import copy
import secrets
import string
from datetime import datetime, timedelta, timezone
from typing import Callable

from standins.woocommerce.orders import recalculate, stamp

RENEWAL_KEY = "_subscription_renewal"
#: what a subscription's REST view does not have of an order's (the v2 controller unsets them)
NOT_ON_SUBSCRIPTIONS = ("refunds", "transaction_id", "cart_hash")
SUBSCRIPTION_ONLY = ("billing_period", "billing_interval", "start_date", "start_date_gmt", "trial_end_date",
                     "trial_end_date_gmt", "next_payment_date", "next_payment_date_gmt", "cancelled_date",
                     "cancelled_date_gmt", "end_date", "end_date_gmt", "resubscribed_from",
                     "resubscribed_subscription", "removed_line_items")


def order_key() -> str:
    """A key shaped like WooCommerce's (`wc_order_` + 13 characters)."""
    return "wc_order_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(13))


def subscription_from(order: dict, *, subscription_id: int, new_item_id: Callable[[], int], utc_offset: timedelta,
                      keep_coupons: bool = False, site_url: str = "https://shop.example") -> dict:
    """A monthly subscription started by `order` (its parent), active from now."""
    subscription = copy.deepcopy(order)
    for key in NOT_ON_SUBSCRIPTIONS:
        subscription.pop(key, None)
    moment = datetime.now(timezone.utc).replace(microsecond=0)
    created, created_gmt = stamp(moment, utc_offset)
    following, following_gmt = stamp(moment + timedelta(days=30), utc_offset)
    subscription.update(
        id=subscription_id, parent_id=order["id"], status="active", created_via="checkout", order_key=order_key(),
        number=str(subscription_id), meta_data=[], date_created=created, date_created_gmt=created_gmt,
        date_modified=created, date_modified_gmt=created_gmt, date_paid=None, date_paid_gmt=None,
        billing_period="month", billing_interval="1", start_date=created, start_date_gmt=created_gmt,
        trial_end_date="", trial_end_date_gmt="", next_payment_date=following, next_payment_date_gmt=following_gmt,
        cancelled_date="", cancelled_date_gmt="", end_date="", end_date_gmt="", resubscribed_from="",
        resubscribed_subscription="", removed_line_items=[],
        _links={"self": [{"href": f"{site_url}/wp-json/wc/v3/subscriptions/{subscription_id}"}],
                "collection": [{"href": f"{site_url}/wp-json/wc/v3/subscriptions"}],
                "up": [{"href": f"{site_url}/wp-json/wc/v3/orders/{order['id']}"}]},
    )
    for line in subscription.get("line_items") or []:
        line["id"] = new_item_id()
        if not keep_coupons:  # a one-off coupon does not recur: the subscription charges the full price
            line["total"], line["_retax"] = line["subtotal"], True
    if not keep_coupons:
        subscription["coupon_lines"] = []
    recalculate(subscription)
    return subscription


def renewal_from(subscription: dict, *, order_id: int, new_item_id: Callable[[], int], utc_offset: timedelta,
                 status: str = "processing", site_url: str = "https://shop.example") -> dict:
    """The order that pays the subscription's next period, paid now."""
    order = copy.deepcopy(subscription)
    for key in SUBSCRIPTION_ONLY:
        order.pop(key, None)
    moment = datetime.now(timezone.utc).replace(microsecond=0)
    created, created_gmt = stamp(moment, utc_offset)
    order.update(
        id=order_id, parent_id=0, status=status, created_via="subscription", order_key=order_key(),
        number=str(order_id), transaction_id="", cart_hash="", refunds=[], date_created=created,
        date_created_gmt=created_gmt, date_modified=created, date_modified_gmt=created_gmt,
        date_paid=created if status == "processing" else None,
        date_paid_gmt=created_gmt if status == "processing" else None,
        meta_data=[{"id": new_item_id(), "key": RENEWAL_KEY, "value": str(subscription["id"])}],
        _links={"self": [{"href": f"{site_url}/wp-json/wc/v3/orders/{order_id}"}],
                "collection": [{"href": f"{site_url}/wp-json/wc/v3/orders"}]},
    )
    for kind in ("line_items", "shipping_lines", "tax_lines", "fee_lines", "coupon_lines"):
        for line in order.get(kind) or []:
            line["id"] = new_item_id()
    return order
