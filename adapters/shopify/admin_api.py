"""Shopify's GraphQL Admin API through `requests`: deadlines, one refresh on a 401, and the rate limits.

Every document sent is a checked-in file in adapters/shopify/graphql/, validated against Shopify's
Admin schema by the tests. Throttling: Shopify's leaky bucket answers `THROTTLED` (with status 200
or 429, the docs do not settle which) and reports its state in `extensions.cost`, so the wait is
computed from what the bucket says rather than a hard-coded plan size. A 429 waits its Retry-After
(up to MAX_THROTTLED times); a 5xx is retried MAX_UNAVAILABLE times with exponential backoff (as
Shopify's own GraphQL client does), then becomes a PlatformError.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Callable

import requests
from sqlalchemy.orm import Session, sessionmaker

from connector import outbound
from connector.errors import CredentialsRevoked, PlatformAuthError, PlatformError
from connector.settings import Settings

from . import oauth, tokens

log = logging.getLogger("connector.shopify.api")

DOCUMENTS = Path(__file__).parent / "graphql"
#: the most one answer may be (a page of bulk-created codes is about 100 KB)
MAX_ANSWER_BYTES = 16 * 1024 * 1024
MAX_THROTTLED = 6
MAX_UNAVAILABLE = 3


def http_session() -> requests.Session:
    """This thread's bounded session for calls into shops and their token endpoint (connector.outbound)."""
    return outbound.thread_session("shopify", max_bytes=MAX_ANSWER_BYTES)


@lru_cache(maxsize=None)
def document(name: str) -> str:
    return (DOCUMENTS / f"{name}.graphql").read_text()


def throttle_wait(extensions: dict | None, default: float = 1.0) -> float:
    """Seconds until the bucket holds what the refused query asked for (bounded to 0.5..10 s)."""
    try:
        cost = extensions["cost"]
        status = cost["throttleStatus"]
        needed = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        wait = needed / float(status["restoreRate"])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return default
    return min(max(wait, 0.5), 10.0)


class AdminApi:
    """GraphQL calls into one shop, with its current access token."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], store_id: int, shop: str, *,
                 http: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.settings, self.sessions, self.store_id, self.shop = settings, sessions, store_id, shop
        self.http = http or http_session()
        self.sleep, self.clock = sleep, clock
        self.url = f"{oauth.admin_origin(settings, shop)}/admin/api/{settings.shopify_api_version}/graphql.json"
        #: HTTP requests sent to the GraphQL endpoint, retries included (the benchmarks count them)
        self.calls = 0

    def _token(self, stale: str | None = None) -> str:
        return tokens.access_token(self.sessions, self.settings, self.store_id, http=self.http, clock=self.clock,
                                   stale=stale)

    def execute(self, name: str, variables: dict | None = None) -> dict:
        """The `data` of one checked-in document; PlatformError (or PlatformAuthError) when it cannot be had."""
        data, errors = self.execute_partial(name, variables)
        if errors:
            raise PlatformError(f"{self.shop}: GraphQL {name}: {_messages(errors)}")
        return data

    def execute_partial(self, name: str, variables: dict | None = None) -> tuple[dict, list[dict]]:
        """`data` and the GraphQL `errors` beside it, for documents where an error on one field is an answer.

        Shopify answers some questions with an error rather than a null (no web pixel yet, a scope not
        granted). Throttling, outages and refused credentials are handled or raised as in `execute`.
        """
        body = {"query": document(name), "variables": variables or {}}
        token = self._token()
        refreshed = throttled = unavailable = 0
        while True:
            self.calls += 1
            try:
                # No redirects: requests would carry the access token header to wherever they point. The
                # timeout is the call's total deadline in a bounded session.
                answer = self.http.post(self.url, json=body, timeout=self.settings.http_timeout, allow_redirects=False,
                                        headers={"X-Shopify-Access-Token": token, "Accept": "application/json"})
            except requests.RequestException as exc:
                raise PlatformError(f"{self.shop}: GraphQL {name} failed: {type(exc).__name__}") from None
            if answer.status_code == 401 and not refreshed:
                # Refresh once: the token may have been revoked early or rotated by another worker.
                refreshed += 1
                try:
                    token = self._token(stale=token)
                except CredentialsRevoked:
                    raise
                except PlatformAuthError as exc:
                    # Refused, and nothing to refresh it with (a custom app's token never expires): the token
                    # is revoked, as Shopify does on uninstall.
                    raise CredentialsRevoked(f"{self.shop}: GraphQL {name} refused (401), no refresh: {exc}") from None
                continue
            if answer.status_code == 401:
                # Refused again with a token just refreshed: Shopify no longer takes this app's tokens.
                raise CredentialsRevoked(f"{self.shop}: GraphQL {name} refused (401)")
            if answer.status_code == 403:
                raise PlatformAuthError(f"{self.shop}: GraphQL {name} refused (403)")
            data = _json(answer)
            if _throttled(answer, data) and throttled < MAX_THROTTLED:
                throttled += 1
                wait = _retry_after(answer)
                if wait is None:
                    wait = throttle_wait(data.get("extensions") if data else None)
                log.info("%s: throttled, waiting %.1f s", self.shop, wait)
                self._wait(wait, name)
                continue
            if answer.status_code in (500, 502, 503, 504) and unavailable < MAX_UNAVAILABLE:
                unavailable += 1
                wait = _retry_after(answer)
                self._wait(2.0 ** unavailable if wait is None else wait, name)
                continue
            if answer.status_code != 200 or data is None:
                raise PlatformError(f"{self.shop}: GraphQL {name} answered {answer.status_code}")
            errors = data.get("errors")
            if errors and not isinstance(errors, list):
                raise PlatformError(f"{self.shop}: GraphQL {name}: {_messages(errors)}")
            if not isinstance(data.get("data"), dict):
                raise PlatformError(f"{self.shop}: GraphQL {name}: {_messages(errors) if errors else 'no data'}")
            return data["data"], [e if isinstance(e, dict) else {"message": str(e)} for e in errors or []]

    def _wait(self, seconds: float, name: str) -> None:
        """Sleep before a retry, unless that would outlast the web request's budget (then the worker retries)."""
        left = outbound.remaining_budget()
        if left is not None and seconds >= left:
            raise PlatformError(f"{self.shop}: GraphQL {name} would have to wait {seconds:.1f} s; left for later")
        self.sleep(seconds)


def _json(answer: requests.Response) -> dict | None:
    try:
        data = answer.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _throttled(answer: requests.Response, data: dict | None) -> bool:
    if answer.status_code == 429:
        return True
    errors = data.get("errors") if data else None
    return isinstance(errors, list) and any(
        isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors
    )


def _retry_after(answer: requests.Response) -> float | None:
    try:
        return min(max(float(answer.headers.get("Retry-After", "")), 0.0), 30.0)
    except ValueError:
        return None


def _messages(errors) -> str:
    if isinstance(errors, list):
        return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)[:300]
    return str(errors)[:300]


def error_codes(errors: list[dict]) -> set[str]:
    """The `extensions.code` of each GraphQL error (ACCESS_DENIED, NOT_FOUND, ...)."""
    return {str((e.get("extensions") or {}).get("code")) for e in errors if isinstance(e.get("extensions"), dict)}


def user_errors(payload: dict | None) -> str | None:
    """A mutation's userErrors as one line, or None."""
    errors = (payload or {}).get("userErrors") or []
    return "; ".join(f"{'.'.join(e.get('field') or [])}: {e.get('message')}" for e in errors) or None
