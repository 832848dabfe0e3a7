"""What a request's path and query say, read strictly: whole numbers, the store, times, choices."""

from __future__ import annotations

from datetime import datetime

from flask import request

from connector.models import Store
from connector.core.times import RFC3339, NotATime, parse_time
from connector.web.api.errors import ApiError
from connector.web.api.fields import MAX_ID


def whole_number(raw: str) -> int | None:
    """A plain decimal number, or None ("²" and "٣" are digits to str.isdigit, not to int())."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def _store_id(raw: str) -> int:
    number = whole_number(raw)
    if number is None or not 1 <= number <= MAX_ID:
        raise ApiError(404, "not_found", "no such store")
    return number


def find_store(session, raw: str) -> Store:
    store = session.get(Store, _store_id(raw))
    if store is None:
        raise ApiError(404, "not_found", "no such store")
    return store


def time_arg(name: str) -> datetime | None:
    """A query parameter's time, in UTC from here on (core/times.py: the one form the connector takes)."""
    raw = request.args.get(name)
    if raw is None:
        return None
    if not RFC3339.fullmatch(raw):
        raise ApiError(422, "validation_error", f"{name} must be an RFC 3339 time, e.g. 2026-11-01T00:00:00Z", name)
    try:
        return parse_time(raw)
    except NotATime:
        raise ApiError(422, "validation_error", f"{name} is not a time that exists", name) from None


def query_choice(name: str, choices: tuple[str, ...]) -> str | None:
    raw = request.args.get(name)
    if raw is not None and raw not in choices:
        raise ApiError(422, "validation_error", f"{name} is one of {', '.join(choices)}", name)
    return raw
