"""WooCommerce webhooks (the REST v3 order and customer JSON) → neutral OrderEvent / OrderDeleted / CustomerCreated.

- Commission base: the sum of the line items' `total`, which WooCommerce keeps after coupon discounts
  and without tax (even when prices are entered with tax); shipping, fees and taxes are out. The lines
  themselves are the event's `items` (lines.py), so they add up to the base exactly. A merchant's edit
  changes `line_items` in place and a refund is an object of its own that leaves them as they were
  (`wc_create_refund` copies the refunded lines into the refund), so the lines and the base are the order
  as edited, refunds not taken out.
- `updated_at` is `date_modified_gmt`, which every save of the order moves; `taxes_included` is
  `prices_include_tax`, for the record only: WooCommerce's line and refund totals are without tax either way.
- Renewals of WooCommerce Subscriptions are read from the order's meta (renewals.py).
- WooCommerce has no refund webhook: a refund arrives as `order.updated` with an entry in `refunds`
  (`{id, reason, total: "-10.00"}`), and the order JSON does not say how much of a refund was goods
  and how much shipping or tax. The refunded commission base is therefore estimated in proportion:
  |refund total| × commission base / order total, rounded half-up to cents, and never more than the
  refund itself (the whole refund when the order total is zero). The core caps reversals at what is
  still credited, so an estimate can never reverse more than was credited. The normaliser is pure, so the
  estimate is what it gives; the adapter's `enrich` replaces it with the refund as the store's refunds
  endpoint has it, line by line, when the core asks (order_context.py, answers.py).
- A refund has no time of its own in the order JSON: it takes the order's `date_modified_gmt`.
- `*_gmt` times carry no offset but are UTC. `order.deleted` carries only `{"id": N}`, so its
  OrderDeleted is stamped with the time it is normalised (close to when it was received).
- The order's `order_key` (`wc_order_…`, shown in the thank-you page URL) is the proof a browser report
  of the purchase must carry.
- `customer.created` (a shopper registered, at checkout or on the account page) is a possible lead:
  its id, email and `date_created_gmt`.

Money is Decimal (JSON numbers are parsed as Decimal too); anything malformed is MalformedPayload.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from connector.errors import MalformedPayload
from connector.core.json_body import load
from connector.core.platform import (Customer, CustomerCreated, LineItem, Money, OrderDeleted, OrderEvent,
                                     RefundEvent)
from connector.core.shapes import Empty, list_field, objects_field, text_or_none

from . import renewals as _renewals
from .fields import amount as _amount, gmt_time as _time, positive_id as _id
from .lines import order_lines

ORDER_TOPICS = frozenset({"order.created", "order.updated", "order.restored"})
DELETED_TOPIC = "order.deleted"
CUSTOMER_TOPIC = "customer.created"
HANDLED_TOPICS = ORDER_TOPICS | {DELETED_TOPIC, CUSTOMER_TOPIC}
# Refunded orders were paid first.
PAID_STATUSES = frozenset({"processing", "completed", "refunded"})
CANCELLED_STATUS = "cancelled"
CART_ATTRIBUTE_KEYS = ("_ref", "_click_id")
ATTRIBUTION_PREFIX = "_wc_order_attribution_"
LANDING_KEY = ATTRIBUTION_PREFIX + "session_entry"
# The shopper's browser string is theirs, not a traffic source: it is not carried.
NOT_TRAFFIC = frozenset({"session_entry", "user_agent"})
MAX_NAME = 100
MAX_PROOF = 255
MAX_EMAIL = 320
CURRENCY = re.compile(r"[A-Z]{3}")
CENT = Decimal("0.01")
#: WooCommerce writes an empty list as [] (its schema types them as arrays): only null is no entries
EMPTY = Empty.NULL


def commission_base(order: dict, items: tuple[LineItem, ...]) -> Money:
    """The line items' totals (after coupons, tax out); shipping, fees and taxes are not in it."""
    currency = order.get("currency")
    if not isinstance(currency, str) or not CURRENCY.fullmatch(currency):
        raise MalformedPayload(f"currency is missing or not an ISO 4217 code: {currency!r}")
    # The base is the items' own sum, so they add up to it exactly whatever their precision.
    return Money(sum((item.amount for item in items), Decimal(0)), currency)


def _taxes_included(value: Any) -> bool:
    if value is None:  # an order from before the field (WooCommerce 3.0), or a plugin's: as entered without tax
        return False
    if not isinstance(value, bool):
        raise MalformedPayload(f"prices_include_tax is not true or false: {value!r}")
    return value


def _meta(order: dict) -> dict[str, Any]:
    """Order meta by key (the first row of a key wins); rows that are not {key, value} are skipped."""
    meta: dict[str, Any] = {}
    for entry in list_field(order, "meta_data", empty=EMPTY):
        if isinstance(entry, dict) and isinstance(entry.get("key"), str):
            meta.setdefault(entry["key"], entry.get("value"))
    return meta


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        return None
    text = str(value)
    return text if text.strip() else None


def _cart_attributes(meta: dict[str, Any]) -> dict[str, str]:
    attributes = {}
    for key in CART_ATTRIBUTE_KEYS:
        value = _scalar_text(meta.get(key))
        if value is not None:
            attributes[key] = value
    return attributes


def _traffic(meta: dict[str, Any]) -> dict[str, str]:
    traffic = {}
    for key, value in meta.items():
        if not key.startswith(ATTRIBUTION_PREFIX):
            continue
        name = key[len(ATTRIBUTION_PREFIX):]
        if name and name not in NOT_TRAFFIC and text_or_none(value) and value.strip() != "(none)":
            traffic[name] = value
    return traffic


def _customer(order: dict) -> Customer:
    raw_id = order.get("customer_id")
    if raw_id in (None, 0, "", "0"):  # 0 is a guest checkout
        customer_id = None
    else:
        customer_id = _id(raw_id, "customer_id")
    billing = order.get("billing")
    email = billing.get("email") if isinstance(billing, dict) else None
    return Customer(id=customer_id, email=text_or_none(email), first_order=None)


def _discount_codes(order: dict) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for index, line in enumerate(objects_field(order, "coupon_lines", empty=EMPTY)):
        code = line.get("code")
        if not isinstance(code, str):
            raise MalformedPayload(f"coupon_lines[{index}].code is missing")
        if code.strip():
            # WooCommerce stores codes lower-cased, plugins may not: one code, first spelling kept.
            seen.setdefault(code.strip().lower(), code)
    return tuple(seen.values())


def _order_name(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise MalformedPayload(f"number is not an order number: {value!r}")
    name = f"#{value}"
    if len(name) > MAX_NAME:
        raise MalformedPayload(f"order number is longer than {MAX_NAME - 1} characters")
    return name


def refunded_base(refund_total: Decimal, base: Decimal, order_total: Decimal) -> Decimal:
    """The commission base a refund of `refund_total` takes back, estimated in proportion (see above)."""
    refunded = abs(refund_total)
    if order_total <= 0:
        return refunded.quantize(CENT, rounding=ROUND_HALF_UP)
    # Capped before rounding, so a tiny order total cannot blow the estimate past Decimal's precision.
    estimate = max(min(refunded * base / order_total, refunded), Decimal(0))
    return estimate.quantize(CENT, rounding=ROUND_HALF_UP)


def _refunds(order: dict, order_id: str, base: Money, modified_at: datetime) -> tuple[RefundEvent, ...]:
    entries = objects_field(order, "refunds", empty=EMPTY)
    if not entries:
        return ()
    order_total = _amount(order.get("total"), "total")
    refunds = []
    for index, entry in enumerate(entries):
        refund_total = _amount(entry.get("total"), f"refunds[{index}].total")
        refunds.append(RefundEvent(
            refund_id=_id(entry.get("id"), f"refunds[{index}].id"),
            order_id=order_id,
            occurred_at=modified_at,
            commission_base=Money(refunded_base(refund_total, base.amount, order_total), base.currency),
        ))
    return tuple(refunds)


def order_event(topic: str, order: dict) -> OrderEvent:
    """A WooCommerce order (order.created, order.updated, order.restored) as an OrderEvent."""
    order_id = _id(order.get("id"), "order id")
    items = order_lines(order)
    base = commission_base(order, items)
    status = order.get("status")
    if not isinstance(status, str) or not status.strip() or len(status) > MAX_NAME:
        raise MalformedPayload(f"status is missing or not a status: {status!r}")
    created_at = _time(order.get("date_created_gmt"), "date_created_gmt")
    modified = order.get("date_modified_gmt")
    modified_at = created_at if modified in (None, "") else _time(modified, "date_modified_gmt")
    cancelled = status == CANCELLED_STATUS
    meta = _meta(order)
    landing = meta.get(LANDING_KEY)
    return OrderEvent(
        order_id=order_id,
        order_name=_order_name(order.get("number")),
        topic=topic,
        occurred_at=created_at,
        financial_status=status,
        paid=status in PAID_STATUSES,
        cancelled=cancelled,
        cancelled_at=modified_at if cancelled else None,
        test=False,  # WooCommerce has no test orders
        customer=_customer(order),
        discount_codes=_discount_codes(order),
        cart_attributes=_cart_attributes(meta),
        landing_url=text_or_none(landing),
        landing_ref=None,  # the core reads ?ref= from landing_url
        commission_base=base,
        presentment_base=None,
        refunds=_refunds(order, order_id, base, modified_at),
        traffic=_traffic(meta),
        proof=_proof(order.get("order_key")),
        items=items,
        updated_at=modified_at,
        taxes_included=_taxes_included(order.get("prices_include_tax")),
        renewal=_renewals.renewal(meta, order.get("created_via")),
        starts_subscription=_renewals.starts_subscription(meta),
    )


def _proof(value: Any) -> str | None:
    # A missing or odd key only means a browser report cannot be joined to this order: not malformed.
    text = text_or_none(value)
    return text.strip() if text and len(text) <= MAX_PROOF else None


def customer_created(customer: dict) -> CustomerCreated:
    """A WooCommerce customer (customer.created) as CustomerCreated."""
    customer_id = _id(customer.get("id"), "customer id")
    occurred_at = _time(customer.get("date_created_gmt"), "date_created_gmt")
    email = customer.get("email")
    if email is not None and not isinstance(email, str):
        raise MalformedPayload(f"email is not text: {email!r}")
    if not text_or_none(email):  # an account made without one (some plugins): the billing address may have it
        billing = customer.get("billing")
        email = billing.get("email") if isinstance(billing, dict) else None
    email = text_or_none(email)
    if email is not None and len(email) > MAX_EMAIL:
        raise MalformedPayload(f"email is longer than {MAX_EMAIL} characters")
    return CustomerCreated(customer_id=customer_id, email=email.strip() if email else None, occurred_at=occurred_at)


def normalise(topic: str, body: bytes) -> OrderEvent | OrderDeleted | CustomerCreated | None:
    """The neutral event for a stored delivery; None for a topic the worker has nothing to do with."""
    if topic in ORDER_TOPICS:
        return order_event(topic, load(body))
    if topic == CUSTOMER_TOPIC:
        return customer_created(load(body))
    if topic == DELETED_TOPIC:
        order_id = _id(load(body).get("id"), "order id")
        # The body is only {"id": N}: the deletion is dated when it is read.
        return OrderDeleted(order_id=order_id, occurred_at=datetime.now(timezone.utc))
    return None
