"""Calls to a store's WooCommerce REST API (wc/v3), through WooCommerce's own Python library.

The library signs https requests with HTTP Basic and plain-http ones (a stand-in store) with one-legged
OAuth 1.0a; it returns raw `requests` responses, so every answer is checked here and every failure
becomes PlatformAuthError (the keys were refused) or PlatformError (try again later). Redirects are not
followed: the store URL was checked before the call (store_url.check_store_url), a redirect target was not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Sequence

import requests
from woocommerce import API

from connector.errors import PlatformAuthError, PlatformError

TOPICS = ("order.created", "order.updated", "order.deleted", "customer.created")
NAME_PREFIX = "Influencer Connector"
PAGE_SIZE = 100  # the REST API's largest per_page
MAX_WEBHOOK_PAGES = 50
MAX_ORDER_PAGES = 10_000  # a store that ignores `page` would otherwise be read forever
USER_AGENT = "influencer-connector (WooCommerce-Python-REST-API)"


@dataclass(frozen=True)
class WebhookReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"webhooks: {self.created} created, {self.updated} updated, {self.unchanged} unchanged"


class WooCommerceClient:
    """One store's REST API, authenticated with the REST keys its merchant granted."""

    def __init__(self, store_url: str, consumer_key: str, consumer_secret: str, *, timeout: float = 10):
        self.store_url = store_url
        self._api = API(
            url=store_url,
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            version="wc/v3",
            timeout=timeout,
            user_agent=USER_AGENT,
        )

    def _call(self, method: str, endpoint: str, *, params: dict | None = None, data: Any = None) -> Any:
        """The parsed JSON answer of one call; PlatformAuthError on 401/403, PlatformError on anything else amiss."""
        what = f"{method.upper()} {endpoint}"
        kwargs: dict[str, Any] = {"allow_redirects": False}
        if params is not None:
            kwargs["params"] = dict(params)  # the library may add to it
        try:
            if method in ("post", "put"):
                response = getattr(self._api, method)(endpoint, data, **kwargs)
            else:
                response = getattr(self._api, method)(endpoint, **kwargs)
        except requests.RequestException as exc:
            raise PlatformError(f"{self.store_url}: {what} failed: {exc}") from None
        if response.status_code in (401, 403):
            raise PlatformAuthError(
                f"{self.store_url} refused the REST keys ({what}: {response.status_code} {_code(response)})"
            )
        if not 200 <= response.status_code < 300:
            raise PlatformError(f"{self.store_url}: {what} answered {response.status_code} {_code(response)}")
        try:
            return response.json()
        except ValueError:
            raise PlatformError(f"{self.store_url}: {what} answered {response.status_code} without JSON") from None

    def _pages(self, endpoint: str, params: dict, max_pages: int) -> Iterator[dict]:
        """Every object of a paginated list, page by page until a short page."""
        for page in range(1, max_pages + 1):
            items = self._call("get", endpoint, params={**params, "per_page": str(PAGE_SIZE), "page": str(page)})
            if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
                raise PlatformError(f"{self.store_url}: GET {endpoint} answered something that is not a list of objects")
            yield from items
            if len(items) < PAGE_SIZE:
                return
        raise PlatformError(f"{self.store_url}: GET {endpoint} has more than {max_pages} pages")

    def check_keys(self) -> None:
        """One authenticated read: PlatformAuthError when the store refuses the keys."""
        self._call("get", "webhooks", params={"per_page": "1"})

    def webhooks(self) -> list[dict]:
        # Only the edit context includes each webhook's secret.
        return list(self._pages("webhooks", {"context": "edit"}, MAX_WEBHOOK_PAGES))

    def ensure_webhooks(
        self, delivery_url: str, secret: str, topics: Sequence[str] = TOPICS, name_prefix: str = NAME_PREFIX
    ) -> WebhookReport:
        """Make one active webhook per topic deliver to `delivery_url` signed with `secret`; safe to repeat.

        Ours (same topic and URL) is kept, re-activated or given the secret; one we created for another URL
        (name starts with `name_prefix`) is pointed here; otherwise a new one is created.
        """
        existing = self.webhooks()
        created = updated = unchanged = 0
        for topic in topics:
            same_topic = [hook for hook in existing if hook.get("topic") == topic]
            ours = sorted(
                (hook for hook in same_topic if hook.get("delivery_url") == delivery_url),
                key=lambda hook: hook.get("status") != "active",  # an active one first
            )
            named = [hook for hook in same_topic if str(hook.get("name") or "").startswith(name_prefix)]
            if ours:
                hook = ours[0]
                if hook.get("status") == "active" and hook.get("secret") == secret:
                    unchanged += 1
                    continue
                self._call("put", f"webhooks/{_hook_id(hook)}", data={"secret": secret, "status": "active"})
                updated += 1
            elif named:
                self._call(
                    "put",
                    f"webhooks/{_hook_id(named[0])}",
                    data={"delivery_url": delivery_url, "secret": secret, "status": "active"},
                )
                updated += 1
            else:
                self._call("post", "webhooks", data={
                    "name": f"{name_prefix}: {topic}",
                    "topic": topic,
                    "delivery_url": delivery_url,
                    "secret": secret,
                    "status": "active",
                })
                created += 1
        return WebhookReport(created=created, updated=updated, unchanged=unchanged)

    def orders_modified_since(self, since: datetime) -> Iterator[dict]:
        """Orders modified after `since` (aware), oldest modification first.

        Paged by modification time, not page number: with `orderby=modified`, an order modified during
        the scan jumps to the end and shifts every later one back by one, so page numbers would skip an
        order at a page boundary, one whose time the next scan starts after. Each page starts from the
        last time seen (a second early, for ties; repeats are dropped), and page numbers are used only
        while more than a page of orders share one second.
        """
        if since.tzinfo is None:
            raise ValueError("since must be timezone-aware")
        cursor, page, seen = since.astimezone(timezone.utc), 1, set()
        for _ in range(MAX_ORDER_PAGES):
            items = self._call("get", "orders", params={
                "modified_after": cursor.strftime("%Y-%m-%dT%H:%M:%S"), "dates_are_gmt": "true",
                "orderby": "modified", "order": "asc", "per_page": str(PAGE_SIZE), "page": str(page),
            })
            if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
                raise PlatformError(f"{self.store_url}: GET orders answered something that is not a list of objects")
            for order in items:
                key = (order.get("id"), order.get("date_modified_gmt"))
                if key not in seen:
                    seen.add(key)
                    yield order
            if len(items) < PAGE_SIZE:
                return
            # The page's last time (it is sorted oldest first), not its largest: one odd entry must not
            # make the scan jump past orders it has not read.
            times = [t for t in (_gmt(o.get("date_modified_gmt")) for o in items) if t is not None]
            latest = times[-1] if times else None
            step_back = latest - timedelta(seconds=1) if latest is not None else None
            if step_back is not None and step_back > cursor:
                cursor, page = step_back, 1
            else:
                page += 1  # a whole page within one second: go on by page number from the same time
        raise PlatformError(f"{self.store_url}: more than {MAX_ORDER_PAGES} pages of modified orders")


def _gmt(value) -> datetime | None:
    """WooCommerce's `date_modified_gmt` (UTC, no offset) as an aware time; None when absent or malformed."""
    try:
        return datetime.fromisoformat(str(value)).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _hook_id(hook: dict) -> int:
    value = hook.get("id")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PlatformError(f"a webhook without a usable id: {value!r}")
    return value


def _code(response: requests.Response) -> str:
    """WooCommerce's error code (`woocommerce_rest_...`) when the answer has one, else a short excerpt."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip()
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        return body["code"]
    return str(body)[:200]
