"""The scalar values of WooCommerce's REST v3 JSON (ids, amounts, quantities, `_gmt` times, labels), read one way
for the order webhooks and for the API's answers. Anything that is not what WooCommerce writes is MalformedPayload,
naming the field. Pure: no database, no network.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from connector.errors import MalformedPayload

MAX_AMOUNT = Decimal(10) ** 14  # what the connector's money columns hold before the decimal point
MAX_QUANTITY = 10**9
#: descriptive text (a line's name or SKU) is cut to this: it only labels a line, and a plugin may write a novel
MAX_LABEL = 255
ASCII_DIGITS = re.compile(r"[0-9]{1,64}")  # ids are kept in 64-character columns
AMOUNT = re.compile(r"-?[0-9]{1,32}(\.[0-9]{1,32})?")


def positive_id(value: Any, field: str) -> str:
    """A WooCommerce id (a positive whole number, as a JSON number or digits) as text."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**64:
        return str(value)
    if isinstance(value, str) and ASCII_DIGITS.fullmatch(value.strip()) and int(value) > 0:
        return value.strip()
    raise MalformedPayload(f"{field} is missing or not a positive whole number: {value!r}")


def optional_id(value: Any, field: str) -> str | None:
    """An id that may be absent: null, 0 or "" (WooCommerce's "none", e.g. a simple product's variation_id) is None."""
    if value is None or value in (0, "", "0") and not isinstance(value, bool):
        return None
    return positive_id(value, field)


def amount(value: Any, field: str) -> Decimal:
    """Money as WooCommerce writes it: a decimal string ("34.00", "-9.00") or a JSON number, never float."""
    if isinstance(value, bool) or value is None:
        raise MalformedPayload(f"{field} is missing")
    if isinstance(value, (int, Decimal)):
        parsed = Decimal(value)
    elif isinstance(value, str) and AMOUNT.fullmatch(value.strip()):
        parsed = Decimal(value.strip())
    else:
        raise MalformedPayload(f"{field} is not an amount: {value!r}")
    if not parsed.is_finite() or abs(parsed) >= MAX_AMOUNT:
        raise MalformedPayload(f"{field} is not a plausible amount: {value!r}")
    return parsed


def quantity(value: Any, field: str, *, refunded: bool = False) -> Decimal:
    """A line's quantity: whole in WooCommerce core, a fraction with plugins that sell by weight or length.

    A refund's lines carry theirs negated (-1 for one unit back, 0 for money refunded on a line without units);
    `refunded` reads one of those and gives it back positive.
    """
    number = not isinstance(value, bool) and isinstance(value, (int, Decimal)) \
        and (not isinstance(value, Decimal) or value.is_finite())
    if number:
        parsed = Decimal(0) - Decimal(value) if refunded else Decimal(value)  # 0 - x: never a "-0"
        if 0 <= parsed <= MAX_QUANTITY:
            return parsed
    raise MalformedPayload(f"{field} is missing or not a plausible quantity: {value!r}")


def gmt_time(value: Any, field: str) -> datetime:
    """A `*_gmt` time: WooCommerce writes them without an offset, and they are UTC."""
    if not isinstance(value, str):
        raise MalformedPayload(f"{field} is missing or not text: {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # OverflowError: year 1 shifted out of range by its offset
        raise MalformedPayload(f"{field} is not an ISO 8601 time: {value!r}") from None


def label(value: Any) -> str | None:
    """Text that only describes (a product name, a SKU): None when absent, blank or not text, cut to MAX_LABEL.

    Such a value never makes a payload malformed: losing a label loses nothing that is paid.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value).strip()
    return text[:MAX_LABEL] if text else None
