"""What the userErrors of Shopify's discount mutations say: a code taken, a discount gone, or just why.

Creation and removal read them the same way; the messages go into failed CodeResults, so they are cut short.
"""

from __future__ import annotations


def is_taken(errors) -> bool:
    """Shopify's answer for a code the shop already has ("Code must be unique", TAKEN).

    DUPLICATE counts too: were it ever said of a code that exists, the lookup that follows finds its
    holder; were it said of nothing, the lookup finds none and the code is retried later.
    """
    def taken(error: dict) -> bool:
        message = str(error.get("message", "")).lower()
        return error.get("code") in ("TAKEN", "DUPLICATE") or "taken" in message or "must be unique" in message

    return any(isinstance(e, dict) and taken(e) for e in errors or [])


def about_discount(errors) -> bool:
    """The error is about the discount id: the discount is gone (deleted in the admin)."""
    return any(isinstance(e, dict) and "discountId" in (e.get("field") or []) for e in errors or [])


def messages(errors) -> str:
    return "; ".join(str(e.get("message")) for e in errors or [] if isinstance(e, dict))[:300] or "no reason given"
