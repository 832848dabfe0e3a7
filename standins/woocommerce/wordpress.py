"""What WordPress gives every endpoint of the WooCommerce stand-in: its error answers and its URL check."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, jsonify
from markupsafe import escape


def rest_error(status: int, code: str, message: str) -> tuple[Response, int]:
    """A WP_Error as the REST API answers it: JSON code, message and data.status, with that status."""
    return jsonify(code=code, message=message, data={"status": status}), status


def item_error(code: str, message: str, status: int = 400) -> dict:
    """A WP_Error as a batch answers it for one item."""
    return {"code": code, "message": message, "data": {"status": status}}


def error_page(status: int, message: str) -> tuple[str, int]:
    """wp_die's HTML page, as wc-auth shows its errors to the merchant."""
    return f"<!doctype html><title>WooCommerce</title><h1>Error</h1><p>{escape(message)}</p>", status


def is_web_url(value: str) -> bool:
    """An http or https URL with a host (wc-auth's URLs and a webhook's delivery_url must be one)."""
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
