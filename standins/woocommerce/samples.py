"""Sample WooCommerce deliveries, shaped like WooCommerce's REST v3 order and customer webhooks, for the demo,
tests and benchmarks.

`order.json`, `customer.json` and the tax-inclusive order with its refunds beside this file are the templates (see
PROVENANCE.md there); these helpers vary them, encode them the way PHP's wp_json_encode does and sign them the
way WooCommerce does.
"""

from __future__ import annotations

import copy
import json
import uuid
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from adapters.woocommerce.verify import sign

TEMPLATES = Path(__file__).parent / "samples"
WOOCOMMERCE_VERSION = "9.4.2"
WORDPRESS_VERSION = "6.7.1"


@lru_cache(maxsize=None)
def _template(name: str) -> Any:
    return json.loads((TEMPLATES / name).read_text(encoding="utf-8"))


def _set_meta(body: dict, key: str, value: str | None) -> None:
    """Replace the order meta row `key` (None or "" removes it)."""
    body["meta_data"] = [row for row in body.get("meta_data", []) if row.get("key") != key]
    if value:
        next_id = max((row.get("id", 0) for row in body["meta_data"]), default=90000) + 1
        body["meta_data"].append({"id": next_id, "key": key, "value": value})


def order(
    *,
    order_id: int = 5123,
    number: str | None = None,
    status: str = "processing",
    codes: Sequence[str] | None = None,
    landing_url: str | None = None,
    cart_ref: str | None = None,
    click_id: str | None = None,
    refunds: Sequence[tuple[int, str]] = (),
    total: str | None = None,
    email: str | None = None,
    customer_id: int | None = None,
    date_created_gmt: str | None = None,
    date_modified_gmt: str | None = None,
    order_key: str | None = None,
) -> dict[str, Any]:
    """A copy of the template order with the attribution-relevant fields set as asked (None keeps the template's).

    `refunds` are (refund id, refunded amount) pairs, e.g. ((731, "10.00"),); an empty `landing_url`,
    `cart_ref` or `click_id` removes that meta row; an empty `order_key` removes the key (the stand-in's
    place_order then makes one up, as WooCommerce does).
    """
    body = copy.deepcopy(_template("order.json"))
    body["id"] = order_id
    body["number"] = number if number is not None else str(order_id)
    body["status"] = status
    body["_links"]["self"] = [{"href": f"https://shop.example/wp-json/wc/v3/orders/{order_id}"}]
    if codes is not None:
        template_line = body["coupon_lines"][0] if body.get("coupon_lines") else {"discount": "0.00", "discount_tax": "0.00"}
        body["coupon_lines"] = [
            {**template_line, "id": 7005 + index, "code": code, "meta_data": []} for index, code in enumerate(codes)
        ]
    if landing_url is not None:
        _set_meta(body, "_wc_order_attribution_session_entry", landing_url)
    if cart_ref is not None:
        _set_meta(body, "_ref", cart_ref)
    if click_id is not None:
        _set_meta(body, "_click_id", click_id)
    body["refunds"] = [{"id": refund_id, "reason": "", "total": f"-{amount}"} for refund_id, amount in refunds]
    if total is not None:
        body["total"] = total
    if email is not None:
        body["billing"]["email"] = email
    if customer_id is not None:
        body["customer_id"] = customer_id
    if date_created_gmt is not None:
        body["date_created_gmt"] = date_created_gmt
    if date_modified_gmt is not None:
        body["date_modified_gmt"] = date_modified_gmt
    if order_key == "":
        body.pop("order_key", None)
    elif order_key is not None:
        body["order_key"] = order_key
    return body


def tax_inclusive_order() -> dict[str, Any]:
    """A copy of `order_tax_inclusive.json`: a shop whose prices include 20% VAT, with a line refund and an amount
    refunded alone (PROVENANCE.md); `tax_inclusive_refunds()` is what its refunds endpoint answers."""
    return copy.deepcopy(_template("order_tax_inclusive.json"))


def tax_inclusive_refunds() -> list[dict[str, Any]]:
    """A copy of `refunds_tax_inclusive.json`: `GET orders/5301/refunds` of the tax-inclusive order, newest first."""
    return copy.deepcopy(_template("refunds_tax_inclusive.json"))


def customer(
    *,
    customer_id: int = 88,
    email: str | None = None,
    date_created_gmt: str | None = None,
) -> dict[str, Any]:
    """A copy of the template customer (the body of customer.created) with the fields set as asked."""
    body = copy.deepcopy(_template("customer.json"))
    body["id"] = customer_id
    body["_links"]["self"] = [{"href": f"https://shop.example/wp-json/wc/v3/customers/{customer_id}"}]
    if email is not None:
        body["email"] = email
        body["billing"]["email"] = email
    if date_created_gmt is not None:
        body["date_created_gmt"] = date_created_gmt
    return body


def deleted(order_id: int = 5123) -> dict[str, Any]:
    """The whole body of an order.deleted delivery."""
    return {"id": order_id}


def ping(webhook_id: int = 1) -> bytes:
    """The form body of the ping WooCommerce sends when a webhook is created (no X-WC headers come with it)."""
    return f"webhook_id={webhook_id}".encode()


def encode(body: Any) -> bytes:
    """JSON bytes as WooCommerce sends them: PHP's json_encode escapes "/" as "\\/" and non-ASCII as \\uXXXX."""
    return json.dumps(body, ensure_ascii=True, separators=(",", ":"), default=_decimal).replace("/", "\\/").encode()


def _decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # only line-item `price` is a JSON number; money fields are strings
    raise TypeError(f"not JSON: {type(value).__name__}")


def headers(
    body: bytes,
    *,
    source: str,
    topic: str,
    secret: str,
    delivery_id: str | None = None,
    signature: str | None = None,
    webhook_id: int = 1,
) -> dict[str, str]:
    """The headers WooCommerce sends with a webhook, signed with `secret` unless a signature is given.

    `source` is the store's home_url('/'), e.g. `https://shop.example/`.
    """
    resource, _, event = topic.partition(".")
    return {
        "Content-Type": "application/json",
        "User-Agent": f"WooCommerce/{WOOCOMMERCE_VERSION} Hookshot (WordPress/{WORDPRESS_VERSION})",
        "X-WC-Webhook-Source": source,
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": signature if signature is not None else sign(body, secret),
        "X-WC-Webhook-ID": str(webhook_id),
        # WooCommerce's is wp_hash(webhook id . time()): 32 hex characters.
        "X-WC-Webhook-Delivery-ID": delivery_id or uuid.uuid4().hex,
    }
