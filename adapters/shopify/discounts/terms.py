"""A group's discount terms as Shopify is told them: the discount's title and discountCodeBasicCreate's input.

The title is also how the connector recognises its own discounts in a shop (`title_prefix`), so a code
found under one is adopted rather than treated as someone else's.
"""

from __future__ import annotations

from datetime import datetime, timezone

from connector.core.platform import PERCENTAGE, CodeRequest, DiscountTerms
from connector.settings import Settings

MAX_TITLE = 255


def moment(value: datetime) -> str:
    """A time as Shopify's DateTime: UTC, to the second, with a Z."""
    return value.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def terms_summary(terms: DiscountTerms) -> str:
    """The terms in words, for the discount's title; different terms give different words."""
    value = f"{terms.value.normalize():f}"
    parts = [f"{value}% off" if terms.kind == PERCENTAGE else f"{value} off"]
    if terms.starts_at:
        parts.append(f"from {moment(terms.starts_at)}")
    if terms.ends_at:
        parts.append(f"until {moment(terms.ends_at)}")
    if terms.usage_limit:
        parts.append(f"{terms.usage_limit} uses")
    if terms.once_per_customer:
        parts.append("once per customer")
    return ", ".join(parts)


def title_prefix(settings: Settings) -> str:
    """How the connector's discounts are recognised in a shop."""
    return f"{settings.app_name} · "


def discount_title(settings: Settings, request: CodeRequest) -> str:
    title = f"{title_prefix(settings)}{request.campaign_id or 'influencers'} · {terms_summary(request.terms)}"
    return title[:MAX_TITLE]


def discount_input(settings: Settings, request: CodeRequest, code: str, now: datetime) -> dict:
    """discountCodeBasicCreate's input: the terms off the whole order, for everyone."""
    terms = request.terms
    if terms.kind == PERCENTAGE:
        value = {"percentage": float(terms.value / 100)}
    else:  # a fixed amount off the order once, not off each item; Decimal is sent as a string
        value = {"discountAmount": {"amount": format(terms.value, "f"), "appliesOnEachItem": False}}
    return {
        "title": discount_title(settings, request),
        "code": code,
        "startsAt": moment(terms.starts_at or now),
        "endsAt": moment(terms.ends_at) if terms.ends_at else None,
        "usageLimit": terms.usage_limit,
        "appliesOncePerCustomer": terms.once_per_customer,
        "context": {"all": "ALL"},
        "customerGets": {"value": value, "items": {"all": True}},
    }
