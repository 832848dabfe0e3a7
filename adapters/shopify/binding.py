"""Which shop and which topic a signed Shopify body belongs to, checked at the edge before anything is stored.

Shopify signs more than webhooks with the one app secret: the OAuth callback's query (hex), session
tokens (HS256 over `header.payload`), webhooks (base64 over the body). Any bytes Shopify signed for an
attacker's own development store verify as a webhook body once their digest is base64-encoded, and the
`X-Shopify-Topic` and `X-Shopify-Shop-Domain` headers are not signed at all. A valid signature proves
only that Shopify signed these bytes. So the body must also be the JSON object its topic carries, and
must name the shop the header names:

- `orders/*`: an Order (`admin_graphql_api_id` `gid://shopify/Order/<id>`) whose `order_status_url`
  is the shop's: its first path segment is the shop's numeric id, or its host is the shop's myshopify
  domain or its storefront's. Shopify builds that URL from the shop, so another shop's order fails.
- `refunds/create`: a Refund with an `order_id`. A refund names no shop; it only ever reverses an order
  this store credited, and orders are bound above (Shopify's order ids are unique across shops).
- `customers/create`: a Customer. It names no shop either: the worker asks the shop whether the customer
  is its own before the sign-up can earn a lead (remote.confirm_customer), and a lead also needs a recorded
  click on this store's link and a sign-up report carrying the hash of this customer's email.
- `app/uninstalled`: the Shop resource, whose `myshopify_domain` (or `domain`, where that is the
  myshopify domain) is the header's shop, and whose `id` is the shop's id when it is known.
- `shop/redact`, `customers/redact`, `customers/data_request`: `shop_domain` is the header's shop (and
  `shop_id` its id, when known), in the shape of that topic only: a customer erasure cannot pass for a
  whole-shop erasure, or the reverse.

A body that fails is refused with 401 and stored nowhere. Malformed values inside a body of the right
kind (an amount that is no amount) are not this module's business: such a delivery is stored, and the
worker keeps it flagged as rejected.
"""

from __future__ import annotations

import re
from typing import Any, Callable
from urllib.parse import urlsplit

import msgspec

from connector.errors import NotTopicBody, WrongShop
from connector.core.json_body import edge_fields
from connector.core.platform import StoreView

GID = re.compile(r"gid://shopify/([A-Za-z]+)/([0-9]{1,20})")
DIGITS = re.compile(r"[0-9]{1,20}")
UNSET = msgspec.UNSET


# The fields each topic's check reads; everything else in a body is read past, never built.
class _Resource(msgspec.Struct):
    admin_graphql_api_id: Any = UNSET
    id: Any = UNSET
    order_status_url: Any = UNSET
    order_id: Any = UNSET


class _Shop(msgspec.Struct):
    myshopify_domain: Any = UNSET
    domain: Any = UNSET
    id: Any = UNSET


class _Privacy(msgspec.Struct):
    shop_domain: Any = UNSET
    shop_id: Any = UNSET
    customer: Any = UNSET
    data_request: Any = UNSET
    orders_requested: msgspec.Raw | msgspec.UnsetType = UNSET
    orders_to_redact: msgspec.Raw | msgspec.UnsetType = UNSET


class _ShopRedact(msgspec.Struct, forbid_unknown_fields=True):
    """A customer erasure (or anything else) naming the shop must never pass for erasing the shop."""

    shop_id: Any = UNSET
    shop_domain: Any = UNSET


class _Anything(msgspec.Struct):
    pass


def _same(value: Any, shop: str | None) -> bool:
    return isinstance(value, str) and shop is not None and value.strip().lower() == shop


def _id_text(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and DIGITS.fullmatch(value.strip()):
        return value.strip()
    return None


def _resource(data: dict, kind: str, topic: str) -> str:
    """The body's id, when it is the `kind` resource (its admin_graphql_api_id says so, and matches its id)."""
    match = GID.fullmatch(str(data.get("admin_graphql_api_id") or ""))
    if match is None or match.group(1) != kind:
        raise NotTopicBody(f"{topic} carries a {kind}; this body is not one")
    body_id = _id_text(data.get("id"))
    if body_id is not None and body_id != match.group(2):
        raise NotTopicBody("the body's id and admin_graphql_api_id disagree")
    return match.group(2)


def _shop_id_agrees(value: Any, store: StoreView | None) -> bool:
    """A shop id in the body may only be this shop's (when the connector knows it)."""
    known = store.shop_id if store is not None else None
    given = _id_text(value)
    return known is None or given is None or given == known


def order_names_shop(url: Any, shop: str | None, store: StoreView | None) -> bool:
    """Does an order's `order_status_url` belong to this shop?

    Shopify's form is `https://<storefront or myshopify domain>/<shop id>/orders/<token>/authenticate?key=…`
    (newer customer accounts: `https://shopify.com/<shop id>/account/…`).
    """
    if not isinstance(url, str) or shop is None:
        return False
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    segments = [s for s in parts.path.split("/") if s]
    if store is not None and store.shop_id and segments and segments[0] == store.shop_id:
        return True
    if host == shop:
        return True
    return bool(store is not None and store.storefront_host and host == store.storefront_host)


def _order(data: dict, shop: str | None, store: StoreView | None, topic: str) -> None:
    _resource(data, "Order", topic)
    if not order_names_shop(data.get("order_status_url"), shop, store):
        raise WrongShop("the order's order_status_url is not this shop's")


def _refund(data: dict, shop: str | None, store: StoreView | None, topic: str) -> None:
    _resource(data, "Refund", topic)
    if _id_text(data.get("order_id")) is None:
        raise NotTopicBody("a refund names its order_id")


def _customer(data: dict, shop: str | None, store: StoreView | None, topic: str) -> None:
    _resource(data, "Customer", topic)


def _uninstalled(data: dict, shop: str | None, store: StoreView | None, topic: str) -> None:
    # The Shop resource. Its `domain` is the primary domain, which is the myshopify one only for shops
    # without their own; `myshopify_domain` always is.
    if not (_same(data.get("myshopify_domain"), shop) or _same(data.get("domain"), shop)):
        raise WrongShop("the Shop in the body is not the header's shop")
    if not _shop_id_agrees(data.get("id"), store):
        raise WrongShop("the Shop's id is not this shop's")


def _compliance(required: tuple[str, ...], forbidden: tuple[str, ...]) -> Callable:
    def check(data: dict, shop: str | None, store: StoreView | None, topic: str) -> None:
        if not _same(data.get("shop_domain"), shop):
            raise WrongShop("shop_domain is not the header's shop")
        if not _shop_id_agrees(data.get("shop_id"), store):
            raise WrongShop("shop_id is not this shop's")
        if any(not isinstance(data.get(key), dict) for key in required) or any(key in data for key in forbidden):
            raise NotTopicBody(f"the body is not a {topic} request")
    return check


#: topic → (the fields it reads, its check); a shop/redact body holds shop_id and shop_domain only
CHECKS: dict[str, tuple[type[msgspec.Struct], Callable]] = {
    "orders/create": (_Resource, _order),
    "orders/updated": (_Resource, _order),
    "orders/paid": (_Resource, _order),
    "orders/cancelled": (_Resource, _order),
    "refunds/create": (_Resource, _refund),
    "customers/create": (_Resource, _customer),
    "app/uninstalled": (_Shop, _uninstalled),
    "shop/redact": (_ShopRedact, _compliance((), ())),
    "customers/redact": (_Privacy, _compliance(("customer",), ("data_request", "orders_requested"))),
    "customers/data_request": (_Privacy, _compliance(("customer",), ("orders_to_redact",))),
}


def check(topic: str, body: bytes, shop: str | None, store: StoreView | None) -> None:
    """Raise WrongShop or NotTopicBody unless `body` is what `topic` carries, for `shop`."""
    shape, checker = CHECKS.get(topic, (_Anything, None))
    data = edge_fields(body, shape)
    if checker is not None:
        checker(data, shop, store, topic)
