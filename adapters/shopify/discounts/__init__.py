"""Influencers' promo codes in a Shopify shop: made in bulk (creation.py) and deleted (removal.py)."""

from __future__ import annotations

from .creation import create_codes
from .removal import remove_codes

__all__ = ["create_codes", "remove_codes"]
