"""A local stand-in for WooCommerce stores, for `connector demo` and the end-to-end tests.

One HTTP server on 127.0.0.1 plays any number of sites, each under its own path prefix
(`http://127.0.0.1:<port>/<site>`, created on first use). It does what the connector relies on, the way
WooCommerce does it (PLATFORMS.md B1-B3): the wc-auth app authorisation (auto-approved, as if a shop
manager were logged in), the REST API v3 `webhooks`, `orders` (with `orders/{id}/refunds`), `coupons` (with
`coupons/batch`) and `data/currencies/current` endpoints and WooCommerce Subscriptions' `subscriptions/{id}`,
with Basic, query-string or one-legged OAuth 1.0a authentication, the ping sent when a webhook is created,
and signed webhook deliveries of the orders a test places, changes, refunds, edits, renews or deletes and of
the customers it creates, with WooCommerce's count of failed deliveries that disables a webhook. Refunds and
edits follow orders.py, subscriptions and their renewal orders subscriptions.py. Unlike WooCommerce it
accepts a plain-http callback_url (it is recorded so tests can look), and it refuses to create a webhook
whose ping is not answered 200 (WooCommerce shows the error but keeps the webhook).

Coupons follow WooCommerce (PLATFORMS.md B6 and the v2/v3 coupons controller): codes are stored
lower-cased and unique among published coupons (`woocommerce_rest_coupon_code_already_exists`); a batch
takes at most 100 items in all (else HTTP 413 `woocommerce_rest_request_entity_too_large`) and answers
each failed item as `{"id": 0, "error": {"code", "message", "data": {"status"}}}`; batch deletes force;
`date_expires` is read in the site's timezone unless it carries an offset, and `date_expires_gmt` is
ignored on writes (WC_Coupon has no setter for it). Tests can make the next calls to an endpoint fail
(fail_next) and count calls by endpoint (calls).

This module is the stand-in tests hold: its lifecycle, what they arrange and look at, and the signed
deliveries. What it holds is in sites.py; the HTTP side in rest_api.py (routes), rest_auth.py (keys and
OAuth 1.0a) and wc_auth.py (the app authorisation); the coupon rules in coupons.py.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import secrets
import threading
import time
from datetime import datetime, timedelta, timezone

import requests
from werkzeug.serving import WSGIRequestHandler, make_server

from standins.woocommerce import orders as order_changes, samples, subscriptions
from standins.woocommerce.coupons import coupon_applies, coupon_view, save_coupon
from standins.woocommerce.rest_api import API_PREFIX, RestApi
from standins.woocommerce.sites import Site, Sites, now

#: woocommerce_max_webhook_delivery_failures' default: the 7th failure in a row disables a webhook
MAX_DELIVERY_FAILURES = 5


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *_args, **_kwargs) -> None:  # quiet: the demo prints its own story
        pass


class StandinWooCommerce:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._sites = Sites()
        self._lock = self._sites.lock
        self._hash_salt = secrets.token_bytes(16)
        #: (method, path) of every request received, so tests can assert what was (not) called
        self.requests_seen: list[tuple[str, str]] = self._sites.requests_seen
        app = RestApi(self._sites, self.site_url).app()
        self._server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> "StandinWooCommerce":
        # A short poll keeps stop() quick: shutdown waits for the serving loop's next look.
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         name="standin-woocommerce", daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "StandinWooCommerce":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    def site_url(self, name: str) -> str:
        return f"http://{self._server.host}:{self._server.port}/{name}"

    # --- what tests look at or arrange -----------------------------------------------------------

    def _site(self, name: str) -> Site:
        return self._sites.get(name)

    def add_keys(self, site: str, permissions: str = "read_write") -> tuple[str, str]:
        """REST keys made by hand in the shop's admin (no authorisation dance)."""
        with self._lock:
            return self._site(site).add_keys(permissions)

    def keys(self, site: str) -> dict[str, str]:
        with self._lock:
            return {key: secret for key, (secret, _perm) in self._site(site).keys.items()}

    def callback_urls(self, site: str) -> list[str]:
        with self._lock:
            return list(self._site(site).callback_urls)

    def webhooks(self, site: str) -> list[dict]:
        with self._lock:
            return [copy.deepcopy(hook) for hook in self._site(site).webhooks.values()]

    def place_order(self, site: str, order: dict, *, deliver: bool = True) -> list[requests.Response]:
        """Store the order and deliver order.created to the site's webhooks; their answers are returned.

        An order without an `order_key` gets one, shaped like WooCommerce's (`wc_order_` + 13 characters).
        """
        order = copy.deepcopy(order)
        order.setdefault("date_modified_gmt", now())
        order.setdefault("prices_include_tax", False)
        if not order.get("order_key"):
            order["order_key"] = subscriptions.order_key()
        with self._lock:
            self._site(site).orders[int(order["id"])] = order
        return self.deliver(site, "order.created", order) if deliver else []

    def update_order(self, site: str, order_id: int, changes: dict, *, deliver: bool = True) -> list[requests.Response]:
        """Change the order's fields as saved; its modification time moves (unless `changes` sets one)."""
        with self._lock:
            target = self._site(site)
            order = target.orders[order_id]
            order.update(copy.deepcopy(changes))
            if not changes.get("date_modified_gmt"):
                order_changes.touch(order, target.utc_offset)
            order = copy.deepcopy(order)
        return self.deliver(site, "order.updated", order) if deliver else []

    def refund(self, site: str, order_id: int, lines: dict[int, int] | None = None, *, amount: str | None = None,
               reason: str = "", deliver: bool = True) -> dict:
        """The merchant refunds units of lines (line id → units) or an amount alone (orders.refund): the
        refund is kept for the refunds endpoint, the order lists it, and order.updated is delivered, as
        WooCommerce's `woocommerce_order_refunded` does. The refund is returned as the endpoint shows it."""
        with self._lock:
            target = self._site(site)
            order = target.orders[order_id]
            made = order_changes.refund(order, lines or {}, amount, reason, refund_id=self._sites.new_post_id(),
                                        new_item_id=self._sites.new_item_id, utc_offset=target.utc_offset)
            target.refunds.setdefault(order_id, []).insert(0, made)
            order = copy.deepcopy(order)
        if deliver:
            self.deliver(site, "order.updated", order)
        return copy.deepcopy(made)

    def delete_refund(self, site: str, order_id: int, refund_id: int, *, deliver: bool = True) -> list[requests.Response]:
        """The merchant deletes a refund: gone from the endpoint and the order; order.updated is delivered."""
        with self._lock:
            target = self._site(site)
            target.refunds[order_id] = [r for r in target.refunds.get(order_id, []) if r["id"] != refund_id]
            order_changes.forget_refund(target.orders[order_id], refund_id, target.utc_offset)
            order = copy.deepcopy(target.orders[order_id])
        return self.deliver(site, "order.updated", order) if deliver else []

    def edit_order(self, site: str, order_id: int, changes: dict[int, dict | None] | None = None,
                   add: tuple[dict, ...] = (), *, deliver: bool = True) -> list[requests.Response]:
        """The merchant edits the order's lines (orders.edit_lines: line id → new quantity/total, None to
        remove; `add` new lines); the order is recalculated and order.updated delivered."""
        with self._lock:
            target = self._site(site)
            order = target.orders[order_id]
            order_changes.edit_lines(order, changes or {}, add, self._sites.new_item_id, target.utc_offset)
            order = copy.deepcopy(order)
        return self.deliver(site, "order.updated", order) if deliver else []

    def add_subscription(self, site: str, parent_order_id: int, *, keep_coupons: bool = False) -> dict:
        """A WooCommerce Subscriptions subscription started by a placed order (no webhook: none is subscribed)."""
        with self._lock:
            target = self._site(site)
            made = subscriptions.subscription_from(
                target.orders[parent_order_id], subscription_id=self._sites.new_post_id(),
                new_item_id=self._sites.new_item_id, utc_offset=target.utc_offset, keep_coupons=keep_coupons,
                site_url=self.site_url(site))
            target.subscriptions[made["id"]] = made
            return copy.deepcopy(made)

    def renew_subscription(self, site: str, subscription_id: int, *, order_id: int | None = None,
                           deliver: bool = True) -> dict:
        """The subscription's next period paid: a renewal order is stored and order.created delivered; it is returned."""
        with self._lock:
            target = self._site(site)
            chosen = order_id or max([*target.orders, self._sites.new_post_id()]) + 1
            order = subscriptions.renewal_from(target.subscriptions[subscription_id], order_id=chosen,
                                               new_item_id=self._sites.new_item_id, utc_offset=target.utc_offset,
                                               site_url=self.site_url(site))
            target.orders[chosen] = order
            order = copy.deepcopy(order)
        if deliver:
            self.deliver(site, "order.created", order)
        return order

    def remove_subscription(self, site: str, subscription_id: int) -> None:
        """The subscription deleted for good."""
        with self._lock:
            self._site(site).subscriptions.pop(subscription_id, None)

    def set_subscriptions_active(self, site: str, active: bool) -> None:
        """WooCommerce Subscriptions switched on or off: off, its REST routes answer 404 rest_no_route."""
        with self._lock:
            self._site(site).subscriptions_active = active

    def order(self, site: str, order_id: int) -> dict:
        """The order as the site holds it (with the order_key place_order may have made up)."""
        with self._lock:
            return copy.deepcopy(self._site(site).orders[order_id])

    def create_customer(self, site: str, customer: dict, *, deliver: bool = True) -> list[requests.Response]:
        """Store the customer (samples.customer()) and deliver customer.created; the webhooks' answers are returned."""
        customer = copy.deepcopy(customer)
        customer.setdefault("date_created_gmt", now())
        with self._lock:
            self._site(site).customers[int(customer["id"])] = customer
        return self.deliver(site, "customer.created", customer) if deliver else []

    def coupons(self, site: str) -> list[dict]:
        """The site's coupons as the REST API shows them, oldest first."""
        with self._lock:
            target = self._site(site)
            return [coupon_view(target, c) for c in sorted(target.coupons.values(), key=lambda c: c["id"])]

    def add_foreign_coupon(self, site: str, code: str, **fields) -> dict:
        """A coupon the merchant made by hand (no connector meta), e.g. to make a code collide."""
        with self._lock:
            target = self._site(site)
            coupon, error = save_coupon(target, None, {"code": code, "amount": "5", **fields}, self._sites.new_id)
            if error:
                raise ValueError(error["message"])
            return coupon_view(target, coupon)

    def coupon_applies(self, site: str, code: str, at: datetime | None = None) -> bool:
        """Whether a shopper could use `code` now (or `at`): it exists, is published and has not expired."""
        moment = at or datetime.now(timezone.utc)
        with self._lock:
            return coupon_applies(self._site(site), code, moment)

    def set_currency(self, site: str, currency: str) -> None:
        with self._lock:
            self._site(site).currency = currency

    def set_utc_offset(self, site: str, hours: float) -> None:
        """The site's timezone, as WordPress's gmt_offset (times without an offset are read in it)."""
        with self._lock:
            self._site(site).utc_offset = timedelta(hours=hours)

    def fail_next(self, site: str, endpoint: str, status: int, *, times: int = 1, retry_after: int | None = None) -> None:
        """The next `times` calls to `endpoint` (e.g. "coupons/batch") answer `status` and do nothing."""
        with self._lock:
            self._site(site).failures.setdefault(endpoint, []).extend([(status, retry_after)] * times)

    def calls(self, endpoint: str, *, site: str | None = None, method: str | None = None) -> int:
        """How many requests reached a REST endpoint (e.g. "coupons/batch"), of one site and method if given."""
        with self._lock:
            return sum(1 for seen_method, path in self.requests_seen
                       if path.endswith("/" + API_PREFIX + endpoint)
                       and (site is None or path == f"/{site}/{API_PREFIX}{endpoint}")
                       and (method is None or seen_method == method))

    def delete_order(self, site: str, order_id: int, *, force: bool = False,
                     deliver: bool = True) -> list[requests.Response]:
        """Move the order to the trash (it still loads, status `trash`), or with `force` delete it for good;
        either way WooCommerce sends order.deleted with `{"id": N}`."""
        with self._lock:
            orders = self._site(site).orders
            if force:
                del orders[order_id]
            else:
                orders[order_id] = {**orders[order_id], "status": "trash", "date_modified_gmt": now()}
        return self.deliver(site, "order.deleted", samples.deleted(order_id)) if deliver else []

    def deliver(self, site: str, topic: str, payload: dict) -> list[requests.Response]:
        """POST a signed delivery of `topic` to every active webhook of the site that has it.

        Failures are counted as WooCommerce counts them (class-wc-webhook.php): an answer from 200 to 302 sets
        the webhook's count back to 0; any other, or none, is a failure, and a failure with more than
        MAX_DELIVERY_FAILURES counted already sets the webhook `disabled`. Nothing is resent.
        """
        body = samples.encode(payload)
        with self._lock:
            hooks = [dict(h) for h in self._site(site).webhooks.values() if h["topic"] == topic and h["status"] == "active"]
        answers = []
        for hook in hooks:
            # Like WooCommerce's wp_hash(id . time()): the same for one webhook within one second.
            delivery_id = hmac.new(self._hash_salt, f"{hook['id']}{int(time.time())}".encode(), hashlib.md5).hexdigest()
            headers = samples.headers(body, source=self.site_url(site) + "/", topic=topic, secret=hook["secret"],
                                      delivery_id=delivery_id, webhook_id=hook["id"])
            try:
                answer = requests.post(hook["delivery_url"], data=body, headers=headers, timeout=60,
                                       allow_redirects=False)
            except requests.RequestException:
                self._count_delivery(site, hook["id"], None)
                raise
            self._count_delivery(site, hook["id"], answer.status_code)
            answers.append(answer)
        return answers

    def _count_delivery(self, site: str, hook_id: int, status: int | None) -> None:
        with self._lock:
            target = self._site(site)
            if status is not None and 200 <= status < 303:
                target.webhook_failures[hook_id] = 0
                return
            failures = target.webhook_failures.get(hook_id, 0)
            if failures > MAX_DELIVERY_FAILURES and hook_id in target.webhooks:
                target.webhooks[hook_id]["status"] = "disabled"
            else:
                target.webhook_failures[hook_id] = failures + 1

    def set_webhook(self, site: str, topic: str, **fields) -> None:
        """A shop manager's edit of the site's webhooks for `topic` (status, delivery_url, secret), as saved.

        Like WooCommerce's REST update, a change of status leaves the failure count as it was.
        """
        with self._lock:
            for hook in self._site(site).webhooks.values():
                if hook["topic"] == topic:
                    hook.update(fields)
