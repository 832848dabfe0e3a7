"""The Shopify stand-in's OAuth (PLATFORMS.md A1, A2): authorize, and the token endpoint's three grants.

The merchant approves at once; codes are single-use; expiring offline tokens come with rotating refresh tokens;
session tokens are exchanged for offline tokens. The query HMAC is computed here, not with the connector's
helpers, so a test that verifies it checks the connector against an independent signer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
from flask import Response, redirect, request

from standins.shopify.shops import Shop, Shops, Token

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
OFFLINE_TOKEN = "urn:shopify:params:oauth:token-type:offline-access-token"
SESSION_TOKEN_LEEWAY = 10  # seconds, as Shopify's libraries allow


def query_hmac(params: Mapping[str, str], secret: str) -> str:
    """PLATFORMS.md A1.2: the other params sorted, joined `k=v&k=v` (raw values), HMAC-SHA256, lowercase hex."""
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in ("hmac", "signature"))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _oauth_error(error: str, description: str | None = None, status: int = 400) -> Response:
    body = {"error": error, **({"error_description": description} if description else {})}
    return Response(json.dumps(body), status=status, mimetype="application/json")


class OAuth:
    """The app's two OAuth routes over `shops`, for the app with this key and secret."""

    def __init__(self, shops: Shops, api_key: str, api_secret: str, *, scope: str, token_lifetime: int,
                 refresh_token_lifetime: int):
        self._shops = shops
        self.api_key, self.api_secret, self.scope = api_key, api_secret, scope
        #: lifetimes of the tokens issued from now on (tokens already issued keep theirs)
        self.token_lifetime, self.refresh_token_lifetime = token_lifetime, refresh_token_lifetime

    def authorize(self, shop: str):
        """The merchant approves at once: back to redirect_uri with a single-use code and a signed query."""
        state, args = self._shops.of_route(shop), request.args
        self._shops.record(shop, "authorize", args.get("scope"), None)
        if args.get("client_id") != self.api_key:
            return _oauth_error("invalid_request", "client_id is not valid")
        redirect_uri = args.get("redirect_uri") or ""
        if not redirect_uri.startswith(("http://", "https://")):
            return _oauth_error("invalid_request", "redirect_uri is missing or not a URL")
        code = secrets.token_hex(16)
        with self._shops.lock:
            state.codes[code] = args.get("scope") or self.scope
        # Unpadded, as Shopify's own: both libraries' HMAC rules agree only on values without `=`.
        host = base64.b64encode(f"{shop}/admin".encode()).decode().rstrip("=")
        target = urlsplit(redirect_uri)
        # A query already on redirect_uri arrives with the callback, so it is signed with the rest:
        # the app's check covers every parameter but hmac.
        params = {**dict(parse_qsl(target.query)), "code": code, "host": host, "shop": shop,
                  "timestamp": str(int(self._shops.clock()))}
        if "state" in args:
            params["state"] = args["state"]
        params["hmac"] = query_hmac(params, self.api_secret)
        return redirect(target._replace(query=urlencode(params)).geturl(), 302)

    def access_token(self, shop: str):
        state = self._shops.of_route(shop)
        body = request.get_json(silent=True) if request.is_json else None
        body = body if isinstance(body, dict) else request.form.to_dict()
        grant = body.get("grant_type") or ("authorization_code" if "code" in body else None)
        presented = body.get("code") or body.get("refresh_token") or body.get("subject_token")
        self._shops.record(shop, "token", grant, presented)
        if body.get("client_id") != self.api_key or \
                not hmac.compare_digest(str(body.get("client_secret", "")).encode(), self.api_secret.encode()):
            return _oauth_error("invalid_client", "client credentials are not valid")
        expiring = str(body.get("expiring", "0")) == "1"
        with self._shops.lock:
            if grant == "authorization_code":
                scope = state.codes.pop(str(body.get("code")), None)
                if scope is None:
                    return _oauth_error("invalid_grant", "authorization code was not found or was already used")
                return self._issue(state, scope, expiring)
            if grant == "refresh_token":
                return self._refresh(state, str(body.get("refresh_token")))
            if grant == TOKEN_EXCHANGE:
                if body.get("requested_token_type") != OFFLINE_TOKEN:
                    return _oauth_error("invalid_request", "the stand-in issues offline access tokens only")
                problem = self._session_token_problem(shop, body.get("subject_token"))
                if problem:
                    return _oauth_error("invalid_subject_token", problem)
                return self._issue(state, self.scope, expiring)
        return _oauth_error("unsupported_grant_type")

    def _refresh(self, state: Shop, presented: str) -> Response:
        if state.refuse_refresh:
            return _oauth_error("invalid_grant", "refresh token revoked")
        token = state.refresh.get(presented)
        if token is None or self._shops.clock() >= token.expires_at:
            return _oauth_error("invalid_grant", "refresh token is not valid")
        # Shopify since 2026-08: the previous refresh token keeps working until its successor is used.
        if token.parent:
            state.refresh.pop(token.parent, None)
        return self._issue(state, token.scope, True, parent=presented)

    def _issue(self, state: Shop, scope: str, expiring: bool, parent: str | None = None) -> Response:
        now, access = self._shops.clock(), "shpat_" + secrets.token_hex(16)
        answer: dict[str, Any] = {"access_token": access, "scope": scope}
        if not expiring:
            state.access[access] = Token(scope, None)
        else:
            refresh = "shprt_" + secrets.token_hex(16)
            state.access[access] = Token(scope, now + self.token_lifetime)
            state.refresh[refresh] = Token(scope, now + self.refresh_token_lifetime, parent)
            answer.update(expires_in=self.token_lifetime, refresh_token=refresh,
                          refresh_token_expires_in=self.refresh_token_lifetime)
        return Response(json.dumps(answer), mimetype="application/json")

    def _session_token_problem(self, shop: str, token: Any) -> str | None:
        """Why this session token cannot be exchanged for `shop`, or None (PLATFORMS.md A2)."""
        if not isinstance(token, str) or not token:
            return "subject_token is missing"
        try:  # time claims are checked below against the stand-in's clock, not PyJWT's
            claims = jwt.decode(token, self.api_secret, algorithms=["HS256"], audience=self.api_key, options={
                "verify_exp": False, "verify_nbf": False, "verify_iat": False,
                "require": ["iss", "dest", "aud", "sub", "exp", "nbf", "jti", "sid"]})
        except jwt.InvalidTokenError as exc:
            return f"session token refused: {type(exc).__name__}: {exc}"
        exp, nbf, now = claims["exp"], claims["nbf"], self._shops.clock()
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (exp, nbf)):
            return "session token exp or nbf is not a number"
        if now >= exp + SESSION_TOKEN_LEEWAY or now < nbf - SESSION_TOKEN_LEEWAY:
            return "session token is expired or not yet valid"
        if urlsplit(str(claims["dest"])).hostname != shop or urlsplit(str(claims["iss"])).hostname != shop:
            return "session token is for another shop"
        return None
