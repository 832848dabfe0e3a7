"""WooCommerce installs through its app-authorization endpoint (wc-auth).

GET /woocommerce/install sends the merchant to `{store}/wc-auth/v1/authorize`. When the merchant
approves, the store POSTs the new REST keys to /woocommerce/callback. That POST is unsigned, so it
is bound to the install by `user_id`: a signed, expiring, single-use token naming the store URL
that only this connector can make. The keys are kept encrypted and setup creates the webhooks.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from urllib.parse import urlencode

from flask import Blueprint, jsonify, redirect, request
from sqlalchemy import select

from connector import crypto, outbound
from connector.installs import state as install_state
from connector.db import transaction
from connector.errors import InstallError, PlatformError, UnsafeStoreUrl
from connector.installs.setup import record_install, run_setup
from connector.models import Store
from connector.web import calling_out, services
from connector.web.app.pages import error_page, installed_page
from connector.web.app.snippet import snippet

from .rest_api import WooCommerceClient
from .store_url import check_store_url, normalise_store_url

bp = Blueprint("woocommerce_install", __name__)
log = logging.getLogger("connector.woocommerce.install")

USER_ID_PURPOSE = "woocommerce"
#: the merchant may have to log in to WordPress before approving
USER_ID_MAX_AGE = 3600
MAX_KEY_LENGTH = 200


def _safe_store_url(value: str | None) -> str:
    url = normalise_store_url(value or "")
    if url is None:
        raise InstallError("bad_store_url", "store_url must be the store's address, like https://shop.example")
    try:
        check_store_url(url, allow_private=services().settings.woocommerce_allow_private)
    except UnsafeStoreUrl as exc:
        raise InstallError("unsafe_store_url", str(exc)) from None
    return url


def _busy(exc: outbound.Busy):
    body, status = error_page(503, "Busy for a moment", "Please try again in a few seconds.")
    log.warning("WooCommerce install deferred: %s", exc)
    return body, status, {"Retry-After": "5"}


@bp.get("/woocommerce/install")
def install():
    try:
        # Resolving the store's name waits on its DNS, which anyone can make slow: one of the few slots.
        with calling_out():
            store_url = _safe_store_url(request.args.get("store_url"))
    except outbound.Busy as exc:
        return _busy(exc)
    except InstallError as exc:
        log.warning("WooCommerce install refused (%s): %s", exc.reason, exc)
        return error_page(400, "The install could not go on", str(exc))
    settings = services().settings
    query = urlencode({
        "app_name": settings.app_name,
        "scope": "read_write",
        "user_id": install_state.issue(settings.secret_keys, USER_ID_PURPOSE, store_url),
        "return_url": f"{settings.public_url}/woocommerce/return",
        "callback_url": f"{settings.public_url}/woocommerce/callback",
    })
    return redirect(f"{store_url}/wc-auth/v1/authorize?{query}")


def _key(payload: dict, name: str, prefix: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value.startswith(prefix) or len(value) > MAX_KEY_LENGTH or ":" in value:
        raise InstallError("bad_request", f"{name} is missing or malformed")
    return value


@bp.post("/woocommerce/callback")
def callback():
    """The store's POST of the new keys. Anything but a 200 makes WooCommerce delete the keys."""
    svc = services()
    settings, now = svc.settings, datetime.now(timezone.utc)
    payload = request.get_json(silent=True, force=True)
    try:
        if not isinstance(payload, dict):
            raise InstallError("bad_request", "the callback body is not a JSON object")
        user_id = payload.get("user_id")
        if not isinstance(user_id, str):
            raise InstallError("bad_state", "user_id is missing")
        consumer_key, consumer_secret = _key(payload, "consumer_key", "ck_"), _key(payload, "consumer_secret", "cs_")
        if payload.get("key_permissions") != "read_write":
            raise InstallError("scopes_missing", "the keys must be read_write")
        # Checked (signature, age) before it is used up, so a malformed body cannot burn a good user_id.
        install_state.peek(settings.secret_keys, USER_ID_PURPOSE, user_id, USER_ID_MAX_AGE)
    except InstallError as exc:
        log.warning("WooCommerce callback refused (%s): %s", exc.reason, exc)
        return jsonify(outcome=exc.reason, error=str(exc)), 400
    # Everything from here waits on the store (its DNS, its REST API), which may be slow on purpose: it holds
    # one of the few slots for waiting on a peer, under one deadline, and setup left unfinished is the
    # worker's. A busy answer comes before the user_id is used up, so the merchant can simply try again.
    try:
        with calling_out():
            return _install(svc, settings, now, user_id, consumer_key, consumer_secret)
    except outbound.Busy as exc:
        log.warning("WooCommerce callback deferred: %s", exc)
        return jsonify(outcome="busy", error="try again in a few seconds"), 503, {"Retry-After": "5"}


def _install(svc, settings, now, user_id: str, consumer_key: str, consumer_secret: str):
    try:
        # Again at callback time: the name may resolve elsewhere now (DNS rebinding).
        store_url = _safe_store_url(install_state.redeem(
            svc.sessions, settings.secret_keys, USER_ID_PURPOSE, user_id, max_age=USER_ID_MAX_AGE, now=now))
    except InstallError as exc:
        log.warning("WooCommerce callback refused (%s): %s", exc.reason, exc)
        return jsonify(outcome=exc.reason, error=str(exc)), 400
    # Anyone can get a user_id for any store URL from /woocommerce/install, so the keys must prove
    # themselves before they replace anything: one authenticated call to the store, then the write.
    try:
        WooCommerceClient(store_url, consumer_key, consumer_secret, timeout=settings.http_timeout).check_keys()
    except PlatformError as exc:
        log.warning("WooCommerce callback for %s refused: the store did not accept the keys (%s)", store_url, exc)
        return jsonify(outcome="keys_refused", error="the store did not accept these keys"), 400
    with transaction(svc.sessions) as session:
        store = record_install(session, "woocommerce", store_url, now, backend_events=settings.backend_events)
        store.access_token_encrypted = crypto.encrypt(settings.secret_key, store.id, f"{consumer_key}:{consumer_secret}")
        store_id = store.id
        install_state.mark_completed(session, settings.secret_keys, USER_ID_PURPOSE, user_id)
    outcome = run_setup(settings, svc.sessions, store_id, now)
    log.info("WooCommerce store %s installed; setup: %s", store_url, outcome.summary)
    # Whoever posted this learns no more than that: the store's own answers stay in the log.
    return jsonify(outcome="installed", setup="done" if outcome.done else "pending"), 200


@bp.get("/woocommerce/return")
def returned():
    """Where WooCommerce sends the merchant's browser after the approval page."""
    settings = services().settings
    if request.args.get("success") != "1":
        return error_page(400, "The connector was not installed", "The authorization was declined in WooCommerce.")
    user_id = request.args.get("user_id", "")
    try:
        store_url = install_state.peek(settings.secret_keys, USER_ID_PURPOSE, user_id, USER_ID_MAX_AGE)
    except InstallError as exc:
        return error_page(400, "The install could not go on", str(exc))
    with services().sessions() as session:
        # Whether *this* install went through, never whether the store is installed: anyone can start an
        # install for any URL, and the second answer would tell them which stores use the connector.
        done = install_state.completed(session, settings.secret_keys, USER_ID_PURPOSE, user_id, USER_ID_MAX_AGE)
        store = session.scalar(select(Store).where(Store.platform == "woocommerce", Store.domain == store_url))
        if not done or store is None or store.status != "active":
            return error_page(409, "Not installed yet", "The store has not sent working keys: try the install again.")
        # The line for the theme names nothing but public addresses, so it is safe on this page.
        script = snippet(services().settings, store)
    # A user_id can be had for any URL, so this page says only that the install went through.
    return installed_page(store_url, script=script)
