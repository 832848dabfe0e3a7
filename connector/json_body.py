"""A stored webhook body as a JSON object, for the adapters' normalisers."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from .errors import MalformedPayload


def load(body: bytes) -> dict[str, Any]:
    """Parse a webhook body; numbers with a fraction become Decimal, never float. MalformedPayload otherwise."""
    try:
        data = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedPayload(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedPayload("body is not a JSON object")
    return data
