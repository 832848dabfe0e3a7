"""The WooCommerce stand-in's HTTP side: every site's wc-auth and REST API v3 routes on one Flask app.

The REST API serves `webhooks` (creating one pings its delivery_url first, and a ping not answered 200 refuses it,
where WooCommerce shows the error but keeps the webhook), `orders` with `orders/{id}/refunds`, `coupons` with
`coupons/batch` (at most BATCH_LIMIT items in all, each failed item answered as `{"id": 0, "error": {...}}`, deletes
always forced), `data/currencies/current`, and WooCommerce Subscriptions' `subscriptions/{id}` (404 `rest_no_route`
while a test has the plugin switched off). A failure a test planned (`fail_next`) is answered before anything else
looks at the request, as a busy or broken host would.
"""

from __future__ import annotations

import copy
import secrets
from datetime import datetime
from typing import Callable

import requests
from flask import Flask, jsonify, request

from standins.woocommerce import samples
from standins.woocommerce.coupons import coupon_view, save_coupon, to_int
from standins.woocommerce.rest_auth import authenticate
from standins.woocommerce.sites import Site, Sites, now
from standins.woocommerce.wc_auth import authorize
from standins.woocommerce.wordpress import is_web_url, item_error, rest_error

API_PREFIX = "wp-json/wc/v3/"
RESOURCES = ("coupon", "customer", "order", "product")
EVENTS = ("created", "updated", "deleted", "restored")
WEBHOOK_STATUSES = ("active", "paused", "disabled")
HOOKSHOT = f"WooCommerce/{samples.WOOCOMMERCE_VERSION} Hookshot (WordPress/{samples.WORDPRESS_VERSION})"
BATCH_LIMIT = 100  # woocommerce_rest_batch_items_limit
CURRENCIES = {"EUR": ("Euro", "&euro;"), "USD": ("United States (US) dollar", "&#36;"),
              "GBP": ("Pound sterling", "&pound;"), "CHF": ("Swiss franc", "&#67;&#72;&#70;")}


class RestApi:
    """The routes over `sites`; `site_url` gives a site's address (the server's port is known only once it runs)."""

    def __init__(self, sites: Sites, site_url: Callable[[str], str]):
        self._sites, self._site_url = sites, site_url

    def app(self) -> Flask:
        app = Flask("standin_woocommerce")
        app.before_request(self._record)
        app.add_url_rule("/<site>/wc-auth/v1/authorize", view_func=self._authorize, methods=["GET"])
        rest = "/<site>/" + API_PREFIX
        app.add_url_rule(rest + "webhooks", view_func=self._webhooks, methods=["GET", "POST"])
        app.add_url_rule(rest + "webhooks/<int:hook_id>", view_func=self._webhook, methods=["PUT"])
        app.add_url_rule(rest + "orders", view_func=self._orders, methods=["GET"])
        app.add_url_rule(rest + "orders/<int:order_id>", view_func=self._one_order, methods=["GET"])
        app.add_url_rule(rest + "orders/<int:order_id>/refunds", view_func=self._refunds, methods=["GET"])
        app.add_url_rule(rest + "subscriptions/<int:subscription_id>", view_func=self._subscription, methods=["GET"])
        app.add_url_rule(rest + "coupons", view_func=self._coupons, methods=["GET", "POST"])
        app.add_url_rule(rest + "coupons/batch", view_func=self._coupon_batch, methods=["POST", "PUT", "PATCH"])
        app.add_url_rule(rest + "data/currencies/current", view_func=self._current_currency, methods=["GET"])
        return app

    def _record(self):
        """Log the request; answer the failure a test planned for its endpoint, if there is one."""
        with self._sites.lock:
            self._sites.requests_seen.append((request.method, request.path))
            name, _, rest = request.path.lstrip("/").partition("/")
            target = self._sites.existing(name)
            planned = target.failures.get(rest[len(API_PREFIX):]) \
                if target is not None and rest.startswith(API_PREFIX) else None
            failure = planned.pop(0) if planned else None
        if failure:  # as a busy or broken host answers, before WordPress looks at the request
            status, retry_after = failure
            answer, _ = rest_error(status, "standin_planned_failure", f"planned failure {status}")
            if retry_after is not None:
                answer.headers["Retry-After"] = str(retry_after)
            return answer, status
        return None

    def _authorize(self, site: str):
        return authorize(self._sites, self._sites.get(site))

    # --- webhooks --------------------------------------------------------------------------------

    def _webhooks(self, site: str):
        target = self._sites.get(site)
        refused = authenticate(self._sites, target, write=request.method == "POST")
        if refused:
            return refused
        if request.method == "POST":
            return self._create_webhook(target)
        # The secret is shown in the edit context only, as in WooCommerce's schema.
        edit = request.args.get("context") == "edit"
        with self._sites.lock:
            hooks = [copy.deepcopy(hook) for hook in target.webhooks.values()]
        return _list([h if edit else {k: v for k, v in h.items() if k != "secret"} for h in hooks])

    def _webhook(self, site: str, hook_id: int):
        target = self._sites.get(site)
        return authenticate(self._sites, target, write=True) or self._update_webhook(target, hook_id)

    def _create_webhook(self, site: Site):
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return rest_error(400, "rest_invalid_json", "The JSON body passed is not valid.")
        hook = {"id": self._sites.new_id(), "name": data.get("name") or f"Webhook created on {now()}",
                "status": "active", "secret": data.get("secret") or secrets.token_urlsafe(24),
                "date_created_gmt": now()}
        refused = _apply(hook, {**data, "status": data.get("status") or "active"}, required=True)
        if refused:
            return refused
        with self._sites.lock:
            site.webhooks[hook["id"]] = hook
        try:  # the ping: a form body, no X-WC headers, no signature
            ping = requests.post(hook["delivery_url"], data=samples.ping(hook["id"]), timeout=60, allow_redirects=False,
                                 headers={"User-Agent": HOOKSHOT, "Content-Type": "application/x-www-form-urlencoded"})
            problem = None if ping.status_code == 200 else f"Error: Delivery URL returned response code: {ping.status_code}"
        except requests.RequestException as exc:
            problem = f"Error: Delivery URL cannot be reached: {exc}"
        if problem:
            with self._sites.lock:
                del site.webhooks[hook["id"]]
            return rest_error(400, "woocommerce_rest_webhook_ping_failed", problem)
        return jsonify(hook), 201

    def _update_webhook(self, site: Site, hook_id: int):
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return rest_error(400, "rest_invalid_json", "The JSON body passed is not valid.")
        with self._sites.lock:
            hook = site.webhooks.get(hook_id)
            if hook is None:
                return rest_error(400, "woocommerce_rest_shop_webhook_invalid_id", "ID is invalid.")
            changed = dict(hook)
            refused = _apply(changed, data, required=False)
            if refused:
                return refused
            hook.update(changed)
            return jsonify(copy.deepcopy(hook))

    # --- orders and the currency -----------------------------------------------------------------

    def _orders(self, site: str):
        target = self._sites.get(site)
        refused = authenticate(self._sites, target, write=False)
        if refused:
            return refused
        after = request.args.get("modified_after")
        try:
            since = datetime.fromisoformat(after).replace(tzinfo=None) if after else None
        except ValueError:
            return rest_error(400, "rest_invalid_param", "Invalid parameter(s): modified_after")
        key = "date_modified_gmt" if request.args.get("orderby") == "modified" else "date_created_gmt"
        # WooCommerce's _gmt times are all "YYYY-MM-DDTHH:MM:SS": compared as text, a store of 100,000 orders
        # (bench/backfill.py) is filtered in milliseconds per page.
        after_text = since.isoformat(timespec="seconds") if since is not None else None
        with self._sites.lock:
            # status=any, WooCommerce's default for the list, leaves trashed orders out
            found = [o for o in target.orders.values() if o.get("status") != "trash"
                     and (after_text is None or o["date_modified_gmt"] > after_text)]
            found.sort(key=lambda o: (o.get(key) or "", o["id"]), reverse=request.args.get("order", "desc") == "desc")
            # Only the page answered is copied (under the lock: a test may change an order meanwhile).
            start, size = _page_window()
            found[start:start + size] = [copy.deepcopy(o) for o in found[start:start + size]]
        return _list(found)

    def _one_order(self, site: str, order_id: int):
        target = self._sites.get(site)
        refused = authenticate(self._sites, target, write=False)
        if refused:
            return refused
        with self._sites.lock:
            found = copy.deepcopy(target.orders.get(order_id))
        if found is None:  # WC_REST_CRUD_Controller: the object does not load
            return rest_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return jsonify(found)

    def _refunds(self, site: str, order_id: int):
        """The order's refunds, newest first; [] for an order that does not exist, as WooCommerce's list is a query
        of refunds by parent (WC_REST_CRUD_Controller::get_items) that never loads the order."""
        target = self._sites.get(site)
        refused = authenticate(self._sites, target, write=False)
        if refused:
            return refused
        with self._sites.lock:
            found = [self._refund_view(site, order_id, refund) for refund in target.refunds.get(order_id, [])]
        return _list(found)

    def _refund_view(self, site: str, order_id: int, refund: dict) -> dict:
        base = f"{self._site_url(site)}/{API_PREFIX}orders/{order_id}"
        return {**copy.deepcopy(refund), "_links": {"self": [{"href": f"{base}/refunds/{refund['id']}"}],
                                                   "collection": [{"href": f"{base}/refunds"}],
                                                   "up": [{"href": base}]}}

    def _subscription(self, site: str, subscription_id: int):
        target = self._sites.get(site)
        if not target.subscriptions_active:  # the route is WooCommerce Subscriptions': WordPress never gets to auth
            return rest_error(404, "rest_no_route", "No route was found matching the URL and request method.")
        refused = authenticate(self._sites, target, write=False)
        if refused:
            return refused
        with self._sites.lock:
            found = copy.deepcopy(target.subscriptions.get(subscription_id))
        if found is None:  # WC_REST_CRUD_Controller::get_item with the shop_subscription post type
            return rest_error(404, "woocommerce_rest_shop_subscription_invalid_id", "Invalid ID.")
        return jsonify(found)

    def _current_currency(self, site: str):
        target = self._sites.get(site)
        refused = authenticate(self._sites, target, write=False)
        if refused:
            return refused
        name, symbol = CURRENCIES.get(target.currency, (target.currency, target.currency))
        return jsonify(code=target.currency, name=name, symbol=symbol, _links={
            "self": [{"href": f"{self._site_url(site)}/{API_PREFIX}data/currencies/{target.currency}"}],
            "collection": [{"href": f"{self._site_url(site)}/{API_PREFIX}data/currencies"}]})

    # --- coupons ---------------------------------------------------------------------------------

    def _coupons(self, site: str):
        target = self._sites.get(site)
        refused = authenticate(self._sites, target, write=request.method == "POST")
        if refused:
            return refused
        return self._create_coupon(target) if request.method == "POST" else self._list_coupons(target)

    def _list_coupons(self, site: Site):
        code = request.args.get("code")
        with self._sites.lock:
            if code:  # wc_get_coupon_id_by_code: the published coupon with that code, if any
                chosen = [site.coupons[i] for i in [site.coupon_codes.get(code.strip().lower())] if i in site.coupons]
            else:
                chosen = list(site.coupons.values())
            views = [coupon_view(site, c) for c in sorted(chosen, key=lambda c: c["id"], reverse=True)]
        return _list(views)

    def _create_coupon(self, site: Site):
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return rest_error(400, "rest_invalid_json", "The JSON body passed is not valid.")
        with self._sites.lock:
            coupon, error = save_coupon(site, None, data, self._sites.new_id)
            if error:
                return jsonify(error), error["data"]["status"]
            return jsonify(coupon_view(site, coupon)), 201

    def _coupon_batch(self, site: str):
        target = self._sites.get(site)
        refused = authenticate(self._sites, target, write=True)
        if refused:
            return refused
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return rest_error(400, "rest_invalid_json", "The JSON body passed is not valid.")
        parts = {key: data.get(key) or [] for key in ("create", "update", "delete")}
        if not all(isinstance(items, list) for items in parts.values()):
            return rest_error(400, "rest_invalid_param", "Invalid parameter(s): create, update, delete")
        if sum(len(items) for items in parts.values()) > BATCH_LIMIT:
            return rest_error(413, "woocommerce_rest_request_entity_too_large",
                              f"Unable to accept more than {BATCH_LIMIT} items for this request.")
        with self._sites.lock:  # creates, then updates, then deletes, as WooCommerce runs them
            deleted = (_batch_delete(target, raw) for raw in parts["delete"])
            answer = {"create": [self._batch_create(target, item) for item in parts["create"]],
                      "update": [self._batch_update(target, item) for item in parts["update"]],
                      "delete": [row for row in deleted if row is not None]}
        answer = {part: rows for part, rows in answer.items() if rows}
        return jsonify(answer) if answer else jsonify([])  # PHP encodes an empty answer as []

    def _batch_create(self, site: Site, item) -> dict:
        coupon, error = save_coupon(site, None, item if isinstance(item, dict) else {}, self._sites.new_id)
        return {"id": 0, "error": error} if error else coupon_view(site, coupon)

    def _batch_update(self, site: Site, item) -> dict:
        item = item if isinstance(item, dict) else {}
        coupon_id = to_int(item.get("id"))
        if coupon_id not in site.coupons:
            error = item_error("woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.")
        else:
            coupon, error = save_coupon(site, coupon_id, item, self._sites.new_id)
        return {"id": item.get("id"), "error": error} if error else coupon_view(site, coupon)


def _batch_delete(site: Site, raw_id) -> dict | None:
    """One id of a batch's `delete`: the coupon deleted for good (batch deletes always force), or its error;
    None for an id that is not a number, which WooCommerce skips."""
    coupon_id = to_int(raw_id)
    if not coupon_id:
        return None
    coupon = site.coupons.pop(coupon_id, None)
    if coupon is None:
        return {"id": coupon_id, "error": item_error("woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.", 404)}
    site.coupon_codes.pop(coupon["code"], None)
    return coupon_view(site, coupon)


def _page_window() -> tuple[int, int]:
    """(first index, size) of the page asked for; (0, 0) when the paging is not valid (_list refuses it)."""
    try:
        page, per_page = int(request.args.get("page", 1)), int(request.args.get("per_page", 10))
    except ValueError:
        return 0, 0
    return ((page - 1) * per_page, per_page) if page >= 1 and 1 <= per_page <= 100 else (0, 0)


def _list(items: list[dict]):
    """One page of a collection, with WooCommerce's X-WP-Total headers."""
    try:
        page, per_page = int(request.args.get("page", 1)), int(request.args.get("per_page", 10))
    except ValueError:
        return rest_error(400, "rest_invalid_param", "Invalid parameter(s): page, per_page")
    if page < 1 or not 1 <= per_page <= 100:
        return rest_error(400, "rest_invalid_param", "Invalid parameter(s): page, per_page")
    chosen = items[(page - 1) * per_page: page * per_page]
    answer = jsonify(chosen)
    answer.headers["X-WP-Total"] = str(len(items))
    answer.headers["X-WP-TotalPages"] = str(-(-len(items) // per_page))
    return answer


def _apply(hook: dict, data: dict, *, required: bool):
    """Copy the webhook fields of a create or update request onto `hook`; an error answer if one is invalid."""
    topic = str(data.get("topic") or "").lower()
    resource, _, event = topic.partition(".")
    if topic or required:
        if not (resource in RESOURCES and event in EVENTS) and not topic.startswith("action."):
            return rest_error(400, "woocommerce_rest_shop_webhook_invalid_topic", "Webhook topic is required and must be valid.")
        hook.update(topic=topic, resource=resource, event=event)
    if data.get("delivery_url") or required:
        if not is_web_url(str(data.get("delivery_url") or "")):
            return rest_error(400, "woocommerce_rest_shop_webhook_invalid_delivery_url",
                              "Webhook delivery URL must be a valid URL starting with http:// or https://.")
        hook["delivery_url"] = data["delivery_url"]
    if data.get("status"):
        if data["status"] not in WEBHOOK_STATUSES:
            return rest_error(400, "woocommerce_rest_shop_webhook_invalid_status", "Webhook status must be valid.")
        hook["status"] = data["status"]
    for field in ("secret", "name"):
        if data.get(field):
            hook[field] = str(data[field])
    return None
