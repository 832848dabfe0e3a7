"""The one line a WooCommerce merchant adds to their theme (Shopify needs none: its web pixel is automatic)."""

from __future__ import annotations

from html import escape

from connector.models import Store
from connector.settings import Settings


def snippet(settings: Settings, store: Store) -> str:
    return (f'<script src="{escape(settings.public_url)}/storefront.js" data-store="{escape(store.domain)}" '
            f'data-window-days="{store.attribution_window_days}" async></script>')
