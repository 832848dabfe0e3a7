"""Which topic a signed WooCommerce body belongs to, checked at the edge before anything is stored.

Each store signs with the secret the connector gave its webhooks, so a signature already ties a body
to its store. The topic header is not signed, though: a captured `order.created` re-sent as
`order.deleted` would cancel a credited order, and an order re-sent as `customer.created` would pass
for a sign-up. So each topic's body must have its own shape:

- `order.deleted`: exactly `{"id": N}`, what WooCommerce sends for a deletion (and the worker still
  asks the store before it believes it: connector/worker/events.py, `confirm`);
- `order.created`, `order.updated`, `order.restored`: an order, with `line_items`, whose `_links.self`
  (when present) is `…/orders/<id>`;
- `customer.created`: a customer, no `line_items`, whose `_links.self` (when present) is `…/customers/<id>`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import msgspec

from connector.errors import NotTopicBody
from connector.core.json_body import edge_fields, is_list

SELF_PATH = re.compile(r".*/wc/v[0-9]+/(orders|customers)/([0-9]{1,20})/?")
UNSET = msgspec.UNSET


class _Resource(msgspec.Struct):
    """The fields the checks read; the rest of an order or customer is read past, never built."""

    id: Any = UNSET
    line_items: msgspec.Raw | msgspec.UnsetType = UNSET
    order_key: msgspec.Raw | msgspec.UnsetType = UNSET
    links: Any = msgspec.field(name="_links", default=UNSET)


class _Deleted(msgspec.Struct, forbid_unknown_fields=True):
    id: Any = UNSET


def _positive_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _self_link_agrees(data: dict, resource: str) -> bool:
    """`_links.self[0].href`, when the body has one, names this resource and this id."""
    links = data.get("_links")
    selves = links.get("self") if isinstance(links, dict) else None
    if not isinstance(selves, list) or not selves or not isinstance(selves[0], dict):
        return True
    try:
        match = SELF_PATH.fullmatch(urlsplit(str(selves[0].get("href") or "")).path)
    except ValueError:
        return False
    return match is not None and match.group(1) == resource and match.group(2) == str(data.get("id"))


def check(topic: str, body: bytes) -> None:
    """Raise NotTopicBody unless `body` has the shape `topic` carries."""
    if topic == "order.deleted":
        try:
            data = edge_fields(body, _Deleted)
        except NotTopicBody:
            raise NotTopicBody('an order.deleted body is {"id": N} and nothing else') from None
        if not _positive_id(data.get("id")):
            raise NotTopicBody('an order.deleted body is {"id": N} and nothing else')
        return
    data = edge_fields(body, _Resource)
    if topic in ("order.created", "order.updated", "order.restored"):
        if not _positive_id(data.get("id")) or not is_list(data.get("line_items")) \
                or not _self_link_agrees(data, "orders"):
            raise NotTopicBody(f"{topic} carries an order; this body is not one")
    elif topic == "customer.created":
        if not _positive_id(data.get("id")) or "line_items" in data or "order_key" in data \
                or not _self_link_agrees(data, "customers"):
            raise NotTopicBody("customer.created carries a customer; this body is not one")
