"""Shopify's token endpoint through `requests`: code grant, token exchange and refresh, all expiring offline tokens.

Shopify requires expiring offline tokens (1 hour, with a refresh token) of public apps created since
2026-04-01 and of all public apps from 2027-01-01, so every grant here asks for `expiring: 1`.
Each refresh returns a new refresh token, which must be kept (adapters/shopify/tokens.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

import requests

from connector.errors import CredentialsRevoked, InstallError, PlatformAuthError, PlatformError
from connector.settings import Settings

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN = "urn:shopify:params:oauth:token-type:offline-access-token"


@dataclass(frozen=True)
class Grant:
    access_token: str
    scopes: tuple[str, ...]
    expires_at: datetime | None
    refresh_token: str | None
    refresh_expires_at: datetime | None


def admin_origin(settings: Settings, shop: str) -> str:
    return settings.shopify_admin_url.format(shop=shop)


def _post(http: requests.Session, settings: Settings, shop: str, fields: dict, now: datetime) -> Grant:
    if not settings.shopify_api_key or not settings.shopify_api_secrets:
        raise InstallError("not_configured", "SHOPIFY_API_KEY and SHOPIFY_API_SECRET are not set")
    body = {"client_id": settings.shopify_api_key, "client_secret": settings.shopify_api_secrets[0], **fields}
    url = f"{admin_origin(settings, shop)}/admin/oauth/access_token"
    try:
        # Never follow a redirect: the body carries the client secret and refresh token.
        answer = http.post(url, json=body, headers={"Accept": "application/json"}, timeout=settings.http_timeout,
                           allow_redirects=False)
    except requests.RequestException as exc:
        raise PlatformError(f"Shopify token endpoint unreachable for {shop}: {type(exc).__name__}") from None
    if answer.status_code in (400, 401) and fields.get("grant_type") == "refresh_token":
        # invalid_grant for a refresh token: Shopify revoked it (an uninstall does), not a passing failure.
        raise CredentialsRevoked(f"Shopify refused the refresh token for {shop}: {_reason(answer)}")
    if answer.status_code in (400, 401, 403):
        # invalid_grant, invalid_client: trying again will not help.
        raise PlatformAuthError(f"Shopify refused the token request for {shop}: {_reason(answer)}")
    if answer.status_code != 200:
        raise PlatformError(f"Shopify token endpoint answered {answer.status_code} for {shop}")
    try:
        data = answer.json()
        token = data["access_token"]
    except (ValueError, KeyError, TypeError):
        raise PlatformError(f"Shopify token endpoint sent no access token for {shop}") from None
    if not isinstance(token, str) or not token:
        raise PlatformError(f"Shopify token endpoint sent an empty access token for {shop}")
    return Grant(
        access_token=token,
        scopes=parse_scopes(data.get("scope")),
        expires_at=_after(now, data.get("expires_in")),
        refresh_token=data.get("refresh_token") if isinstance(data.get("refresh_token"), str) else None,
        refresh_expires_at=_after(now, data.get("refresh_token_expires_in")),
    )


def _reason(answer: requests.Response) -> str:
    try:
        data = answer.json()
        return str(data.get("error_description") or data.get("error") or answer.status_code)[:200]
    except ValueError:
        return str(answer.status_code)


def _after(now: datetime, seconds) -> datetime | None:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
        return None
    return now + timedelta(seconds=seconds)


def parse_scopes(value) -> tuple[str, ...]:
    return tuple(sorted({s.strip() for s in str(value or "").split(",") if s.strip()}))


def missing_scopes(requested: Sequence[str], granted: Sequence[str]) -> list[str]:
    """Requested scopes the grant lacks; a write scope grants its read scope too."""
    have = set(granted) | {"read_" + s[len("write_"):] for s in granted if s.startswith("write_")}
    return sorted(s for s in requested if s not in have)


def exchange_code(http: requests.Session, settings: Settings, shop: str, code: str, now: datetime) -> Grant:
    """The OAuth callback's `code` for an expiring offline token."""
    return _post(http, settings, shop, {"code": code, "expiring": "1"}, now)


def exchange_session_token(http: requests.Session, settings: Settings, shop: str, session_token: str,
                           now: datetime) -> Grant:
    """An embedded app's session token for an expiring offline token (Shopify-managed install)."""
    return _post(http, settings, shop, {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": session_token,
        "subject_token_type": ID_TOKEN,
        "requested_token_type": OFFLINE_TOKEN,
        "expiring": "1",
    }, now)


def refresh(http: requests.Session, settings: Settings, shop: str, refresh_token: str, now: datetime) -> Grant:
    """A new token for the refresh token; CredentialsRevoked when Shopify refuses the refresh token itself."""
    return _post(http, settings, shop, {"grant_type": "refresh_token", "refresh_token": refresh_token}, now)
