"""A local Shopify for the end-to-end tests and `connector demo`: OAuth, the GraphQL Admin API, webhooks.

It plays many shops at once, each under `/<shop>/…` and created on first use, so the connector's
SHOPIFY_ADMIN_URL can be `admin_url` (`http://127.0.0.1:<port>/{shop}`). It follows PLATFORMS.md A1,
A2, A3 and A6: the callback's query HMAC, code grants, expiring offline tokens with rotating refresh
tokens, token exchange of session tokens, `X-Shopify-Access-Token`, the cost extension and THROTTLED,
code discounts in bulk and the web pixel (standins/shopify/discounts.py), with the scope each
needs, and webhooks signed with the app secret. Its HMACs are computed here, not with the connector's
helpers, so a test that verifies them checks the connector against an independent signer.
Dispatch is by root field on the parsed document; answers are cut to the document's selection
(standins/shopify/graphql_api.py). Switches (`refuse_refresh`, `throttle_next`, `set_token_lifetime`,
an injected `clock`) let tests play the awkward cases; `calls` records every request, `graphql_counts`
counts them by root field, and `codes`, `discounts`, `pixel` show what the shop holds.
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
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit

import graphql
import jwt
import requests
from flask import Flask, Response, abort, redirect, request
from werkzeug.serving import WSGIRequestHandler, make_server

from standins.shopify import graphql_api as shapes
from standins.shopify.samples import encode, order_status_url, uninstalled
from standins.shopify.discounts import DiscountData, FieldError, active, declared_pixel_fields
from standins.shopify.graphql_api import BUCKET, RESTORE_RATE, TOPICS, ShopData

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
OFFLINE_TOKEN = "urn:shopify:params:oauth:token-type:offline-access-token"
SHOP = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
SESSION_TOKEN_LEEWAY = 10  # seconds, as Shopify's libraries allow
DEFAULT_SCOPE = "read_orders,read_customers,write_discounts,write_pixels,read_customer_events"


def query_hmac(params: Mapping[str, str], secret: str) -> str:
    """PLATFORMS.md A1.2: the other params sorted, joined `k=v&k=v` (raw values), HMAC-SHA256, lowercase hex."""
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in ("hmac", "signature"))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def webhook_signature(body: bytes, secret: str) -> str:
    """PLATFORMS.md A3: base64 of HMAC-SHA256 over the raw body with the app secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class Call:
    """One request the stand-in received."""

    shop: str
    kind: str  #: authorize, token or graphql
    detail: str | None  #: the grant type (authorization_code, refresh_token, the token-exchange URN) or root field
    token: str | None  #: what was presented: the code, refresh token, session token or access token


@dataclass
class _Token:
    scope: str
    expires_at: float | None
    parent: str | None = None  #: a refresh token's predecessor, which stops working once this one is used


@dataclass
class _Shop:
    data: ShopData  #: subscriptions and orders
    restored_at: float  #: when the cost bucket was last topped up
    codes: dict[str, str] = field(default_factory=dict)
    access: dict[str, _Token] = field(default_factory=dict)
    refresh: dict[str, _Token] = field(default_factory=dict)
    throttled: int = 0
    refuse_refresh: bool = False
    available: float = BUCKET


class _QuietHandler(WSGIRequestHandler):
    def log(self, *_args) -> None:  # the demo prints its own story
        pass


def _oauth_error(error: str, description: str | None = None, status: int = 400) -> Response:
    body = {"error": error, **({"error_description": description} if description else {})}
    return Response(json.dumps(body), status=status, mimetype="application/json")


class StandinShopify:
    api_version = "2026-10"

    def __init__(self, api_key: str, api_secret: str, *, token_lifetime: int = 3600,
                 refresh_token_lifetime: int = 7776000, scope: str = DEFAULT_SCOPE,
                 clock: Callable[[], float] = time.time, pixel_fields: dict[str, bool] | None = None):
        self.api_key, self.api_secret, self.scope, self.clock = api_key, api_secret, scope, clock
        #: the web pixel settings Shopify would accept: the extension's declared fields unless given
        self.pixel_fields = pixel_fields if pixel_fields is not None else declared_pixel_fields()
        self.token_lifetime, self.refresh_token_lifetime = token_lifetime, refresh_token_lifetime
        self.calls: list[Call] = []
        self._shops: dict[str, _Shop] = {}
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
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
        app.add_url_rule("/<shop>/admin/oauth/authorize", view_func=self._authorize, methods=["GET"])
        app.add_url_rule("/<shop>/admin/oauth/access_token", view_func=self._access_token, methods=["POST"])
        app.add_url_rule("/<shop>/admin/api/<version>/graphql.json", view_func=self._graphql, methods=["POST"])
        return app

    def _shop(self, shop: str) -> _Shop:
        """A route's shop, created on first use; 404 for a name that is no shop domain."""
        if not SHOP.fullmatch(shop):
            abort(404)
        return self._shop_state(shop)

    def _record(self, shop: str, kind: str, detail: Any, token: Any) -> None:
        with self._lock:
            self.calls.append(Call(shop, kind, None if detail is None else str(detail),
                                   None if token is None else str(token)))

    # --- OAuth -----------------------------------------------------------------------------------

    def _authorize(self, shop: str):
        """The merchant approves at once: back to redirect_uri with a single-use code and a signed query."""
        state, args = self._shop(shop), request.args
        self._record(shop, "authorize", args.get("scope"), None)
        if args.get("client_id") != self.api_key:
            return _oauth_error("invalid_request", "client_id is not valid")
        redirect_uri = args.get("redirect_uri") or ""
        if not redirect_uri.startswith(("http://", "https://")):
            return _oauth_error("invalid_request", "redirect_uri is missing or not a URL")
        code = secrets.token_hex(16)
        with self._lock:
            state.codes[code] = args.get("scope") or self.scope
        # Unpadded, as Shopify's own: both libraries' HMAC rules agree only on values without `=`.
        host = base64.b64encode(f"{shop}/admin".encode()).decode().rstrip("=")
        target = urlsplit(redirect_uri)
        # A query already on redirect_uri arrives with the callback, so it is signed with the rest:
        # the app's check covers every parameter but hmac.
        params = {**dict(parse_qsl(target.query)), "code": code, "host": host, "shop": shop,
                  "timestamp": str(int(self.clock()))}
        if "state" in args:
            params["state"] = args["state"]
        params["hmac"] = query_hmac(params, self.api_secret)
        return redirect(target._replace(query=urlencode(params)).geturl(), 302)

    def _access_token(self, shop: str):
        state = self._shop(shop)
        body = request.get_json(silent=True) if request.is_json else None
        body = body if isinstance(body, dict) else request.form.to_dict()
        grant = body.get("grant_type") or ("authorization_code" if "code" in body else None)
        presented = body.get("code") or body.get("refresh_token") or body.get("subject_token")
        self._record(shop, "token", grant, presented)
        if body.get("client_id") != self.api_key or \
                not hmac.compare_digest(str(body.get("client_secret", "")).encode(), self.api_secret.encode()):
            return _oauth_error("invalid_client", "client credentials are not valid")
        expiring = str(body.get("expiring", "0")) == "1"
        with self._lock:
            if grant == "authorization_code":
                scope = state.codes.pop(str(body.get("code")), None)
                if scope is None:
                    return _oauth_error("invalid_grant", "authorization code was not found or was already used")
                return self._issue(state, scope, expiring)
            if grant == "refresh_token":
                return self._refresh(state, str(body.get("refresh_token")))
            if grant == TOKEN_EXCHANGE:
                if body.get("requested_token_type") != OFFLINE_TOKEN:
                    return _oauth_error("invalid_request", "the stand-in issues offline access tokens only")
                problem = self._session_token_problem(shop, body.get("subject_token"))
                if problem:
                    return _oauth_error("invalid_subject_token", problem)
                return self._issue(state, self.scope, expiring)
        return _oauth_error("unsupported_grant_type")

    def _refresh(self, state: _Shop, presented: str) -> Response:
        if state.refuse_refresh:
            return _oauth_error("invalid_grant", "refresh token revoked")
        token = state.refresh.get(presented)
        if token is None or self.clock() >= token.expires_at:
            return _oauth_error("invalid_grant", "refresh token is not valid")
        # Shopify since 2026-08: the previous refresh token keeps working until its successor is used.
        if token.parent:
            state.refresh.pop(token.parent, None)
        return self._issue(state, token.scope, True, parent=presented)

    def _issue(self, state: _Shop, scope: str, expiring: bool, parent: str | None = None) -> Response:
        now, access = self.clock(), "shpat_" + secrets.token_hex(16)
        answer: dict[str, Any] = {"access_token": access, "scope": scope}
        if not expiring:
            state.access[access] = _Token(scope, None)
        else:
            refresh = "shprt_" + secrets.token_hex(16)
            state.access[access] = _Token(scope, now + self.token_lifetime)
            state.refresh[refresh] = _Token(scope, now + self.refresh_token_lifetime, parent)
            answer.update(expires_in=self.token_lifetime, refresh_token=refresh,
                          refresh_token_expires_in=self.refresh_token_lifetime)
        return Response(json.dumps(answer), mimetype="application/json")

    def _session_token_problem(self, shop: str, token: Any) -> str | None:
        """Why this session token cannot be exchanged for `shop`, or None (PLATFORMS.md A2)."""
        if not isinstance(token, str) or not token:
            return "subject_token is missing"
        try:  # time claims are checked below against the stand-in's clock, not PyJWT's
            claims = jwt.decode(token, self.api_secret, algorithms=["HS256"], audience=self.api_key, options={
                "verify_exp": False, "verify_nbf": False, "verify_iat": False,
                "require": ["iss", "dest", "aud", "sub", "exp", "nbf", "jti", "sid"]})
        except jwt.InvalidTokenError as exc:
            return f"session token refused: {type(exc).__name__}: {exc}"
        exp, nbf, now = claims["exp"], claims["nbf"], self.clock()
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (exp, nbf)):
            return "session token exp or nbf is not a number"
        if now >= exp + SESSION_TOKEN_LEEWAY or now < nbf - SESSION_TOKEN_LEEWAY:
            return "session token is expired or not yet valid"
        if urlsplit(str(claims["dest"])).hostname != shop or urlsplit(str(claims["iss"])).hostname != shop:
            return "session token is for another shop"
        return None

    # --- GraphQL Admin API -----------------------------------------------------------------------

    def _graphql(self, shop: str, version: str):
        state = self._shop(shop)
        token = request.headers.get("X-Shopify-Access-Token")
        payload = request.get_json(silent=True)
        try:
            operation, fragments = shapes.operation(payload)
            problem = None
        except (graphql.GraphQLError, ValueError) as exc:
            operation, fragments, problem = None, {}, str(exc)
        fields = list(shapes.fields(operation.selection_set, fragments)) if operation else []
        self._record(shop, "graphql", fields[0].name.value if fields else None, token)
        with self._lock:
            grant = state.access.get(token or "")
            if grant is None or (grant.expires_at is not None and self.clock() >= grant.expires_at):
                return Response(json.dumps({"errors": INVALID_TOKEN}), status=401, mimetype="application/json")
            if problem is not None:
                return _json({"errors": [{"message": problem}]})
            variables = payload.get("variables") or {}
            mutation = operation.operation == graphql.OperationType.MUTATION
            requested = shapes.MUTATION_COST if mutation else shapes.requested_cost(
                operation.selection_set, fragments, variables)
            available = self._restore(state)
            if state.throttled > 0:
                state.throttled -= 1
                return _json({"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                              "extensions": shapes.cost_extension(requested, None, min(available, requested / 10))})
            data, errors = {}, []
            for field_node in fields:
                key = field_node.alias.value if field_node.alias else field_node.name.value
                needed = DiscountData.SCOPES.get(field_node.name.value)
                if needed and not _granted(needed, grant.scope):
                    data[key] = None
                    errors.append({"message": f"Access denied for {field_node.name.value} field. Required access: "
                                              f"`{needed}` access scope.", "path": [key],
                                   "extensions": {"code": "ACCESS_DENIED"}})
                    continue
                try:
                    full = state.data.resolve(field_node.name.value, shapes.arguments(field_node, variables),
                                              now=self._now(), new_id=lambda: next(self._ids))
                except ValueError as exc:  # an unknown root field, a bad cursor or search, an input over 250
                    data[key] = None
                    code = exc.code if isinstance(exc, FieldError) else None
                    errors.append({"message": str(exc), "path": [key],
                                   **({"extensions": {"code": code}} if code else {})})
                    continue
                data[key] = shapes.project(full, field_node.selection_set, fragments)
            actual = shapes.MUTATION_COST if mutation else max(1, shapes.count_objects(data))
            state.available = max(0.0, available - actual)
            return _json({"data": data, **({"errors": errors} if errors else {}),
                          "extensions": shapes.cost_extension(requested, actual, state.available)})

    def _restore(self, state: _Shop) -> float:
        now = self.clock()
        state.available = min(BUCKET, state.available + (now - state.restored_at) * RESTORE_RATE)
        state.restored_at = now
        return state.available

    # --- webhooks --------------------------------------------------------------------------------

    def place_order(self, shop: str, order: dict, *, topics=("orders/create", "orders/paid"),
                    deliver: bool = True) -> list[tuple[int | None, Any]]:
        """Keep a REST-shaped order (updated now) for the `orders` query; deliver each topic's webhook.

        An order without a `checkout_token` gets one, as every online checkout's order has:
        `checkout_token(shop, order_id)` reads it (the web pixel reports the same token).
        """
        order = copy.deepcopy(order)
        order["updated_at"] = self._now()
        order.setdefault("checkout_token", secrets.token_hex(16))
        order["order_status_url"] = order_status_url(shop, order["checkout_token"])
        state = self._shop_state(shop)
        with self._lock:
            state.data.orders[str(order["id"])] = order
        answers: list[tuple[int | None, Any]] = []
        for topic in topics if deliver else ():
            answers += self.send_webhook(shop, topic, order)
        return answers

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
            uris = [uri] if uri else [s["uri"] for s in self._shop_state(shop).data.subscriptions
                                      if TOPICS.get(s["topic"]) == topic]
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

    # --- switches and assertions for tests -------------------------------------------------------

    def _shop_state(self, shop: str) -> _Shop:
        with self._lock:
            if shop not in self._shops:
                self._shops[shop] = _Shop(ShopData(shop, self.pixel_fields), self.clock())
            return self._shops[shop]

    def _now(self) -> str:
        return datetime.fromtimestamp(self.clock(), timezone.utc).isoformat(timespec="seconds")

    def refuse_refresh(self, shop: str, refuse: bool = True) -> None:
        with self._lock:
            self._shop_state(shop).refuse_refresh = refuse

    def set_token_lifetime(self, seconds: int) -> None:
        """Lifetime of access tokens issued from now on (tokens already issued keep theirs)."""
        self.token_lifetime = seconds

    def throttle_next(self, shop: str, n: int) -> None:
        with self._lock:
            self._shop_state(shop).throttled = n

    def add_customer(self, shop: str, customer: dict) -> None:
        """A customer of the shop (what `customer(id:)` finds); customers/create sent through here adds one."""
        with self._lock:
            self._shop_state(shop).data.customers[str(customer["id"])] = copy.deepcopy(customer)

    def grant_token(self, shop: str, token: str) -> None:
        """Accept `token` for the shop from now on, as a custom app's non-expiring Admin API token."""
        with self._lock:
            self._shop_state(shop).access[token] = _Token(self.scope, None)

    def uninstall(self, shop: str) -> list[tuple[int | None, Any]]:
        """What the merchant's uninstall does: the app's tokens stop working, then app/uninstalled is sent."""
        self.revoke_tokens(shop)
        return self.send_webhook(shop, "app/uninstalled", uninstalled(shop))

    def revoke_tokens(self, shop: str) -> None:
        """What an uninstall does: every token of the shop stops working."""
        with self._lock:
            state = self._shop_state(shop)
            state.access.clear()
            state.refresh.clear()

    def access_tokens(self, shop: str) -> list[str]:
        """Access tokens that work now, oldest first."""
        with self._lock:
            now = self.clock()
            return [t for t, g in self._shop_state(shop).access.items() if g.expires_at is None or now < g.expires_at]

    def refresh_tokens(self, shop: str) -> list[str]:
        """Refresh tokens that would be accepted now, oldest first."""
        with self._lock:
            now = self.clock()
            return [t for t, g in self._shop_state(shop).refresh.items() if now < g.expires_at]

    def subscriptions(self, shop: str) -> list[dict]:
        with self._lock:
            return [dict(s) for s in self._shop_state(shop).data.subscriptions]

    def checkout_token(self, shop: str, order_id: int | str) -> str | None:
        """The checkout token of an order placed with place_order."""
        with self._lock:
            order = self._shop_state(shop).data.orders.get(str(order_id))
            return order.get("checkout_token") if order else None

    def graphql_counts(self, shop: str | None = None) -> Counter:
        """GraphQL requests by (first) root field, for one shop or all: what the connector's calls cost."""
        with self._lock:
            return Counter(c.detail for c in self.calls if c.kind == "graphql" and (shop is None or c.shop == shop))

    def codes(self, shop: str) -> dict[str, dict]:
        """The shop's redeem codes by lower-cased code: id, code (as kept), discount_id, active (its schedule)."""
        with self._lock:
            data = self._shop_state(shop).data.discounts
            now = datetime.fromtimestamp(self.clock(), timezone.utc)
            return {key: {**code, "active": active(data.discounts[code["discount_id"]], now, shapes.parse_time)}
                    for key, code in data.codes.items()}

    def discounts(self, shop: str) -> dict[str, dict]:
        """The shop's code discounts by id: title, schedule, limits, the input they were made with, their codes."""
        with self._lock:
            return {gid: {**{k: v for k, v in d.items() if k != "codes"}, "codes": [c["code"] for c in d["codes"]]}
                    for gid, d in self._shop_state(shop).data.discounts.discounts.items()}

    def add_foreign_code(self, shop: str, code: str, title: str = "Summer sale") -> str:
        """A code someone else made (the merchant, another app), for collision tests; the discount's id."""
        with self._lock:
            return self._shop_state(shop).data.discounts.add_foreign_discount(code, title, self._now(),
                                                                              lambda: next(self._ids))

    def set_bulk_polls(self, shop: str, polls: int) -> None:
        """How many reads find a bulk creation still running before it finishes (default 1)."""
        with self._lock:
            self._shop_state(shop).data.discounts.polls_before_done = polls

    def pixel(self, shop: str) -> dict | None:
        """The app's web pixel in the shop: its id and settings (parsed), or None."""
        with self._lock:
            found = self._shop_state(shop).data.discounts.pixel
            return None if found is None else {"id": found["id"], "settings": json.loads(found["settings"])}

    def set_shop_details(self, shop: str, *, url: str | None = None, currency: str | None = None) -> None:
        """What `shop { primaryDomain { url } currencyCode }` answers."""
        with self._lock:
            details = self._shop_state(shop).data.details
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


def _granted(needed: str, scope: str) -> bool:
    """Whether a token's scopes include `needed`; a write scope grants its read scope."""
    have = {s.strip() for s in scope.split(",")}
    return needed in have or (needed.startswith("read_") and "write_" + needed[len("read_"):] in have)


def _json(body: dict) -> Response:
    return Response(json.dumps(body, default=shapes.json_default), mimetype="application/json")
