"""The store's answers to what `enrich` asks, read into neutral values: exact refunds, a renewal's start.

Refunds: an order's refunds as the refunds endpoint has them (`GET orders/{id}/refunds`) → exact RefundEvents.

The order JSON lists only each refund's id and total, so the normaliser estimates what of the commission base a
refund took back (normalise.refunded_base). The endpoint has the refund itself (woocommerce-rest-api-docs
`_order-refunds.md`; `WC_REST_Order_Refunds_V2_Controller::get_formatted_item_data`): `date_created_gmt`, `amount`,
and the refunded `line_items`, `shipping_lines` and `fee_lines`, each a negative copy of the order's line (lines.py).

- A refund with goods lines takes back exactly their totals (without tax, as the purchase's lines were), line by
  line: `items` name the original lines, so the core reverses what each line earned.
- A refund that gives back only shipping or fees takes back nothing of the base (they were never in it).
- A refund of an amount alone (no line carries money: the merchant typed a sum, or only restocked) keeps the
  proportional estimate, with no items: the core shares it out over the purchase's lines. Its time is exact.
- What the refund gives back beyond its lines, their tax and shipping (an amount typed over the lines' sum) is not
  tied to any goods and is not taken back: the lines are the record of what was returned.
- Only the refunds the delivery listed are made exact: one made since comes with the order.updated it fired.
  A listed refund the endpoint no longer has was deleted meanwhile (WooCommerce sends order.updated for that too)
  and is dropped, with a note. When the endpoint has none of the listed refunds, the answer proves nothing (it
  is also WooCommerce's answer for an order deleted for good) and the estimates stay.
- A refund whose object cannot be read keeps its estimate, with a note: an odd answer never loses a refund.

A renewal's start: the subscription's `parent_id` (`GET subscriptions/{id}`); 0 for a subscription made by hand
in the admin or imported, which has no first order.

Pure: no database, no network.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from connector.core import storable
from connector.core.platform import Money, OrderEvent, RefundEvent, Renewal
from connector.core.shapes import objects_field
from connector.errors import MalformedPayload

from .fields import amount, gmt_time, optional_id, positive_id
from .lines import EMPTY, refund_lines

#: a refund's lines that are not goods: money back that was never in the commission base
OTHER_LINES = ("shipping_lines", "fee_lines")


def exact_refunds(event: OrderEvent, answer: list[dict]) -> tuple[tuple[RefundEvent, ...], tuple[str, ...]]:
    """The event's refunds made exact from the endpoint's `answer`, and notes on what could not be."""
    listed = {refund.refund_id for refund in event.refunds}
    found: dict[str, dict] = {}
    for index, obj in enumerate(answer):
        try:
            refund_id = positive_id(obj.get("id"), f"refunds answer[{index}].id")
        except MalformedPayload:
            continue  # an object with no usable id cannot be matched to a listed refund
        if refund_id in listed:
            found.setdefault(refund_id, obj)
    if not found:
        return event.refunds, (f"the store lists none of refunds {', '.join(sorted(listed))}: kept as estimated",)
    refunds, notes = [], []
    for estimate in event.refunds:
        obj = found.get(estimate.refund_id)
        if obj is None:
            notes.append(f"refund {estimate.refund_id} is no longer in the store (deleted): dropped")
            continue
        try:
            refunds.append(storable.checked(_exact(obj, estimate, event.commission_base.currency)))
        except MalformedPayload as exc:
            notes.append(f"refund {estimate.refund_id} kept as estimated: {exc}")
            refunds.append(estimate)
    return tuple(refunds), tuple(notes)


def _exact(obj: dict, estimate: RefundEvent, currency: str) -> RefundEvent:
    where = f"refund {estimate.refund_id}"
    occurred_at = gmt_time(obj.get("date_created_gmt"), f"{where}.date_created_gmt")
    items = refund_lines(obj, where)
    goods = sum((item.amount for item in items), Decimal(0))
    if goods == 0 and not _other_money(obj, where):
        # An amount alone: the estimate stands, dated as the store dates the refund.
        return replace(estimate, occurred_at=occurred_at, items=())
    return RefundEvent(
        refund_id=estimate.refund_id,
        order_id=estimate.order_id,
        occurred_at=occurred_at,
        commission_base=Money(goods, currency),
        # Lines that carry no money (restocked only) concern no part of the base.
        items=tuple(item for item in items if item.amount != 0),
    )


def _other_money(obj: dict, where: str) -> bool:
    """Does the refund give back shipping or fees (never in the base)?"""
    for name in OTHER_LINES:
        for index, line in enumerate(objects_field(obj, name, empty=EMPTY)):
            at = f"{where}.{name}[{index}]"
            if amount(line.get("total"), f"{at}.total") != 0 or amount(line.get("total_tax", 0), f"{at}.total_tax") != 0:
                return True
    return False


def renewal_origin(renewal: Renewal, subscription_id: str, subscription: dict) -> Renewal:
    """The renewal with its subscription's first order (`parent_id`), or why the answer does not name one."""
    if str(subscription.get("id")) != subscription_id:
        return replace(renewal, lookup_error=f"the store answered another object for subscription {subscription_id}")
    try:
        parent = optional_id(subscription.get("parent_id"), "parent_id")
    except MalformedPayload as exc:
        return replace(renewal, lookup_error=f"subscription {subscription_id} has an unreadable parent_id: {exc}")
    if parent is None:
        return replace(renewal, lookup_error=f"subscription {subscription_id} has no start order (parent_id 0: made "
                                             "in the admin or imported)")
    return replace(renewal, origin_order_id=parent, lookup_error=None, found_by="subscription")
