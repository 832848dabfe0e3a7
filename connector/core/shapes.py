"""The shapes the platforms' JSON comes in (a list, a list of objects, some text), read one way for every adapter.

A value of the wrong shape makes the payload MalformedPayload, so the delivery is kept and flagged for an
operator rather than credited from a guess. The platforms differ in one thing only: what stands where a
list has no entries. `Empty` names the two readings, and each normaliser says which one it uses.
Pure: no database, no network.
"""

from __future__ import annotations

import enum
from typing import Any

from connector.errors import MalformedPayload


class Empty(enum.Enum):
    """What is taken as "no entries" where a list is expected."""

    #: Only null (or a field left out) is empty; any other value that is not a list is malformed.
    #: WooCommerce's REST v3 JSON types its list fields as arrays (an empty one is `[]`), so it is read
    #: this strictly; so are the order lists of Shopify's compliance topics, which must not be misread.
    NULL = "null"
    #: Any empty JSON value (null, "", 0, false, {}) or a field left out is empty; a non-empty value
    #: that is not a list is malformed. Shopify's order JSON (webhooks and GraphQL reconciliation)
    #: is read this leniently, as the Shopify normalisers always have: an empty value of the wrong
    #: type there is no entries rather than a refused order.
    FALSY = "falsy"


def list_field(obj: dict, name: str, *, empty: Empty) -> list:
    """`obj[name]` as a list; [] where the field is empty as `empty` reads it."""
    value = obj.get(name)
    if empty is Empty.FALSY and not value:
        return []
    if empty is Empty.NULL and value is None:
        return []
    if not isinstance(value, list):
        raise MalformedPayload(f"{name} is not a list")
    return value


def objects_field(obj: dict, name: str, *, empty: Empty) -> list[dict]:
    """`obj[name]` as a list of JSON objects; anything else in it makes the payload malformed."""
    items = list_field(obj, name, empty=empty)
    if not all(isinstance(item, dict) for item in items):
        raise MalformedPayload(f"{name} holds something that is not an object")
    return items


def text_or_none(value: Any) -> str | None:
    """`value` when it is text with something besides whitespace in it (kept as it is, not stripped); else None."""
    return value if isinstance(value, str) and value.strip() else None
