"""What the WooCommerce stand-in holds: each site's keys, webhooks, orders and their refunds, subscriptions, customers,
coupons and switches."""

from __future__ import annotations

import itertools
import secrets
import threading
from datetime import datetime, timedelta, timezone


def now() -> str:
    """Now as WooCommerce writes a `_gmt` time: UTC to the second, without an offset."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


class Site:
    """One WordPress site. Plain data: whoever reads or changes it holds `Sites.lock`."""

    def __init__(self, name: str):
        self.name = name
        self.keys: dict[str, tuple[str, str]] = {}  # consumer key → (consumer secret, permissions)
        self.callback_urls: list[str] = []
        self.webhooks: dict[int, dict] = {}
        #: webhook id → deliveries failed in a row (WooCommerce's failure_count, not shown by its REST API)
        self.webhook_failures: dict[int, int] = {}
        self.orders: dict[int, dict] = {}
        #: order id → its refunds as the refunds endpoint shows them, newest first
        self.refunds: dict[int, list[dict]] = {}
        #: WooCommerce Subscriptions' subscriptions by id, and whether the plugin is active (its routes exist)
        self.subscriptions: dict[int, dict] = {}
        self.subscriptions_active = True
        self.customers: dict[int, dict] = {}
        #: coupons as stored (date_expires an aware time or None), and their ids by lower-cased code
        self.coupons: dict[int, dict] = {}
        self.coupon_codes: dict[str, int] = {}
        self.currency = "EUR"
        #: the site's timezone (WordPress's gmt_offset)
        self.utc_offset = timedelta(0)
        #: endpoint → (status, Retry-After) answers the next calls get instead of the real one
        self.failures: dict[str, list[tuple[int, int | None]]] = {}

    def add_keys(self, permissions: str) -> tuple[str, str]:
        """A new consumer key and secret with these permissions (read, write or read_write)."""
        consumer_key, consumer_secret = f"ck_{secrets.token_hex(20)}", f"cs_{secrets.token_hex(20)}"
        self.keys[consumer_key] = (consumer_secret, permissions)
        return consumer_key, consumer_secret


class Sites:
    """Every site the stand-in plays, each made on first use, behind one lock shared by the HTTP side and tests."""

    def __init__(self):
        self.lock = threading.RLock()
        #: ids of everything made (keys, webhooks, coupons, meta rows), unique across sites
        self._ids = itertools.count(1)
        #: WordPress post ids (refunds, subscriptions, orders the stand-in makes) and order item ids, both far
        #: above the ids tests give the orders they place
        self._post_ids = itertools.count(1_000_001)
        self._item_ids = itertools.count(2_000_001)
        self._by_name: dict[str, Site] = {}
        #: (consumer key, nonce, timestamp) of every OAuth 1.0a request accepted, so a replay is refused
        self.oauth_nonces: set[tuple[str, str, int]] = set()
        #: (method, path) of every request received, so tests can assert what was (not) called
        self.requests_seen: list[tuple[str, str]] = []

    def get(self, name: str) -> Site:
        with self.lock:
            return self._by_name.setdefault(name, Site(name))

    def existing(self, name: str) -> Site | None:
        """The site if it has been made, without making it."""
        with self.lock:
            return self._by_name.get(name)

    def new_id(self) -> int:
        return next(self._ids)

    def new_post_id(self) -> int:
        return next(self._post_ids)

    def new_item_id(self) -> int:
        return next(self._item_ids)
