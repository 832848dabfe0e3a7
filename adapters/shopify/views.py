"""Shopify installs: GET /shopify/install and /shopify/callback (authorization-code grant), and
GET /shopify/app[/<view>] (the embedded app: the session token is exchanged for the token when the store has
none, then the merchant app's document is served).

Both paths end in connector.installs: one store row, its setup queued for the worker (webhooks, shop details
and the pixel take several calls into the shop: never inside the merchant's request). Nothing is sent
anywhere until the shop domain is known to be a `*.myshopify.com` shop and the request is proven to come
from Shopify.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from flask import Blueprint, g, redirect, request
from sqlalchemy import select

from connector.installs import state as install_state
from connector import outbound
from connector.db import transaction
from connector.errors import InstallError, PlatformAuthError, PlatformError
from connector.installs.setup import record_install
from connector.models import Store
from connector.settings import Settings
from connector.web import calling_out, services
from connector.web.app.pages import error_page
from connector.web.app.shell import app_shell, view_of

from . import oauth, shopify_lib, tokens
from .admin_api import http_session

bp = Blueprint("shopify_install", __name__)
log = logging.getLogger("connector.shopify.install")

#: Shopify's own app library allows 90 s between the signed timestamp and its check
TIMESTAMP_TOLERANCE = 90
#: the merchant has this long between the install redirect and approving the scopes
STATE_MAX_AGE = 600
STATE_PURPOSE = "shopify"
STATUS_FOR_REASON = {"not_configured": 503, "scopes_missing": 403}


@bp.after_request
def _frame_ancestors(response):
    # The app page is shown inside the Shopify admin: only that shop's admin may frame it (Shopify requires this).
    # A refusal of an app load (a stale token, say) is still shown in the admin's frame, not as a blank one.
    shop = g.get("framing_shop")
    if shop:
        ancestors = f"https://{shop} https://admin.shopify.com"
    else:
        ancestors = "https://admin.shopify.com" if request.path.startswith("/shopify/app") else "'none'"
    response.headers["Content-Security-Policy"] = f"frame-ancestors {ancestors};"
    # The app's address carries the session token (Shopify puts it there): never send it on as a Referer.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.errorhandler(outbound.Busy)
def _busy(exc: outbound.Busy):
    log.warning("Shopify install deferred: %s", exc)
    body, status = error_page(503, "Busy for a moment", "Please try again in a few seconds.")
    return body, status, {"Retry-After": "5"}


@bp.errorhandler(InstallError)
def _refused(exc: InstallError):
    log.warning("Shopify install refused (%s): %s", exc.reason, exc)
    return error_page(STATUS_FOR_REASON.get(exc.reason, 400), "The install could not go on", str(exc))


def _configured(settings: Settings) -> None:
    if not settings.shopify_api_key or not settings.shopify_api_secrets:
        raise InstallError("not_configured", "Shopify installs are not configured (SHOPIFY_API_KEY, SHOPIFY_API_SECRET)")


def _signed_shop(settings: Settings) -> str:
    """The shop of a request Shopify signed: shop form, query HMAC and timestamp, in that order."""
    _configured(settings)
    shop = shopify_lib.shop_domain(request.args.get("shop"))
    if shop is None:
        raise InstallError("bad_shop", "shop must be a *.myshopify.com domain")
    params = request.args.to_dict()
    if not shopify_lib.query_hmac_valid(params, settings.shopify_api_secrets):
        raise InstallError("bad_hmac", "the request's hmac does not match: it did not come from Shopify")
    try:
        stamp = int(params.get("timestamp", ""))
    except ValueError:
        raise InstallError("stale_timestamp", "the request has no timestamp") from None
    if abs(time.time() - stamp) > TIMESTAMP_TOLERANCE:
        raise InstallError("stale_timestamp", "the request is too old: open the app from the Shopify admin again")
    return shop


def _authorize(settings: Settings, shop: str):
    state = install_state.issue(settings.secret_keys, STATE_PURPOSE, shop)
    return redirect(shopify_lib.permission_url(
        shop=shop, api_key=settings.shopify_api_key, scopes=settings.shopify_scopes,
        redirect_uri=f"{settings.public_url}/shopify/callback", state=state, admin_url=settings.shopify_admin_url,
    ))


@bp.get("/shopify/install")
def install():
    settings = services().settings
    return _authorize(settings, _signed_shop(settings))


def _complete(shop: str, grant: oauth.Grant) -> None:
    """Keep the grant on the shop's row and queue its setup for the worker; the app's page shows it happening."""
    svc = services()
    settings, now = svc.settings, datetime.now(timezone.utc)
    missing = oauth.missing_scopes(settings.shopify_scopes, grant.scopes)
    if missing:
        raise InstallError("scopes_missing", f"the app was not granted {', '.join(missing)}; install it again and "
                                             "approve every permission")
    with transaction(svc.sessions) as session:
        store = record_install(session, "shopify", shop, now, setup_inline=False,
                               backend_events=settings.backend_events)
        tokens.save_grant(session, settings.secret_key, store, grant)
    log.info("Shopify store %s installed (token valid until %s); setup queued for the worker", shop, grant.expires_at)


def _shell(path: str = ""):
    """The merchant app's document (no merchant data in it: the page reads /admin/api with its session token)."""
    settings = services().settings
    return app_shell(api_key=settings.shopify_api_key or "", base="/shopify/app", view=view_of(path),
                     title=settings.app_name), 200


def admin_app_url(settings: Settings, shop: str) -> str:
    """The app inside the shop's admin (Shopify sends the merchant on to admin.shopify.com from there)."""
    return f"{settings.shopify_admin_url.format(shop=shop)}/admin/apps/{settings.shopify_api_key}"


def _grant(call, shop: str) -> oauth.Grant:
    try:
        return call()
    except PlatformAuthError as exc:
        raise InstallError("bad_request", f"Shopify refused the grant: {exc}") from None
    except PlatformError as exc:
        log.error("Shopify token request for %s failed: %s", shop, exc)
        raise InstallError("platform_unavailable", "Shopify could not be reached; try again in a minute") from None


@bp.get("/shopify/callback")
def callback():
    svc = services()
    settings = svc.settings
    shop = _signed_shop(settings)
    subject = install_state.redeem(svc.sessions, settings.secret_keys, STATE_PURPOSE, request.args.get("state", ""),
                                   max_age=STATE_MAX_AGE, now=datetime.now(timezone.utc))
    if subject != shop:
        raise InstallError("bad_state", "the install state was issued for another shop")
    code = request.args.get("code", "")
    if not code:
        raise InstallError("bad_request", "the callback carries no code")
    now = datetime.now(timezone.utc)
    with calling_out():
        grant = _grant(lambda: oauth.exchange_code(http_session(), settings, shop, code, now), shop)
    _complete(shop, grant)
    # On into the admin, where the app's page opens embedded and shows its setup happening.
    return redirect(admin_app_url(settings, shop))


@bp.get("/shopify/app")
@bp.get("/shopify/app/<path:path>")
def app_home(path: str = ""):
    svc = services()
    settings = svc.settings
    _configured(settings)
    id_token = request.args.get("id_token")
    if not id_token:
        # A non-embedded load: Shopify signs the query; an unknown or removed shop starts the OAuth grant.
        shop = _signed_shop(settings)
        g.framing_shop = shop
        with svc.sessions() as session:
            installed = _installed(session, shop) is not None
        return _shell(path) if installed else _authorize(settings, shop)
    shop, _claims = shopify_lib.decode_session_token(id_token, settings.shopify_api_key, settings.shopify_api_secrets)
    g.framing_shop = shop
    named = request.args.get("shop")
    if named is not None and shopify_lib.shop_domain(named) != shop:
        raise InstallError("bad_session_token", "the session token is for another shop")
    with svc.sessions() as session:
        installed = _installed(session, shop) is not None
    if not installed:
        now = datetime.now(timezone.utc)
        with calling_out():
            grant = _grant(lambda: oauth.exchange_session_token(http_session(), settings, shop, id_token, now), shop)
        _complete(shop, grant)
    return _shell(path)


def _installed(session, shop: str) -> Store | None:
    """The shop's row when it is installed and holds a token; None when a (re)install is needed.

    A store that needs re-authorisation counts as not installed: opening the app authorises it again.
    """
    store = session.scalar(select(Store).where(Store.platform == "shopify", Store.domain == shop))
    if store is None or store.status != "active" or store.access_token_encrypted is None:
        return None
    return store
