"""Calls to a store's WooCommerce REST API (wc/v3), through WooCommerce's own Python library.

The library signs https requests with HTTP Basic and plain-http ones (a stand-in store) with one-legged
OAuth 1.0a; it returns raw `requests` responses, so every answer is checked here and every failure
becomes PlatformAuthError (the keys were refused) or PlatformError (try again later). Redirects are not
followed: the store URL was checked before the call (store_url.check_store_url), a redirect target was not.

The library sends with `requests.request`, which it imports by name; that name is pointed at the
connector's bounded session (connector.outbound), so every call to a store has a total deadline and
a cap on what it reads, and never follows a redirect, whatever the store does.

The library has no retry logic. Coupon calls (which are safe to repeat: a coupon created by a call whose
answer was lost is found and adopted on the next try) are retried here on timeouts, 429 and 5xx, with
backoff that honours Retry-After. Every HTTP request made is counted in `calls`, for the benchmarks.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Iterator, Sequence

import requests
import woocommerce.api
from woocommerce import API

from connector import outbound
from connector.errors import PlatformAuthError, PlatformError

from . import webhooks as _webhooks

TOPICS = ("order.created", "order.updated", "order.deleted", "customer.created")
NAME_PREFIX = "Influencer Connector"
PAGE_SIZE = 100  # the REST API's largest per_page
MAX_WEBHOOK_PAGES = 50
MAX_ORDER_PAGES = 10_000  # a store that ignores `page` would otherwise be read forever
USER_AGENT = "influencer-connector (WooCommerce-Python-REST-API)"
#: a batch of 100 coupons is 100 coupon saves in one PHP request: give it longer than a plain read
BATCH_TIMEOUT = 60.0
#: tries of a retried call in all, and the waits between them (doubling), in seconds
ATTEMPTS = 4
FIRST_WAIT = 1.0
#: a Retry-After longer than this is not waited for here: the worker tries again later instead
MAX_WAIT = 30.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: what WooCommerce answers (404) for an order that does not load: deleted for good
ORDER_NOT_FOUND = "woocommerce_rest_shop_order_invalid_id"
#: what WooCommerce Subscriptions answers (404, WC_REST_CRUD_Controller::get_item) for an id that is no subscription
SUBSCRIPTION_NOT_FOUND = "woocommerce_rest_shop_subscription_invalid_id"
#: what WordPress answers (404) for a route no plugin registered: here, WooCommerce Subscriptions is not active
NO_ROUTE = "rest_no_route"
#: an order with more refunds than this is not read exactly (its estimates stay)
MAX_REFUND_PAGES = 10
#: the most a store's answer may be: a page of 100 orders is well under 2 MB
MAX_ANSWER_BYTES = 16 * 1024 * 1024
DEFAULT_TIMEOUT = 10.0


def _send(method: str, url: str, **kwargs) -> requests.Response:
    """What the library calls instead of `requests.request`: the same request, through a bounded session.

    The library passes its `timeout`; the session takes it as the call's total deadline.
    """
    return outbound.thread_session("woocommerce", max_bytes=MAX_ANSWER_BYTES).request(method, url, **kwargs)


woocommerce.api.request = _send


class BatchTooLarge(PlatformError):
    """The store refused a batch as too large (HTTP 413 woocommerce_rest_request_entity_too_large)."""


class NotFound(PlatformError):
    """The store answered 404; `code` says why (WooCommerce's error code, or an excerpt)."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


class _Transient(PlatformError):
    """A failure that may pass: a timeout, a dropped connection, 429 or a 5xx."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class WebhookReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"webhooks: {self.created} created, {self.updated} updated, {self.unchanged} unchanged"


class WooCommerceClient:
    """One store's REST API, authenticated with the REST keys its merchant granted."""

    def __init__(self, store_url: str, consumer_key: str, consumer_secret: str, *, timeout: float = DEFAULT_TIMEOUT,
                 batch_timeout: float = BATCH_TIMEOUT, sleep: Callable[[float], None] = time.sleep):
        self.store_url = store_url
        #: HTTP requests made so far, retries included
        self.calls = 0
        self._sleep = sleep

        def api(seconds: float) -> API:
            return API(url=store_url, consumer_key=consumer_key, consumer_secret=consumer_secret, version="wc/v3",
                       timeout=seconds, user_agent=USER_AGENT)

        self._api, self._batch_api = api(timeout), api(batch_timeout)

    def _call(self, method: str, endpoint: str, *, params: dict | None = None, data: Any = None,
              retry: bool = False, api: API | None = None) -> Any:
        """The parsed JSON answer of a call; PlatformAuthError on 401/403, PlatformError on anything else amiss.

        With `retry`, a timeout, 429 or 5xx is tried again (ATTEMPTS in all) after a growing wait or the
        store's Retry-After, unless that is longer than MAX_WAIT.
        """
        attempt = 0
        while True:
            try:
                return self._once(method, endpoint, params=params, data=data, api=api or self._api)
            except _Transient as exc:
                wait = retry_wait(attempt, exc.retry_after)
                attempt += 1
                if not retry or attempt >= ATTEMPTS or wait > MAX_WAIT:
                    later = f" (Retry-After {exc.retry_after:.0f} s)" if exc.retry_after else ""
                    # Still a _Transient, so callers can tell (may_pass) an outage from a refusal.
                    raise _Transient(f"{exc}{later}", exc.retry_after) from None
                self._sleep(wait)

    def _once(self, method: str, endpoint: str, *, params: dict | None, data: Any, api: API) -> Any:
        what = f"{method.upper()} {endpoint}"
        kwargs: dict[str, Any] = {"allow_redirects": False}
        if params is not None:
            kwargs["params"] = dict(params)  # the library may add to it
        self.calls += 1
        try:
            if method in ("post", "put"):
                response = getattr(api, method)(endpoint, data, **kwargs)
            else:
                response = getattr(api, method)(endpoint, **kwargs)
        except (requests.Timeout, requests.ConnectionError) as exc:
            if isinstance(exc, requests.exceptions.SSLError):  # a bad certificate does not get better
                raise PlatformError(f"{self.store_url}: {what} failed: {_quiet(exc)}") from None
            raise _Transient(f"{self.store_url}: {what} failed: {_quiet(exc)}") from None
        except requests.RequestException as exc:
            raise PlatformError(f"{self.store_url}: {what} failed: {_quiet(exc)}") from None
        status = response.status_code
        if status in (401, 403):
            raise PlatformAuthError(f"{self.store_url} refused the REST keys ({what}: {status} {_code(response)})")
        if status == 413:
            raise BatchTooLarge(f"{self.store_url}: {what} answered 413 {_code(response)}")
        if status in RETRY_STATUSES:
            raise _Transient(f"{self.store_url}: {what} answered {status} {_code(response)}",
                             retry_after=_retry_after(response))
        if status == 404:
            code = _code(response)
            raise NotFound(f"{self.store_url}: {what} answered 404 {code}", code)
        if not 200 <= status < 300:
            raise PlatformError(f"{self.store_url}: {what} answered {status} {_code(response)}")
        try:
            return response.json()
        except ValueError:
            raise PlatformError(f"{self.store_url}: {what} answered {status} without JSON") from None

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
        (name starts with `name_prefix`) is pointed here; otherwise a new one is created (webhooks.diagnose).
        """
        findings = _webhooks.diagnose(self.webhooks(), delivery_url, secret, topics, name_prefix)
        for finding in findings:
            self.mend(finding)
        created = sum(1 for finding in findings if finding.hook is None)
        return WebhookReport(created=created, updated=len(findings) - created, unchanged=len(topics) - len(findings))

    def mend(self, finding: "_webhooks.Finding") -> None:
        """Send what mends one webhook: a PUT of the fields to change, or a POST of a new one.

        Not retried here: a create whose answer was lost would be made twice, and every event delivered twice.
        """
        if finding.hook is None:
            self._call("post", "webhooks", data=dict(finding.fields))
        else:
            self._call("put", f"webhooks/{_hook_id(finding.hook)}", data=dict(finding.fields))

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

    def order_status(self, order_id: str) -> str | None:
        """The order's status in the store (`trash` once trashed); None when it is gone for good.

        Gone means WooCommerce's own answer for an order that does not load; any other 404 (no REST route:
        WooCommerce switched off for a moment, a permalink change) proves nothing and is a PlatformError.
        """
        if not order_id.isdigit():
            raise PlatformError(f"{self.store_url}: {order_id!r} is not an order id")
        try:
            order = self._call("get", f"orders/{int(order_id)}")
        except NotFound as exc:
            if exc.code == ORDER_NOT_FOUND:
                return None
            raise PlatformError(f"{exc} (not the answer for a deleted order)") from None
        status = order.get("status") if isinstance(order, dict) else None
        if not isinstance(status, str):
            raise PlatformError(f"{self.store_url}: GET orders/{order_id} answered no status")
        return status

    def order_refunds(self, order_id: str) -> list[dict]:
        """The order's refunds (`GET orders/{id}/refunds`), in pages of 100, each with its line items.

        WooCommerce answers [] for an order that does not exist (the list is a query by parent order);
        a 404 (`woocommerce_rest_invalid_order_id`, or no route at all) is NotFound.
        """
        return list(self._pages(f"orders/{_numeric(order_id, 'order')}/refunds", {}, MAX_REFUND_PAGES))

    def subscription(self, subscription_id: str) -> dict:
        """One WooCommerce Subscriptions subscription (`GET subscriptions/{id}`); its `parent_id` is its first order.

        NotFound with code NO_ROUTE when Subscriptions is not active, SUBSCRIPTION_NOT_FOUND when the id is none.
        """
        endpoint = f"subscriptions/{_numeric(subscription_id, 'subscription')}"
        answer = self._call("get", endpoint)
        if not isinstance(answer, dict):
            raise PlatformError(f"{self.store_url}: GET {endpoint} answered something that is not an object")
        return answer

    # --- coupons ---------------------------------------------------------------------------------

    def coupon_batch(self, *, create: Sequence[dict] = (), update: Sequence[dict] = ()) -> dict[str, list[dict]]:
        """One `POST coupons/batch`: {"create": [coupon or {"id": 0, "error": {...}}, ...], "update": [...]}.

        Each answer list is in the order of the items sent (WooCommerce handles creates, then updates).
        BatchTooLarge when the store takes fewer items per call than were sent.
        """
        body = {key: list(items) for key, items in (("create", create), ("update", update)) if items}
        if not body:
            return {}
        answer = self._call("post", "coupons/batch", data=body, retry=True, api=self._batch_api)
        if not isinstance(answer, dict):
            raise PlatformError(f"{self.store_url}: POST coupons/batch answered something that is not an object")
        for key, items in body.items():
            given = answer.get(key)
            if not isinstance(given, list) or len(given) != len(items) or not all(isinstance(i, dict) for i in given):
                raise PlatformError(f"{self.store_url}: POST coupons/batch did not answer each of its {len(items)} "
                                    f"{key} items")
        return {key: answer[key] for key in body}

    def coupons_by_code(self, code: str) -> list[dict]:
        """The published coupons with this code (WooCommerce matches codes case-insensitively; at most one)."""
        # Sent lower-cased, as WooCommerce stores codes (wc_format_coupon_code), in case the database
        # compares case-sensitively.
        items = self._call("get", "coupons", params={"code": code.lower()}, retry=True)
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise PlatformError(f"{self.store_url}: GET coupons answered something that is not a list of objects")
        return items

    def current_currency(self) -> str | None:
        """The store's currency (ISO 4217) from `GET data/currencies/current`; None when it names none."""
        answer = self._call("get", "data/currencies/current")
        code = answer.get("code") if isinstance(answer, dict) else None
        if isinstance(code, str) and len(code) == 3 and code.isascii() and code.isalpha():
            return code.upper()
        return None


def may_pass(exc: PlatformError) -> bool:
    """The failure may pass by itself (a timeout, a dropped connection, 429, a 5xx), unlike a refusal."""
    return isinstance(exc, _Transient)


def _quiet(exc: Exception) -> str:
    """An error's text without any URL query (query-string auth would put the keys there)."""
    return re.sub(r"\?[^\s'\")]*", "?…", f"{type(exc).__name__}: {exc}")[:300]


def retry_wait(attempt: int, retry_after: float | None) -> float:
    """Seconds to wait before try `attempt + 2`: doubling from FIRST_WAIT, or longer if the store asked."""
    backoff = FIRST_WAIT * 2**attempt
    return max(backoff, retry_after) if retry_after is not None else backoff


def _retry_after(response: requests.Response) -> float | None:
    """Retry-After in seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max((moment - datetime.now(timezone.utc)).total_seconds(), 0.0)


def _gmt(value) -> datetime | None:
    """WooCommerce's `date_modified_gmt` (UTC, no offset) as an aware time; None when absent or malformed."""
    try:
        return datetime.fromisoformat(str(value)).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _numeric(value: str, what: str) -> int:
    """An id as the path wants it; anything else is refused before a call is made."""
    if not (isinstance(value, str) and value.isascii() and value.isdigit() and int(value) > 0):
        raise PlatformError(f"{value!r} is not a{'n' if what[0] in 'aeiou' else ''} {what} id")
    return int(value)


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
