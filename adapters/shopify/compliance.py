"""Shopify's lifecycle webhooks (app/uninstalled and the mandatory compliance topics) → neutral lifecycle events.

Payloads (Shopify's privacy-law compliance docs):
  customers/data_request  {"shop_id", "shop_domain", "orders_requested": [ids], "customer": {"id", "email",
                           "phone"}, "data_request": {"id"}}
  customers/redact        {"shop_id", "shop_domain", "customer": {"id", "email", "phone"}, "orders_to_redact": [ids]}
  shop/redact             {"shop_id", "shop_domain"}
  app/uninstalled         the Shop resource; the store is keyed on the X-Shopify-Shop-Domain header instead.

Ids exceed 2**53: they are read as JSON integers (or digit strings) and kept as text, never as floats.
"""

from __future__ import annotations

from typing import Any

from connector.errors import MalformedPayload
from connector.core.platform import AppUninstalled, CustomerDataRequest, CustomerRedact, LifecycleEvent, StoreRedact
from connector.core.shapes import Empty, list_field

from .normalise import _id, load

LIFECYCLE_TOPICS = frozenset({"app/uninstalled", "customers/data_request", "customers/redact", "shop/redact"})
MAX_EMAIL = 320  # RFC 5321's limit on a forward path; anything longer is not an address


def _optional_id(value: Any, field: str) -> str | None:
    return None if value is None else _id(value, field)


def _object(data: dict, name: str, *, required: bool) -> dict:
    value = data.get(name)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise MalformedPayload(f"{name} is {'missing or ' if required else ''}not an object")
    return value


def _email(customer: dict) -> str | None:
    value = customer.get("email")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_EMAIL:
        raise MalformedPayload("customer.email is not an address")
    return value.strip() or None


def _order_ids(data: dict, name: str) -> tuple[str, ...]:
    # Only null is no orders (stricter than the order webhooks): a privacy request whose list is "" or {}
    # is flagged for an operator, never carried out as if it named no orders.
    ids = list_field(data, name, empty=Empty.NULL)
    return tuple(dict.fromkeys(_id(item, f"{name}[{index}]") for index, item in enumerate(ids)))


def _customer(data: dict, orders_field: str) -> tuple[str | None, str | None, tuple[str, ...]]:
    customer = _object(data, "customer", required=True)
    found = _optional_id(customer.get("id"), "customer.id"), _email(customer), _order_ids(data, orders_field)
    if not any(found):
        # Nothing to find the customer by: kept and flagged for an operator rather than "done" with nothing.
        raise MalformedPayload("the request names no customer id, email or order")
    return found


def normalise_lifecycle(topic: str, body: bytes) -> LifecycleEvent | None:
    """The neutral lifecycle event of a Shopify delivery; None for another topic; raises MalformedPayload."""
    if topic == "app/uninstalled":
        # The delivery itself is the news (authenticated, and keyed on its header); the Shop resource in
        # the body is not needed, so a body we cannot read must not keep a removed app installed.
        return AppUninstalled()
    if topic == "shop/redact":
        load(body)  # an erasure of everything is done on a body that at least is what Shopify sends
        return StoreRedact()
    if topic == "customers/data_request":
        data = load(body)
        customer_id, email, order_ids = _customer(data, "orders_requested")
        request = _object(data, "data_request", required=False)
        return CustomerDataRequest(
            request_id=_optional_id(request.get("id"), "data_request.id"),
            customer_id=customer_id,
            email=email,
            order_ids=order_ids,
        )
    if topic == "customers/redact":
        customer_id, email, order_ids = _customer(load(body), "orders_to_redact")
        return CustomerRedact(customer_id=customer_id, email=email, order_ids=order_ids)
    return None
