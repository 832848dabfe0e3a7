"""Sample Shopify deliveries, shaped like Shopify's documented webhooks, for the demo, tests and benchmarks.

`order.json` and `refund.json` beside this file are the templates (see PROVENANCE.md there), and
`order_vat.json` / `refund_vat.json` the same order and refund in a shop whose prices include 20% VAT;
these helpers vary them and sign them the way Shopify does.
"""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from adapters.shopify.verify import sign

TEMPLATES = Path(__file__).parent / "samples"


@lru_cache(maxsize=None)
def _template(name: str) -> dict:
    return json.loads((TEMPLATES / name).read_text(), parse_float=Decimal)


def shop_number(shop: str) -> int:
    """A stable numeric shop id for a sample shop (what `gid://shopify/Shop/<id>` carries)."""
    return int(hashlib.sha256(shop.encode()).hexdigest()[:9], 16)


def order_status_url(shop: str, token: str = "b7f3c2a9e4d15f60a8c3e2b91d7f4a05") -> str:
    """An order's status page as Shopify builds it for `shop`: its domain and its shop id, then the order."""
    return f"https://{shop}/{shop_number(shop)}/orders/{token}/authenticate?key=6f0e2a94c1b83d57"


def order(
    *,
    shop: str | None = None,
    order_id: int = 820982911946154508,
    name: str | None = None,
    codes: tuple[str, ...] | None = None,
    cart_ref: str | None = None,
    landing_site: str | None = None,
    landing_site_ref: str | None = None,
    financial_status: str = "paid",
    test: bool = False,
    email: str | None = None,
    customer_id: int | None = None,
    cancelled_at: str | None = None,
) -> dict[str, Any]:
    """A copy of the template order with the attribution-relevant fields set as asked (None keeps the template's).

    `shop` makes it that shop's order (its `order_status_url`, which the connector checks against the shop
    the delivery claims to come from); without it the order is the template shop's.
    """
    body = copy.deepcopy(_template("order.json"))
    body["id"] = order_id
    body["admin_graphql_api_id"] = f"gid://shopify/Order/{order_id}"
    if shop is not None:
        body["order_status_url"] = order_status_url(shop)
    if name is not None:
        body["name"] = name
    if codes is not None:
        template_codes = body.get("discount_codes") or [{"amount": "0.00", "type": "percentage"}]
        body["discount_codes"] = [{**template_codes[0], "code": code} for code in codes]
        for application in body.get("discount_applications", []):
            if application.get("type") == "discount_code":
                application["code"] = codes[0] if codes else None
        if not codes:
            body["discount_applications"] = [a for a in body.get("discount_applications", []) if a.get("type") != "discount_code"]
    if cart_ref is not None:
        body["note_attributes"] = [a for a in body.get("note_attributes", []) if a.get("name") != "_ref"]
        if cart_ref:
            body["note_attributes"].append({"name": "_ref", "value": cart_ref})
    if landing_site is not None:
        body["landing_site"] = landing_site or None
    if landing_site_ref is not None:
        body["landing_site_ref"] = landing_site_ref or None
    body["financial_status"] = financial_status
    body["test"] = test
    if email is not None:
        body["email"] = body["contact_email"] = email
        if isinstance(body.get("customer"), dict):
            body["customer"]["email"] = email
    if customer_id is not None and isinstance(body.get("customer"), dict):
        body["customer"]["id"] = customer_id
    if cancelled_at is not None:
        body["cancelled_at"] = cancelled_at
        body["cancel_reason"] = "customer"
    return body


def refund(*, refund_id: int = 509562969, order_id: int = 820982911946154508) -> dict[str, Any]:
    body = copy.deepcopy(_template("refund.json"))
    body["id"] = refund_id
    body["order_id"] = order_id
    body["admin_graphql_api_id"] = f"gid://shopify/Refund/{refund_id}"
    for transaction in body.get("transactions", []):
        transaction["order_id"] = order_id
    return body


def order_vat(*, shop: str | None = None, order_id: int = 6203151941770) -> dict[str, Any]:
    """The tax-inclusive template (GBP, prices include 20% VAT): base 63.00 = 45.00 + 2 × 9.00, tax out."""
    body = copy.deepcopy(_template("order_vat.json"))
    body["id"] = order_id
    body["admin_graphql_api_id"] = f"gid://shopify/Order/{order_id}"
    if shop is not None:
        body["order_status_url"] = order_status_url(shop)
    return body


def refund_vat(*, refund_id: int = 1093824511114, order_id: int = 6203151941770) -> dict[str, Any]:
    """One pair of socks back from order_vat(): subtotal 10.80 holding 1.80 VAT."""
    body = copy.deepcopy(_template("refund_vat.json"))
    body["id"] = refund_id
    body["order_id"] = order_id
    body["admin_graphql_api_id"] = f"gid://shopify/Refund/{refund_id}"
    for transaction in body.get("transactions", []):
        transaction["order_id"] = order_id
    return body


def _money(shop: Decimal, currency: str, rate: Decimal, presentment: str) -> dict[str, Any]:
    present = (shop * rate).quantize(Decimal("0.01"))
    return {"shop_money": {"amount": f"{shop:.2f}", "currency_code": currency},
            "presentment_money": {"amount": f"{present:.2f}", "currency_code": presentment}}


def line_item(line_id: int, title: str, price: str, quantity: int = 1, *, sku: str | None = None,
              product_id: int | None = None, variant_id: int | None = None, tax: str | None = None,
              discount: str | None = None, currency: str = "EUR", presentment: str = "USD",
              rate: str = "1.10") -> dict[str, Any]:
    """A REST line item as the templates write theirs (presentment at the template's 1 EUR = 1.10 USD).

    `tax` is the line's whole tax and `discount` its whole allocation, in shop currency; what an order
    edit adds is a line like this (orderEditAddVariant makes a new line).
    """
    def money(amount: str) -> dict[str, Any]:
        return _money(Decimal(amount), currency, Decimal(rate), presentment)

    line = {
        "id": line_id, "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}", "attributed_staffs": [],
        "current_quantity": quantity, "fulfillable_quantity": quantity, "fulfillment_service": "manual",
        "fulfillment_status": None, "gift_card": False, "grams": 100, "name": title, "price": price,
        "price_set": money(price), "product_exists": product_id is not None, "product_id": product_id,
        "properties": [], "quantity": quantity, "requires_shipping": True, "sales_line_item_group_id": None,
        "sku": sku, "taxable": tax is not None, "title": title, "total_discount": "0.00",
        "total_discount_set": money("0.00"), "variant_id": variant_id, "variant_inventory_management": "shopify",
        "variant_title": None, "vendor": None, "duties": [],
        "tax_lines": [] if tax is None else [{"price": tax, "rate": 0.2, "title": "FR TVA", "price_set": money(tax),
                                               "channel_liable": False}],
        "discount_allocations": [] if discount is None else [
            {"amount": discount, "amount_set": money(discount), "discount_application_index": 0}],
    }
    return line


def of_shop(body: dict[str, Any], shop: str) -> dict[str, Any]:
    """The same order, as `shop` would send it (its order_status_url is the shop's)."""
    return {**body, "order_status_url": order_status_url(shop)} if "order_status_url" in body else body


def uninstalled(shop: str) -> dict[str, Any]:
    """The Shop resource app/uninstalled carries (the fields the connector reads, and a few more)."""
    return {"id": shop_number(shop), "name": shop.split(".")[0].replace("-", " ").title(), "email": f"owner@{shop}",
            "domain": shop, "myshopify_domain": shop, "country_code": "FR", "currency": "EUR",
            "plan_name": "basic", "created_at": "2026-01-05T10:00:00+01:00"}


def customer(*, customer_id: int = 7064055069302, email: str | None = "new.shopper@example.com",
             created_at: str | None = None) -> dict[str, Any]:
    """The Customer resource customers/create carries (the fields the connector reads, and a few more)."""
    created = created_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
    return {"id": customer_id, "email": email, "created_at": created, "updated_at": created, "first_name": "Sam",
            "last_name": "Shopper", "orders_count": 0, "state": "enabled", "verified_email": True, "tags": "",
            "currency": "EUR", "addresses": [], "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}"}


def shop_redact(shop: str) -> dict[str, Any]:
    return {"shop_id": shop_number(shop), "shop_domain": shop}


def encode(body: Any) -> bytes:
    """JSON bytes as Shopify sends them: Decimal amounts written as they were read."""
    return json.dumps(body, default=_decimal).encode()


def _decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Shopify's numeric amounts have a few decimals; a float's shortest repr writes them back unchanged.
        return float(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def headers(
    body: bytes, *, shop: str, topic: str, secret: str, webhook_id: str | None = None, signature: str | None = None
) -> dict[str, str]:
    """The headers Shopify sends with a webhook, signed with `secret` unless a signature is given."""
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": signature if signature is not None else sign(body, secret),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-API-Version": "2026-07",
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": datetime.now(timezone.utc).isoformat(),
    }
