"""A local stand-in for WooCommerce stores, for `connector demo` and the end-to-end tests.

One HTTP server on 127.0.0.1 plays any number of sites, each under its own path prefix
(`http://127.0.0.1:<port>/<site>`, created on first use). It does what the connector relies on, the way
WooCommerce does it (PLATFORMS.md B1-B3): the wc-auth app authorisation (auto-approved, as if a shop
manager were logged in), the REST API v3 `webhooks` and `orders` endpoints with Basic, query-string or
one-legged OAuth 1.0a authentication, the ping sent when a webhook is created, and signed webhook
deliveries of the orders a test places, changes or deletes. Unlike WooCommerce it accepts a plain-http
callback_url (it is recorded so tests can look), and it refuses to create a webhook whose ping is not
answered 200 (WooCommerce shows the error but keeps the webhook).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
from datetime import datetime, timezone
from urllib.parse import quote, urlencode, urlsplit

import requests
from flask import Flask, Response, jsonify, redirect, request
from markupsafe import escape
from werkzeug.serving import WSGIRequestHandler, make_server

from . import samples

AUTH_PARAMS = ("app_name", "scope", "user_id", "return_url", "callback_url")
SCOPES = ("read", "write", "read_write")
RESOURCES = ("coupon", "customer", "order", "product")
EVENTS = ("created", "updated", "deleted", "restored")
WEBHOOK_STATUSES = ("active", "paused", "disabled")
OAUTH_ALGORITHMS = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}
OAUTH_WINDOW = 15 * 60  # WooCommerce refuses OAuth timestamps older than 15 minutes
HOOKSHOT = f"WooCommerce/{samples.WOOCOMMERCE_VERSION} Hookshot (WordPress/{samples.WORDPRESS_VERSION})"


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


class _Site:
    def __init__(self, name: str):
        self.name = name
        self.keys: dict[str, tuple[str, str]] = {}  # consumer key → (consumer secret, permissions)
        self.callback_urls: list[str] = []
        self.webhooks: dict[int, dict] = {}
        self.orders: dict[int, dict] = {}


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
        """Store the order and deliver order.created to the site's webhooks; their answers are returned."""
        order = copy.deepcopy(order)
        order.setdefault("date_modified_gmt", _now())
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

    def delete_order(self, site: str, order_id: int, *, deliver: bool = True) -> list[requests.Response]:
        with self._lock:
            del self._site(site).orders[order_id]
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
            found = [copy.deepcopy(o) for o in site.orders.values()
                     if since is None or datetime.fromisoformat(o["date_modified_gmt"]) > since]
        found.sort(key=lambda o: (o.get(key) or "", o["id"]), reverse=request.args.get("order", "desc") == "desc")
        return self._list(found)
