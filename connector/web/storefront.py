"""The storefront's side: GET /storefront.js, and POST /storefront/events for the browser's reports.

A report is checked (size, shape, store, origin, rate) and stored in the inbox like a webhook; the
worker joins it with its order later. Whether it proves anything (the checkout token or order key)
is decided there, against the order, never here: an order's webhook may come after its report.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, jsonify, request, send_from_directory
from sqlalchemy.exc import DBAPIError

from connector import registry
from connector.campaigns import reports
from connector.campaigns.directory import find_store
from connector.errors import MalformedPayload, StorageUnavailable, UnknownStore
from connector.intake.inbox import STORED, store_delivery
from connector.models import Store, utcnow
from connector.web import services

bp = Blueprint("storefront", __name__)
log = logging.getLogger("connector.storefront")
STATIC = Path(__file__).parent / "static"
ACCEPTING = ("active", "needs_reauth")
#: Shopify runs an app's web pixel in a sandbox whose requests carry the opaque origin "null"
SANDBOX_ORIGIN = "null"


class RateLimiter:
    """At most `per_minute` requests per key per rolling minute, in this process (a token bucket per key)."""

    def __init__(self, per_minute: int, clock=time.monotonic):
        self.rate, self.capacity, self.clock = per_minute / 60.0, float(per_minute), clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = self.clock()
        with self._lock:
            tokens, then = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - then) * self.rate)
            allowed = tokens >= 1
            self._buckets[key] = (tokens - 1 if allowed else tokens, now)
            if len(self._buckets) > 100_000:  # forget full buckets: they are the same as new ones
                self._buckets = {k: v for k, v in self._buckets.items() if v[0] < self.capacity}
            return allowed


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else None


def allowed_origins(store: Store) -> set[str]:
    """The store's own origins (its domain and storefront URL); Shopify's pixel sandbox too."""
    origins = {_origin(store.storefront_url)}
    if store.platform == "shopify":
        origins |= {f"https://{store.domain}", SANDBOX_ORIGIN}
    else:
        origins.add(_origin(store.domain))
    return {o for o in origins if o}


def _error(status: int, code: str, message: str, origin: str | None = None):
    answer = jsonify(error={"code": code, "message": message})
    answer.status_code = status
    if origin:
        _cors(answer, origin)
    return answer


def _cors(answer, origin: str):
    answer.headers["Access-Control-Allow-Origin"] = origin
    answer.headers["Vary"] = "Origin"
    return answer


def _would_be_origins(key: str) -> set[str]:
    """The origins a store with this key would accept if the connector held it (its storefront unknown)."""
    origins: set[str] = set()
    for name, adapter in registry.adapters().items():
        domain = adapter.normalise_store_key(key)
        if domain:
            origins |= allowed_origins(Store(platform=name, domain=domain, storefront_url=None))
    return origins


@bp.get("/storefront.js")
def script():
    answer = send_from_directory(STATIC, "storefront.js", mimetype="application/javascript", max_age=3600)
    answer.headers["Cache-Control"] = "public, max-age=3600"
    answer.headers["Access-Control-Allow-Origin"] = "*"
    return answer


@bp.route("/storefront/events", methods=["OPTIONS"])
def preflight():
    # The scripts send text/plain (no preflight); a client sending JSON gets one and is answered here.
    origin = request.headers.get("Origin")
    answer = jsonify()
    answer.status_code = 204
    if origin:
        _cors(answer, origin)
        answer.headers["Access-Control-Allow-Methods"] = "POST"
        answer.headers["Access-Control-Allow-Headers"] = "Content-Type"
        answer.headers["Access-Control-Max-Age"] = "86400"
    return answer


@bp.post("/storefront/events")
def receive_report():
    svc = services()
    origin = request.headers.get("Origin")
    limiter: RateLimiter = svc.report_limiter
    if not limiter.allow(request.remote_addr or "?"):
        answer = _error(429, "rate_limited", "too many reports from this address; try again in a minute", origin)
        answer.headers["Retry-After"] = "60"
        return answer
    if request.content_length is not None and request.content_length > reports.MAX_REPORT_BYTES:
        return _error(413, "too_large", f"a report is at most {reports.MAX_REPORT_BYTES} bytes", origin)
    body = request.stream.read(reports.MAX_REPORT_BYTES + 1)
    if len(body) > reports.MAX_REPORT_BYTES:
        return _error(413, "too_large", f"a report is at most {reports.MAX_REPORT_BYTES} bytes", origin)
    now = utcnow()
    try:
        report = reports.parse_report(body, now)
    except MalformedPayload as exc:
        return _error(400, "malformed_report", str(exc), origin)
    try:
        with svc.sessions() as session:
            store = find_store(session, report.store)
            store_id, platform, status, origins = store.id, store.platform, store.status, allowed_origins(store)
    except UnknownStore:
        store_id, status, origins = None, None, _would_be_origins(report.store)
    if not origin or origin.lower() not in origins:
        # Not kept, and answered without CORS headers (a page elsewhere cannot read even that), but with the
        # same 202: a refusal would tell whoever guessed a store's own domain which stores are installed.
        log.warning("report for %s not kept: origin %r is not the store's", report.store, origin)
        return jsonify(status="accepted"), 202
    if store_id is None or status not in ACCEPTING:
        # Answered as if taken: a store the connector does not hold (or no longer serves) gets the answer a
        # held one would, so nobody learns from it which stores are installed. Nothing is kept.
        log.info("report for %s not kept: no such store in service", report.store)
        return _cors(jsonify(status="accepted"), origin), 202
    canonical = report.canonical()
    try:
        outcome = store_delivery(
            svc.engine, store_id=store_id, platform=platform,
            delivery_id="report:" + hashlib.sha256(canonical).hexdigest()[:48],
            topic=reports.TOPIC_PREFIX + report.kind, body=canonical, now=now,
        )
    except (DBAPIError, StorageUnavailable) as exc:
        log.error("report not stored: %s", getattr(exc, "orig", None) or exc)
        return _error(503, "unavailable", "try again shortly", origin)
    if outcome != STORED:
        log.info("report for %s not kept: the same report was stored already", report.store)
    # The same answer for a report posted again: "duplicate" would only ever be true for a held store.
    return _cors(jsonify(status="accepted"), origin), 202
