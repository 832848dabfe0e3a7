"""The merchant app's one HTML document: App Bridge and Polaris from Shopify's CDN, the nav, the page's script.

It holds no merchant data: every figure comes from /admin/api, behind the session token, so the
document can be served to whoever asks. Every view is the same document; the script draws the one
its path names.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from html import escape
from pathlib import Path

STATIC = Path(__file__).resolve().parents[1] / "static"
APP_BRIDGE = "https://cdn.shopify.com/shopifycloud/app-bridge.js"
POLARIS = "https://cdn.shopify.com/shopifycloud/polaris.js"
#: the views, in the order of the admin's nav menu: (path under the app's base, label)
VIEWS = (("", "Home"), ("influencers", "Influencers"), ("orders", "Orders"), ("deliveries", "Deliveries"),
         ("settings", "Settings"))
#: the page's scripts, in the order they run (app.js defines what the views use), and its style sheet
SCRIPTS = ("app.js", "app-views.js", "app-why.js", "app-ops.js")
SCRIPTS += ("app-backfill.js",)  # Home's "Past orders" panel (a backfill), after the views it joins
STYLE = "app.css"
ASSETS = (*SCRIPTS, STYLE)


@lru_cache(maxsize=None)
def asset_version(name: str) -> str:
    """A short hash of the file, so a new release is fetched at once and an old one can be cached for long."""
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def _asset(name: str) -> str:
    return f"/admin/static/{name}?v={asset_version(name)}"


def view_of(path: str) -> str:
    """The view a path under the app's base names; the home view for anything else."""
    first = path.strip("/").split("/", 1)[0]
    return first if first in {v for v, _label in VIEWS} else ""


def app_shell(*, api_key: str, base: str, view: str, title: str) -> str:
    """The document. App Bridge's script comes first in the head and synchronous, as Shopify asks."""
    home = ' rel="home"'
    nav = "".join(f'<s-link href="{escape(base + ("/" + v if v else ""))}"{"" if v else home}>{escape(label)}</s-link>'
                  for v, label in VIEWS)
    scripts = "".join(f'<script src="{_asset(name)}" defer></script>' for name in SCRIPTS)
    return (
        "<!doctype html>\n<html lang=\"en\"><head>"
        f'<meta charset="utf-8"><meta name="shopify-api-key" content="{escape(api_key)}">'
        f'<script src="{APP_BRIDGE}"></script>'
        f'<script src="{POLARIS}"></script>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        f'<link rel="stylesheet" href="{_asset(STYLE)}">{scripts}'
        "</head><body>"
        f"<s-app-nav>{nav}</s-app-nav>"
        f'<main id="app" data-base="{escape(base)}" data-api="/admin/api" data-view="{escape(view)}"></main>'
        "<noscript>The connector's page needs JavaScript, as every app in the Shopify admin does.</noscript>"
        "</body></html>"
    )
