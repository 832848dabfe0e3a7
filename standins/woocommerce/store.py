"""A local stand-in for WooCommerce stores, for `connector demo` and the end-to-end tests.

One HTTP server on 127.0.0.1 plays any number of sites, each under its own path prefix
(`http://127.0.0.1:<port>/<site>`, created on first use). It does what the connector relies on, the way
WooCommerce does it (PLATFORMS.md B1-B3): the wc-auth app authorisation (auto-approved, as if a shop
manager were logged in), the REST API v3 `webhooks`, `orders`, `coupons` (with `coupons/batch`) and
`data/currencies/current` endpoints with Basic, query-string or one-legged OAuth 1.0a authentication, the
ping sent when a webhook is created, and signed webhook deliveries of the orders a test places, changes
or deletes and of the customers it creates. Unlike WooCommerce it accepts a plain-http callback_url (it
is recorded so tests can look), and it refuses to create a webhook whose ping is not answered 200
(WooCommerce shows the error but keeps the webhook).

Coupons follow WooCommerce (PLATFORMS.md B6 and the v2/v3 coupons controller): codes are stored
lower-cased and unique among published coupons (`woocommerce_rest_coupon_code_already_exists`); a batch
takes at most 100 items in all (else HTTP 413 `woocommerce_rest_request_entity_too_large`) and answers
each failed item as `{"id": 0, "error": {"code", "message", "data": {"status"}}}`; batch deletes force;
`date_expires` is read in the site's timezone unless it carries an offset, and `date_expires_gmt` is
ignored on writes (WC_Coupon has no setter for it). Tests can make the next calls to an endpoint fail
(fail_next) and count calls by endpoint (calls).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import json
import re
import secrets
import string
import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from urllib.parse import quote, urlencode, urlsplit

import requests
from flask import Flask, Response, jsonify, redirect, request
from markupsafe import escape
from werkzeug.serving import WSGIRequestHandler, make_server

from standins.woocommerce import samples

AUTH_PARAMS = ("app_name", "scope", "user_id", "return_url", "callback_url")
SCOPES = ("read", "write", "read_write")
RESOURCES = ("coupon", "customer", "order", "product")
EVENTS = ("created", "updated", "deleted", "restored")
WEBHOOK_STATUSES = ("active", "paused", "disabled")
OAUTH_ALGORITHMS = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}
OAUTH_WINDOW = 15 * 60  # WooCommerce refuses OAuth timestamps older than 15 minutes
HOOKSHOT = f"WooCommerce/{samples.WOOCOMMERCE_VERSION} Hookshot (WordPress/{samples.WORDPRESS_VERSION})"
API_PREFIX = "wp-json/wc/v3/"
BATCH_LIMIT = 100  # woocommerce_rest_batch_items_limit
DISCOUNT_TYPES = ("percent", "fixed_cart", "fixed_product")
# WC_Data::set_date_prop: an ISO 8601 time to the second, with Z or an offset, or without (site time)
WC_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(Z|[+-]\d{2}:\d{2})?")
CURRENCIES = {"EUR": ("Euro", "&euro;"), "USD": ("United States (US) dollar", "&#36;"),
              "GBP": ("Pound sterling", "&pound;"), "CHF": ("Swiss franc", "&#67;&#72;&#70;")}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _error(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify(code=code, message=message, data={"status": status}), status


def _page(status: int, message: str) -> tuple[str, int]:
    return f"<!doctype html><title>WooCommerce</title><h1>Error</h1><p>{escape(message)}</p>", status


def _pct(value: str) -> str:
    return quote(value, safe="~")  # RFC 3986 percent-encoding, as OAuth 1.0a wants


def _web_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *_args, **_kwargs) -> None:  # quiet: the demo prints its own story
        pass


def _item_error(code: str, message: str, status: int = 400) -> dict:
    """A WP_Error as a batch answers it for one item."""
    return {"code": code, "message": message, "data": {"status": status}}


def _wc_time(moment: datetime | None, offset: timedelta = timedelta(0)) -> str | None:
    return (moment + offset).strftime("%Y-%m-%dT%H:%M:%S") if moment is not None else None


class _Site:
    def __init__(self, name: str):
        self.name = name
        self.keys: dict[str, tuple[str, str]] = {}  # consumer key → (consumer secret, permissions)
        self.callback_urls: list[str] = []
        self.webhooks: dict[int, dict] = {}
        self.orders: dict[int, dict] = {}
        self.customers: dict[int, dict] = {}
        #: coupons as stored (date_expires an aware time or None), and their ids by lower-cased code
        self.coupons: dict[int, dict] = {}
        self.coupon_codes: dict[str, int] = {}
        self.currency = "EUR"
        #: the site's timezone (WordPress's gmt_offset)
        self.utc_offset = timedelta(0)
        #: endpoint → (status, Retry-After) answers the next calls get instead of the real one
        self.failures: dict[str, list[tuple[int, int | None]]] = {}


class StandinWooCommerce:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._lock = threading.RLock()
        self._sites: dict[str, _Site] = {}
        self._ids = itertools.count(1)
        self._nonces: set[tuple[str, str, int]] = set()
        self._hash_salt = secrets.token_bytes(16)
        #: (method, path) of every request received, so tests can assert what was (not) called
        self.requests_seen: list[tuple[str, str]] = []
        self._server = make_server(host, port, self._app(), threaded=True, request_handler=_QuietHandler)

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

    def _site(self, name: str) -> _Site:
        with self._lock:
            return self._sites.setdefault(name, _Site(name))

    def add_keys(self, site: str, permissions: str = "read_write") -> tuple[str, str]:
        """REST keys made by hand in the shop's admin (no authorisation dance)."""
        consumer_key, consumer_secret = f"ck_{secrets.token_hex(20)}", f"cs_{secrets.token_hex(20)}"
        with self._lock:
            self._site(site).keys[consumer_key] = (consumer_secret, permissions)
        return consumer_key, consumer_secret

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
        order.setdefault("date_modified_gmt", _now())
        if not order.get("order_key"):
            order["order_key"] = "wc_order_" + "".join(secrets.choice(string.ascii_letters + string.digits)
                                                       for _ in range(13))
        with self._lock:
            self._site(site).orders[int(order["id"])] = order
        return self.deliver(site, "order.created", order) if deliver else []

    def update_order(self, site: str, order_id: int, changes: dict, *, deliver: bool = True) -> list[requests.Response]:
        with self._lock:
            order = self._site(site).orders[order_id]
            order.update(copy.deepcopy(changes))
            order["date_modified_gmt"] = changes.get("date_modified_gmt") or _now()
            order = copy.deepcopy(order)
        return self.deliver(site, "order.updated", order) if deliver else []

    def order(self, site: str, order_id: int) -> dict:
        """The order as the site holds it (with the order_key place_order may have made up)."""
        with self._lock:
            return copy.deepcopy(self._site(site).orders[order_id])

    def create_customer(self, site: str, customer: dict, *, deliver: bool = True) -> list[requests.Response]:
        """Store the customer (samples.customer()) and deliver customer.created; the webhooks' answers are returned."""
        customer = copy.deepcopy(customer)
        customer.setdefault("date_created_gmt", _now())
        with self._lock:
            self._site(site).customers[int(customer["id"])] = customer
        return self.deliver(site, "customer.created", customer) if deliver else []

    def coupons(self, site: str) -> list[dict]:
        """The site's coupons as the REST API shows them, oldest first."""
        with self._lock:
            target = self._site(site)
            return [self._coupon_view(target, c) for c in sorted(target.coupons.values(), key=lambda c: c["id"])]

    def add_foreign_coupon(self, site: str, code: str, **fields) -> dict:
        """A coupon the merchant made by hand (no connector meta), e.g. to make a code collide."""
        with self._lock:
            target = self._site(site)
            coupon, error = self._save_coupon(target, None, {"code": code, "amount": "5", **fields})
            if error:
                raise ValueError(error["message"])
            return self._coupon_view(target, coupon)

    def coupon_applies(self, site: str, code: str, at: datetime | None = None) -> bool:
        """Whether a shopper could use `code` now (or `at`): it exists, is published and has not expired."""
        moment = at or datetime.now(timezone.utc)
        with self._lock:
            target = self._site(site)
            coupon = target.coupons.get(target.coupon_codes.get(code.lower(), 0))
            # WC_Discounts::validate_coupon_expiry_date: expired once now is past the expiry time
            return coupon is not None and coupon["status"] == "publish" and (
                coupon["date_expires"] is None or moment <= coupon["date_expires"])

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
                orders[order_id] = {**orders[order_id], "status": "trash", "date_modified_gmt": _now()}
        return self.deliver(site, "order.deleted", samples.deleted(order_id)) if deliver else []

    def deliver(self, site: str, topic: str, payload: dict) -> list[requests.Response]:
        """POST a signed delivery of `topic` to every active webhook of the site that has it."""
        body = samples.encode(payload)
        with self._lock:
            hooks = [dict(h) for h in self._site(site).webhooks.values() if h["topic"] == topic and h["status"] == "active"]
        answers = []
        for hook in hooks:
            # Like WooCommerce's wp_hash(id . time()): the same for one webhook within one second.
            delivery_id = hmac.new(self._hash_salt, f"{hook['id']}{int(time.time())}".encode(), hashlib.md5).hexdigest()
            headers = samples.headers(body, source=self.site_url(site) + "/", topic=topic, secret=hook["secret"],
                                      delivery_id=delivery_id, webhook_id=hook["id"])
            answers.append(requests.post(hook["delivery_url"], data=body, headers=headers, timeout=60,
                                         allow_redirects=False))
        return answers

    # --- the HTTP side ---------------------------------------------------------------------------

    def _app(self) -> Flask:
        app = Flask("standin_woocommerce")
        standin = self

        @app.before_request
        def _record():
            with standin._lock:
                standin.requests_seen.append((request.method, request.path))
                site, _, rest = request.path.lstrip("/").partition("/")
                planned = standin._sites[site].failures.get(rest[len(API_PREFIX):]) \
                    if site in standin._sites and rest.startswith(API_PREFIX) else None
                failure = planned.pop(0) if planned else None
            if failure:  # as a busy or broken host answers, before WordPress looks at the request
                status, retry_after = failure
                answer, _ = _error(status, "standin_planned_failure", f"planned failure {status}")
                if retry_after is not None:
                    answer.headers["Retry-After"] = str(retry_after)
                return answer, status

        @app.get("/<site>/wc-auth/v1/authorize")
        def authorize(site: str):
            return standin._authorize(standin._site(site))

        @app.route("/<site>/wp-json/wc/v3/webhooks", methods=["GET", "POST"])
        def webhooks(site: str):
            refused = standin._authenticate(standin._site(site), write=request.method == "POST")
            if refused:
                return refused
            if request.method == "POST":
                return standin._create_webhook(standin._site(site))
            # The secret is shown in the edit context only, as in WooCommerce's schema.
            edit = request.args.get("context") == "edit"
            return standin._list([h if edit else {k: v for k, v in h.items() if k != "secret"} for h in standin.webhooks(site)])

        @app.put("/<site>/wp-json/wc/v3/webhooks/<int:hook_id>")
        def webhook(site: str, hook_id: int):
            return standin._authenticate(standin._site(site), write=True) or standin._update_webhook(standin._site(site), hook_id)

        @app.get("/<site>/wp-json/wc/v3/orders")
        def orders(site: str):
            return standin._authenticate(standin._site(site), write=False) or standin._orders(standin._site(site))

        @app.get("/<site>/wp-json/wc/v3/orders/<int:order_id>")
        def one_order(site: str, order_id: int):
            target = standin._site(site)
            refused = standin._authenticate(target, write=False)
            if refused:
                return refused
            with standin._lock:
                found = copy.deepcopy(target.orders.get(order_id))
            if found is None:  # WC_REST_CRUD_Controller: the object does not load
                return _error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
            return jsonify(found)

        @app.route("/<site>/wp-json/wc/v3/coupons", methods=["GET", "POST"])
        def coupons(site: str):
            target = standin._site(site)
            refused = standin._authenticate(target, write=request.method == "POST")
            if refused:
                return refused
            return standin._create_coupon(target) if request.method == "POST" else standin._list_coupons(target)

        @app.route("/<site>/wp-json/wc/v3/coupons/batch", methods=["POST", "PUT", "PATCH"])
        def coupons_batch(site: str):
            target = standin._site(site)
            return standin._authenticate(target, write=True) or standin._coupon_batch(target)

        @app.get("/<site>/wp-json/wc/v3/data/currencies/current")
        def current_currency(site: str):
            target = standin._site(site)
            refused = standin._authenticate(target, write=False)
            if refused:
                return refused
            name, symbol = CURRENCIES.get(target.currency, (target.currency, target.currency))
            return jsonify(code=target.currency, name=name, symbol=symbol, _links={
                "self": [{"href": f"{standin.site_url(site)}/{API_PREFIX}data/currencies/{target.currency}"}],
                "collection": [{"href": f"{standin.site_url(site)}/{API_PREFIX}data/currencies"}]})

        return app

    def _authorize(self, site: _Site):
        args = request.args
        missing = [name for name in AUTH_PARAMS if not args.get(name)]
        if missing:
            return _page(400, f"Missing parameter {missing[0]}")
        if args["scope"] not in SCOPES:
            return _page(400, "Invalid scope")
        urls = {name: args[name] if "://" in args[name] else "https://" + args[name] for name in ("return_url", "callback_url")}
        bad = [name for name, url in urls.items() if not _web_url(url)]
        if bad:
            return _page(400, f"The {bad[0]} is not a valid URL")
        with self._lock:
            site.callback_urls.append(urls["callback_url"])
        consumer_key, consumer_secret = self.add_keys(site.name, args["scope"])
        payload = {"key_id": next(self._ids), "user_id": args["user_id"], "consumer_key": consumer_key,
                   "consumer_secret": consumer_secret, "key_permissions": args["scope"]}
        try:
            answer = requests.post(urls["callback_url"], data=json.dumps(payload), timeout=60, allow_redirects=False,
                                   headers={"Content-Type": "application/json;charset=UTF-8"})
            accepted = answer.status_code == 200
        except requests.RequestException:
            accepted = False
        if not accepted:  # WooCommerce deletes the keys the app did not take
            with self._lock:
                site.keys.pop(consumer_key, None)
            return _page(401, "An error occurred in the request and at the time were unable to send the consumer data")
        separator = "&" if "?" in urls["return_url"] else "?"
        return redirect(urls["return_url"] + separator + urlencode({"success": "1", "user_id": args["user_id"]}), 302)

    def _authenticate(self, site: _Site, *, write: bool):
        """None when the request carries valid keys of this site (with write permission if needed), else a 401."""
        args, basic = request.args, request.authorization
        if basic and basic.type == "basic":
            key, secret, oauth = basic.username or "", basic.password or "", False
        elif "consumer_key" in args:
            key, secret, oauth = args["consumer_key"], args.get("consumer_secret", ""), False
        elif "oauth_consumer_key" in args:
            key, secret, oauth = args["oauth_consumer_key"], "", True
        else:
            return _error(401, "woocommerce_rest_authentication_error", "Consumer key is missing.")
        if oauth:
            valid = self._oauth_valid(site, key)
        else:
            valid = key in site.keys and hmac.compare_digest(site.keys[key][0], secret)
        if not valid:
            return _error(401, "woocommerce_rest_authentication_error", "Consumer key or signature is invalid.")
        if site.keys[key][1] not in (("write", "read_write") if write else ("read", "read_write")):
            return _error(401, "woocommerce_rest_authentication_error", "The API key provided does not have the permission.")
        return None

    def _oauth_valid(self, site: _Site, key: str) -> bool:
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
        with self._lock:  # a replayed request is refused, as WooCommerce does
            if nonce in self._nonces:
                return False
            self._nonces.add(nonce)
        return True

    @staticmethod
    def _list(items: list[dict]):
        """One page of a collection, with WooCommerce's X-WP-Total headers."""
        try:
            page, per_page = int(request.args.get("page", 1)), int(request.args.get("per_page", 10))
        except ValueError:
            return _error(400, "rest_invalid_param", "Invalid parameter(s): page, per_page")
        if page < 1 or not 1 <= per_page <= 100:
            return _error(400, "rest_invalid_param", "Invalid parameter(s): page, per_page")
        chosen = items[(page - 1) * per_page: page * per_page]
        answer = jsonify(chosen)
        answer.headers["X-WP-Total"] = str(len(items))
        answer.headers["X-WP-TotalPages"] = str(-(-len(items) // per_page))
        return answer

    def _create_webhook(self, site: _Site):
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return _error(400, "rest_invalid_json", "The JSON body passed is not valid.")
        hook = {"id": next(self._ids), "name": data.get("name") or f"Webhook created on {_now()}", "status": "active",
                "secret": data.get("secret") or secrets.token_urlsafe(24), "date_created_gmt": _now()}
        refused = self._apply(hook, {**data, "status": data.get("status") or "active"}, required=True)
        if refused:
            return refused
        with self._lock:
            site.webhooks[hook["id"]] = hook
        try:  # the ping: a form body, no X-WC headers, no signature
            ping = requests.post(hook["delivery_url"], data=samples.ping(hook["id"]), timeout=60, allow_redirects=False,
                                 headers={"User-Agent": HOOKSHOT, "Content-Type": "application/x-www-form-urlencoded"})
            problem = None if ping.status_code == 200 else f"Error: Delivery URL returned response code: {ping.status_code}"
        except requests.RequestException as exc:
            problem = f"Error: Delivery URL cannot be reached: {exc}"
        if problem:
            with self._lock:
                del site.webhooks[hook["id"]]
            return _error(400, "woocommerce_rest_webhook_ping_failed", problem)
        return jsonify(hook), 201

    def _update_webhook(self, site: _Site, hook_id: int):
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return _error(400, "rest_invalid_json", "The JSON body passed is not valid.")
        with self._lock:
            hook = site.webhooks.get(hook_id)
            if hook is None:
                return _error(400, "woocommerce_rest_shop_webhook_invalid_id", "ID is invalid.")
            changed = dict(hook)
            refused = self._apply(changed, data, required=False)
            if refused:
                return refused
            hook.update(changed)
            return jsonify(copy.deepcopy(hook))

    @staticmethod
    def _apply(hook: dict, data: dict, *, required: bool):
        """Copy the webhook fields of a create or update request onto `hook`; an error answer if one is invalid."""
        topic = str(data.get("topic") or "").lower()
        resource, _, event = topic.partition(".")
        if topic or required:
            if not (resource in RESOURCES and event in EVENTS) and not topic.startswith("action."):
                return _error(400, "woocommerce_rest_shop_webhook_invalid_topic", "Webhook topic is required and must be valid.")
            hook.update(topic=topic, resource=resource, event=event)
        if data.get("delivery_url") or required:
            if not _web_url(str(data.get("delivery_url") or "")):
                return _error(400, "woocommerce_rest_shop_webhook_invalid_delivery_url",
                              "Webhook delivery URL must be a valid URL starting with http:// or https://.")
            hook["delivery_url"] = data["delivery_url"]
        if data.get("status"):
            if data["status"] not in WEBHOOK_STATUSES:
                return _error(400, "woocommerce_rest_shop_webhook_invalid_status", "Webhook status must be valid.")
            hook["status"] = data["status"]
        for field in ("secret", "name"):
            if data.get(field):
                hook[field] = str(data[field])
        return None

    def _orders(self, site: _Site):
        after = request.args.get("modified_after")
        try:
            since = datetime.fromisoformat(after).replace(tzinfo=None) if after else None
        except ValueError:
            return _error(400, "rest_invalid_param", "Invalid parameter(s): modified_after")
        key = "date_modified_gmt" if request.args.get("orderby") == "modified" else "date_created_gmt"
        with self._lock:
            # status=any, WooCommerce's default for the list, leaves trashed orders out
            found = [copy.deepcopy(o) for o in site.orders.values() if o.get("status") != "trash"
                     and (since is None or datetime.fromisoformat(o["date_modified_gmt"]) > since)]
        found.sort(key=lambda o: (o.get(key) or "", o["id"]), reverse=request.args.get("order", "desc") == "desc")
        return self._list(found)

    # --- coupons ---------------------------------------------------------------------------------

    def _list_coupons(self, site: _Site):
        code = request.args.get("code")
        with self._lock:
            if code:  # wc_get_coupon_id_by_code: the published coupon with that code, if any
                chosen = [site.coupons[i] for i in [site.coupon_codes.get(code.strip().lower())] if i in site.coupons]
            else:
                chosen = list(site.coupons.values())
            views = [self._coupon_view(site, c) for c in sorted(chosen, key=lambda c: c["id"], reverse=True)]
        return self._list(views)

    def _create_coupon(self, site: _Site):
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return _error(400, "rest_invalid_json", "The JSON body passed is not valid.")
        with self._lock:
            coupon, error = self._save_coupon(site, None, data)
            if error:
                return jsonify(error), error["data"]["status"]
            return jsonify(self._coupon_view(site, coupon)), 201

    def _coupon_batch(self, site: _Site):
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return _error(400, "rest_invalid_json", "The JSON body passed is not valid.")
        parts = {key: data.get(key) or [] for key in ("create", "update", "delete")}
        if not all(isinstance(items, list) for items in parts.values()):
            return _error(400, "rest_invalid_param", "Invalid parameter(s): create, update, delete")
        if sum(len(items) for items in parts.values()) > BATCH_LIMIT:
            return _error(413, "woocommerce_rest_request_entity_too_large",
                          f"Unable to accept more than {BATCH_LIMIT} items for this request.")
        answer: dict[str, list] = {}
        with self._lock:
            for item in parts["create"]:
                coupon, error = self._save_coupon(site, None, item if isinstance(item, dict) else {})
                answer.setdefault("create", []).append(
                    {"id": 0, "error": error} if error else self._coupon_view(site, coupon))
            for item in parts["update"]:
                item = item if isinstance(item, dict) else {}
                coupon_id = _int(item.get("id"))
                if coupon_id not in site.coupons:
                    error = _item_error("woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.")
                else:
                    coupon, error = self._save_coupon(site, coupon_id, item)
                answer.setdefault("update", []).append(
                    {"id": item.get("id"), "error": error} if error else self._coupon_view(site, coupon))
            for raw_id in parts["delete"]:
                coupon_id = _int(raw_id)
                if not coupon_id:
                    continue  # WooCommerce skips ids that are not numbers
                coupon = site.coupons.pop(coupon_id, None)  # batch deletes always force
                if coupon is None:
                    answer.setdefault("delete", []).append(
                        {"id": coupon_id, "error": _item_error("woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.", 404)})
                    continue
                site.coupon_codes.pop(coupon["code"], None)
                answer.setdefault("delete", []).append(self._coupon_view(site, coupon))
        return jsonify(answer) if answer else jsonify([])  # PHP encodes an empty answer as []

    def _save_coupon(self, site: _Site, coupon_id: int | None, data: dict) -> tuple[dict | None, dict | None]:
        """Create (no id) or update a coupon from a request's fields, as WooCommerce does: (coupon, None) or (None, error)."""
        creating = coupon_id is None
        if creating and not data.get("code"):
            return None, _item_error("woocommerce_rest_empty_coupon_code", "The coupon code cannot be empty.")
        coupon = copy.deepcopy(site.coupons[coupon_id]) if not creating else {
            "id": None, "code": "", "amount": Decimal(0), "status": "publish", "date_created_gmt": _now(),
            "discount_type": "fixed_cart", "description": "", "date_expires": None, "usage_count": 0,
            "individual_use": False, "usage_limit": 0, "usage_limit_per_user": 0, "free_shipping": False,
            "minimum_amount": "", "maximum_amount": "", "email_restrictions": [], "meta_data": []}
        if data.get("code") is not None:
            code = str(data["code"]).strip().lower()  # the woocommerce_coupon_code filter: wc_strtolower
            holder = site.coupon_codes.get(code)
            if holder is not None and holder != coupon_id:
                return None, _item_error("woocommerce_rest_coupon_code_already_exists", "The coupon code already exists")
            coupon["code"] = code
        if data.get("discount_type") is not None:
            if data["discount_type"] not in DISCOUNT_TYPES:
                return None, _item_error("coupon_invalid_discount_type", "Invalid discount type.")
            coupon["discount_type"] = data["discount_type"]
        if data.get("amount") is not None:
            try:
                amount = Decimal(str(data["amount"]))
            except InvalidOperation:
                amount = Decimal(0)  # set_amount: not numeric → 0
            if not amount.is_finite() or amount < 0 or (coupon["discount_type"] == "percent" and amount > 100):
                return None, _item_error("coupon_invalid_amount", "Invalid discount amount.")
            coupon["amount"] = amount
        if "date_expires" in data and data["date_expires"] is not None:  # a null is skipped, "" clears
            expires, ok = _expiry(data["date_expires"], site.utc_offset)
            if not ok:
                return None, _item_error("coupon_invalid_date_expires", "Invalid expiry date.")
            coupon["date_expires"] = expires
        for field in ("usage_limit", "usage_limit_per_user"):
            if data.get(field) is not None:
                coupon[field] = abs(_int(data[field]) or 0)  # absint
        for field in ("individual_use", "free_shipping"):
            if data.get(field) is not None:
                coupon[field] = bool(data[field])
        for field in ("description", "status"):
            if data.get(field) is not None:
                coupon[field] = str(data[field])
        for row in data.get("meta_data") or []:
            if isinstance(row, dict) and isinstance(row.get("key"), str):
                same = [m for m in coupon["meta_data"] if m["key"] == row["key"]]  # update_meta_data replaces
                if same:
                    same[0]["value"] = row.get("value")
                else:
                    coupon["meta_data"].append({"id": next(self._ids), "key": row["key"], "value": row.get("value")})
        if creating:
            coupon["id"] = next(self._ids)
        else:
            site.coupon_codes.pop(site.coupons[coupon_id]["code"], None)
        coupon["date_modified_gmt"] = _now()
        site.coupons[coupon["id"]] = coupon
        if coupon["status"] == "publish":
            site.coupon_codes[coupon["code"]] = coupon["id"]
        return coupon, None

    @staticmethod
    def _coupon_view(site: _Site, coupon: dict) -> dict:
        """A stored coupon as the REST API shows it (WC_REST_Coupons_V2_Controller::get_formatted_item_data)."""
        offset = site.utc_offset
        created = datetime.fromisoformat(coupon["date_created_gmt"])
        modified = datetime.fromisoformat(coupon["date_modified_gmt"])
        expires = coupon["date_expires"].replace(tzinfo=None) if coupon["date_expires"] else None
        return {
            "id": coupon["id"], "code": coupon["code"], "amount": f"{coupon['amount']:.2f}", "status": coupon["status"],
            "date_created": _wc_time(created, offset), "date_created_gmt": _wc_time(created),
            "date_modified": _wc_time(modified, offset), "date_modified_gmt": _wc_time(modified),
            "discount_type": coupon["discount_type"], "description": coupon["description"],
            "date_expires": _wc_time(expires, offset), "date_expires_gmt": _wc_time(expires),
            "usage_count": coupon["usage_count"], "individual_use": coupon["individual_use"],
            "product_ids": [], "excluded_product_ids": [],
            "usage_limit": coupon["usage_limit"] or None, "usage_limit_per_user": coupon["usage_limit_per_user"] or None,
            "limit_usage_to_x_items": None, "free_shipping": coupon["free_shipping"], "product_categories": [],
            "excluded_product_categories": [], "exclude_sale_items": False,
            "minimum_amount": "0.00", "maximum_amount": "0.00", "email_restrictions": [], "used_by": [],
            "meta_data": copy.deepcopy(coupon["meta_data"]),
        }


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _expiry(value, utc_offset: timedelta) -> tuple[datetime | None, bool]:
    """WC_Data::set_date_prop: empty clears; a number is a UTC timestamp; a time without offset is site time."""
    if value in ("", 0, "0", False):
        return None, True
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(int(value), timezone.utc), True
    match = WC_DATE.fullmatch(str(value))
    if not match:
        return None, False
    zone = match.group(7)
    if zone is None:
        tz = timezone(utc_offset)
    elif zone == "Z":
        tz = timezone.utc
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        local = datetime(*(int(match.group(i)) for i in range(1, 7)), tzinfo=tz)
    except ValueError:
        return None, False
    return local.astimezone(timezone.utc), True
