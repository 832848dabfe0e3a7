"""Which shop a request of the embedded app comes from: the session token App Bridge puts on every fetch.

The token is the proof (HS256 under the app's secret, for this app, in its minute of life, from the shop it
names, with `exp` and `nbf`: shopify_lib.decode_session_token); nothing else in the request is believed.
"""

from __future__ import annotations

from typing import Mapping

from connector.errors import InstallError, MerchantAuthError
from connector.settings import Settings

from . import shopify_lib

#: App Bridge sends the token as a bearer credential; a JWT is three base64url parts
SCHEME = "bearer "


def store_key(settings: Settings, headers: Mapping[str, str]) -> str | None:
    """The shop of a request whose Authorization is a valid session token; None when it carries no bearer JWT."""
    value = (headers.get("Authorization") or "").strip()
    if not value.lower().startswith(SCHEME):
        return None
    token = value[len(SCHEME):].strip()
    if token.count(".") != 2:
        return None  # not a JWT: some other platform's bearer credential, if any
    if not settings.shopify_api_key or not settings.shopify_api_secrets:
        raise MerchantAuthError("Shopify is not configured (SHOPIFY_API_KEY, SHOPIFY_API_SECRET)")
    try:
        shop, _claims = shopify_lib.decode_session_token(token, settings.shopify_api_key, settings.shopify_api_secrets)
    except InstallError as exc:
        raise MerchantAuthError(str(exc)) from None
    return shop
