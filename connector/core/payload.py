"""The conversion body sent to the tracking backend, serialised once when the conversion is created."""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime, timezone
from decimal import Decimal, localcontext
from typing import Sequence

from connector.core.platform import LineItem, Money

PURCHASE, LEAD, REFUND, CANCELLATION, ADJUSTMENT = (
    "conversion.purchase",
    "conversion.lead",
    "conversion.refund",
    "conversion.cancellation",
    "conversion.adjustment",
)
#: the types that take something back from the purchase they name (their credits count negative)
REVERSING = (REFUND, CANCELLATION)


def new_conversion_id() -> str:
    """`cv_` + 12 hex digits of milliseconds + 16 random hex digits: unique, and sorts by creation time."""
    return f"cv_{int(time.time() * 1000):012x}{secrets.token_hex(8)}"


def format_amount(amount: Decimal) -> str:
    """A decimal string with at least two places and no float on the way: 59.5 → '59.50'."""
    # A wide context: the default 28 digits would make quantize fail on very large amounts.
    with localcontext() as context:
        context.prec = 100
        normal = amount.normalize()
        if normal == 0:
            return "0.00"
        if normal.as_tuple().exponent > -2:
            normal = normal.quantize(Decimal("0.01"))
        return f"{normal:f}"


def format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_share(share: Decimal) -> str:
    normal = share.normalize()
    return f"{normal:f}"


def format_quantity(quantity: Decimal) -> int | str:
    """Whole quantities as JSON integers; a fraction (WooCommerce plugins selling by weight) as a decimal string."""
    if quantity == quantity.to_integral_value():
        return int(quantity)
    return f"{quantity.normalize():f}"


def item_document(item: LineItem) -> dict:
    """One line of `data.items`, as the backend reads it."""
    return {
        # the platform's id of the line (an extension of the contract's fields): refunds and edits name it
        "line_id": item.line_id,
        "product_id": item.product_id,
        "variant_id": item.variant_id,
        "sku": item.sku,
        "title": item.title,
        "quantity": format_quantity(item.quantity),
        "amount": format_amount(item.amount),
    }


def conversion_body(
    *,
    type: str,
    conversion_id: str,
    created_at: datetime,
    platform: str,
    store: str,
    order_id: str | None,
    order_name: str | None,
    occurred_at: datetime,
    amount: Money,
    presentment: Money | None,
    tracking_id: str | None,
    campaign_id: str | None,
    method: str | None,
    promo_code: str | None,
    click_id: str | None,
    credits: Sequence[tuple[str, Decimal]],
    customer_email_sha256: str | None,
    first_order: bool | None,
    reverses: str | None,
    test: bool,
    items: Sequence[LineItem] = (),
    renewal_of: str | None = None,
    backfill: bool = False,
) -> str:
    """The JSON text of a conversion exactly as the contract shows it (plus `presentment`, an extension)."""
    document = {
        "type": type,
        "timestamp": format_time(created_at),
        "data": {
            "conversion_id": conversion_id,
            "platform": platform,
            "store": store,
            "order_id": order_id,
            "order_name": order_name,
            "occurred_at": format_time(occurred_at),
            "amount": format_amount(amount.amount),
            "currency": amount.currency,
            "tracking_id": tracking_id,
            "campaign_id": campaign_id,
            "method": method,
            "promo_code": promo_code,
            "click_id": click_id,
            "credits": [{"tracking_id": tid, "share": format_share(share)} for tid, share in credits],
            "customer": {"email_sha256": customer_email_sha256, "first_order": first_order},
            "reverses": reverses,
            "test": test,
            "items": [item_document(item) for item in items],
            "renewal_of": renewal_of,
            # Always present, like every key here: true only for a purchase a backfill credited (connector/backfill).
            "backfill": backfill,
            "presentment": (
                {"amount": format_amount(presentment.amount), "currency": presentment.currency}
                if presentment is not None
                else None
            ),
        },
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)
