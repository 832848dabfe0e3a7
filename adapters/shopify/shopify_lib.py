"""The one module that imports ShopifyAPI, for what it does well: permission URLs, the query HMAC,
shop-domain sanitising and session-token decoding.

ShopifyAPI keeps the app's key and secret as class attributes of `shopify.Session` (process-global
state), so every use here sets them under one lock and puts the previous values back: with
threaded web workers, two requests must never see each other's settings. Its network calls
(urllib, no timeouts, no expiring tokens) are not used; adapters/shopify/oauth.py does those.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator, Mapping, Sequence
from urllib.parse import urlsplit

import shopify
from shopify import session_token
from shopify.utils.shop_url import sanitize_shop_domain

from connector.errors import InstallError

from .verify import normalise_shop_domain

_LOCK = threading.Lock()
# Any version string is accepted by ShopifyAPI; the permission URL does not depend on it.
_VERSION = "unstable"


@contextmanager
def _app(api_key: str | None, secret: str | None) -> Iterator[type[shopify.Session]]:
    with _LOCK:
        saved = shopify.Session.api_key, shopify.Session.secret
        shopify.Session.api_key, shopify.Session.secret = api_key, secret
        try:
            yield shopify.Session
        finally:
            shopify.Session.api_key, shopify.Session.secret = saved


def shop_domain(value: str | None) -> str | None:
    """The shop's `x.myshopify.com` domain, or None unless `value` is exactly that form.

    ShopifyAPI's sanitiser forgives a scheme or a bare name; an install parameter must be the bare
    hostname (no scheme, port or path), so both checks must agree.
    """
    if not value or value != value.strip():
        return None
    ours = normalise_shop_domain(value)
    return ours if ours is not None and sanitize_shop_domain(value) == ours else None


def query_hmac_valid(params: Mapping[str, str], secrets: Sequence[str]) -> bool:
    """Shopify's query-string HMAC (install, callback), checked in constant time against each secret."""
    if "hmac" not in params or not secrets:
        return False
    valid = False
    for secret in secrets:  # every secret is tried, so timing does not tell which one matched
        with _app(None, secret) as session:
            valid |= bool(session.validate_hmac(dict(params)))
    return valid


def permission_url(*, shop: str, api_key: str, scopes: Sequence[str], redirect_uri: str, state: str,
                   admin_url: str) -> str:
    """Where to send the merchant to grant the app its scopes (the admin origin may be a stand-in's)."""
    with _app(api_key, None):
        url = shopify.Session(shop, _VERSION).create_permission_url(list(scopes), redirect_uri, state)
    parts = urlsplit(url)
    return f"{admin_url.format(shop=shop)}{parts.path}?{parts.query}"


def decode_session_token(token: str, api_key: str, secrets: Sequence[str]) -> tuple[str, dict]:
    """(shop domain, claims) of a valid session token; InstallError("bad_session_token") otherwise.

    ShopifyAPI checks HS256 only (so `alg: none` fails), the audience, expiry with 10 s leeway, the
    required claims, and that issuer and destination are the same valid shop; `exp` and `nbf` must be there.
    """
    reasons = []
    for secret in secrets:
        try:
            claims = session_token.decode_from_header(f"Bearer {token}", api_key, secret)
        except session_token.SessionTokenError as exc:
            reasons.append(str(exc) or type(exc).__name__)
            continue
        # PyJWT checks `exp` and `nbf` only when they are there: a token without them would never expire, or be
        # valid from the beginning of time. Shopify's carry both.
        for claim, name in (("exp", "expiry"), ("nbf", "not-before time")):
            stamp = claims.get(claim)
            if isinstance(stamp, bool) or not isinstance(stamp, (int, float)):
                raise InstallError("bad_session_token", f"session token refused: it has no {name} ({claim})")
        shop = shop_domain(urlsplit(str(claims.get("dest", ""))).hostname or "")
        if shop is None:
            raise InstallError("bad_session_token", "the session token's destination is not a shop")
        return shop, claims
    raise InstallError("bad_session_token", f"session token refused: {reasons[0] if reasons else 'no app secret'}")
