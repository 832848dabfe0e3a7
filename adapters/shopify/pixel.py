"""The shop's storefront details and the connector's web pixel, set up after the webhooks (PLATFORMS.md A8).

Script tags are going away, so the code that keeps an influencer's ref in the shopper's browser and
reports it with the checkout is a web pixel extension (extensions/connector-pixel, deployed with the
app by Shopify's CLI). Deploying it is not enough: each shop needs a pixel record, made here with
`webPixelCreate`, whose settings tell the pixel where to report (this deployment's public URL), for
which store, and how long a touch counts. Shopify allows one pixel per app per shop, so an existing
one is read and updated when its settings differ: setup stays idempotent.

The pixel needs the `write_pixels` scope. A shop that installed before the connector asked for it has
not granted it: the summary says so and webhook registration is not failed for it. The same goes for
Shopify's other refusals of the pixel (no extension deployed, settings refused): they are the
operator's to fix, not worth retrying. Outages and throttling raise as everywhere else, so the worker
retries the setup.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from connector.db import transaction
from connector.errors import PlatformError
from connector.core.platform import SetupStep
from connector.models import Store
from connector.settings import Settings

from . import oauth
from .admin_api import AdminApi, error_codes, user_errors

PIXEL_SCOPE = "write_pixels"
CURRENCY = re.compile(r"[A-Z]{3}")
MAX_URL = 255  # Store.storefront_url


SHOP_GID = re.compile(r"gid://shopify/Shop/([0-9]{1,20})")


@dataclass(frozen=True)
class ShopDetails:
    storefront_url: str | None
    currency: str | None
    #: the numeric shop id (the number in gid://shopify/Shop/<id>)
    shop_id: str | None = None


def read_shop(api: AdminApi) -> ShopDetails | None:
    """The shop's primary domain (as an origin URL) and currency; None when Shopify did not say."""
    data, _errors = api.execute_partial("shop_details")
    shop = data.get("shop")
    if not isinstance(shop, dict):
        return None
    url = (shop.get("primaryDomain") or {}).get("url") if isinstance(shop.get("primaryDomain"), dict) else None
    url = url.rstrip("/") if isinstance(url, str) and url.startswith(("https://", "http://")) else None
    currency = shop.get("currencyCode")
    gid = SHOP_GID.fullmatch(shop.get("id")) if isinstance(shop.get("id"), str) else None
    return ShopDetails(
        storefront_url=url if url and len(url) <= MAX_URL else None,
        currency=currency if isinstance(currency, str) and CURRENCY.fullmatch(currency) else None,
        shop_id=gid.group(1) if gid else None,
    )


def pixel_settings(settings: Settings, shop: str, window_days: int) -> dict[str, str]:
    """The settings extensions/connector-pixel declares: all strings, as its single_line_text_fields are."""
    return {"endpoint": settings.public_url, "store": shop, "windowDays": str(window_days)}


def _settings_of(value) -> dict | None:
    """A pixel's settings as Shopify answers them: a JSON string (or, some versions, an object)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def _refused(errors: list[dict]) -> str | None:
    """Why Shopify refused the field outright (a scope not granted), or None."""
    if "ACCESS_DENIED" in error_codes(errors):
        return "; ".join(str(e.get("message")) for e in errors)[:200]
    return None


@dataclass(frozen=True)
class PixelState:
    #: the shop holds the app's pixel with this deployment's settings
    connected: bool
    text: str


def ensure_pixel(api: AdminApi, wanted: dict[str, str]) -> PixelState:
    """Create the app's web pixel, or update it when its settings differ; say which (or why not)."""
    data, errors = api.execute_partial("web_pixel")
    refused = _refused(errors)
    if refused:
        return PixelState(False, f"web pixel not set up ({refused})")
    current = data.get("webPixel")
    settings = json.dumps(wanted, separators=(",", ":"), sort_keys=True)
    if isinstance(current, dict) and current.get("id"):
        if _settings_of(current.get("settings")) == wanted:
            return PixelState(True, "web pixel unchanged")
        field, verb = "webPixelUpdate", "updated"
        data, errors = api.execute_partial("web_pixel_update",
                                           {"id": current["id"], "webPixel": {"settings": settings}})
    else:
        # No pixel yet: Shopify answers a null webPixel, with an error saying none was found.
        field, verb = "webPixelCreate", "created"
        data, errors = api.execute_partial("web_pixel_create", {"webPixel": {"settings": settings}})
    refused = _refused(errors)
    if refused:
        return PixelState(False, f"web pixel not {verb} ({refused})")
    if errors:
        raise PlatformError(f"{api.shop}: {field}: {'; '.join(str(e.get('message')) for e in errors)[:300]}")
    payload = data.get(field)
    problem = user_errors(payload)
    if problem:
        return PixelState(False, f"web pixel not {verb} ({problem})")
    if not isinstance(payload, dict) or not isinstance(payload.get("webPixel"), dict):
        return PixelState(False, f"web pixel not {verb} (Shopify answered no pixel)")
    return PixelState(True, f"web pixel {verb}")


def _store_facts(sessions: sessionmaker[Session], store_id: int) -> tuple[str, tuple[str, ...] | None, int]:
    with sessions() as session:
        store = session.get(Store, store_id)
        granted = oauth.parse_scopes(store.scopes) if store.scopes else None
        return store.domain, granted, store.attribution_window_days


def _save_shop(sessions: sessionmaker[Session], store_id: int, details: ShopDetails) -> None:
    with transaction(sessions) as session:
        store = session.get(Store, store_id)
        if details.storefront_url:
            store.storefront_url = details.storefront_url
        if details.currency:
            store.currency = details.currency
        if details.shop_id:
            store.platform_shop_id = details.shop_id


@dataclass(frozen=True)
class Storefront:
    summary: str
    pixel_step: SetupStep


def _pixel_step(state: PixelState, scope_missing: bool) -> SetupStep:
    title = "Web pixel"
    if state.connected:
        return SetupStep("web_pixel", title, "done", "The connector's web pixel is connected: it keeps the influencer "
                         "a shopper came from and reports it with the checkout.")
    if scope_missing:
        return SetupStep("web_pixel", title, "todo", "The app may not add its web pixel: the store has not granted "
                         f"it the {PIXEL_SCOPE} permission. Clicks on influencers' links are not followed until then.",
                         "Open the app from the Shopify admin again and approve the permissions it asks for.")
    return SetupStep("web_pixel", title, "todo", f"Shopify did not take the pixel: {state.text}. Clicks on "
                     "influencers' links are not followed until it is connected.",
                     "The app's developer deploys the pixel extension with the app (shopify app deploy); then "
                     "choose Check again.", "https://shopify.dev/docs/apps/build/marketing-analytics/build-web-pixels")


def setup_storefront(api: AdminApi, settings: Settings, sessions: sessionmaker[Session], store_id: int) -> Storefront:
    """Store the shop's storefront URL and currency, then make sure its web pixel reports here."""
    shop, granted, window_days = _store_facts(sessions, store_id)
    details = read_shop(api)
    if details is None:
        parts = ["shop details not read"]
    else:
        _save_shop(sessions, store_id, details)
        parts = [f"storefront {details.storefront_url or 'unknown'}, currency {details.currency or 'unknown'}"]
    scope_missing = granted is not None and bool(oauth.missing_scopes((PIXEL_SCOPE,), granted))
    if scope_missing:
        state = PixelState(False, f"web pixel not set up (the shop has not granted {PIXEL_SCOPE}: the merchant "
                                  "must approve the app's new permissions)")
    else:
        state = ensure_pixel(api, pixel_settings(settings, shop, window_days))
    parts.append(state.text)
    return Storefront("; ".join(parts), _pixel_step(state, scope_missing))
