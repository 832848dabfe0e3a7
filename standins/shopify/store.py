"""A local Shopify for the end-to-end tests and `connector demo`: OAuth, the GraphQL Admin API, webhooks.

It plays many shops at once, each under `/<shop>/…` and created on first use, so the connector's
SHOPIFY_ADMIN_URL can be `admin_url` (`http://127.0.0.1:<port>/{shop}`). It follows PLATFORMS.md A1,
A2, A3 and A6: the callback's query HMAC, code grants, expiring offline tokens with rotating refresh
tokens, token exchange of session tokens (standins/shopify/oauth.py), `X-Shopify-Access-Token`, the cost
extension and THROTTLED (graphql_api.py), code discounts in bulk and the web pixel (discounts.py), with the
scope each needs, and webhooks signed with the app secret. Its HMACs are computed here, not with the
connector's helpers, so a test that verifies them checks the connector against an independent signer.
Dispatch is by root field on the parsed document; answers are cut to the document's selection
(documents.py). Switches (`refuse_refresh`, `throttle_next`, `set_token_lifetime`, an injected `clock`)
let tests play the awkward cases; `set_journey`, `start_subscription` / `renew` and `edit_order` play the
shopper's visits, subscription contracts with their renewals, and order edits; `calls` records every
request, `graphql_counts` counts them by root field, and `codes`, `discounts`, `pixel` show what the shop holds.

This module is the stand-in tests hold: its lifecycle, the webhooks it sends, and what tests arrange and
look at; what it holds is in shops.py.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import secrets
import threading
import time
import tomllib
import uuid
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import urlencode, urljoin, urlsplit

import jwt
import requests
from flask import Flask, Response, redirect
from werkzeug.serving import WSGIRequestHandler, make_server

from standins.shopify import bulk, edits
from standins.shopify.discounts import active, declared_pixel_fields
from standins.shopify.graphql_api import GraphQL
from standins.shopify.oauth import OAuth, query_hmac
from standins.shopify.samples import encode, order_status_url, uninstalled
from standins.shopify.shop_data import TOPICS, parse_time
from standins.shopify.shops import Shops, Token

__all__ = ["StandinShopify", "query_hmac", "webhook_signature"]

DEFAULT_SCOPE = "read_orders,read_customers,write_discounts,write_pixels,read_customer_events"


def webhook_signature(body: bytes, secret: str) -> str:
    """PLATFORMS.md A3: base64 of HMAC-SHA256 over the raw body with the app secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class _QuietHandler(WSGIRequestHandler):
    def log(self, *_args) -> None:  # the demo prints its own story
        pass


class StandinShopify:
    api_version = "2026-10"

    def __init__(self, api_key: str, api_secret: str, *, token_lifetime: int = 3600,
                 refresh_token_lifetime: int = 7776000, scope: str = DEFAULT_SCOPE,
                 clock: Callable[[], float] = time.time, pixel_fields: dict[str, bool] | None = None):
        self.api_key, self.api_secret, self.scope, self.clock = api_key, api_secret, scope, clock
        #: the web pixel settings Shopify would accept: the extension's declared fields unless given
        self.pixel_fields = pixel_fields if pixel_fields is not None else declared_pixel_fields()
        self._shops = Shops(clock, self.pixel_fields)
        self._lock = self._shops.lock
        #: every request received, oldest first
        self.calls = self._shops.calls
        self._oauth = OAuth(self._shops, api_key, api_secret, scope=scope, token_lifetime=token_lifetime,
                            refresh_token_lifetime=refresh_token_lifetime)
        self._graphql = GraphQL(self._shops)
        #: the app configuration's subscriptions (`deploy_app_config`): (topics, uri), for every shop
        self.app_subscriptions: list[tuple[frozenset[str], str]] = []
        #: where the admin opens the app (shopify.app.toml's application_url, once deployed)
        self.application_url: str | None = None
        self._server = make_server("127.0.0.1", 0, self._app(), threaded=True, request_handler=_QuietHandler)
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def admin_url(self) -> str:
        """What SHOPIFY_ADMIN_URL takes: `{shop}` is left for the connector to fill in."""
        return f"http://127.0.0.1:{self._server.server_port}/{{shop}}"

    def start(self) -> "StandinShopify":
        # A short poll so stop() returns at once: tests start and stop one stand-in each.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="standin-shopify", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "StandinShopify":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    def _app(self) -> Flask:
        app = Flask("standin_shopify")
        app.add_url_rule("/<shop>/admin/oauth/authorize", view_func=self._oauth.authorize, methods=["GET"])
        app.add_url_rule("/<shop>/admin/oauth/access_token", view_func=self._oauth.access_token, methods=["POST"])
        app.add_url_rule("/<shop>/admin/api/<version>/graphql.json", view_func=self._graphql.answer, methods=["POST"])
        app.add_url_rule("/<shop>/admin/apps/<api_key>", view_func=self._open_app, methods=["GET"])
        bulk.add_file_route(app, self._shops)  # bulk operations' JSONL files (bulk.py)
        return app

    def _open_app(self, shop: str, api_key: str):
        """What the admin does when the merchant opens the app: load its application_url (embedded, in an iframe
        there) with the shop and a fresh session token, as Shopify does on every load."""
        if api_key != self.api_key or self.application_url is None:
            return Response("No such app in this admin (deploy its configuration first)", status=404)
        query = urlencode({"embedded": "1", "shop": shop, "host": base64.urlsafe_b64encode(
            f"admin.shopify.com/store/{shop.split('.')[0]}".encode()).decode().rstrip("="),
            "id_token": self.session_token(shop)})
        return redirect(f"{self.application_url}?{query}")

    # --- webhooks --------------------------------------------------------------------------------

    def place_order(self, shop: str, order: dict, *, topics=("orders/create", "orders/paid"),
                    deliver: bool = True) -> list[tuple[int | None, Any]]:
        """Keep a REST-shaped order (updated now) for the `orders` query; deliver each topic's webhook.

        An order without a `checkout_token` gets one, as every online checkout's order has:
        `checkout_token(shop, order_id)` reads it (the web pixel reports the same token).
        """
        order = copy.deepcopy(order)
        order["updated_at"] = self._shops.now()
        order.setdefault("checkout_token", secrets.token_hex(16))
        # A renewal has no checkout (its token is null); its status page has a token all the same.
        order["order_status_url"] = order_status_url(shop, order["checkout_token"] or secrets.token_hex(16))
        state = self._shops.get(shop)
        with self._lock:
            state.data.orders[str(order["id"])] = order
        answers: list[tuple[int | None, Any]] = []
        for topic in topics if deliver else ():
            answers += self.send_webhook(shop, topic, order)
        return answers

    # --- journeys, subscriptions and order edits (journeys.py, subscriptions.py, edits.py) -----------

    def set_journey(self, shop: str, order_id: int | str, summary: dict | None) -> None:
        """What Order.customerJourneySummary answers for the order (journeys.summary and visit make one)."""
        with self._lock:
            self._shops.get(shop).data.journeys[str(order_id)] = copy.deepcopy(summary)

    def start_subscription(self, shop: str, order: dict, *, own: bool = True, origin: bool = True,
                           topics=("orders/create", "orders/paid")) -> str:
        """Place `order` as bought with a selling plan on every line, starting a contract; the contract's number.

        `own=False` makes it another subscription app's contract, the normal case (the connector is no subscription
        app, so Shopify hides the contract from it); `origin=False` one without an originOrder.
        """
        self.place_order(shop, order, topics=())
        with self._lock:
            data = self._shops.get(shop).data
            number = str(90000 + self._shops.new_id())
            data.contracts.start(data.orders[str(order["id"])], number, plan_id=70000 + self._shops.new_id(),
                                     own=own, origin=origin)
        for topic in topics:
            self.send_webhook(shop, topic, self._stored(shop, order["id"]))
        return number

    def renew(self, shop: str, contract: str, order_id: int, *, source_name: str = "subscription_contract",
              tags: str = "", topics=("orders/create", "orders/paid")) -> list[tuple[int | None, Any]]:
        """One billing of the contract: a new order of its lines, as Shopify's subscription billing makes it."""
        with self._lock:
            data = self._shops.get(shop).data
            renewal = data.contracts.renewal(data.contracts.contracts[contract], order_id, self._shops.new_id,
                                                 now=self._shops.now(), source_name=source_name, tags=tags)
        return self.place_order(shop, renewal, topics=topics)

    def edit_order(self, shop: str, order_id: int | str, *, quantities: dict | None = None, add: tuple = (),
                   topics=("orders/updated",)) -> list[tuple[int | None, Any]]:
        """Commit an order edit (units removed per line id, lines added), then send orders/updated with the order."""
        with self._lock:
            order = self._shops.get(shop).data.orders[str(order_id)]
            for line_id, units in (quantities or {}).items():
                edits.set_quantity(order, line_id, units)
            for line in add:
                edits.add_line(order, line)
            order["updated_at"] = self._shops.now()
        return [answer for topic in topics for answer in self.send_webhook(shop, topic, self._stored(shop, order_id))]

    def order(self, shop: str, order_id: int | str) -> dict:
        """The REST order as the shop holds it now: what its next webhook would carry."""
        return self._stored(shop, order_id)

    def _stored(self, shop: str, order_id: int | str) -> dict:
        with self._lock:
            return copy.deepcopy(self._shops.get(shop).data.orders[str(order_id)])

    def send_webhook(self, shop: str, topic: str, body: dict, uri: str | None = None) -> list[tuple[int | None, Any]]:
        """POST `body` as Shopify would to `uri`, or to every subscription of `topic`: [(status, json)].

        The status is None when the receiver could not be reached. Compliance topics
        (customers/redact …) are not subscriptions: give their `uri`.
        """
        if topic == "customers/create" and isinstance(body, dict):
            self.add_customer(shop, body)
        if topic.startswith("orders/") and isinstance(body, dict):
            # Shopify builds an order's status page from the shop: the connector checks that it is this one.
            body = {**body, "order_status_url": order_status_url(shop, str(body.get("checkout_token") or "token"))}
        raw = encode(body)
        with self._lock:
            # Shop-specific subscriptions and the app's configuration are separate: a topic in both goes twice.
            uris = [uri] if uri else [s["uri"] for s in self._shops.get(shop).data.subscriptions
                                      if TOPICS.get(s["topic"]) == topic]
            uris += [] if uri else [target for topics, target in self.app_subscriptions if topic in topics]
        event_id = str(uuid.uuid4())  # one merchant action, shared by every delivery of it
        return [self._deliver(shop, topic, raw, target, event_id) for target in uris]

    def _deliver(self, shop: str, topic: str, raw: bytes, uri: str, event_id: str) -> tuple[int | None, Any]:
        headers = {
            "Content-Type": "application/json", "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": webhook_signature(raw, self.api_secret), "X-Shopify-Shop-Domain": shop,
            "X-Shopify-API-Version": self.api_version, "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": event_id,
            # Shopify's own carries nanoseconds: an uninstall a moment after an install must sort after it.
            "X-Shopify-Triggered-At": datetime.fromtimestamp(self.clock(), timezone.utc).isoformat(),
        }
        try:  # Shopify's limits: 1 s to connect, 5 s in all
            answer = requests.post(uri, data=raw, headers=headers, timeout=(1, 5))
        except requests.RequestException:
            return None, None
        try:
            return answer.status_code, answer.json()
        except ValueError:
            return answer.status_code, None

    def deploy_app_config(self, toml_text: str) -> None:
        """What `shopify app deploy` does with shopify.app.toml's [[webhooks.subscriptions]]: from now on every
        shop's deliveries of those topics go to their uri (compliance topics are sent by the test with their uri)."""
        config = tomllib.loads(toml_text)
        base = config.get("application_url", "")
        self.application_url = base or None
        subscriptions = []
        for entry in config.get("webhooks", {}).get("subscriptions", []):
            target = entry["uri"] if "://" in entry["uri"] else urljoin(base, entry["uri"])
            if entry.get("topics"):
                subscriptions.append((frozenset(entry["topics"]), target))
        with self._lock:
            self.app_subscriptions = subscriptions

    # --- switches and assertions for tests -------------------------------------------------------

    def set_protected_data_access(self, shop: str, approved: bool) -> None:
        """Whether the app has protected customer data access (Partner Dashboard): without it Shopify refuses
        to subscribe it to order and customer topics."""
        with self._lock:
            self._shops.get(shop).data.protected_data_approved = approved

    def refuse_refresh(self, shop: str, refuse: bool = True) -> None:
        with self._lock:
            self._shops.get(shop).refuse_refresh = refuse

    def set_token_lifetime(self, seconds: int) -> None:
        """Lifetime of access tokens issued from now on (tokens already issued keep theirs)."""
        self._oauth.token_lifetime = seconds

    def throttle_next(self, shop: str, n: int) -> None:
        with self._lock:
            self._shops.get(shop).throttled = n

    def add_customer(self, shop: str, customer: dict) -> None:
        """A customer of the shop (what `customer(id:)` finds); customers/create sent through here adds one."""
        with self._lock:
            self._shops.get(shop).data.customers[str(customer["id"])] = copy.deepcopy(customer)

    def grant_token(self, shop: str, token: str) -> None:
        """Accept `token` for the shop from now on, as a custom app's non-expiring Admin API token."""
        with self._lock:
            self._shops.get(shop).access[token] = Token(self.scope, None)

    def uninstall(self, shop: str) -> list[tuple[int | None, Any]]:
        """What the merchant's uninstall does: the app's tokens stop working, then app/uninstalled is sent."""
        self.revoke_tokens(shop)
        return self.send_webhook(shop, "app/uninstalled", uninstalled(shop))

    def revoke_tokens(self, shop: str) -> None:
        """What an uninstall does: every token of the shop stops working."""
        with self._lock:
            state = self._shops.get(shop)
            state.access.clear()
            state.refresh.clear()

    def access_tokens(self, shop: str) -> list[str]:
        """Access tokens that work now, oldest first."""
        with self._lock:
            now = self.clock()
            return [t for t, g in self._shops.get(shop).access.items() if g.expires_at is None or now < g.expires_at]

    def refresh_tokens(self, shop: str) -> list[str]:
        """Refresh tokens that would be accepted now, oldest first."""
        with self._lock:
            now = self.clock()
            return [t for t, g in self._shops.get(shop).refresh.items() if now < g.expires_at]

    def subscriptions(self, shop: str) -> list[dict]:
        with self._lock:
            return [dict(s) for s in self._shops.get(shop).data.subscriptions]

    def add_subscription(self, shop: str, topic: str, uri: str) -> None:
        """A shop-specific subscription made outside the connector (an older version of the app, say)."""
        with self._lock:
            self._shops.get(shop).data.resolve("webhookSubscriptionCreate", {
                "topic": topic, "webhookSubscription": {"uri": uri}}, now=self._shops.now(), new_id=self._shops.new_id)

    def remove_subscription(self, shop: str, topic: str) -> None:
        """What Shopify does to a subscription whose deliveries kept failing, or a merchant's removal."""
        with self._lock:
            data = self._shops.get(shop).data
            data.subscriptions = [s for s in data.subscriptions if s["topic"] != topic]

    def move_subscription(self, shop: str, topic: str, uri: str) -> None:
        """Point the shop's subscriptions to `topic` at `uri`: what an older deployment's address leaves behind."""
        with self._lock:
            for subscription in self._shops.get(shop).data.subscriptions:
                if subscription["topic"] == topic:
                    subscription.update(uri=uri, callbackUrl=uri)

    def checkout_token(self, shop: str, order_id: int | str) -> str | None:
        """The checkout token of an order placed with place_order."""
        with self._lock:
            order = self._shops.get(shop).data.orders.get(str(order_id))
            return order.get("checkout_token") if order else None

    def graphql_counts(self, shop: str | None = None) -> Counter:
        """GraphQL requests by (first) root field, for one shop or all: what the connector's calls cost."""
        with self._lock:
            return Counter(c.detail for c in self.calls if c.kind == "graphql" and (shop is None or c.shop == shop))

    def codes(self, shop: str) -> dict[str, dict]:
        """The shop's redeem codes by lower-cased code: id, code (as kept), discount_id, active (its schedule)."""
        with self._lock:
            data = self._shops.get(shop).data.discounts
            now = datetime.fromtimestamp(self.clock(), timezone.utc)
            return {key: {**code, "active": active(data.discounts[code["discount_id"]], now, parse_time)}
                    for key, code in data.codes.items()}

    def discounts(self, shop: str) -> dict[str, dict]:
        """The shop's code discounts by id: title, schedule, limits, the input they were made with, their codes."""
        with self._lock:
            return {gid: {**{k: v for k, v in d.items() if k != "codes"}, "codes": [c["code"] for c in d["codes"]]}
                    for gid, d in self._shops.get(shop).data.discounts.discounts.items()}

    def add_foreign_code(self, shop: str, code: str, title: str = "Summer sale") -> str:
        """A code someone else made (the merchant, another app), for collision tests; the discount's id."""
        with self._lock:
            discounts = self._shops.get(shop).data.discounts
            return discounts.add_foreign_discount(code, title, self._shops.now(), self._shops.new_id)

    def set_bulk_polls(self, shop: str, polls: int) -> None:
        """How many reads find a bulk creation still running before it finishes (default 1)."""
        with self._lock:
            self._shops.get(shop).data.discounts.polls_before_done = polls

    def pixel(self, shop: str) -> dict | None:
        """The app's web pixel in the shop: its id and settings (parsed), or None."""
        with self._lock:
            found = self._shops.get(shop).data.discounts.pixel
            return None if found is None else {"id": found["id"], "settings": json.loads(found["settings"])}

    def set_shop_details(self, shop: str, *, url: str | None = None, currency: str | None = None) -> None:
        """What `shop { primaryDomain { url } currencyCode }` answers."""
        with self._lock:
            details = self._shops.get(shop).data.details
            if url is not None:
                details["primaryDomain"] = {"url": url, "host": urlsplit(url).hostname}
            if currency is not None:
                details["currencyCode"] = currency

    def session_token(self, shop: str, *, secret: str | None = None, audience: str | None = None,
                      lifetime: int = 60, algorithm: str = "HS256", issuer_shop: str | None = None,
                      dest_shop: str | None = None, now: float | None = None) -> str:
        """A session token as App Bridge mints it (PLATFORMS.md A2); every part can be made wrong."""
        now = self.clock() if now is None else now
        claims = {"iss": f"https://{issuer_shop or shop}/admin", "dest": f"https://{dest_shop or shop}",
                  "aud": audience or self.api_key, "sub": "42", "exp": int(now + lifetime), "nbf": int(now),
                  "iat": int(now), "jti": str(uuid.uuid4()), "sid": secrets.token_hex(16)}
        if algorithm == "none":
            return jwt.encode(claims, None, algorithm="none")
        return jwt.encode(claims, secret or self.api_secret, algorithm=algorithm)
