"""Shopify webhook verification: base64 HMAC-SHA256 of the raw body with the app secret."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Mapping, Sequence

from connector.errors import MissingHeader
from connector.core import body_hmac
from connector.core.body_hmac import sign  # noqa: F401 - what the platform puts in its signature header
from connector.core.platform import DeliveryHeaders

HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
SHOP_HEADER = "X-Shopify-Shop-Domain"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
TRIGGERED_AT_HEADER = "X-Shopify-Triggered-At"
TRIGGERED_AT = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})")

# Shopify's documented shop hostname form; lower-cased before matching.
SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # The newer "events" webhooks send the same headers lower-case and without the X- prefix.
    value = headers.get(name) or headers.get(name.lower()[2:])
    return value.strip() if value and value.strip() else None


def read_headers(headers: Mapping[str, str]) -> DeliveryHeaders:
    """The delivery's shop, topic, webhook id and signature; MissingHeader names the first one absent."""
    found = {}
    for name in (HMAC_HEADER, TOPIC_HEADER, SHOP_HEADER, WEBHOOK_ID_HEADER):
        value = _header(headers, name)
        if value is None:
            raise MissingHeader(name)
        found[name] = value
    return DeliveryHeaders(
        store_key=found[SHOP_HEADER],
        topic=found[TOPIC_HEADER].lower(),
        delivery_id=found[WEBHOOK_ID_HEADER],
        signature=found[HMAC_HEADER],
        triggered_at=triggered_at(_header(headers, TRIGGERED_AT_HEADER)),
    )


def triggered_at(value: str | None) -> datetime | None:
    """X-Shopify-Triggered-At (`2026-11-23T14:02:59.877041743Z`: up to nanoseconds) as an aware UTC time.

    Informational only: a value that does not parse gives None, never a refused webhook.
    """
    if not value:
        return None
    match = TRIGGERED_AT.fullmatch(value.strip())
    if match is None:
        return None
    whole, fraction, offset = match.groups()
    try:
        parsed = datetime.fromisoformat(f"{whole}.{(fraction or '0')[:6]:0<6}{'+00:00' if offset in ('Z', 'z') else offset}")
    except ValueError:
        return None
    return parsed.astimezone(timezone.utc)


def verify(body: bytes, signature: str, secrets: Sequence[str]) -> None:
    """Raise unless the signature matches the body under one of the secrets (current, then previous)."""
    body_hmac.verify(body, signature, secrets, no_secret="SHOPIFY_API_SECRET is not set: Shopify webhooks cannot be verified")


def normalise_shop_domain(value: str) -> str | None:
    """`Example.myshopify.com` → `example.myshopify.com`; None when it is not a shop domain."""
    domain = value.strip().lower()
    return domain if SHOP_DOMAIN.fullmatch(domain) else None
