"""How the WooCommerce stand-in's REST API knows a caller: Basic, query-string or one-legged OAuth 1.0a keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import quote

from flask import Response, request

from standins.woocommerce.sites import Site, Sites
from standins.woocommerce.wordpress import rest_error

OAUTH_ALGORITHMS = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}
OAUTH_WINDOW = 15 * 60  # WooCommerce refuses OAuth timestamps older than 15 minutes


def authenticate(sites: Sites, site: Site, *, write: bool) -> tuple[Response, int] | None:
    """None when the request carries valid keys of this site (with write permission if needed), else a 401."""
    args, basic = request.args, request.authorization
    if basic and basic.type == "basic":
        key, secret, oauth = basic.username or "", basic.password or "", False
    elif "consumer_key" in args:
        key, secret, oauth = args["consumer_key"], args.get("consumer_secret", ""), False
    elif "oauth_consumer_key" in args:
        key, secret, oauth = args["oauth_consumer_key"], "", True
    else:
        return rest_error(401, "woocommerce_rest_authentication_error", "Consumer key is missing.")
    if oauth:
        valid = _oauth_valid(sites, site, key)
    else:
        valid = key in site.keys and hmac.compare_digest(site.keys[key][0], secret)
    if not valid:
        return rest_error(401, "woocommerce_rest_authentication_error", "Consumer key or signature is invalid.")
    if site.keys[key][1] not in (("write", "read_write") if write else ("read", "read_write")):
        return rest_error(401, "woocommerce_rest_authentication_error", "The API key provided does not have the permission.")
    return None


def _oauth_valid(sites: Sites, site: Site, key: str) -> bool:
    """One-legged OAuth 1.0a (RFC 5849 §3.4): HMAC of method, URL and sorted parameters, key `secret&`."""
    args = request.args
    algorithm = OAUTH_ALGORITHMS.get(args.get("oauth_signature_method", ""))
    given = args.get("oauth_signature", "")
    if key not in site.keys or algorithm is None or not given:
        return False
    try:
        timestamp = int(args.get("oauth_timestamp", ""))
    except ValueError:
        return False
    # One value per name: the library repeats the query parameters it also signed.
    pairs = sorted((_pct(name), _pct(value)) for name, value in args.items() if name != "oauth_signature")
    base = "&".join((request.method, _pct(request.base_url), _pct("&".join(f"{n}={v}" for n, v in pairs))))
    signing_key = f"{site.keys[key][0]}&".encode()
    expected = base64.b64encode(hmac.new(signing_key, base.encode(), algorithm).digest()).decode()
    if not hmac.compare_digest(expected, given) or abs(time.time() - timestamp) > OAUTH_WINDOW:
        return False
    nonce = (key, args.get("oauth_nonce", ""), timestamp)
    with sites.lock:  # a replayed request is refused, as WooCommerce does
        if nonce in sites.oauth_nonces:
            return False
        sites.oauth_nonces.add(nonce)
    return True


def _pct(value: str) -> str:
    return quote(value, safe="~")  # RFC 3986 percent-encoding, as OAuth 1.0a wants
