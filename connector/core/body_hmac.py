"""Base64 HMAC-SHA256 over a webhook's raw body: how both Shopify and WooCommerce sign their webhooks.

Verification is a small pure function on raw bytes, tried against every configured secret so a
secret can rotate without dropping deliveries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Sequence

from connector.errors import BadSignature, NoSecret


def sign(body: bytes, secret: str) -> str:
    """base64(HMAC-SHA256(secret, body)); an empty secret is allowed (WooCommerce's own test vector uses one)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify(body: bytes, signature: str, secrets: Sequence[str], *, no_secret: str) -> None:
    """Raise NoSecret(no_secret) without secrets, BadSignature unless one secret signed exactly these bytes."""
    if not secrets:
        raise NoSecret(no_secret)
    given = signature.encode()
    # Check every secret rather than stopping at the first match, so timing says nothing about which one.
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(sign(body, secret).encode(), given)
    if not matched:
        raise BadSignature()
